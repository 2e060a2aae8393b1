"""Instructor-only references: what the hidden tests compare with, and the mistakes they name.

Nothing here ships to students (see ``../shared/DESIGN.md``, "What students get"): a graded class gets
the release notebooks and ``utils/``, which holds checks, data, plots and PyTorch bridges but no
implementation of a graded exercise. The modules here hold, per notebook,

- independent NumPy references of the graded functions (forward and backward), written apart from the
  solution cells and checked against ``torch.nn`` and ``torch.autograd`` in ``tests/``;
- mistake variants: ``{description: callable}`` for ``utils.check_close(..., mistakes=...)``;
- ``fixture_cases()``: the visible tests' inputs with the correct outputs and the mistakes' outputs on
  them, saved as data in ``utils/fixtures/<ASSIGNMENT>.npz`` by ``python -m autograder fixtures``.

A module that makes fixtures names its notebook in ``ASSIGNMENT``.
"""

import importlib
import pkgutil

import numpy as np


def fixture_modules():
    """``{assignment: module}`` for every reference module that declares ``ASSIGNMENT``."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        assignment = getattr(module, "ASSIGNMENT", None)
        if assignment and hasattr(module, "fixture_cases"):
            found[assignment] = module
    return dict(sorted(found.items()))


def fixture_arrays(assignment):
    """The arrays of ``utils/fixtures/<assignment>.npz`` as the references compute them now."""
    from utils import fixtures

    modules = fixture_modules()
    if assignment not in modules:
        raise ValueError(f"no reference module makes fixtures for {assignment!r}; "
                         f"those that do: {', '.join(modules) or 'none'}")
    return fixtures.flatten(modules[assignment].fixture_cases())


def write_fixtures(assignment):
    """Compute and save the fixture file of ``assignment``; returns its path."""
    from utils import fixtures

    arrays = fixture_arrays(assignment)
    fixtures.FOLDER.mkdir(exist_ok=True)
    target = fixtures.path(assignment)
    np.savez_compressed(target, **arrays)
    return target


def fixture_differences(assignment, rtol=1e-12, atol=1e-12):
    """What differs between the committed fixture file and the references (empty list: none).

    The tolerance allows only the last-bit differences of another BLAS; a changed reference or
    input shows up as a named array.
    """
    from utils import fixtures

    fresh = fixture_arrays(assignment)
    if not fixtures.path(assignment).exists():
        return [f"{fixtures.path(assignment)} is missing"]
    with np.load(fixtures.path(assignment), allow_pickle=False) as data:
        committed = {k: data[k] for k in data.files}
    problems = [f"{k}: only in the committed file" for k in sorted(set(committed) - set(fresh))]
    problems += [f"{k}: missing from the committed file" for k in sorted(set(fresh) - set(committed))]
    for key in sorted(set(fresh) & set(committed)):
        a, b = fresh[key], committed[key]
        if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
            problems.append(f"{key}: {b.dtype}{b.shape} committed, {a.dtype}{a.shape} now")
        elif a.dtype.kind in "US":
            if not np.array_equal(a, b):
                problems.append(f"{key}: the descriptions changed")
        elif not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            problems.append(f"{key}: values differ (largest {np.max(np.abs(a - b)):.3g})")
    return problems
