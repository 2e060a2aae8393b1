"""The course library: what the notebooks share (the student library: it holds no implementation
of a graded exercise; instructor-only references live in ``autograder/references``).

- :mod:`utils.checks`    student-facing checks whose failures say what is wrong and where to look
- :mod:`utils.gradcheck` numerical gradients and relative errors
- :mod:`utils.seeding`   the one seeding helper of the course
- :mod:`utils.env`       grading mode (``NBGRADER_EXECUTION``) and the PyTorch device
- :mod:`utils.plotting`  one plotting style for every figure
- :mod:`utils.data`      offline data: every text and toy data set is generated or shipped here
- :mod:`utils.torch_ref` independent references built on ``torch.nn`` modules with copied weights
- :mod:`utils.elman`     notebooks 02-03: PyTorch references of the Elman RNN, demonstration helpers
- :mod:`utils.bptt`      notebook 03: the forward pass and its caches by PyTorch, autograd references,
  numerical gradients, gradient checks, the character model's sampling
- :mod:`utils.text`      character-level text data: a character table, time-major windows
- :mod:`utils.gradients` notebook 04: random recurrent networks with a chosen largest singular value
- :mod:`utils.tasks`     long-range dependency tasks reused from notebook 04 on
- :mod:`utils.fixtures`  the visible tests' data: fixed inputs and what common mistakes return on them
- :mod:`utils.diagrams`  drawing primitives for the diagrams of cells and unrolled networks
- :mod:`utils.tagging`   a generated POS-tagging corpus whose ambiguous words need the right context
"""

import warnings as _warnings

# nbgrader gives 0 to a test cell that writes to stderr, so known harmless library warnings are
# silenced here, at their source, once for every notebook that imports the course library.
_warnings.filterwarnings("ignore", category=DeprecationWarning)
_warnings.filterwarnings("ignore", message=".*NumPy.*", category=UserWarning)
_warnings.filterwarnings("ignore", message=".*Matplotlib.*")

from .checks import (  # noqa: E402
    CheckFailure,
    call_unchanged,
    check_close,
    check_defined,
    check_equal,
    check_no_library,
    check_no_library_calls,
    check_raises,
    check_shape,
    check_type,
    diagnose,
    repeat_calls,
)
from .env import choose, device, grading_mode, is_grading  # noqa: E402
from .gradcheck import check_gradient, numerical_gradient, rel_error  # noqa: E402
from .seeding import seed_all  # noqa: E402

__all__ = [
    "CheckFailure",
    "call_unchanged",
    "check_close",
    "check_defined",
    "check_equal",
    "check_gradient",
    "check_no_library",
    "check_no_library_calls",
    "check_raises",
    "check_shape",
    "check_type",
    "choose",
    "device",
    "diagnose",
    "grading_mode",
    "is_grading",
    "numerical_gradient",
    "rel_error",
    "repeat_calls",
    "seed_all",
]
