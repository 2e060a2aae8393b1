"""Every notebook of the course, found automatically: a new notebook is tested without new code.

- the release in notebooks/ equals a fresh `nbgrader generate_assignment` of the source;
- the release carries no solutions, hidden tests or outputs; the source carries its outputs;
- the mistake catalogue covers every graded function, and each entry applies to the code;
- graded through `python -m autograder`'s own code: the solution gets full automatic points (with no
  cell raising), the untouched release gets 0, every planted mistake loses points and its message
  is shown, every correct alternative keeps full points (graded several cells' alternatives to a
  submission: sample_classes.alternative_submissions).
"""

import functools
import json

import pytest

from autograder import catalogue, course, grading, notebooks, release, sample_classes

ASSIGNMENTS = course.assignments()


def test_the_course_has_notebooks():
    assert ASSIGNMENTS and ASSIGNMENTS[0] == "01_one_hot"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_equals_a_fresh_generation(assignment, tmp_path):
    committed = course.release_notebook(assignment)
    assert committed.exists(), f"{committed} is missing: run `python -m autograder release`"
    fresh = release.generate(assignment, release_dir=tmp_path)
    assert sorted(p.name for p in fresh.parent.iterdir()) == [fresh.name], (
        "nbgrader released more than the notebook (solutions/NN/NN.pct.py holds the solutions: "
        "nbgrader_config.py must ignore it)")
    # what JupyterLab rewrites when it saves a notebook (the kernel's display name, the Python
    # version) does not count: an instructor who opened the release has not changed it
    assert release.comparable(json.loads(fresh.read_text())) == \
        release.comparable(json.loads(committed.read_text())), (
        f"{committed.relative_to(course.ROOT)} differs from what nbgrader generates from "
        f"solutions/{assignment}: run `python -m autograder release {assignment}` and commit it "
        "(release notebooks are never edited by hand)")


def test_a_release_saved_by_jupyterlab_still_equals_its_generation():
    committed = json.loads(course.release_notebook(ASSIGNMENTS[0]).read_text())
    saved = json.loads(json.dumps(committed))
    saved["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    saved["metadata"]["language_info"] = {"name": "python", "version": "3.12.9"}
    assert release.comparable(saved) == release.comparable(committed)
    saved["cells"][0]["source"] += " "
    assert release.comparable(saved) != release.comparable(committed)
    saved = json.loads(json.dumps(committed))
    saved["metadata"]["kernelspec"]["name"] = "python2"   # another kernel is a real change
    assert release.comparable(saved) != release.comparable(committed)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_hidden_tests_or_outputs(assignment):
    nb = notebooks.read(course.release_notebook(assignment))
    text = "\n".join(c.source for c in nb.cells)
    for marker in (notebooks.BEGIN_SOLUTION, notebooks.BEGIN_HIDDEN, notebooks.END_HIDDEN):
        assert marker not in text
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "raise NotImplementedError()" in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_is_executed_without_errors(assignment):
    nb = notebooks.read(course.source_notebook(assignment))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), (
        f"solutions/{assignment} has unexecuted cells: run `python -m autograder execute {assignment}`")
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"a cell of solutions/{assignment} raised {errors[0].ename}: {errors[0].evalue}"
    assert any(o.output_type == "display_data" for c in code for o in c.get("outputs", [])), (
        "every notebook shows at least one plot")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_catalogue_covers_every_graded_function(assignment):
    source = notebooks.read(course.source_notebook(assignment))
    solution_cells = [notebooks.grade_id(c) for c in source.cells
                      if notebooks.is_solution(c) and c.cell_type == "code"]
    mistakes, alternatives = catalogue.load(assignment)
    assert {m.cell for m in mistakes} == set(solution_cells), "a graded function has no mistakes"
    assert {a.cell for a in alternatives} == set(solution_cells), (
        "a graded function has no correct alternative")
    rel = notebooks.read(course.release_notebook(assignment))
    for m in mistakes:  # raises if `old` does not occur exactly once in the cell
        notebooks.student_submission(source, rel, mutate=[(m.cell, m.old, m.new)])


def _cases():
    cases = []
    for a in ASSIGNMENTS:
        mistakes, alternatives = catalogue.load(a)
        cases += [(a, "solution", "solution"), (a, "release", "release")]
        cases += [(a, f"mistake-{k:02d}", f"mistake {m.cell}: {m.name}")
                  for k, m in enumerate(mistakes, 1)]
        cases += [(a, sid, f"alternative {x.cell}: {x.name}")
                  for sid, group in sample_classes.alternative_submissions(alternatives)
                  for x in group]
    return cases


@functools.cache
def _self_check(assignment, tmp_root, workers):
    """Grade one class per assignment (all cases at once, in parallel) and judge it."""
    folder = tmp_root / assignment
    expectations = sample_classes.self_check_class(assignment, folder / "class")
    outcomes, _ = grading.grade(folder / "class", folder / "out", workers=workers, progress=False,
                                feedback=False)
    return {e.student_id: (ok, why) for e, ok, why in sample_classes.judge(expectations, outcomes)}


@pytest.mark.slow
@pytest.mark.parametrize("assignment,student,what", _cases(),
                         ids=[f"{a}:{w}" for a, _, w in _cases()])
def test_grading(assignment, student, what, tmp_path_factory, workers):
    root = tmp_path_factory.getbasetemp() / "selfcheck"
    ok, why = _self_check(assignment, root, workers)[student]
    assert ok, f"{assignment}, {what}: {why}"
