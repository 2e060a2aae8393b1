"""Mistake catalogues: ``solutions/NN_topic/mistakes.toml``, one per assignment.

Each ``[[mistake]]`` is a common wrong answer, written as a change to the solution code; the test
suite plants each one and checks that grading takes points away (and, where ``message`` is given,
that the feedback names the mistake). Each ``[[alternative]]`` is a differently written *correct*
solution of a cell, which must keep full marks::

    [[mistake]]
    cell = "one_hot"                 # grade_id of the solution cell it is planted in
    name = "returns int64 codes"     # what the mistake is, in words
    old = "np.zeros(shape, dtype=np.float64)"
    new = "np.zeros(shape, dtype=np.int64)"
    message = "float64"              # optional: text that the test messages must show

    [[alternative]]
    cell = "one_hot"
    name = "a Python loop"
    code = '''
    def one_hot(...): ...
    '''
"""

from dataclasses import dataclass

import tomllib

from . import course


@dataclass(frozen=True)
class Mistake:
    assignment: str
    cell: str
    name: str
    old: str
    new: str
    message: str = ""


@dataclass(frozen=True)
class Alternative:
    assignment: str
    cell: str
    name: str
    code: str


def load(assignment):
    """``(mistakes, alternatives)`` of an assignment; both empty lists when it has no catalogue."""
    path = course.catalogue_file(assignment)
    if not path.exists():
        return [], []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"mistake", "alternative"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)} (use [[mistake]] and "
                         "[[alternative]])")
    mistakes = [Mistake(assignment=assignment, **m) for m in data.get("mistake", [])]
    alternatives = [Alternative(assignment=assignment, **a) for a in data.get("alternative", [])]
    return mistakes, alternatives
