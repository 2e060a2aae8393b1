"""The course's grader, built on nbgrader's Python API: ``python -m autograder --help``."""

import os as _os
import sys as _sys

# nbgrader's Gradebook runs the `alembic` command, and nbgrader itself is run as a command; both
# live beside this Python, which is not on PATH when a venv's python is called by its full path.
_bin = _os.path.dirname(_sys.executable)
if _bin not in _os.environ.get("PATH", "").split(_os.pathsep):
    _os.environ["PATH"] = _bin + _os.pathsep + _os.environ.get("PATH", "")
