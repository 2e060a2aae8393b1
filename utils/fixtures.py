"""Fixtures for the visible tests: fixed inputs, and what common mistakes return on them, as data.

A visible test must be able to say "your output matches a common mistake: the gates in the wrong
order" without shipping code that computes the mistake (that code would be one edit away from the
answer). So the outputs of the catalogued mistakes on the visible inputs are computed once, by the
instructor-only references (``autograder/references``), and shipped here as arrays:
``utils/fixtures/<assignment>.npz``. ``python -m autograder fixtures`` remakes them, and the test suite
fails when a committed file differs from what the references give.

>>> case = load("05_lstm")["lstm_step"]                       # doctest: +SKIP
>>> case.inputs["x_t"].shape                                  # doctest: +SKIP
(2, 3)
>>> utils.check_close("h", h, expected, mistakes=case.mistakes("h"))   # doctest: +SKIP

Inside the file a case ``c`` is stored as arrays named ``c/input/<name>``, ``c/expected/<name>``,
``c/mistake/<output>/<k>`` and ``c/mistake_names/<output>`` (the k-th description).
"""

from pathlib import Path

import numpy as np

FOLDER = Path(__file__).resolve().parent / "fixtures"


class Case:
    """One visible test's data: ``inputs``, ``expected`` outputs and the mistakes' outputs."""

    def __init__(self, name, arrays):
        self.name = name
        self.inputs = _section(arrays, f"{name}/input/")
        self.expected = _section(arrays, f"{name}/expected/")
        self._mistakes = {}
        for key, names in _section(arrays, f"{name}/mistake_names/").items():
            self._mistakes[key] = {str(d): arrays[f"{name}/mistake/{key}/{k}"]
                                   for k, d in enumerate(names)}

    def has_mistakes(self, output):
        """Whether the file holds mistakes for ``output`` (an output no mistake gets wrong has none)."""
        return output in self._mistakes

    def mistakes(self, output):
        """``{description: array}``: what each common mistake returns as ``output`` on these inputs."""
        if output not in self._mistakes:
            raise KeyError(f"fixture {self.name!r} has no mistakes for {output!r}; "
                           f"it has {sorted(self._mistakes)}")
        return dict(self._mistakes[output])

    def __repr__(self):
        return (f"Case({self.name!r}, inputs={sorted(self.inputs)}, expected={sorted(self.expected)}, "
                f"mistakes={ {k: len(v) for k, v in self._mistakes.items()} })")


def _section(arrays, prefix):
    return {k[len(prefix):]: arrays[k] for k in arrays if k.startswith(prefix) and "/" not in k[len(prefix):]}


def path(assignment):
    return FOLDER / f"{assignment}.npz"


def load(assignment):
    """``{case name: Case}`` of an assignment's fixture file (arrays copied into memory)."""
    file = path(assignment)
    if not file.exists():
        raise FileNotFoundError(f"{file} is missing: the instructor makes it with "
                                f"`python -m autograder fixtures {assignment}`")
    with np.load(file, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    names = sorted({k.split("/", 1)[0] for k in arrays})
    return {n: Case(n, arrays) for n in names}


def flatten(cases):
    """The arrays of a fixture file from ``{case: {"inputs": {...}, "expected": {...},
    "mistakes": {output: {description: array}}}}`` (what the references' ``fixture_cases`` give)."""
    arrays = {}
    for case, parts in cases.items():
        if "/" in case:
            raise ValueError(f"a case name cannot hold '/': {case!r}")
        for section, stored_as in (("inputs", "input"), ("expected", "expected")):
            for key, value in parts.get(section, {}).items():
                arrays[f"{case}/{stored_as}/{key}"] = np.asarray(value)
        for output, variants in parts.get("mistakes", {}).items():
            arrays[f"{case}/mistake_names/{output}"] = np.array(list(variants), dtype=str)
            for k, value in enumerate(variants.values()):
                arrays[f"{case}/mistake/{output}/{k}"] = np.asarray(value)
    return arrays
