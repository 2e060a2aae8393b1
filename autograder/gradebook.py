"""The real gradebook: nbgrader's ``Gradebook`` on SQLite by default, or any SQLAlchemy URL.

Workers grade into scratch gradebooks; :func:`merge` copies one scratch result into the real one.
Only automatic scores are written: a manual score or comment given in formgrader is never
overwritten, and a submission that fails to grade leaves its previous grades as they were.
"""

import contextlib
import logging
import time
import warnings
from pathlib import Path

from nbgrader.api import Gradebook, InvalidEntry, MissingEntry
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SAWarning, SQLAlchemyError

from . import course, nbgrader_fast

nbgrader_fast.install()  # a new gradebook without a three-second subprocess
# nbgrader's own add_submission triggers SQLAlchemy's autoflush warnings; they are harmless noise.
warnings.filterwarnings("ignore", category=SAWarning)


def without_password(db_url):
    """The URL as it may be printed: without its password."""
    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except ArgumentError:
        return db_url


@contextlib.contextmanager
def _quiet_nbgrader_log():
    """nbgrader logs a traceback for the race it then reports as InvalidEntry; we retry instead."""
    log = logging.getLogger("tornado.application")
    old, log.disabled = log.disabled, True
    try:
        yield
    finally:
        log.disabled = old


# what a database can raise; InvalidEntry is nbgrader's name for a duplicate key
ERRORS = (SQLAlchemyError, InvalidEntry)


def _retry(action, attempts=3):
    """Run ``action()``, and again after a database error. Two shards that create the same rows at
    once (nbgrader's tables, its course row, an assignment's cells) make one of them fail on a
    duplicate key; on the next attempt the rows exist, and every action here is idempotent."""
    for attempt in range(attempts):
        try:
            with _quiet_nbgrader_log():
                return action()
        except ArgumentError:
            raise
        except ERRORS:
            if attempt + 1 == attempts:
                raise
            time.sleep(0.5 * (attempt + 1))


def first_line(err):
    return str(getattr(err, "orig", None) or err).strip().splitlines()[0][:300]


def create_tables(db_url):
    """Open the gradebook once before grading, creating nbgrader's tables if it is new, so that a
    wrong URL, a missing driver or an unreachable server stops the run before any work, with a
    message that says what to do."""

    def open_once():
        with Gradebook(db_url):
            pass

    try:
        _retry(open_once)
    except ArgumentError as err:
        raise ValueError(f"--db {without_password(db_url)}: not a database URL ({err}); expected e.g. "
                         "sqlite:///grades.db or postgresql://user@host/course") from None
    except ModuleNotFoundError as err:
        raise ValueError(f"--db {without_password(db_url)}: the database driver {err.name!r} is not "
                         f"installed; `pip install -r requirements.txt` installs psycopg for "
                         f"PostgreSQL, other databases need their SQLAlchemy driver") from None
    except ERRORS as err:
        raise ValueError(f"--db {without_password(db_url)}: cannot open the gradebook: "
                         f"{first_line(err)}") from None


def _copy_structure(gb, sgb, assignment):
    """Make the assignment, its notebooks and cells exist in ``gb`` as they are in ``sgb``."""
    a = sgb.find_assignment(assignment)
    gb.update_or_create_assignment(assignment, duedate=a.duedate)
    for nb in a.notebooks:
        gb.update_or_create_notebook(nb.name, assignment)
        for c in nb.grade_cells:
            gb.update_or_create_grade_cell(c.name, nb.name, assignment, max_score=c.max_score,
                                           cell_type=c.cell_type)
        for c in nb.solution_cells:
            gb.update_or_create_solution_cell(c.name, nb.name, assignment)
        for c in nb.task_cells:
            gb.update_or_create_task_cell(c.name, nb.name, assignment, max_score=c.max_score,
                                          cell_type=c.cell_type)
        for c in nb.source_cells:
            gb.update_or_create_source_cell(c.name, nb.name, assignment, cell_type=c.cell_type,
                                            locked=c.locked, source=c.source, checksum=c.checksum)


def merge(db_url, scratch_db, student_id, assignment):
    """Copy the automatic grades of one graded submission from a scratch gradebook into ``db_url``."""
    _retry(lambda: _merge(db_url, scratch_db, student_id, assignment))


