"""The fast tier's unit tests of intake and of the grader's explanations: no kernel, no nbgrader
run, a few files in a temporary folder at most."""

import zipfile

import nbformat
import pytest

from autograder import course, grading, intake, notebooks
from autograder.job import Limits

A = "01_one_hot"


def _release():
    return notebooks.read(course.release_notebook(A))  # the committed release (a test checks it)


@pytest.fixture(scope="module")
def solved():
    return notebooks.student_submission(notebooks.read(course.source_notebook(A)), _release())


def _hand_in(root, student, nb=None, name=f"{A}.ipynb"):
    folder = root / student / A
    folder.mkdir(parents=True, exist_ok=True)
    if nb is not None:
        (folder / name).write_text(nb if isinstance(nb, str) else nbformat.writes(nb))
    return folder


def _prepare(root, student, dest):
    subs, _ = intake.read_class(root, root.parent / "intake", course.assignments(), [A])
    sub = next(s for s in subs if s.student_id == student)
    release = _release()
    if not sub.fatal:
        intake.prepare_notebook(sub, release, {A: release}, dest)
    return sub


def test_a_clean_hand_in_is_written_for_nbgrader_untouched(tmp_path, solved):
    _hand_in(tmp_path / "class", "ann", solved)
    sub = _prepare(tmp_path / "class", "ann", tmp_path / "dest.ipynb")
    assert not sub.fatal and not sub.problems
    graded = notebooks.read(tmp_path / "dest.ipynb")
    assert [c.source for c in graded.cells] == [c.source for c in solved.cells]


def test_a_deleted_test_cell_is_put_back_where_it_was(tmp_path, solved):
    nb = notebooks.copy_of(solved)
    gone = next(notebooks.grade_id(c) for c in nb.cells if notebooks.is_test(c))
    nb.cells = [c for c in nb.cells if notebooks.grade_id(c) != gone]
    _hand_in(tmp_path / "class", "ann", nb)
    sub = _prepare(tmp_path / "class", "ann", tmp_path / "dest.ipynb")
    assert any("deleted by the student were put back" in p and gone in p for p in sub.problems)
    order = [notebooks.grade_id(c) for c in notebooks.read(tmp_path / "dest.ipynb").cells]
    release_order = [notebooks.grade_id(c) for c in _release().cells]
    assert [g for g in order if g] == [g for g in release_order if g]


def test_restore_cells_inserts_after_the_cell_that_precedes_it_in_the_release():
    cell = nbformat.v4.new_code_cell
    release = nbformat.v4.new_notebook(cells=[cell("a", metadata={"nbgrader": {"grade_id": g}})
                                              for g in ("first", "second", "third")])
    nb = nbformat.v4.new_notebook(cells=[release.cells[0], cell("student's own"), release.cells[2]])
    got = intake.restore_cells(nb, release, ["second"])
    assert [notebooks.grade_id(c) for c in got.cells] == ["first", "second", None, "third"]
    top = intake.restore_cells(nbformat.v4.new_notebook(cells=[release.cells[2]]), release, ["first"])
    assert [notebooks.grade_id(c) for c in top.cells] == ["first", "third"]


@pytest.mark.parametrize("content,says", [
    (None, "no notebook"), ("", "is empty"), ("{not json", "damaged")])
def test_a_hand_in_that_cannot_be_graded_says_why(tmp_path, content, says):
    _hand_in(tmp_path / "class", "ann", content)
    sub = _prepare(tmp_path / "class", "ann", tmp_path / "dest.ipynb")
    assert says in sub.fatal, sub.fatal
    assert not (tmp_path / "dest.ipynb").exists()


def test_a_zip_with_a_wrapper_folder_is_read_like_the_folder(tmp_path, solved):
    with zipfile.ZipFile(tmp_path / "week1.zip", "w") as z:
        z.writestr(f"export/ann/{A}/{A}.ipynb", nbformat.writes(solved))
        z.writestr(f"export/bob/{A}/{A}.ipynb", nbformat.writes(solved))
    subs, problems = intake.read_class(tmp_path / "week1.zip", tmp_path / "intake", course.assignments())
    assert sorted(s.student_id for s in subs) == ["ann", "bob"] and not problems


def test_unreadable_input_is_an_intake_error(tmp_path):
    with pytest.raises(intake.IntakeError, match="neither a folder nor a .zip"):
        intake.read_class(tmp_path / "nope", tmp_path / "intake", course.assignments())


@pytest.mark.parametrize("result,says", [
    ({"cells": [{"message": "CellTimeoutError: ..."}]}, "longer than the 60 s limit"),
    ({"cells": [{"message": "MemoryError"}]}, "ran out of memory"),
    ({"cells": [], "protection": {"output_capped": True}}, "printed more than 1000000 characters"),
    ({"cells": [], "error": "DeadKernelError: Kernel died", "protection": {"oom_kills": 1}},
     "more than the 2048 MB memory limit"),
])
def test_the_grader_explains_what_went_wrong_in_words(result, says):
    problems = grading.explain(result, Limits())
    assert any(says in p for p in problems), problems


def test_a_clean_run_needs_no_explanation():
    assert grading.explain({"cells": [{"message": ""}], "error": ""}, Limits()) == []
