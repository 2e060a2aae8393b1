"""A mistake catalogue with a typo is refused with the file, the entry and what to write, not a
traceback (``python -m autograder check`` prints it and exits 2)."""

import pytest

from autograder import catalogue, course

GOOD = '''
[[mistake]]
cell = "one_hot"
name = "int64"
old = "a"
new = "b"

[[alternative]]
cell = "one_hot"
name = "a loop"
code = "def one_hot(i, V): ..."
'''


@pytest.fixture
def catalogue_at(tmp_path, monkeypatch):
    path = tmp_path / "mistakes.toml"
    monkeypatch.setattr(course, "catalogue_file", lambda assignment: path)
    return path


def test_a_good_catalogue_loads(catalogue_at):
    catalogue_at.write_text(GOOD)
    mistakes, alternatives = catalogue.load("01_one_hot")
    assert [(m.cell, m.name, m.old, m.new, m.message) for m in mistakes] == [
        ("one_hot", "int64", "a", "b", "")]
    assert [(a.cell, a.name) for a in alternatives] == [("one_hot", "a loop")]


@pytest.mark.parametrize("change,says", [
    (("old = ", "odl = "), ["[[mistake]] number 1", "unknown key(s) ['odl']", "missing key(s) ['old']"]),
    (('name = "a loop"\n', ""), ["[[alternative]] number 1", "missing key(s) ['name']"]),
    (('new = "b"', "new = 3"), ["[[mistake]] number 1", "['new'] must be text"]),
    (("[[alternative]]", "[[alternatives]]"), ["unknown tables ['alternatives']"]),
    (('cell = "one_hot"\nname = "int64"', 'cell = "one_hot\nname = "int64"'), ["is not valid TOML"]),
])
def test_a_typo_is_named_with_its_entry(catalogue_at, change, says):
    catalogue_at.write_text(GOOD.replace(*change, 1))
    with pytest.raises(ValueError) as err:
        catalogue.load("01_one_hot")
    for words in says:
        assert words in str(err.value), str(err.value)
    assert str(catalogue_at) in str(err.value)


def test_every_course_catalogue_loads():
    for assignment in course.assignments():
        mistakes, alternatives = catalogue.load(assignment)
        assert mistakes and alternatives, assignment


def test_alternatives_are_dealt_at_most_one_per_cell_into_each_submission():
    from autograder import sample_classes

    alts = [catalogue.Alternative("x", cell, name, "") for cell, name in
            [("a", "a1"), ("a", "a2"), ("b", "b1"), ("a", "a3"), ("c", "c1"), ("b", "b2")]]
    dealt = sample_classes.alternative_submissions(alts)
    assert [(sid, [a.name for a in group]) for sid, group in dealt] == [
        ("alternatives-01", ["a1", "b1", "c1"]),
        ("alternatives-02", ["a2", "b2"]),
        ("alternatives-03", ["a3"]),
    ]
    assert sample_classes.alternative_submissions([]) == []