def _merge(db_url, scratch_db, student_id, assignment):
    with Gradebook(f"sqlite:///{scratch_db}") as sgb, Gradebook(db_url) as gb:
        _copy_structure(gb, sgb, assignment)
        gb.update_or_create_student(student_id)
        ssub = sgb.find_submission(assignment, student_id)
        try:
            sub = gb.find_submission(assignment, student_id)
            sub.timestamp = ssub.timestamp
        except MissingEntry:
            sub = gb.add_submission(assignment, student_id, timestamp=ssub.timestamp)
        for snb in ssub.notebooks:
            for sgrade in snb.grades:
                grade = gb.find_grade(sgrade.name, snb.name, assignment, student_id)
                grade.auto_score = sgrade.auto_score
                grade.needs_manual_grade = (sgrade.needs_manual_grade
                                            and grade.manual_score is None)
            for scomment in snb.comments:
                comment = gb.find_comment(scomment.name, snb.name, assignment, student_id)
                comment.auto_comment = scomment.auto_comment
        gb.db.commit()


def scores_of(db_url, student_id, assignment):
    """(score, max_score, auto_score, auto_max_score, manual_pending), or None when there are no
    grades for this submission."""
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
        return None
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student_id)
        except MissingEntry:
            return None
        grades = [g for nb in sub.notebooks for g in nb.grades]
        auto = [g for g in grades if g.cell_type == "code"]
        return (float(sub.score), float(sub.max_score),
                float(sum(g.auto_score or 0 for g in auto)),
                float(sum(g.max_score for g in auto)),
                # pending as formgrader sees it: a blank written answer nbgrader has already scored
                # 0 (it does not need a grader) is not "to do"
                any(g.cell_type != "code" and g.needs_manual_grade and g.manual_score is None
                    for g in grades))


def graded_by_hand(db_url, student_id, assignment):
    """Whether someone has given this submission a manual score or comment (in formgrader)."""
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student_id)
        return any(g.manual_score is not None for nb in sub.notebooks for g in nb.grades) or any(
            (c.manual_comment or "").strip() for nb in sub.notebooks for c in nb.comments)


def fill_scores(outcome, db_url):
    """Copy the submission's scores from the gradebook into ``outcome``; None if it has none."""
    scores = scores_of(db_url, outcome.student_id, outcome.assignment)
    if scores:
        (outcome.score, outcome.max_score, outcome.auto_score, outcome.auto_max_score,
         outcome.manual_pending) = scores
    return scores


def fill_previous(outcome, db_url):
    """For a submission that could not be graded now: report the grade it already had, if any."""
    try:
        scores = scores_of(db_url, outcome.student_id, outcome.assignment)
    except ERRORS as err:  # the database is unreachable: what it holds is untouched
        outcome.problems.append(f"the gradebook could not be read ({first_line(err)})")
        return
    if scores:
        (outcome.score, outcome.max_score, outcome.auto_score, outcome.auto_max_score,
         outcome.manual_pending) = scores
        outcome.problems.append(f"the grade already in the gradebook ({scores[0]:g}/{scores[1]:g})"
                                " was kept")


def write_course_config(out, db_url=None):
    """Make ``out`` an nbgrader course folder whose source is this course and whose gradebook is
    ``db_url``, for formgrader."""
    cfg = Path(out) / "nbgrader_config.py"
    db_line = f"c.CourseDirectory.db_url = {db_url!r}\n" if db_url else ""
    cfg.write_text(
        "# Written by `python -m autograder grade`: this folder is the nbgrader course of a\n"
        "# grading run. Start `jupyter lab` here to grade the written answers in formgrader.\n"
        "c = get_config()  # noqa: F821\n"
        # the folder this file is in, not the path it was written at: a shard's folder is copied
        # from the machine that graded it to wherever the instructor runs formgrader or `feedback`
        "import os\n"
        "c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))\n"
        f"c.CourseDirectory.source_directory = {str(course.SOURCE_DIR)!r}\n"
        f"c.CourseDirectory.release_directory = {str(course.RELEASE_DIR)!r}\n"
        "# formgrader shows, and makes feedback from, the public copies: no hidden tests' code\n"
        "# (the complete autograded notebooks are in autograded/)\n"
        'c.CourseDirectory.autograded_directory = "public"\n' + db_line
        + "# feedback pages say 'to be graded by hand' for an answer nobody has graded yet\n"
        + '__import__("autograder.feedback").feedback.feedback_config(c)\n',
        encoding="utf-8")
