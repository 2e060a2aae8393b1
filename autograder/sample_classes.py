"""Made-up classes of students (not Python classes): folders of submissions built from the course's
own notebooks, for the demo and the self-check.

A class is a folder in nbgrader's ``submitted/`` layout (``<student>/<assignment>/<nb>.ipynb``).
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path

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
