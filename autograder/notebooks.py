"""Reading, writing and transforming nbgrader notebooks.

- :func:`student_submission` turns the source into what a student who solved everything hands in:
  the release notebook with each solution cell filled in. Tests and the demo plant mistakes into it.
"""

import json
from pathlib import Path


def _nbformat():
    """nbformat, imported when first needed: its schema validator takes a second to import, which
    the judge (started for every submission) should not pay to strip a test cell."""
    import nbformat

    return nbformat


BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell):
    return nbgrader_meta(cell).get("grade_id")


def is_solution(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def is_test(cell):
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def strip_solution_markers(source):
    """The source with the ``### BEGIN/END SOLUTION`` lines removed: what a correct student wrote."""
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def without_hidden_tests(source, replacement="# (hidden tests run here when the notebook is graded)"):
    """``source`` with every hidden-tests region removed the way nbgrader itself finds them (its
    ClearHiddenTests preprocessor: any line that *contains* the delimiter), so that no marker
    form nbgrader honours can slip through; a malformed region (nested, unclosed) removes all.
    ``replacement`` (a line; "" for none) stands where each region was.

    The same loop as nbgrader 0.9's ``ClearHiddenTests._remove_hidden_test_region`` with its default
    delimiters (tests/test_notebook_transforms.py holds the two to agreement), written out here so
    that the judge does not import nbgrader (1.5 s) to run its first test cell.
    """
    kept, inside = [], False
    for line in source.split("\n"):
        if "BEGIN HIDDEN TESTS" in line:
            if inside:
                return replacement  # nested: nbgrader refuses the cell
            inside = True
            if replacement:
                kept.append(replacement)
        elif "END HIDDEN TESTS" in line:
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        return replacement  # unclosed
    return "\n".join(kept)


def read(path):
    return _nbformat().read(str(path), as_version=4)


def copy_of(nb):
    """A deep copy of a notebook node."""
    return _nbformat().from_dict(json.loads(json.dumps(nb)))


def write(nb, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _nbformat().write(nb, str(path))
    return path


def cells_by_id(nb):
    return {grade_id(c): c for c in nb.cells if grade_id(c)}


def student_submission(source_nb, release_nb, replace=None, mutate=None):
    """What a student hands in: the release notebook with every solution cell filled in.

    source_nb, release_nb: notebooks (nbformat nodes) of the same assignment.
    replace: {grade_id: new source} gives some solution cells other code (a correct alternative).
    mutate: a list of (grade_id, old, new): in that cell's code, ``old`` becomes ``new`` (exactly
        one occurrence must exist), which plants a mistake.
    Returns a new notebook node; the inputs are not changed.
    """
    replace = replace or {}
    answers = {grade_id(c): strip_solution_markers(c.source)
               for c in source_nb.cells if is_solution(c)}
    for gid, new in replace.items():
        if gid not in answers:
            raise KeyError(f"no solution cell {gid!r}; solution cells: {sorted(answers)}")
        answers[gid] = new
    for gid, old, new in mutate or []:
        if gid not in answers:
            raise KeyError(f"no solution cell {gid!r}; solution cells: {sorted(answers)}")
        count = answers[gid].count(old)
        if count != 1:
            raise ValueError(f"cell {gid!r}: the text to replace occurs {count} times, "
                             f"not once:\n{old}")
        answers[gid] = answers[gid].replace(old, new)
    nb = json.loads(json.dumps(release_nb))  # a deep copy that stays plain JSON
    nb = _nbformat().from_dict(nb)
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in answers and is_solution(cell):
            cell.source = answers[gid]
    return nb
