"""The notebooks' text twins (solutions/NN/NN.pct.py, jupytext's percent format) agree with them,
and edits to the text come back into the notebook without losing the outputs of other cells."""

import shutil

import pytest

from autograder import course, notebooks, sources

ASSIGNMENTS = course.assignments()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_text_twin_agrees_with_the_notebook(assignment):
    found = sources.differences(assignment)
    assert not found, (f"solutions/{assignment}/{assignment}.pct.py and .ipynb disagree "
                       f"({'; '.join(found[:5])}): "
                       f"run `python -m autograder sources {assignment}` after editing the notebook, or "
                       f"`python -m autograder sources {assignment} --from-text` after editing the text")


@pytest.fixture
def copy_of_01(tmp_path, monkeypatch):
    a = "01_one_hot"
    shutil.copytree(course.SOURCE_DIR / a, tmp_path / a)
    monkeypatch.setattr(course, "SOURCE_DIR", tmp_path)
    return a


def test_an_unchanged_text_changes_nothing(copy_of_01):
    before = course.source_notebook(copy_of_01).read_bytes()
    assert sources.read_text_into_notebook(copy_of_01) == 0
    assert course.source_notebook(copy_of_01).read_bytes() == before


def test_an_edited_text_replaces_only_the_edited_cells(copy_of_01):
    a = copy_of_01
    nb = notebooks.read(course.source_notebook(a))
    k = next(i for i, c in enumerate(nb.cells) if notebooks.grade_id(c) == "one_hot")
    path = sources.text_path(a)
    text = path.read_text(encoding="utf-8")
    old = nb.cells[k].source
    assert text.count(old) == 1
    path.write_text(text.replace(old, old + "\n# edited in the text"), encoding="utf-8")
    assert sources.read_text_into_notebook(a) == 1
    after = notebooks.read(course.source_notebook(a))
    assert after.cells[k].source.endswith("# edited in the text") and not after.cells[k].get("outputs")
    assert notebooks.grade_id(after.cells[k]) == "one_hot", "the nbgrader metadata came back"
    others = [(c.id, c.source, c.get("outputs")) for i, c in enumerate(after.cells) if i != k]
    assert others == [(c.id, c.source, c.get("outputs")) for i, c in enumerate(nb.cells) if i != k]
    assert sources.differences(a) == []


def test_a_missing_or_shorter_text_is_named(copy_of_01):
    a = copy_of_01
    path = sources.text_path(a)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex("# %%")], encoding="utf-8")
    assert any("cells in the text" in d for d in sources.differences(a))
    path.unlink()
    assert sources.differences(a) == ["01_one_hot.pct.py is missing"]
