"""Submissions from an LMS, grades back to it: Canvas and Moodle exports <-> nbgrader's layout.

Intake (``grade --lms canvas|moodle --roster ROSTER.csv``) turns an LMS's "download all
submissions" zip of one assignment into nbgrader's ``<student_id>/<assignment>/<notebook>.ipynb`` in
a scratch folder, the student ids taken from the roster; ``lms-grades`` writes the grades of an
earlier ``grade`` run as a CSV that LMS imports.

The layouts, as the LMSs' own code writes them (read there, not guessed):

* **Canvas**, *Assignments → Download Submissions*: a flat zip of
  ``<name>[_LATE]_<user id>_<attachment id>_<file name>`` (canvas-lms ``lib/content_zipper.rb``,
  ``get_filename`` and ``add_upload_submission``). ``<name>`` is the sortable name ("Doe, Jane")
  lowercased with every non-word character removed (``doejane``); it may hold digits and ``_``, but
  never ``_<digits>_`` (Canvas removes those underscores so that the ids can be read back), so the
  first ``_<digits>_<digits>_`` ends it. ``LATE`` (``late`` in older versions) marks a late
  hand-in. The third field is the file's (attachment's) id, not the submission's; a file a student
  uploaded again gets Canvas's ``-1``, ``-2`` suffix (``01_one_hot-1.ipynb``). With anonymous grading
  the name and user id are replaced by ``anon_<id>``, which no roster maps: such files are reported.
  Roster: the gradebook export (*Grades → Export*, lib/gradebook_exporter.rb): ``Student, ID,
  [SIS User ID], SIS Login ID, [Integration ID], [Root Account], Section, <custom columns>,
  <title> (<assignment id>)..., totals``, a ``"    Points Possible"`` row (and, before it, a row
  with empty name and ID when some assignment has manual posting), maybe a byte-order mark and ``;``
  as separator (a user's CSV settings). ``ID`` is the user id of the file names.
* **Moodle**, assignment *Download all submissions* (mod/assign, ``download_submissions``): a
  folder per participant and plugin, ``<Full name>_<participant id>_assignsubmission_file_/``
  (``..._file/`` since Moodle 4.x) holding the files with their own sub-folders, or, with
  "Download submissions in folders" off, flat files ``<Full name>_<participant id>_
  assignsubmission_file_<file name>``. Moodle replaces ``_`` in the name by spaces, so the first
  ``_<digits>_assignsubmission_`` ends it; with blind marking the name is ``Participant``.
  Roster: *Download grading worksheet* (assignfeedback_offline): ``Identifier`` (``Participant
  12345``, the id of the file names), ``Full name``, the site's identity fields (``Email address``,
  ``ID number``...), ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``, ``Last
  modified (submission)``, ``Last modified (grade)``, ``Feedback comments``. *Upload grading
  worksheet* needs ``Identifier``, ``Grade`` and ``Last modified (grade)`` unchanged (a grade changed
  in Moodle since the export is not overwritten), so the import CSV is the worksheet itself with
  ``Grade`` filled in.

The nbgrader student id of a roster row is the value of a roster column (``id_column``; default
``SIS Login ID`` for Canvas, ``Email address`` for Moodle), an e-mail address standing for its local
part (``jdoe@uni.edu`` -> ``jdoe``). A row whose value is empty, is not a usable id (intake's
``STUDENT_ID``: letters, digits, ``_ . @ + -``) or is shared with another row is graded under the
LMS's own number instead (Canvas ``ID``, Moodle participant id), and the report says so.
"""

import csv
import io
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .intake import IGNORED, STUDENT_ID, IntakeError, extract_zip

LAYOUTS = ("canvas", "moodle")
DEFAULT_ID_COLUMN = {"canvas": "SIS Login ID", "moodle": "Email address"}
JUNK = IGNORED | {".DS_Store", "Thumbs.db"}  # what file managers add; never a hand-in

CANVAS_FILE = re.compile(r"^(?P<name>.*?)(?:_(?P<late>late))?_(?P<uid>\d+)_(?P<fid>\d+)_(?P<file>.+)$",
                         re.IGNORECASE)
