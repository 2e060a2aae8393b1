"""Made-up classes of students (not Python classes): folders of submissions built from the course's
own notebooks, for the demo and the self-check.

A class is a folder in nbgrader's ``submitted/`` layout (``<student>/<assignment>/<nb>.ipynb``).
"""

import csv
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import catalogue, course, notebooks, release


@dataclass
class Expectation:
    """What grading must give a generated student."""

    student_id: str
    kind: str  # solution | release | mistake | alternative | broken
    description: str
    message: str = ""


def release_nb(assignment):
    with tempfile.TemporaryDirectory() as tmp:
        return notebooks.read(release.generate(assignment, release_dir=tmp, reuse=True))


def _put(folder, student, assignment, nb):
    return notebooks.write(nb, Path(folder) / student / assignment / f"{assignment}.ipynb")


def self_check_class(assignment, folder):
    """One student per case: the full solution, the untouched release, each catalogued mistake
    planted into the solution, and the correct alternatives (several cells' at once, see
    :func:`alternative_submissions`). Returns the expectations."""
    source = notebooks.read(course.source_notebook(assignment))
    rel = release_nb(assignment)
    mistakes, alternatives = catalogue.load(assignment)
    expect = []
    _put(folder, "solution", assignment, notebooks.student_submission(source, rel))
    expect.append(Expectation("solution", "solution", "the complete solution"))
    _put(folder, "release", assignment, rel)
    expect.append(Expectation("release", "release", "the untouched release notebook"))
    for k, m in enumerate(mistakes, 1):
        sid = f"mistake-{k:02d}"
        _put(folder, sid, assignment,
             notebooks.student_submission(source, rel, mutate=[(m.cell, m.old, m.new)]))
        expect.append(Expectation(sid, "mistake", f"{m.cell}: {m.name}", m.message))
    for sid, group in alternative_submissions(alternatives):
        _put(folder, sid, assignment,
             notebooks.student_submission(source, rel, replace={a.cell: a.code for a in group}))
        expect.append(Expectation(sid, "alternative", "; ".join(f"{a.cell}: {a.name}" for a in group)))
    return expect


def alternative_submissions(alternatives):
    """``[(student id, [alternative, ...])]``: the correct alternatives dealt into as few submissions
    as possible, at most one per cell in each (the first alternative of every cell, then the
    second...). Each must keep full marks, and a failed test names its cell, so grading them
    together proves what grading them one by one would, in a quarter of the submissions."""
    groups = []
    for a in alternatives:
        group = next((g for g in groups if all(b.cell != a.cell for b in g)), None)
        if group is None:
            groups.append(group := [])
        group.append(a)
    return [(f"alternatives-{k:02d}", g) for k, g in enumerate(groups, 1)]


def judge(expectations, outcomes):
    """Compare outcomes with expectations; returns a list of (expectation, ok, why)."""
    by_id = {o.student_id: o for o in outcomes}
    verdicts = []
    for e in expectations:
        o = by_id.get(e.student_id)
        if o is None or not o.graded:
            why = "not graded: " + ("; ".join(o.problems) if o else "no outcome")
            verdicts.append((e, e.kind == "broken", why))
            continue
        full = o.auto_score == o.auto_max_score and o.auto_max_score > 0
        msgs = "\n".join(t["message"] for t in o.tests)
        if e.kind in ("solution", "alternative"):
            failed = [f"{t['grade_id']}: {t['message'][:300]}" for t in o.tests
                      if t["kind"] == "test" and (t["auto_score"] or 0) < t["max_score"]]
            errors = o.error_cells if e.kind == "solution" else []
            verdicts.append((e, full and not errors and not o.integrity,
                             f"{o.auto_score:g}/{o.auto_max_score:g}"
                             + ("" if full else " — failed " + " | ".join(failed))
                             + (" — cells raised: " + " | ".join(errors) if errors else "")
                             + (" — flagged: " + " | ".join(o.integrity) if o.integrity else "")))
        elif e.kind == "release":
            verdicts.append((e, o.auto_score == 0, f"{o.auto_score:g}/{o.auto_max_score:g}"))
        elif e.kind == "mistake":
            lost = o.auto_score < o.auto_max_score
            named = not e.message or e.message.lower() in msgs.lower()
            why = f"{o.auto_score:g}/{o.auto_max_score:g}"
            if lost and not named:
                why += f" — but no test message mentions {e.message!r}"
            elif not lost:
                why += " — no points lost: the tests do not catch this mistake"
            verdicts.append((e, lost and named, why))
    return verdicts


