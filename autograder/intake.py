"""Intake: find the submissions in a folder or an LMS zip, and check each notebook before grading.

The expected layout is nbgrader's ``submitted/``: ``<student_id>/<assignment>/<notebook>.ipynb``,
possibly wrapped in one or more top-level folders (an LMS zip usually is).
"""

import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import course, notebooks, safefiles

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
    problems: list = field(default_factory=list)  # what an instructor should know, in words
    fatal: str = ""  # why it cannot be graded at all ("" when it can)
    status_if_fatal: str = "failed"


def _visible_dirs(path, hidden=False):
    """Real sub-folders (never a link to one), without the ignored ones and, unless ``hidden``,
    without those whose name starts with a dot."""
    return [p for p in safefiles.real_dirs(path, skip=IGNORED)
            if hidden or not p.name.startswith(".")]


def extract_zip(zip_path, dest, max_member=0, skipped=None):
    """Extract an LMS zip into ``dest``, refusing members that would land outside it.

    Members larger than ``max_member`` bytes (0: no cap) and symbolic links are not extracted;
    each is appended to ``skipped`` as ``(path relative to dest, why)``.
    """
    dest = Path(dest).resolve()
    skipped = [] if skipped is None else skipped
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = []
            for member in zf.infolist():
                target = (dest / member.filename).resolve()
                if dest not in target.parents and target != dest:
                    raise IntakeError(f"{zip_path}: the zip holds a path outside its folder "
                                      f"({member.filename!r}); refusing to extract it.")
                if stat.S_ISLNK(member.external_attr >> 16):
                    skipped.append((member.filename, "a symbolic link in the zip; not extracted"))
                elif max_member and member.file_size > max_member:
                    skipped.append((member.filename, f"a file of {safefiles.size_words(member.file_size)} "
                                    f"in the zip, over the cap of {safefiles.size_words(max_member)}; "
                                    "not extracted"))
                else:
                    members.append(member)
            zf.extractall(dest, members)
    except zipfile.BadZipFile as err:
        raise IntakeError(f"{zip_path} is not a readable zip file ({err}).") from None
    return dest


def find_root(path, known_assignments):
    """The folder whose children are student folders: the shallowest folder D such that some
    ``D/<student>/<assignment>`` is an assignment of the course."""
    path = Path(path)
    for _ in range(4):
        for student in _visible_dirs(path, hidden=True):
            if any(child.name in known_assignments for child in _visible_dirs(student)):
                return path
        children = _visible_dirs(path)
        if len(children) != 1:
            break
        path = children[0]
    return Path(path)


def present_assignments(root, known_assignments):
    """The assignments of the course that some student folder under ``root`` holds (real folders
    only: nothing is followed)."""
    return sorted({d.path.name for s in _visible_dirs(root, hidden=True)
                   for d in safefiles.listing(s)
                   if d.kind in ("dir", "symlink") and d.path.name in known_assignments})


