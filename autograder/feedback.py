"""Feedback pages again, after the written answers were graded by hand in formgrader.

``grade`` writes each student's feedback page when it grades the notebook, before anyone has read
the written answers. Once they are graded in formgrader (scores and comments go to the gradebook),
:func:`regenerate` runs nbgrader's ``generate_feedback`` again in the output folder, so the pages show
the manual scores and comments. Like every page the grader writes, it is made from ``public/``: the
autograded notebooks without the hidden tests' code and with tracebacks cut to their last line.
The output folder's ``nbgrader_config.py`` points formgrader at ``public/`` too, so its own
"Generate Feedback" button gives the same pages and cannot show hidden tests either.
:func:`refresh_grades_csv` then copies the new totals into ``grades.csv``.
"""

from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets.config import Config


def _api(out):
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    from . import course

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course.ROOT)).load_config()
    cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config())
    cfg.merge(Config({"NbGraderAPI": {"log_level": "ERROR"}}))
    return NbGraderAPI(config=cfg)


def gradebook_url(out):
    """The gradebook of the output folder ``out``: where its ``nbgrader_config.py`` says (``grade
    --db`` may have put it elsewhere than ``out/gradebook.db``)."""
    return _api(Path(out).resolve()).coursedir.db_url


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


def refresh_grades_csv(out):
    """Rewrite the scores in ``out/grades.csv`` from the gradebook (manual scores included), keeping
    every other column; returns the number of rows whose scores changed. ``grade`` writes the file
    before anyone grades by hand, so a score given in formgrader reaches it only through here (or
    the next ``grade``)."""
    import csv
    import os

    from . import gradebook

    path = Path(out).resolve() / "grades.csv"
    if not path.exists():
        return 0
    db_url = gradebook_url(out)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
        columns = list(rows[0]) if rows else []
    changed = 0
    for row in rows:
        scores = gradebook.scores_of(db_url, row["student_id"], row["assignment"])
        if not scores:
            continue
        new = dict(zip(("score", "max_score", "auto_score", "auto_max_score"),
                       (f"{v:g}" for v in scores[:4]), strict=True))
        if any(row[k] != v for k, v in new.items()):
            changed += 1
            row.update(new)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return changed


class MarkPending(NbGraderPreprocessor):
    """After nbgrader's ``GetGrades``: mark every answer that waits for a grade by hand
    (``nbgrader.pending``) and sum their points (``resources["nbgrader"]["pending_points"]``), so
    that the feedback template (``autograder/templates/feedback``) says "to be graded by hand"
    instead of scoring the answer 0 before anyone has read it."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        meta = resources["nbgrader"]
        pending = 0.0
        with Gradebook(meta["db_url"]) as gb:
            for cell in nb.cells:
                nbg = cell.get("metadata", {}).get("nbgrader", {})
                by_hand = (nbg.get("grade") and nbg.get("solution")) or nbg.get("task")
                if not by_hand or not nbg.get("grade_id"):
                    continue
                try:
                    grade = gb.find_grade(nbg["grade_id"], meta["notebook"], meta["assignment"],
                                          meta["student"])
                except MissingEntry:
                    continue
                if grade.needs_manual_grade and grade.manual_score is None:
                    nbg["pending"] = True
                    pending += float(grade.max_score or 0)
        meta["pending_points"] = pending
        return nb, resources


class DropGraderNotes(NbGraderPreprocessor):
    """Remove the cells that only graders may see (the model answers and rubrics that
    :func:`autograder.worker.public_copy` puts beside each written answer for formgrader) before a
    feedback page is made: whatever generates the feedback (``grade``, ``feedback``, formgrader's
    button), a student never sees them."""

    def preprocess(self, nb, resources):
        from .worker import GRADER_NOTE

        nb.cells = [c for c in nb.cells if GRADER_NOTE not in c.get("metadata", {})]
        return nb, resources


#: nbgrader configuration of feedback pages with :class:`MarkPending` and the course's template,
#: used by the course's ``nbgrader_config.py`` and by the output folder's (formgrader's button).
def feedback_config(c):
    import os

    import nbgrader

    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades", "autograder.feedback.DropGraderNotes",
        "autograder.feedback.MarkPending", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    # No HTMLExporter.template_name: GenerateFeedback asks for "feedback" itself, and formgrader's
    # page for grading by hand asks for "formgrade" unless a config names another (then it
    # renders the feedback page, and fails). The course's folder comes first, so its "feedback"
    # wins; nbgrader's folder still holds "formgrade".
    c.HTMLExporter.extra_template_basedirs = [
        os.path.join(os.path.dirname(__file__), "templates"),
        os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader", "templates")]