CANVAS_ANONYMOUS = re.compile(r"^(?:late_)?anon_", re.IGNORECASE)
MOODLE_ENTRY = re.compile(r"^(?P<name>[^_]*)_(?P<pid>\d+)_(?P<plugin>assignsubmission_[a-z]+)_?(?P<file>.*)$")
#: ``01_one_hot.ipynb``, Canvas's re-upload ``01_one_hot-2.ipynb``, a browser's ``01_one_hot (2).ipynb``
COPY_SUFFIX = re.compile(r"^(?P<stem>.+?)(?:-(?P<dash>\d+)| ?\((?P<paren>\d+)\))?\.ipynb$", re.IGNORECASE)


class LmsError(IntakeError):
    """A roster or export that cannot be read at all (the message says what to do)."""


@dataclass
class Student:
    """One roster row: the LMS's number for the student, the name, the nbgrader id, the row."""

    lms_id: str
    name: str
    student_id: str
    cells: dict


@dataclass
class Roster:
    """A roster CSV as read: its header, its rows before the students (Points Possible...), the
    students in file order, and what an instructor should know about it."""

    lms: str
    header: list
    preamble: list
    students: list
    problems: list = field(default_factory=list)

    def by_lms_id(self):
        return {s.lms_id: s for s in self.students}


@dataclass
class ExportFile:
    """One hand-in file of an export: where it is, whose, and its name as the student gave it."""

    path: Path
    lms_id: str
    file_name: str
    late: bool = False
    order: int = 0  # Canvas's attachment id: a later upload has a larger one


@dataclass
class Layout:
    """An export laid out for nbgrader: the folder, the assignment, notes per student id, and the
    export's files that belong to no student."""

    root: Path
    assignment: str
    notes: dict
    problems: list


# ---------------------------------------------------------------------------------------- roster


def read_table(path):
    """``(header, rows)`` of a CSV as spreadsheets and LMSs write it: a byte-order mark, ``,``
    ``;`` or tab as separator. Raises :class:`LmsError` when it is not readable text."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LmsError(f"{path}: no such roster file") from None
    except UnicodeDecodeError:
        raise LmsError(f"{path} is not UTF-8 text: save the roster as CSV (UTF-8) and try again") from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max(",;\t", key=first.count)  # the header's commonest separator
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    if not rows:
        raise LmsError(f"{path} is empty: export the roster from the LMS again")
    return [h.strip() for h in rows[0]], rows[1:]


def read_roster(path, lms, id_column=None):
    """Read a Canvas gradebook export or a Moodle grading worksheet into a :class:`Roster`."""
    header, rows = read_table(path)
    if lms == "canvas":
        name_cols, number_col = (["Student"] if "Student" in header else ["LastName", "FirstName"]), "ID"
        hint = "Canvas's gradebook export (Grades → Export → Export Entire Gradebook)"
    else:
        name_cols, number_col = ["Full name"], "Identifier"
        hint = "Moodle's grading worksheet (the assignment's Submissions → Download grading worksheet)"
    if number_col not in header:
        raise LmsError(f"{path}: no {number_col!r} column, so this is not {hint}. Its columns: "
                       f"{', '.join(header[:8])}{'...' if len(header) > 8 else ''}")
    id_column = id_column or DEFAULT_ID_COLUMN[lms]
    if id_column not in header and (id_column != DEFAULT_ID_COLUMN[lms]):
        raise LmsError(f"{path}: no column {id_column!r} for --id-column; its columns: {', '.join(header)}")
    roster = Roster(lms, header, [], [])
    if id_column not in header:
        roster.problems.append(f"the roster has no {id_column!r} column: every student is graded under "
                               f"the {lms.capitalize()} {'ID' if lms == 'canvas' else 'participant id'}")
    for k, row in enumerate(rows, 2):
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        number = _lms_number(cells.get(number_col, ""), lms)
        if number is None:
            if any(cells.get(c) for c in name_cols) and "Points Possible" not in cells.get(name_cols[0], ""):
                roster.problems.append(f"roster line {k} ({', '.join(cells.get(c, '') for c in name_cols)}) "
                                       f"has no {number_col}; left out")
            roster.preamble.append(row)  # Points Possible, manual posting: kept for the export
            continue
        name = ", ".join(cells.get(c, "") for c in name_cols if cells.get(c))
        roster.students.append(Student(number, name, "", cells))
    if not roster.students:
        raise LmsError(f"{path}: no student rows (each needs a {number_col}); is it {hint}?")
    _give_ids(roster, id_column, "ID" if lms == "canvas" else "participant id")
    return roster


def _lms_number(value, lms):
    """Canvas's ID is a number; Moodle's Identifier is "Participant 12345" in the site's language."""
    m = re.fullmatch(r"(\d+)", value) if lms == "canvas" else re.search(r"(\d+)\s*$", value)
    return m.group(1) if m else None