def collect(root, assignments, known_assignments, only_requested):
    """List the submissions under ``root`` for ``assignments``.

    Returns ``(submissions, problems)``: a :class:`Submission` per student and assignment found
    (and, when ``only_requested``, one marked "not submitted" for each requested assignment a
    student lacks), and a list of problems with folders that are not submissions at all.

    Nothing is followed or opened: a student or assignment folder that is a symbolic link is
    reported in that student's row, not graded; special files are named; a folder whose name
    starts with a dot is graded (under that name) when it holds an assignment and its name is
    otherwise a student id, and reported in any case.
    """
    subs, problems = [], []
    for e in safefiles.listing(root):
        name = e.path.name
        if name in IGNORED:
            continue
        hidden = name.startswith(".")
        valid = bool(STUDENT_ID.match(name[1:] if hidden else name))
        if e.kind == "symlink":
            what = safefiles.describe(e, course.ROOT)
            if not valid:
                problems.append(f"{name!r} is {what}, not a student folder; not followed")
                continue
            for assignment in assignments:
                subs.append(Submission(name, assignment, None, fatal=(
                    f"the student's folder {name!r} is {what}; links are not followed, so "
                    "nothing was graded (put the student's own files in a real folder)")))
            continue
        if e.kind != "dir":
            if e.kind != "file":
                problems.append(f"{name!r} is {safefiles.describe(e)}, not a student folder; "
                                "left alone")
            continue
        if not valid:
            problems.append(f"folder {name!r} is not a usable student id (letters, "
                            "digits and _ . @ + - only); rename it and grade again")
            continue
        student_dir = e.path
        inside = safefiles.listing(student_dir)
        found = {d.path.name: d.path for d in inside
                 if d.kind == "dir" and d.path.name not in IGNORED}
        if hidden and not set(found) & set(known_assignments):
            problems.append(f"folder {name!r} is hidden (its name starts with a dot) and holds no "
                            f"assignment of this course; not graded")
            continue
        notes = []
        if hidden:
            notes.append(f"the student's folder {name!r} is hidden (its name starts with a dot); "
                         f"graded under the id {name!r}: check that it is the student's id")
        for d in inside:
            if d.kind not in ("dir", "file") and d.path.name not in known_assignments:
                notes.append(f"in the student's folder, {d.path.name!r} is "
                             f"{safefiles.describe(d, course.ROOT)}; ignored")
        links = {d.path.name: d for d in inside if d.kind == "symlink"}
        for other in sorted(set(found) - set(known_assignments)):
            problems.append(f"{name}/{other}: not an assignment of this course (known: "
                            f"{', '.join(known_assignments)})")
        mine = []
        for assignment in assignments:
            if assignment in found:
                mine.append(Submission(name, assignment, found[assignment], problems=list(notes)))
            elif assignment in links:
                what = safefiles.describe(links[assignment], course.ROOT)
                mine.append(Submission(name, assignment, None, problems=list(notes), fatal=(
                    f"the folder {name}/{assignment} is {what}; links are not followed, so "
                    "nothing was graded")))
            elif only_requested:
                mine.append(Submission(name, assignment, None, problems=list(notes),
                                       fatal="nothing handed in", status_if_fatal="not submitted"))
        if notes and not mine:
            problems += [f"{name}: {n}" for n in notes]
        subs += mine
    return subs, problems


def _grade_ids(nb, test_only=False):
    return [notebooks.grade_id(c) for c in nb.cells
            if notebooks.grade_id(c) and (notebooks.is_test(c) or not test_only)]


def read_class(submissions, workdir, known, requested=None, max_member=0):
    """Every submission under ``submissions``, a folder or a .zip (extracted into ``workdir``).

    known: the course's assignments; requested: only these (None: every one present); max_member:
    bytes a zip member may have (0: no cap). Returns ``(submissions, problems)``: a
    :class:`Submission` per student and assignment, and what belongs to no submission, in words.
    Raises :class:`IntakeError` when ``submissions`` cannot be read at all.
    """
    src = Path(submissions)
    skipped = []  # members of a zip that were not extracted: (path in the zip, why)
    if src.is_file() and src.suffix.lower() == ".zip":
        src = extract_zip(src, Path(workdir), max_member=max_member, skipped=skipped)
    elif not src.is_dir():
        raise IntakeError(f"{submissions} is neither a folder nor a .zip file")
    root = find_root(src, known)
    subs, problems = collect(root, requested or present_assignments(root, known), known,
                             bool(requested))
    return subs, problems + _place_skipped(skipped, src, subs)


def _place_skipped(skipped, src, subs):
    """Put each zip member that was not extracted in the problems of the submission whose folder
    held it; returns those that belong to no submission."""
    rest = []
    for name, why in skipped:
        path = Path(src) / name
        owner = next((s for s in subs if s.folder is not None and s.folder in path.parents), None)
        if owner is None:
            rest.append(f"{name!r} in the zip: {why}")
        else:
            owner.problems.append(f"'{path.relative_to(owner.folder)}' in the zip: {why}")
    return rest


