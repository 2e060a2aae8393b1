"""Where things are in the course, and what an assignment is.

The course root is the repository root; each assignment is one folder of ``solutions/`` (the nbgrader
source) holding one notebook of the same name, released into ``notebooks/``.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "solutions"
RELEASE_DIR = ROOT / "notebooks"

ASSIGNMENT_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def assignments():
    """Names of the course's assignments in order: ``["01_one_hot", "02_elman_rnn", ...]``."""
    return sorted(p.parent.name for p in SOURCE_DIR.glob("*/*.ipynb")
                  if p.stem == p.parent.name and ASSIGNMENT_NAME.match(p.stem))


def source_notebook(assignment):
    return SOURCE_DIR / assignment / f"{assignment}.ipynb"


def release_notebook(assignment):
    return RELEASE_DIR / assignment / f"{assignment}.ipynb"


def catalogue_file(assignment):
    """The mistake catalogue of an assignment (``solutions/NN_topic/mistakes.toml``)."""
    return SOURCE_DIR / assignment / "mistakes.toml"


def check_assignment(name):
    """Return ``name`` if it is an assignment of the course, else raise ``ValueError`` listing them."""
    known = assignments()
    if name not in known:
        raise ValueError(f"unknown assignment {name!r}; the course has: {', '.join(known)}")
    return name
