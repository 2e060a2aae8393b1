"""Intake: find the submissions in a folder or an LMS zip, and check each notebook before grading.

The expected layout is nbgrader's ``submitted/``: ``<student_id>/<assignment>/<notebook>.ipynb``,
possibly wrapped in one or more top-level folders (an LMS zip usually is).
"""

import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import notebooks

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*$")
IGNORED = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}


class IntakeError(Exception):
    """The submissions as a whole cannot be read (not a folder, not a zip, unsafe zip)."""


@dataclass
class Submission:
    """One student's hand-in of one assignment."""

    student_id: str
    assignment: str
    folder: Path | None  # <root>/<student>/<assignment>, None when nothing was handed in
    notebook: Path | None = None  # the file that will be graded
    problems: list = field(default_factory=list)  # what an instructor should know, in words
    fatal: str = ""  # why it cannot be graded at all ("" when it can)
    status_if_fatal: str = "failed"


def _visible_dirs(path):
    return sorted(p for p in path.iterdir()
                  if p.is_dir() and p.name not in IGNORED and not p.name.startswith("."))


def extract_zip(zip_path, dest):
    """Extract an LMS zip into ``dest``, refusing members that would land outside it."""
    dest = Path(dest).resolve()
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for member in zf.infolist():
                target = (dest / member.filename).resolve()
                if dest not in target.parents and target != dest:
                    raise IntakeError(f"{zip_path}: the zip holds a path outside its folder "
                                      f"({member.filename!r}); refusing to extract it.")
            zf.extractall(dest)
    except zipfile.BadZipFile as err:
        raise IntakeError(f"{zip_path} is not a readable zip file ({err}).") from None
    return dest


def find_root(path, known_assignments):
    """The folder whose children are student folders: the shallowest folder D such that some
    ``D/<student>/<assignment>`` is an assignment of the course."""
    path = Path(path)
    for _ in range(4):
        for student in _visible_dirs(path):
            if any(child.name in known_assignments for child in _visible_dirs(student)):
                return path
        children = _visible_dirs(path)
        if len(children) != 1:
            break
        path = children[0]
    return Path(path)


def collect(root, assignments, known_assignments, only_requested):
    """List the submissions under ``root`` for ``assignments``.

    Returns ``(submissions, problems)``: a :class:`Submission` per student and assignment found
    (and, when ``only_requested``, one marked "not submitted" for each requested assignment a
    student lacks), and a list of problems with folders that are not submissions at all.
    """
    subs, problems = [], []
    for student_dir in _visible_dirs(root):
        sid = student_dir.name
        if not STUDENT_ID.match(sid):
            problems.append(f"folder {student_dir.name!r} is not a usable student id (letters, "
                            "digits and _ . @ + - only); rename it and grade again")
            continue
        found = {d.name: d for d in _visible_dirs(student_dir)}
        for name in sorted(set(found) - set(known_assignments)):
            problems.append(f"{sid}/{name}: not an assignment of this course (known: "
                            f"{', '.join(known_assignments)})")
        for assignment in assignments:
            if assignment in found:
                subs.append(Submission(sid, assignment, found[assignment]))
            elif only_requested:
                subs.append(Submission(sid, assignment, None, fatal="nothing handed in",
                                       status_if_fatal="not submitted"))
    return subs, problems


def _grade_ids(nb, test_only=False):
    return [notebooks.grade_id(c) for c in nb.cells
            if notebooks.grade_id(c) and (notebooks.is_test(c) or not test_only)]


