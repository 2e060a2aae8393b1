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

import dataclasses
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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None
    unknown = set(data) - {"mistake", "alternative"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)} (use [[mistake]] and "
                         "[[alternative]])")
    mistakes = [_entry(Mistake, path, "mistake", k, m, assignment)
                for k, m in enumerate(data.get("mistake", []), 1)]
    alternatives = [_entry(Alternative, path, "alternative", k, a, assignment)
                    for k, a in enumerate(data.get("alternative", []), 1)]
    return mistakes, alternatives


def _entry(kind, path, table, number, fields, assignment):
    """One [[mistake]] or [[alternative]], with its keys and their types checked."""
    allowed = [f.name for f in dataclasses.fields(kind) if f.name != "assignment"]
    required = [f.name for f in dataclasses.fields(kind)
                if f.name != "assignment" and f.default is dataclasses.MISSING]
    where = f"{path}, [[{table}]] number {number}"
    unknown = sorted(set(fields) - set(allowed))
    missing = [k for k in required if k not in fields]
    if unknown or missing:
        said = ([f"unknown key(s) {unknown}"] if unknown else []) + (
            [f"missing key(s) {missing}"] if missing else [])
        raise ValueError(f"{where}: {'; '.join(said)}; its keys are {allowed}")
    wrong = [k for k, v in fields.items() if not isinstance(v, str)]
    if wrong:
        raise ValueError(f"{where}: {wrong} must be text (a quoted string)")
    return kind(assignment=assignment, **fields)
