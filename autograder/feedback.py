"""Feedback pages again, after the written answers were graded by hand in formgrader.

``grade`` writes each student's feedback page when it grades the notebook, before anyone has read
the written answers. Once they are graded in formgrader (scores and comments go to the gradebook),
:func:`regenerate` runs nbgrader's ``generate_feedback`` again in the output folder, so the pages show
the manual scores and comments. Like every page the grader writes, it is made from ``public/``: the
autograded notebooks without the hidden tests' code and with tracebacks cut to their last line.
The output folder's ``nbgrader_config.py`` points formgrader at ``public/`` too, so its own
"Generate Feedback" button gives the same pages and cannot show hidden tests either.
"""

from pathlib import Path

from traitlets.config import Config


def _api(out):
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    from . import course

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course.ROOT)).load_config()
    cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config())
    cfg.merge(Config({"NbGraderAPI": {"log_level": "ERROR"}}))
    return NbGraderAPI(config=cfg)


def regenerate(out, assignments=None, students=None):
    """Write ``out/feedback/<student>/<assignment>/<notebook>.html`` anew from the gradebook.

    Returns ``(done, failed)``: lists of ``(student_id, assignment)`` and of
    ``(student_id, assignment, reason)``. Raises ``ValueError`` when ``out`` is not a folder that
    ``python -m autograder grade`` wrote.
    """
    out = Path(out).resolve()
    public = out / "public"
    if not (out / "nbgrader_config.py").exists() or not public.is_dir():
        raise ValueError(f"{out} is not an output folder of `python -m autograder grade` (no "
                         "nbgrader_config.py and public/ in it); grade the class into it first, "
                         "with --force if it was graded by an older version")
    api = _api(out)
    done, failed = [], []
    for folder in sorted(p for p in public.glob("*/*") if p.is_dir()):
        student, assignment = folder.parent.name, folder.name
        if (assignments and assignment not in assignments) or (students and student not in students):
            continue
        res = api.generate_feedback(assignment, student, force=True)
        if res.get("success"):
            done.append((student, assignment))
        else:
            lines = (res.get("error") or res.get("log") or "nbgrader gave no reason").strip().splitlines()
            failed.append((student, assignment, lines[-1][:300] if lines else "unknown"))
    return done, failed