def prepare(sub, release_nb, other_releases, dest):
    """Check one submission and write the notebook nbgrader will grade to ``dest``.

    release_nb: the release notebook of ``sub.assignment`` (the reference for what cells must exist).
    other_releases: {assignment: release notebook} of the course, to recognise a wrong notebook.
    Sets ``sub.fatal`` when it cannot be graded; appends to ``sub.problems`` what the instructor
    should know. Returns True when ``dest`` was written.
    """
    if sub.folder is None:
        return False
    expected = f"{sub.assignment}.ipynb"
    candidates = sorted(p for p in sub.folder.rglob("*.ipynb")
                        if not (set(p.relative_to(sub.folder).parts) & IGNORED))
    chosen = sub.folder / expected if (sub.folder / expected).is_file() else None
    if chosen is None:
        if not candidates:
            others = sorted(p.name for p in sub.folder.iterdir())
            sub.fatal = (f"no notebook in {sub.student_id}/{sub.assignment}/ (expected {expected}"
                         + (f"; found {', '.join(others)}" if others else "; the folder is empty")
                         + ")")
            sub.status_if_fatal = "missing"
            return False
        if len(candidates) > 1:
            sub.fatal = (f"{len(candidates)} notebooks and none named {expected}: "
                         f"{', '.join(p.name for p in candidates)}; keep one and grade again")
            return False
        chosen = candidates[0]
        sub.problems.append(f"the notebook was named {chosen.name}; graded as {expected}")
    sub.notebook = chosen
    raw = chosen.read_bytes()
    if not raw.strip():
        sub.fatal = f"{chosen.name} is empty (0 bytes of notebook): ask the student to resubmit"
        return False
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        sub.fatal = f"{chosen.name} is not a text file, so not a notebook: ask the student to resubmit"
        return False
    except json.JSONDecodeError as err:
        sub.fatal = (f"{chosen.name} is damaged: not valid JSON (line {err.lineno}, column "
                     f"{err.colno}: {err.msg}); it was probably cut off while saving or uploading. "
                     "Ask the student to download it again from JupyterLab and resubmit")
        return False
    try:
        major = int(data.get("nbformat", 0)) if isinstance(data, dict) else 0
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as err:
        sub.fatal = f"{chosen.name} is JSON but not a Jupyter notebook ({type(err).__name__}: {err})"
        return False
    if major and major < 4:
        sub.problems.append(f"the notebook was in the old nbformat {major}; converted to nbformat 4")

    ids = set(_grade_ids(nb))
    expected_ids = _grade_ids(release_nb)
    if not ids & set(expected_ids):
        for other, other_nb in other_releases.items():
            if other != sub.assignment and ids & set(_grade_ids(other_nb)):
                sub.fatal = (f"this is the notebook of assignment {other}, not {sub.assignment}: "
                             "the student handed in the wrong file")
                return False
        sub.fatal = ("none of the assignment's graded cells is in this notebook (was it copied "
                     "into a new notebook, which loses nbgrader's cell metadata?); ask the student "
                     f"to work in the released {expected}")
        return False

    release_cells = notebooks.cells_by_id(release_nb)
    nb, duplicated, retyped = _undo_cell_tampering(nb, release_cells)
    if duplicated:
        sub.problems.append(f"graded cells duplicated by the student were removed (the first copy "
                            f"was kept): {', '.join(duplicated)}")
    if retyped:
        sub.problems.append(f"graded cells whose type the student changed were restored: "
                            f"{', '.join(retyped)}")
    ids = set(_grade_ids(nb))
    missing = [gid for gid in _grade_ids(release_nb, test_only=True) if gid not in ids]
    if missing:
        nb = restore_cells(nb, release_nb, missing)
        sub.problems.append(f"test cells deleted by the student were put back before grading: "
                            f"{', '.join(missing)}")
    edited = [notebooks.grade_id(c) for c in nb.cells
              if notebooks.is_test(c) and notebooks.grade_id(c) in release_cells
              and c.source.strip() != release_cells[notebooks.grade_id(c)].source.strip()]
    if edited:
        sub.problems.append("test cells edited by the student; nbgrader graded the original "
                            f"tests: {', '.join(edited)}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))
    return True


def _undo_cell_tampering(nb, release_cells):
    """Drop second copies of graded cells; give graded cells back the type they have in the release
    (a test cell turned into markdown would otherwise never run)."""
    nb = notebooks.read_dict(nb)
    seen, cells, duplicated, retyped = set(), [], [], []
    for cell in nb.cells:
        gid = notebooks.grade_id(cell)
        if gid and gid in seen:
            duplicated.append(gid)
            continue
        seen.add(gid)
        original = release_cells.get(gid)
        if original is not None and cell.cell_type != original.cell_type:
            retyped.append(gid)
            if original.cell_type == "code" and notebooks.is_solution(original):
                fixed = nbformat.v4.new_code_cell(cell.source)  # keep the student's code
                fixed.metadata = cell.metadata
                cell = fixed
            else:
                cell = notebooks.read_dict(original)
        cells.append(cell)
    nb.cells = cells
    return nb, duplicated, retyped


def restore_cells(nb, release_nb, missing):
    """Put the release's cells ``missing`` back into ``nb``, each after the cell that precedes it
    in the release (or at the top)."""
    nb = notebooks.read_dict(nb)
    for gid in missing:
        order = [notebooks.grade_id(c) for c in release_nb.cells]
        idx = order.index(gid)
        present = {notebooks.grade_id(c): i for i, c in enumerate(nb.cells)
                   if notebooks.grade_id(c)}
        insert_at = 0
        for prev in reversed(order[:idx]):
            if prev in present:
                insert_at = present[prev] + 1
                break
        nb.cells.insert(insert_at, notebooks.read_dict(release_nb.cells[idx]))
    return nb


def copy_tree(src, dest):
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
