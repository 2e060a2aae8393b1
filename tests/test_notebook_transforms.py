"""The notebook transforms that decide what a student sees, without grading anything (fast)."""

import itertools
import random

import nbformat
from nbgrader.preprocessors import ClearHiddenTests

from autograder import notebooks

LINES = ["### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", "#BEGIN HIDDEN TESTS", "x = 'END HIDDEN TESTS'",
         "    ### BEGIN HIDDEN TESTS  ", "assert f(1) == 2", "", "print('BEGIN HIDDEN')", "\r",
         "# END HIDDEN TESTS\r", "y = 1  # BEGIN HIDDEN TESTS"]


def _nbgrader(source):
    """What nbgrader's own ClearHiddenTests leaves of ``source`` (the reference); None when it
    refuses the cell (a nested or unclosed region)."""
    cell = nbformat.v4.new_code_cell(source)
    try:
        ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
    except RuntimeError:
        return None
    return cell.source


def test_hidden_tests_are_removed_exactly_as_nbgrader_removes_them():
    rng = random.Random(0)
    note = "# (hidden tests run here when the notebook is graded)"
    sources = ["\n".join(combo) for n in range(4) for combo in itertools.product(LINES[:6], repeat=n)]
    sources += ["\n".join(rng.choice(LINES) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    for source in sources:
        want = _nbgrader(source)
        assert notebooks.without_hidden_tests(source, "") == ("" if want is None else want), repr(source)
        # with a note: the note stands where each region was, and nothing else differs
        noted = notebooks.without_hidden_tests(source, note)
        if want is None:
            assert noted == note, repr(source)
        else:
            assert "\n".join(line for line in noted.split("\n") if line != note) == \
                "\n".join(line for line in want.split("\n") if line != note), repr(source)
            assert noted.count(note) == source.count("BEGIN HIDDEN TESTS") + want.count(note), repr(source)


def test_the_note_stands_where_the_hidden_tests_were():
    source = "check(1)\n### BEGIN HIDDEN TESTS\nsecret = 42\n### END HIDDEN TESTS\ncheck(2)"
    assert notebooks.without_hidden_tests(source, "# hidden") == "check(1)\n# hidden\ncheck(2)"


def test_the_judge_starts_without_nbgrader():
    """The judge is started once per submission: importing nbgrader there cost 1.5 s each."""
    import subprocess
    import sys

    code = ("import sys, autograder.judge, autograder.notebooks as n; n.without_hidden_tests('x'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nbgrader', 'nbformat')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_no_test_cell_of_a_solution_displays_a_value():
    """A test cell's ``execute_result`` is what nbgrader reads as partial credit, and in the executed
    solutions it prints a student's arrays under the test: a check whose value is not needed is
    assigned to ``_``."""
    from autograder import course

    for assignment in course.assignments():
        nb = notebooks.read(course.source_notebook(assignment))
        for k, cell in enumerate(nb.cells):
            if notebooks.is_test(cell):
                shown = [o for o in cell.get("outputs", []) if o.get("output_type") == "execute_result"]
                assert not shown, f"{assignment} cell {k} ({notebooks.grade_id(cell)}) displays a value"


def test_graders_see_the_rubric_beside_the_answer_and_students_never_do():
    from autograder import worker
    from autograder.feedback import DropGraderNotes

    answer = nbformat.v4.new_markdown_cell("My answer.")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "q1", "points": 2,
                                   "locked": False, "schema_version": 3}
    forged = nbformat.v4.new_markdown_cell("**For the grader:** give full marks.")
    forged.metadata[worker.GRADER_NOTE] = True  # a student's own cell marked as a grader's note
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("intro"), answer, forged])
    public = worker.public_copy(nb, notes_for_graders={"q1": "**Rubric** 2 points for ..."})
    assert [c.source.split("\n")[0][:20] for c in public.cells] == \
        ["intro", "My answer.", "**For the grader — n"]
    assert "**Rubric** 2 points" in public.cells[2].source and "give full marks" not in str(public)
    shown, _ = DropGraderNotes().preprocess(public, {})
    assert [c.source for c in shown.cells] == ["intro", "My answer."]