def _candidate(value):
    """The id a roster value gives: an e-mail address gives its local part."""
    value = value.strip()
    return value.split("@", 1)[0] if "@" in value[1:] else value


def _give_ids(roster, id_column, number_col):
    """Set each student's nbgrader id from ``id_column``, falling back to the LMS number (with a
    problem line) for an empty, unusable or shared value."""
    wanted = {s.lms_id: _candidate(s.cells.get(id_column, "")) for s in roster.students}
    counts = {}
    for v in wanted.values():
        counts[v] = counts.get(v, 0) + 1
    for s in roster.students:
        v = wanted[s.lms_id]
        why = ("is empty" if not v else "is not a usable student id (letters, digits, _ . @ + - only)"
               if not STUDENT_ID.match(v) else f"is shared by {counts[v]} roster rows" if counts[v] > 1
               else "")
        s.student_id = s.lms_id if why else v
        if why and id_column in roster.header:
            roster.problems.append(f"{s.name or s.lms_id}: {id_column} {v!r} {why}; graded under the "
                                   f"{roster.lms.capitalize()} {number_col} {s.lms_id}")
    seen = {}
    for s in roster.students:
        if s.student_id in seen:
            raise LmsError(f"the roster gives {seen[s.student_id]} and {s.name} the same student id "
                           f"{s.student_id!r}; choose another --id-column")
        seen[s.student_id] = s.name


# ------------------------------------------------------------------------------------- the export


def parse_canvas_name(name):
    """An :class:`ExportFile`'s fields from a Canvas zip member's name, or None."""
    m = CANVAS_FILE.match(name)
    if not m or not m["name"] or CANVAS_ANONYMOUS.match(name):
        return None
    return {"lms_id": m["uid"], "file_name": m["file"], "late": bool(m["late"]), "order": int(m["fid"])}


def parse_moodle_name(name):
    """``(participant id, plugin, rest)`` from a Moodle folder's or flat file's name, or None."""
    m = MOODLE_ENTRY.match(name)
    return (m["pid"], m["plugin"], m["file"]) if m else None


