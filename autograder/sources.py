"""The notebook sources as text a reviewer can read: each ``solutions/NN/NN.ipynb`` has a twin,
``solutions/NN/NN.pct.py``, in jupytext's percent format (``# %%`` before each cell, the cell's
nbgrader metadata on that line, markdown as comments) and without outputs.

The ``.ipynb`` stays what nbgrader releases and grades from, with the outputs self-learners read;
the ``.pct.py`` is what a diff or a review shows. ``python -m autograder sources`` writes the text
from the notebooks (``execute`` does it too); after editing the text, ``sources --from-text`` puts
the edits back into the notebook (unchanged cells keep their outputs), then ``execute`` runs it.
nbgrader never releases the text (``*.pct.py`` is in nbgrader_config.py's ignore list), and
tests/test_sources.py checks that each pair agrees, cell by cell.
"""

import secrets

import jupytext
import nbformat

from . import course, notebooks

FORMAT = "py:percent"


def text_path(assignment):
    return course.SOURCE_DIR / assignment / f"{assignment}.pct.py"


def _as_text(nb):
    nb = notebooks.copy_of(nb)
    nb.metadata = {"jupytext": {"notebook_metadata_filter": "-all"}}  # the cells, no header
    return jupytext.writes(nb, fmt=FORMAT)


def write_text(assignment):
    """Write ``NN.pct.py`` from ``NN.ipynb``; returns its path."""
    path = text_path(assignment)
    path.write_text(_as_text(notebooks.read(course.source_notebook(assignment))), encoding="utf-8")
    return path


def _key(cell):
    return cell.cell_type, cell.source, notebooks.nbgrader_meta(cell)


def differences(assignment):
    """Where ``NN.pct.py`` and ``NN.ipynb`` disagree (cell type, source or nbgrader metadata), as
    sentences; empty when they agree."""
    path = text_path(assignment)
    if not path.exists():
        return [f"{path.name} is missing"]
    text = jupytext.reads(path.read_text(encoding="utf-8"), fmt=FORMAT).cells
    nb = notebooks.read(course.source_notebook(assignment)).cells
    found = []
    if len(text) != len(nb):
        found.append(f"{len(text)} cells in the text, {len(nb)} in the notebook")
    for k, (a, b) in enumerate(zip(text, nb, strict=False), 1):
        for what, x, y in zip(("type", "source", "nbgrader metadata"), _key(a), _key(b), strict=True):
            if x != y:
                found.append(f"cell {k}: its {what} differs")
    return found


def read_text_into_notebook(assignment):
    """Put the edits of ``NN.pct.py`` into ``NN.ipynb``: a cell whose type, source and nbgrader
    metadata are unchanged keeps its id and outputs; a new or edited cell has none (run
    ``execute``). Returns how many cells changed."""
    path = course.source_notebook(assignment)
    nb = notebooks.read(path)
    unused = list(nb.cells)
    cells, changed = [], 0
    for new in jupytext.reads(text_path(assignment).read_text(encoding="utf-8"), fmt=FORMAT).cells:
        same = next((c for c in unused if _key(c) == _key(new)), None)
        if same is not None:
            unused.remove(same)
            cells.append(same)
            continue
        changed += 1
        make = nbformat.v4.new_code_cell if new.cell_type == "code" else nbformat.v4.new_markdown_cell
        cell = make(new.source, metadata=new.metadata)
        cell.id = secrets.token_hex(4)
        cells.append(cell)
    changed += max(0, len(unused) - changed)  # cells the text removed (an edit is one change)
    nb.cells = cells
    notebooks.write(nb, path)
    return changed
