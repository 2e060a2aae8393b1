"""``python -m autograder pack --out DIR``: what a graded class gets, and nothing more.

A student pack holds

- ``notebooks/NN_topic/NN_topic.ipynb``: the release notebooks (no solutions, no hidden tests);
- ``utils/``: the student library, with the visible tests' fixtures (``utils/fixtures/*.npz``, data);
- ``pyproject.toml``: makes the pack installable (it installs ``utils`` only);
- ``requirements.txt``: the install file (NumPy, the pinned PyTorch, Matplotlib, JupyterLab, nbgrader
  and the pack itself);
- ``README.md``: how to install and work, for students;
- ``GLOSSARY.md``: the course's terms in Chinese and English, linked from every notebook.

It never holds ``solutions/``, a mistake catalogue, the ``autograder`` package (with its instructor-only
references), nbgrader's solution or hidden-test markers, or a function that solves a graded exercise:
:func:`build` checks all of this on what it wrote and refuses the pack otherwise.
"""

import ast
import json
import re
import shutil
from pathlib import Path

from . import course, notebooks

#: Text that must appear in no file of a pack.
FORBIDDEN_TEXT = (notebooks.BEGIN_SOLUTION, notebooks.END_SOLUTION, notebooks.BEGIN_HIDDEN,
                  notebooks.END_HIDDEN)
#: Names of files and folders that must appear nowhere in a pack.
FORBIDDEN_NAMES = ("solutions", "mistakes.toml", "autograder", "gradebook.db", "nbgrader_config.py")

_SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def graded_functions(source_dir=None):
    """``{name: assignment}`` of every function or class a solution region defines or completes.

    A graded exercise is a code cell of a source notebook with a solution region; the names are those
    the cell defines at its top level (the region may be the body of a function whose signature is
    given), read with ``ast``, so that nothing depends on how the solution is written.
    """
    source_dir = Path(source_dir or course.SOURCE_DIR)
    found = {}
    for path in sorted(source_dir.glob("*/*.ipynb")):
        if path.stem != path.parent.name:
            continue
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            text = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            if not _SOLUTION_REGION.search(text):
                continue
            for node in ast.parse(text).body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    found.setdefault(node.name, path.stem)
    return found