def _regular_files(folder):
    """Regular files under ``folder`` (links and special files are not followed), and the rest."""
    files, others = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        others += [Path(dirpath) / d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = [d for d in dirnames if d not in JUNK and not os.path.islink(os.path.join(dirpath, d))]
        for f in filenames:
            p = Path(dirpath) / f
            if f in JUNK:
                continue
            (files if p.is_file() and not p.is_symlink() else others).append(p)
    return sorted(files), sorted(others)


def _export_root(folder):
    """Go down wrapper folders (an unzipped export inside a folder of its own)."""
    folder = Path(folder)
    for _ in range(4):
        children = [c for c in folder.iterdir() if c.name not in JUNK]
        if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink() \
                and not parse_moodle_name(children[0].name):
            folder = children[0]
        else:
            break
    return folder


def list_export(folder, lms):
    """``(files, problems)``: every hand-in file of an extracted export, and what could not be read
    as one (in words)."""
    root = _export_root(folder)
    files, problems = [], []
    if lms == "canvas":
        found, others = _regular_files(root)
        for p in found:
            rel = p.relative_to(root).as_posix()
            fields = parse_canvas_name(p.name) if p.parent == root else None
            if fields is None:
                why = ("anonymous grading hides who handed it in; turn anonymous grading off before "
                       "downloading" if CANVAS_ANONYMOUS.match(p.name) else
                       "not a Canvas submission name (<name>_<user id>_<file id>_<file>)")
                problems.append(f"{rel!r}: {why}; not graded")
                continue
            files.append(ExportFile(p, **fields))
    else:
        others = []
        for entry in sorted(root.iterdir()):
            if entry.name in JUNK:
                continue
            parsed = parse_moodle_name(entry.name)
            if parsed is None or entry.is_symlink():
                problems.append(f"{entry.name!r}: not a Moodle submission (<Full name>_<participant id>_"
                                "assignsubmission_file_...); not graded")
                continue
            pid, plugin, rest = parsed
            # another plugin's content (online text...) is the student's, named in their notes
            short = plugin.removeprefix("assignsubmission_")
            kind = "" if short == "file" else f"{short}: "
            if entry.is_dir():
                found, bad = _regular_files(entry)
                others += bad
                files += [ExportFile(p, pid, kind + p.relative_to(entry).as_posix(), order=k)
                          for k, p in enumerate(found)]
            elif entry.is_file() and rest:
                files.append(ExportFile(entry, pid, kind + rest))
            else:
                problems.append(f"{entry.name!r}: neither a folder nor a file of a submission; not graded")
    problems += [f"{p.relative_to(root).as_posix()!r} is a link or special file; not followed"
                 for p in others]
    return files, problems


def _copy_rank(file_name, assignment):
    """How late a copy of the assignment's notebook is (0 for ``A.ipynb``, N for ``A-N.ipynb`` or
    ``A (N).ipynb``), or None when the name is not the assignment's notebook."""
    m = COPY_SUFFIX.match(Path(file_name).name)
    if not m or m["stem"] != assignment:
        return None
    return int(m["dash"] or m["paren"] or 0)


def guess_assignment(files, known):
    """The one assignment whose notebook the export's files are named after, or None."""
    found = {a for f in files for a in known if _copy_rank(f.file_name, a) is not None}
    return found.pop() if len(found) == 1 else None


def lay_out(files, roster, assignment, dest):
    """Write the export's notebooks into ``dest/<student_id>/<assignment>/`` and return a
    :class:`Layout`.

    Per student: of the notebooks named after the assignment the latest copy (highest ``-N``, then
    the latest upload) becomes ``<assignment>.ipynb``; with none so named, every other notebook is
    put there under its own name (intake grades a single renamed one and says so, and refuses
    several). Files that are not notebooks are named in the notes. Every roster student gets a
    folder, empty when nothing was handed in, so that grading gives a "not submitted" row.
    """
    dest = Path(dest)
    by_number = roster.by_lms_id()
    notes, problems, mine = {s.student_id: [] for s in roster.students}, [], {}
    for f in files:
        student = by_number.get(f.lms_id)
        if student is None:
            problems.append(f"{f.path.name!r}: {roster.lms.capitalize()} id {f.lms_id} is not on the roster; "
                            "not graded (export the roster again if the student enrolled late)")
        else:
            mine.setdefault(student.student_id, []).append(f)
    for s in roster.students:
        (dest / s.student_id).mkdir(parents=True, exist_ok=True)
        handed = mine.get(s.student_id, [])
        if any(f.late for f in handed):
            notes[s.student_id].append("handed in late (Canvas marked the file LATE)")
        notes[s.student_id] += _place(handed, assignment, dest / s.student_id / assignment)
    return Layout(dest, assignment, {k: v for k, v in notes.items() if v}, problems)


def _place(handed, assignment, folder):
    """Copy one student's files into ``folder``; returns the notes about them."""
    ranked = sorted(((r, f.order, f) for f in handed
                     if (r := _copy_rank(f.file_name, assignment)) is not None), key=lambda t: t[:2])
    notebooks = [f for f in handed if f.file_name.lower().endswith(".ipynb")]
    others = [f.file_name for f in handed if f not in notebooks]
    notes = [f"not a notebook, not graded: {', '.join(others)}"] if others else []
    if ranked:
        chosen = ranked[-1][2]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chosen.path, folder / f"{assignment}.ipynb")
        rest = [f.file_name for f in notebooks if f is not chosen]
        if rest:
            notes.append(f"also handed in {', '.join(rest)}; graded {chosen.file_name}, the latest copy "
                         "(the highest -N, then the last uploaded)")
        elif chosen.file_name != f"{assignment}.ipynb":
            notes.append(f"the notebook was handed in as {chosen.file_name}")
    elif notebooks:
        folder.mkdir(parents=True, exist_ok=True)
        for f in notebooks:  # intake decides: one renamed notebook is graded, several are refused
            shutil.copyfile(f.path, folder / Path(f.file_name).name)
        names = ", ".join(f.file_name for f in notebooks)
        notes.append(f"no file named {assignment}.ipynb; handed in {names}")
    elif handed:
        notes.append(f"no notebook handed in (expected {assignment}.ipynb)")
    return notes