def prepare_notebook(sub, release_nb, other_releases, dest, file_cap=0, total_cap=0):
    """Check one submission and write the notebook nbgrader will grade to ``dest``.

    release_nb: the release notebook of ``sub.assignment`` (the reference for what cells must exist).
    other_releases: {assignment: release notebook} of the course, to recognise a wrong notebook.
    file_cap, total_cap: bytes (0: no cap) a file, and the hand-in in all, may have before it is
        reported; a notebook over ``total_cap`` is not read.
    Sets ``sub.fatal`` when it cannot be graded (``dest`` is then not written); appends to
    ``sub.problems`` what the instructor should know.

    Only the notebook is graded. Nothing in the hand-in is followed or opened but that notebook,
    and only when it is a regular file; links, special files, hidden folders and huge files are
    named in ``sub.problems``.
    """
    if sub.folder is None:
        return
    expected = f"{sub.assignment}.ipynb"
    entries, _ = safefiles.walk(sub.folder)
    entries = [e for e in entries if not (set(e.path.relative_to(sub.folder).parts) & IGNORED)]
    hidden = [e.path for e in entries if e.kind == "dir" and e.path.name.startswith(".")]
    notebook_entries = [e for e in entries if e.path.name.endswith(".ipynb")
                        and not any(h in e.path.parents for h in hidden)]
    candidates = sorted(e.path for e in notebook_entries if e.kind == "file")
    top = safefiles.entry(sub.folder / expected)
    leftovers = safefiles.survey(sub.folder, file_cap, total_cap, ignore=IGNORED,
                                 course_root=course.ROOT)
    if top is not None and top.kind != "file":
        sub.fatal = (f"{expected} is {safefiles.describe(top, course.ROOT)}, not a notebook file; "
                     "it was not opened or followed, so nothing was graded")
        leftovers = [x for x in leftovers if not x.startswith(f"'{expected}'")]
    if leftovers:
        sub.problems.append("left in the hand-in, not used (only the notebook is graded; links are "
                            "not followed, special files not opened): " + "; ".join(leftovers))
    if sub.fatal:
        return
    chosen = sub.folder / expected if top is not None else None
    if chosen is None:
        if not candidates:
            others = sorted(e.path.name for e in safefiles.listing(sub.folder))
            sub.fatal = (f"no notebook in {sub.student_id}/{sub.assignment}/ (expected {expected}"
                         + (f"; found {', '.join(others)}" if others else "; the folder is empty")
                         + ")")
            sub.status_if_fatal = "missing"
            return
        if len(candidates) > 1:
            sub.fatal = (f"{len(candidates)} notebooks and none named {expected}: "
                         f"{', '.join(p.name for p in candidates)}; keep one and grade again")
            return
        chosen = candidates[0]
        sub.problems.append(f"the notebook was named {chosen.name}; graded as {expected}")
    try:
        raw = safefiles.read_capped(chosen, total_cap)
    except safefiles.TooBig:
        size = safefiles.entry(chosen).size if safefiles.entry(chosen) else 0
        sub.fatal = (f"{chosen.name} holds {safefiles.size_words(size)}, over the "
                     f"{safefiles.size_words(total_cap)} a submission may have; it was not read. "
                     "Ask the student to clear the outputs and resubmit")
        return
    except OSError as err:
        sub.fatal = f"{chosen.name} could not be read ({err.strerror or err}); nothing was graded"
        return
    if not raw.strip():
        sub.fatal = f"{chosen.name} is empty (0 bytes of notebook): ask the student to resubmit"
        return
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        sub.fatal = f"{chosen.name} is not a text file, so not a notebook: ask the student to resubmit"
        return
    except json.JSONDecodeError as err:
        sub.fatal = (f"{chosen.name} is damaged: not valid JSON (line {err.lineno}, column "
                     f"{err.colno}: {err.msg}); it was probably cut off while saving or uploading. "
                     "Ask the student to download it again from JupyterLab and resubmit")
        return
    try:
        major = int(data.get("nbformat", 0)) if isinstance(data, dict) else 0
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as err:
        sub.fatal = f"{chosen.name} is JSON but not a Jupyter notebook ({type(err).__name__}: {err})"
        return
    if major and major < 4:
        sub.problems.append(f"the notebook was in the old nbformat {major}; converted to nbformat 4")
    nb, malformed = _drop_malformed_marks(nb)
    if malformed:
        sub.problems.append("cells whose nbgrader metadata was not nbgrader's lost it (they ran as "
                            "ordinary cells; a graded cell among them is put back from the "
                            f"release): {', '.join(malformed)}")

    ids = set(_grade_ids(nb))
    expected_ids = _grade_ids(release_nb)
    if not ids & set(expected_ids):
        for other, other_nb in other_releases.items():
            if other != sub.assignment and ids & set(_grade_ids(other_nb)):
                sub.fatal = (f"this is the notebook of assignment {other}, not {sub.assignment}: "
                             "the student handed in the wrong file")
                return
        sub.fatal = ("none of the assignment's graded cells is in this notebook (was it copied "
                     "into a new notebook, which loses nbgrader's cell metadata?); ask the student "
                     f"to work in the released {expected}")
        return

    release_cells = notebooks.cells_by_id(release_nb)
    nb, duplicated, retyped = _undo_cell_tampering(nb, release_cells)
    if duplicated:
        sub.problems.append(f"graded cells duplicated by the student were removed (the first copy "
                            f"was kept): {', '.join(duplicated)}")
    if retyped:
        sub.problems.append(f"graded cells whose type the student changed were restored: "
                            f"{', '.join(retyped)}")
    nb, restored, unmarked = restore_metadata(nb, release_cells)
    if restored:
        sub.problems.append("nbgrader marks of graded cells changed by the student were restored "
                            "from the release: " + "; ".join(restored))
    if unmarked:
        sub.problems.append("cells marked as graded cells that the release does not have lost "
                            "those marks (they ran as ordinary cells and earn nothing): "
                            + ", ".join(unmarked))
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