def defined_names(python_source, top_level=False):
    """Every function, method and class name a piece of Python source defines, at any depth (or only
    at its top level: a notebook cell's method ``Seq2Seq.encode`` is not notebook 01's ``encode``)."""
    tree = ast.parse(python_source)
    return {node.name for node in (tree.body if top_level else ast.walk(tree))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def problems(pack_dir, graded=None):
    """What in ``pack_dir`` must not ship to students (an empty list: nothing)."""
    pack_dir = Path(pack_dir)
    graded = graded_functions() if graded is None else graded
    found = []
    for path in sorted(pack_dir.rglob("*")):
        rel = path.relative_to(pack_dir)
        if any(part in FORBIDDEN_NAMES for part in rel.parts):
            found.append(f"{rel}: must not ship to students")
            continue
        if not path.is_file() or path.suffix in (".npz", ".pyc"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in FORBIDDEN_TEXT:
            if marker in text:
                found.append(f"{rel}: contains {marker!r}")
        sources = []
        if path.suffix == ".py":
            sources = [text]
        elif path.suffix == ".ipynb":
            sources = ["".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "code"]
        for source in sources:
            try:
                names = defined_names(source, top_level=path.suffix == ".ipynb")
            except SyntaxError:  # a release cell with a stub that does not parse is not a solution
                continue
            for name in sorted(names & set(graded)):
                if path.suffix == ".ipynb" and rel.parts[-2:] == (graded[name], f"{graded[name]}.ipynb"):
                    continue  # the exercise's own stub, in its own release notebook
                found.append(f"{rel}: defines {name!r}, a graded function of {graded[name]}")
    return found


def _torch_pin():
    for line in (course.ROOT / "requirements.txt").read_text().splitlines():
        if line.strip().startswith("torch=="):
            return line.strip()
    return "torch"


PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "rnn-course-student"
version = "{version}"
description = "The student library of the RNN course (checks, data, plots, PyTorch bridges, fixtures)"
requires-python = ">=3.10"
dependencies = []  # listed in requirements.txt, the install command of the README

[tool.setuptools]
packages = ["utils"]

[tool.setuptools.package-data]
utils = ["fixtures/*.npz"]
"""

REQUIREMENTS = """# Install into a fresh virtual environment, from this folder:
#   pip install -r requirements.txt
# torch is pinned to a CPU build; an unpinned or newer torch pulls a CUDA build of several GB.
{torch}
numpy>=2.0,<3
matplotlib>=3.8,<4
jupyterlab>=4.2,<5
nbgrader>=0.9.6,<0.10
# the course library (utils) from this folder, so `import utils` works in every notebook
.
"""

README = """# Recurrent neural networks — the notebooks

Your course's notebooks and the small library they import (`utils`). In each notebook you implement
recurrent networks in NumPy, check every formula against PyTorch, and see every claim in a plot.

## Install (once)

With Python 3.10 or newer, in this folder:

```
python3 -m venv .venv && source .venv/bin/activate      # Windows: .venv\\Scripts\\activate
pip install -r requirements.txt
jupyter lab
```

Nothing is downloaded while you work: all data is generated by `utils` or ships in it.

## Work

Open `notebooks/NN_topic/NN_topic.ipynb` in JupyterLab, in order ({first} to {last}).

1. Implement each function where it says `# YOUR CODE HERE` (delete the `raise NotImplementedError()`).
2. Run the test cell below it. A failing test says what was expected, what came back, where they
   differ and, for the common mistakes (a transposed weight, the wrong activation, a missing bias …),
   which mistake your output matches.
3. Press **Validate** (nbgrader's toolbar), then hand in the notebook as your instructor says.

When it is graded, the same test cells also run **hidden tests** on fresh random inputs and edge
shapes, so write code that is correct in general. Exercises use NumPy in float64; an exercise solved
by calling the library it re-implements (PyTorch, or `utils`) earns no points. A later notebook never
needs your earlier answers: where it builds on them, it uses PyTorch.
"""


def build(out, assignments=None, force=False):
    """Write the student pack into the folder ``out`` (new or empty; ``force`` replaces it).

    Returns the list of files written (relative paths). Raises ``ValueError`` when ``out`` is not
    empty, lies inside the course (a pack there would be importable beside the real library), or when
    the pack would hold anything that must not ship (see :func:`problems`).
    """
    out = Path(out).resolve()
    names = [course.check_assignment(a) for a in (assignments or course.assignments())]
    if out == course.ROOT or course.ROOT in out.parents:
        raise ValueError(f"{out} is inside the course; build the pack outside it")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ValueError(f"{out} is not empty (use --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        release = course.release_notebook(name)
        if not release.exists():
            raise ValueError(f"{release} is missing: run `python -m autograder release {name}`")
        (out / "notebooks" / name).mkdir(parents=True)
        shutil.copy2(release, out / "notebooks" / name / release.name)
    shutil.copytree(course.ROOT / "utils", out / "utils",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    version = "0.1.0"
    (out / "pyproject.toml").write_text(PYPROJECT.format(version=version), encoding="utf-8")
    (out / "requirements.txt").write_text(REQUIREMENTS.format(torch=_torch_pin()), encoding="utf-8")
    (out / "README.md").write_text(README.format(first=names[0], last=names[-1]), encoding="utf-8")
    shutil.copy2(course.ROOT / "GLOSSARY.md", out / "GLOSSARY.md")  # each notebook links to it
    found = problems(out)
    if found:
        shutil.rmtree(out)
        raise ValueError("the student pack would ship what students must not get:\n  "
                         + "\n  ".join(found))
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