def from_export(submissions, lms, roster_path, workdir, known, assignment=None, id_column=None,
                max_member=0):
    """Read an export (a .zip or its extracted folder) and its roster, and lay it out for nbgrader in
    ``workdir/class``. Returns ``(Layout, Roster)``; raises :class:`LmsError` (an
    :class:`IntakeError`) when the export or the roster cannot be read at all."""
    if lms not in LAYOUTS:
        raise LmsError(f"unknown LMS {lms!r}; known: {', '.join(LAYOUTS)}")
    roster = read_roster(roster_path, lms, id_column)
    src, workdir = Path(submissions), Path(workdir)
    skipped = []
    if src.is_file() and src.suffix.lower() == ".zip":
        src = extract_zip(src, workdir / "export", max_member=max_member, skipped=skipped)
    elif not src.is_dir():
        raise LmsError(f"{submissions} is neither a folder nor a .zip file")
    files, problems = list_export(src, lms)
    if assignment is None:
        assignment = guess_assignment(files, known)
        if assignment is None:
            raise LmsError(f"{submissions}: cannot tell which assignment this {lms.capitalize()} export "
                           "is (no file, or files of several, named like an assignment's notebook); "
                           "give it with --assignment")
    layout = lay_out(files, roster, assignment, workdir / "class")
    # the grader hides the laid-out class from student code, not this copy of every hand-in
    shutil.rmtree(workdir / "export", ignore_errors=True)
    layout.problems = roster.problems + problems + layout.problems + [
        f"{name!r} in the zip: {why}" for name, why in skipped]
    return layout, roster


def annotate(outcomes, layout):
    """Put each student's intake notes (late, several copies...) first in their problems."""
    for o in outcomes:
        o.problems[:0] = [n for n in layout.notes.get(o.student_id, []) if n not in o.problems]


# --------------------------------------------------------------------------------- grades export


def read_grades(out, assignment=None):
    """``(assignment, {student_id: row})`` from ``out/grades.csv`` of an earlier ``grade`` run."""
    path = Path(out) / "grades.csv"
    if not path.is_file():
        raise LmsError(f"{path} does not exist: give the --out folder of an earlier `grade` run")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    present = sorted({r["assignment"] for r in rows})
    if assignment is None:
        if len(present) != 1:
            raise LmsError(f"{path} holds {len(present)} assignments ({', '.join(present) or 'none'}); "
                           "choose one with --assignment")
        assignment = present[0]
    elif assignment not in present:
        raise LmsError(f"{path} has no grades of {assignment} (it has {', '.join(present) or 'none'})")
    return assignment, {r["student_id"]: r for r in rows if r["assignment"] == assignment}


def _score(row):
    """The score to import, or None (with the reason) when the submission was not graded."""
    if row is None:
        return None, "no row in grades.csv (not graded in this run)"
    if row["status"] != "graded":
        first = row["problems"].split("; ")[0] if row["problems"] else ""
        return None, row["status"] + (f": {first}" if first else "")
    return float(row["score"]), ""


def _fmt(x):
    return f"{x:g}"


def write_import(out, lms, roster_path, csv_path, assignment=None, column=None, id_column=None):
    """Write ``csv_path``, the grades of ``out`` as the LMS imports them; returns what an instructor
    should read (students left empty and why, ids not on the roster, maximum grades that differ)."""
    roster = read_roster(roster_path, lms, id_column)
    assignment, grades = read_grades(out, assignment)
    max_scores = {float(r["max_score"]) for r in grades.values() if r["status"] == "graded"}
    max_score = max(max_scores) if max_scores else None
    lines, scores = list(roster.problems), {}
    for s in roster.students:
        scores[s.lms_id], why = _score(grades.get(s.student_id))
        if why:
            lines.append(f"{s.name or s.lms_id} ({s.student_id}): left empty, {why}")
    graded = [s.student_id for s in roster.students if scores[s.lms_id] is not None]
    lines += _pending_lines(out, assignment, graded)
    on_roster = {s.student_id for s in roster.students}
    lines += [f"{sid} is in grades.csv but not on the roster (was --id-column the same as for `grade`?); "
              "not in the import" for sid in sorted(set(grades) - on_roster)]
    writer = _write_canvas if lms == "canvas" else _write_moodle
    lines += writer(roster, scores, csv_path, assignment, column, max_score)
    return lines