def _drop_malformed_marks(nb):
    """Remove nbgrader metadata that is not a mapping with a text grade_id (which would make
    nbgrader, and the checks here, fail on the whole notebook)."""
    nb = notebooks.copy_of(nb)
    dropped = []
    for k, cell in enumerate(nb.cells):
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
        if "nbgrader" not in cell.metadata:
            continue
        meta = cell.metadata.nbgrader
        gid = meta.get("grade_id", "") if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or not isinstance(gid, str):
            dropped.append(f"cell {k + 1}")
            del cell.metadata["nbgrader"]
    return nb, dropped


def _undo_cell_tampering(nb, release_cells):
    """Drop second copies of graded cells; give graded cells back the type they have in the release
    (a test cell turned into markdown would otherwise never run)."""
    nb = notebooks.copy_of(nb)
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
                cell = notebooks.copy_of(original)
        cells.append(cell)
    nb.cells = cells
    return nb, duplicated, retyped


#: nbgrader's marks of a cell that decide how it is graded
MARKS = ("grade_id", "grade", "solution", "locked", "points", "task", "cell_type", "schema_version")


def restore_metadata(nb, release_cells):
    """Give every graded cell the nbgrader metadata it has in the release (matched by grade_id),
    and take the marks off cells that claim to be graded cells the release does not have.

    Returns ``(nb, restored, unmarked)``: a new notebook, what was restored (in words, per
    grade_id) and the ids (or descriptions) of the cells whose marks were removed.
    """
    nb = notebooks.copy_of(nb)
    restored, unmarked = [], []
    for k, cell in enumerate(nb.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        meta = cell.metadata.nbgrader
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        original = release_cells.get(gid) if isinstance(gid, str) else None
        if original is not None:
            want = original.metadata.nbgrader
            changed = [f"{key} {meta.get(key)!r} instead of {want.get(key)!r}" for key in MARKS
                       if meta.get(key) != want.get(key)]
            if changed:
                restored.append(f"{gid} ({', '.join(changed)})")
            cell.metadata["nbgrader"] = notebooks.copy_of(want)
            continue
        claims = not isinstance(meta, dict) or gid or any(
            meta.get(key) for key in ("grade", "solution", "locked", "task"))
        if claims:
            unmarked.append(repr(gid) if isinstance(gid, str) and gid else f"cell {k + 1}")
        del cell.metadata["nbgrader"]
    return nb, restored, unmarked


def restore_cells(nb, release_nb, missing):
    """Put the release's cells ``missing`` back into ``nb``, each after the cell that precedes it
    in the release (or at the top)."""
    nb = notebooks.copy_of(nb)
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
        nb.cells.insert(insert_at, notebooks.copy_of(release_nb.cells[idx]))
    return nb
