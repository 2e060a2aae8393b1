"""Generate the student notebooks (``notebooks/``) from the sources (``solutions/``) with nbgrader."""

import atexit
import copy
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import course

_MADE = {}  # (assignment, hash of its sources) -> a folder with nbgrader's release and gradebook


def comparable(notebook_json):
    """A notebook's JSON without what a Jupyter front end rewrites whenever it saves one: the
    kernel's display name (JupyterLab 4 writes "Python 3 (ipykernel)" for nbgrader's "Python 3")
    and ``language_info`` (the running Python's version, among others). An instructor who opens a
    release and presses Validate (which saves) has not changed the release."""
    nb = copy.deepcopy(notebook_json)
    metadata = nb.get("metadata", {})
    metadata.pop("language_info", None)
    metadata.get("kernelspec", {}).pop("display_name", None)
    return nb


def generate(assignment, release_dir=None, db_url=None, reuse=False):
    """Run ``nbgrader generate_assignment`` for one assignment.

    release_dir: where the release goes (default ``notebooks/``); the notebook lands in
        ``release_dir/<assignment>/<assignment>.ipynb``.
    db_url: the gradebook that records the assignment's cells (default: a throw-away SQLite file,
        since releasing is not grading).
    reuse: copy what nbgrader made earlier in this process from the same sources (the files of
        ``solutions/<assignment>`` and nbgrader_config.py, byte for byte) instead of running it
        again, where the gradebook is throw-away or a new SQLite file; a grading run and the tests
        release the same assignment many times.
    Returns the path of the released notebook. Raises ``RuntimeError`` with nbgrader's log on failure.
    """
    course.check_assignment(assignment)
    release_dir = Path(release_dir or course.RELEASE_DIR).resolve()
    db_file = _new_sqlite_file(db_url)
    if reuse and (db_url is None or db_file is not None):
        made = _made_once(assignment)
        shutil.copytree(made / "release" / assignment, release_dir / assignment, dirs_exist_ok=True)
        if db_file is not None:
            shutil.copy(made / "gradebook.db", db_file)
        return release_dir / assignment / f"{assignment}.ipynb"
    with tempfile.TemporaryDirectory() as tmp:
        return _run_nbgrader(assignment, release_dir, db_url or f"sqlite:///{Path(tmp) / 'gradebook.db'}")


def _run_nbgrader(assignment, release_dir, db_url):
    cmd = [sys.executable, "-m", "autograder.nbgrader_fast", "generate_assignment", assignment,
           "--force", "--create", f"--db={db_url}",
           f"--CourseDirectory.root={course.ROOT}",
           f"--CourseDirectory.release_directory={release_dir}",
           "--log-level=WARN"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")  # run from course.ROOT: autograder importable
    proc = subprocess.run(cmd, cwd=course.ROOT, capture_output=True, text=True, env=env)
    out = release_dir / assignment / f"{assignment}.ipynb"
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return out


def _new_sqlite_file(db_url):
    """The file of a ``sqlite:///`` URL that does not exist yet (else None)."""
    if db_url and db_url.startswith("sqlite:///"):
        path = Path(db_url[len("sqlite:///"):])
        if not path.exists():
            return path
    return None


def _sources_hash(assignment):
    digest = hashlib.sha256()
    folder = course.SOURCE_DIR / assignment
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update((course.ROOT / "nbgrader_config.py").read_bytes())
    return digest.hexdigest()


def _made_once(assignment):
    key = (assignment, _sources_hash(assignment))
    if key not in _MADE:
        if not _MADE:
            atexit.register(lambda: [shutil.rmtree(f, ignore_errors=True) for f in _MADE.values()])
        folder = Path(tempfile.mkdtemp(prefix=f"autograder-release-{assignment}-"))
        try:
            _run_nbgrader(assignment, folder / "release", f"sqlite:///{folder / 'gradebook.db'}")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _MADE[key] = folder
    return _MADE[key]