def _pending_lines(out, assignment, student_ids):
    """A line naming the students whose written answers nobody has graded yet (their score lacks
    those points), read from the run's gradebook; none when there is no gradebook to read."""
    if not student_ids or not (Path(out) / "nbgrader_config.py").is_file():
        return []
    from . import feedback, gradebook

    try:  # the run's own gradebook, wherever --db put it (its nbgrader_config.py says)
        db_url = feedback.gradebook_url(out)
        pending = [sid for sid in student_ids
                   if (got := gradebook.scores_of(db_url, sid, assignment)) and got[4]]
    except Exception as err:  # an unreachable gradebook must not stop the export
        return [f"the gradebook could not be read to look for answers still to grade by hand "
                f"({type(err).__name__}: {str(err)[:200]})"]
    if not pending:
        return []
    return [f"{len(pending)} student(s) have written answers nobody has graded yet, so their score "
            f"lacks those points: {', '.join(pending)}. Grade them in Formgrader, run `python -m "
            f"autograder feedback {out}`, then write this CSV again"]


def _write_csv(path, rows):
    tmp = Path(path).with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    os.replace(tmp, path)


def _write_canvas(roster, scores, path, assignment, column, max_score):
    """Canvas's gradebook import: the student columns, one assignment column, Points Possible."""
    existing = [h for h in roster.header if re.fullmatch(rf"{re.escape(assignment)}\s*\(\d+\)", h)]
    column = column or (existing[0] if existing else assignment)
    lines = [] if column in roster.header else [
        f"column {column!r} is not in the roster: Canvas will create a new assignment of that name on "
        "import (give --column \"<title> (<id>)\" to fill an existing one)"]
    possible = next((r for r in roster.preamble if "Points Possible" in (r[0] if r else "")), None)
    if possible and column in roster.header and max_score is not None:
        theirs = possible[roster.header.index(column)] if len(possible) > roster.header.index(column) else ""
        if theirs and _number(theirs) != max_score:
            lines.append(f"Canvas gives {column!r} {theirs} points, the notebook {_fmt(max_score)}: the "
                         "import writes the notebook's points")
    head = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    rows = [head + [column], ["    Points Possible", "", "", "", "",
                              "" if max_score is None else _fmt(max_score)]]
    for s in roster.students:
        name = s.cells.get("Student") or s.name
        rows.append([name, s.lms_id] + [s.cells.get(h, "") for h in head[2:]]
                    + ["" if scores[s.lms_id] is None else _fmt(scores[s.lms_id])])
    _write_csv(path, rows)
    return lines


def _write_moodle(roster, scores, path, assignment, column, max_score):
    """Moodle's grading worksheet as downloaded, with its Grade column filled in."""
    grade_col = column or "Grade"
    if grade_col not in roster.header:
        raise LmsError(f"the worksheet has no {grade_col!r} column; download the grading worksheet again "
                       "(the assignment must use points)")
    lines = []
    at = roster.header.index(grade_col)
    maxcol = next((h for h in roster.header if h.lower() == "maximum grade"), None)
    theirs = {_number(s.cells.get(maxcol, "")) for s in roster.students} - {None} if maxcol else set()
    if max_score is not None and theirs and theirs != {max_score}:
        lines.append(f"Moodle's maximum grade is {', '.join(map(_fmt, sorted(theirs)))}, the notebook's "
                     f"{_fmt(max_score)}: the worksheet gets the notebook's points (set the assignment's "
                     "maximum grade to match)")
    locked = [s.name for s in roster.students if s.cells.get("Grade can be changed", "").lower() == "no"]
    if locked:
        lines.append(f"Moodle says the grade cannot be changed for: {', '.join(locked)}")
    rows = [roster.header] + roster.preamble
    for s in roster.students:
        row = [s.cells.get(h, "") for h in roster.header]
        row[at] = "" if scores[s.lms_id] is None else _fmt(scores[s.lms_id])
        rows.append(row)
    _write_csv(path, rows)
    return lines


def _number(text):
    """A number as an LMS writes it ("12.00", "12,5"), or None."""
    try:
        return float(text.strip().replace(",", "."))
    except (ValueError, AttributeError):
        return None