def demo_class(folder):
    """A small class of notebook 01: alice (full solution), bob (untouched release), carol (a
    planted mistake), dave (a damaged file). Returns the assignment name."""
    assignment = course.assignments()[0]
    source = notebooks.read(course.source_notebook(assignment))
    rel = release_nb(assignment)
    mistakes, _ = catalogue.load(assignment)
    _put(folder, "alice", assignment, notebooks.student_submission(source, rel))
    _put(folder, "bob", assignment, rel)
    mutate = [(m.cell, m.old, m.new) for m in mistakes[:1]]
    _put(folder, "carol", assignment, notebooks.student_submission(source, rel, mutate=mutate))
    broken = Path(folder) / "dave" / assignment / f"{assignment}.ipynb"
    broken.parent.mkdir(parents=True, exist_ok=True)
    text = (Path(folder) / "alice" / assignment / f"{assignment}.ipynb").read_text()
    broken.write_text(text[: len(text) // 2])  # cut off mid-upload
    return assignment


# -------------------------------------------------- LMS exports (autograder.lms), for the tests


def _lms_notebooks(assignment):
    """The texts of a solved notebook, the untouched release and one with a planted mistake."""
    source = notebooks.read(course.source_notebook(assignment))
    rel = release_nb(assignment)
    mistakes, _ = catalogue.load(assignment)
    mutate = [(m.cell, m.old, m.new) for m in mistakes[:1]]
    return {"solution": nbformat.writes(notebooks.student_submission(source, rel)),
            "release": nbformat.writes(rel),
            "mistake": nbformat.writes(notebooks.student_submission(source, rel, mutate=mutate))}


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def _write_roster(path, rows, bom=False):
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def canvas_export(folder, assignment="01_one_hot"):
    """A Canvas "Download Submissions" zip and gradebook export of four students, with the awkward
    cases: a late re-upload (``-1`` wins over the first file), a blank SIS Login ID, a name with a
    digit, a student who handed in nothing, a damaged file, a text file, a file of a student not on
    the roster and an anonymous one. Returns ``(zip, roster, expected)``, expected being
    ``{student_id: "full" | "partial" | "zero" | "empty"}`` for the import CSV."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nb = _lms_notebooks(assignment)
    zip_path = _write_zip(folder / "submissions.zip", {
        f"leeann_101_9001_{assignment}.ipynb": nb["solution"],
        "leeann_101_9002_notes.txt": "my notes",
        f"brownbob_LATE_102_9003_{assignment}.ipynb": nb["release"],
        f"brownbob_LATE_102_9004_{assignment}-1.ipynb": nb["solution"],
        f"oneildee_104_9005_{assignment}.ipynb": nb["solution"][:200],  # cut off in upload
        f"zedzoe_999_9006_{assignment}.ipynb": nb["solution"],
        f"anon_x7k2p_9007_{assignment}.ipynb": nb["solution"],
    })
    column = f"{assignment} (5551)"
    roster = _write_roster(folder / "gradebook.csv", [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column, "Current Points"],
        ["    Points Possible", "", "", "", "", "10.00", "(read only)"],
        ["Lee, Ann", "101", "S101", "ann.lee@uni.example", "RNN 2026", "", ""],
        ["Brown, Bob", "102", "S102", "", "RNN 2026", "", ""],
        ["Diaz2, Carl", "103", "S103", "cdiaz", "RNN 2026", "", ""],
        ["O'Neil, Dee", "104", "S104", "dee", "RNN 2026", "", ""],
    ], bom=True)
    return zip_path, roster, {"ann.lee": "full", "102": "full", "cdiaz": "empty", "dee": "empty"}


def moodle_export(folder, assignment="01_one_hot"):
    """A Moodle "Download all submissions" zip (folders per participant, one flat file, an online
    text) and grading worksheet of four: a solution, the untouched release, nothing handed in and a
    planted mistake; the last two share an e-mail local part and so are graded under their
    participant ids. Returns ``(zip, roster, expected)`` as :func:`canvas_export`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nb = _lms_notebooks(assignment)
    zip_path = _write_zip(folder / "submissions.zip", {
        f"Ann Lee_501_assignsubmission_file_/{assignment}.ipynb": nb["solution"],
        f"Bob Brown_502_assignsubmission_file/{assignment}.ipynb": nb["release"],
        "Bob Brown_502_assignsubmission_onlinetext_/onlinetext.html": "<p>done</p>",
        f"Dee Eve_504_assignsubmission_file_{assignment}.ipynb": nb["mistake"],
    })
    head = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
            "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
            "Feedback comments"]
    when = "Monday, 30 November 2026, 9:00 AM"
    roster = _write_roster(folder / "worksheet.csv", [head] + [
        [f"Participant {pid}", name, email, status, "", "100.00", "Yes", when if sub else "-", "-", ""]
        for pid, name, email, status, sub in [
            (501, "Ann Lee", "ann@uni.example", "Submitted for grading", True),
            (502, "Bob Brown", "bob@uni.example", "Submitted for grading", True),
            (503, "Carl Diaz", "carl@a.example", "No submission", False),
            (504, "Dee Eve", "carl@b.example", "Submitted for grading", True)]])
    return zip_path, roster, {"ann": "full", "bob": "zero", "503": "empty", "504": "partial"}
