"""Generate the student notebooks (``notebooks/``) from the sources (``solutions/``) with nbgrader."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import course


def generate(assignment, release_dir=None, db_url=None):
    """Run ``nbgrader generate_assignment`` for one assignment.

    release_dir: where the release goes (default ``notebooks/``); the notebook lands in
        ``release_dir/<assignment>/<assignment>.ipynb``.
    db_url: the gradebook that records the assignment's cells (default: a throw-away SQLite file,
        since releasing is not grading).
    Returns the path of the released notebook. Raises ``RuntimeError`` with nbgrader's log on failure.
    """
    course.check_assignment(assignment)
    release_dir = Path(release_dir or course.RELEASE_DIR).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = db_url or f"sqlite:///{Path(tmp) / 'gradebook.db'}"
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
               "--force", "--create", f"--db={db_url}",
               f"--CourseDirectory.root={course.ROOT}",
               f"--CourseDirectory.release_directory={release_dir}",
               "--log-level=WARN"]
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        proc = subprocess.run(cmd, cwd=course.ROOT, capture_output=True, text=True, env=env)
    out = release_dir / assignment / f"{assignment}.ipynb"
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return out

