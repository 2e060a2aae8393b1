"""Files a student leaves behind, handled without trusting them.

A hand-in, or the working folder a notebook ran in, may hold anything a student can create: named
pipes (FIFOs, which block whoever opens them), sockets, device files, symbolic links (to anything,
including loops and the course's own ``solutions/``), huge or sparse files (2 GiB that take no disk
until someone copies them) and hidden folders. Everything here looks at entries with ``lstat`` only:
no symbolic link is followed, no special file is opened, and no file is read past a byte cap.

- :func:`listing` lists a folder's entries with what each is, without following anything.
- :func:`survey` walks a folder and describes, in words, what an instructor should know of it.
- :func:`copy_tree` copies the directories and regular files of a folder under a per-file and a
  total byte cap; everything else it names instead of copying.
- :func:`read_capped` reads one regular file, refusing links, special files and files over a cap.
- :class:`RemoveLeftovers` (an nbgrader preprocessor) takes the special files and links out of the
  notebook's working folder as soon as it has run, before nbgrader walks that folder (nbgrader's
  ``set_permissions`` calls ``chmod`` on each entry, which follows links and fails on a loop).
"""

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .job import MB  # one definition, beside the limits in megabytes

MAX_ENTRIES = 10_000  # entries looked at in one folder tree; the rest are counted, not examined
LEFTOVERS_FILE = "leftovers.json"  # in the scratch course folder: what RemoveLeftovers removed


@dataclass
class Entry:
    path: Path
    kind: str  # dir | file | symlink | fifo | socket | device | other
    size: int = 0  # apparent size (st_size) of a regular file
    disk: int = 0  # bytes it takes on disk (st_blocks * 512)


def _kind(st):
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def entry(path):
    """What ``path`` itself is (a link is a link, whatever it points to), or None if it is gone."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    kind = _kind(st)
    return Entry(Path(path), kind, st.st_size if kind == "file" else 0,
                 getattr(st, "st_blocks", 0) * 512 if kind == "file" else 0)


def listing(folder):
    """The entries of ``folder`` (sorted by name), nothing followed; [] when it cannot be read."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [e for e in (entry(Path(folder) / n) for n in names) if e is not None]


def real_dirs(folder, skip=()):
    """The sub-folders of ``folder`` that are real directories (not links to one)."""
    return [e.path for e in listing(folder) if e.kind == "dir" and e.path.name not in skip]


def size_words(n):
    """A size in decimal units, as the limits are given (50 MB is 50 000 000 bytes)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


def link_target_words(path, course_root=None):
    """Where a symbolic link points, in words: a loop, a missing target, the course's solutions."""
    try:
        target = os.readlink(path)
    except OSError:
        return "a symbolic link"
    try:
        real = Path(path).resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop so
        return f"a symbolic link to {target!r} that loops back on itself"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return f"a symbolic link to {target!r} that loops back on itself"
        return f"a symbolic link to {target!r}, which does not exist (a dangling link)"
    if course_root is not None:
        solutions = Path(course_root) / "solutions"
        if real == solutions or solutions in real.parents:
            return f"a symbolic link to the course's solutions ({target!r})"
    return f"a symbolic link to {target!r}"


def describe(e, course_root=None):
    """One entry in words, for an instructor."""
    if e.kind == "symlink":
        return link_target_words(e.path, course_root)
    if e.kind == "fifo":
        return "a named pipe (FIFO), which would block whoever opens it"
    if e.kind == "socket":
        return "a socket"
    if e.kind == "device":
        return "a device file"
    if e.kind == "other":
        return "a special file"
    if e.kind == "file":
        sparse = (f", sparse: only {size_words(e.disk)} on disk" if e.disk < e.size // 2 else "")
        return f"a file of {size_words(e.size)}{sparse}"
    return "a folder"


def walk(folder, max_entries=MAX_ENTRIES):
    """Every entry under ``folder`` (not ``folder`` itself), depth first, directories entered only
    when they are real directories. Returns ``(entries, not_examined)``."""
    out, stack, extra = [], [Path(folder)], 0
    while stack:
        for e in listing(stack.pop()):
            if len(out) >= max_entries:
                extra += 1
                continue
            out.append(e)
            if e.kind == "dir":
                stack.append(e.path)
    return out, extra


def survey(folder, file_cap, total_cap, ignore=(), course_root=None, hidden_ok=()):
    """What an instructor should know of the files under ``folder``, in words (relative names):
    links, special files, hidden folders, files over ``file_cap`` bytes, and a total over
    ``total_cap`` bytes (0: no cap). Entries named in ``ignore`` (and all under them) are left out;
    so are hidden entries named in ``hidden_ok``."""
    found, total, skip = [], 0, []
    entries, extra = walk(folder)
    for e in entries:
        rel = e.path.relative_to(folder)
        if any(part in ignore for part in rel.parts) or any(s in e.path.parents for s in skip):
            continue
        if e.path.name.startswith(".") and e.path.name not in hidden_ok and e.kind == "dir":
            found.append(f"'{rel}': a hidden folder (its name starts with a dot)")
            skip.append(e.path)
            continue
        if e.kind not in ("dir", "file"):
            found.append(f"'{rel}': {describe(e, course_root)}")
        elif e.kind == "file":
            total += e.size
            if file_cap and e.size > file_cap:
                found.append(f"'{rel}': {describe(e)}, over the {size_words(file_cap)} a file may have")
    if total_cap and total > total_cap:
        found.append(f"{size_words(total)} of files in all, over the {size_words(total_cap)} cap")
    if extra:
        found.append(f"{extra} more entries, not examined (over {MAX_ENTRIES})")
    return found


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class NotRegular(OSError):
    """The path is not a regular file (a link, a pipe, a device ...)."""


def _open_regular(path):
    """A file descriptor of ``path`` when it is a regular file; never follows a link, never blocks
    on a pipe (a pipe swapped in after a check is caught by ``fstat``)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK):
            raise NotRegular(f"{path} is a symbolic link") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegular(f"{path} is not a regular file")
    return fd, st


class TooBig(OSError):
    """The file is larger than the cap."""


def read_capped(path, cap):
    """The bytes of the regular file ``path``; raises :class:`NotRegular` or :class:`TooBig`."""
    fd, st = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        if cap and st.st_size > cap:
            raise TooBig(f"{path} holds {st.st_size} bytes, over the cap of {cap}")
        data = f.read(cap + 1 if cap else -1)
    if cap and len(data) > cap:
        raise TooBig(f"{path} grew past the cap of {cap} bytes")
    return data


def _copy_file(src, dest, cap):
    fd, st = _open_regular(src)
    copied = 0
    with os.fdopen(fd, "rb") as fin, open(dest, "xb") as fout:
        while True:
            chunk = fin.read(min(1 << 20, cap - copied + 1) if cap else 1 << 20)
            if not chunk:
                break
            copied += len(chunk)
            if cap and copied > cap:
                fout.close()
                os.unlink(dest)
                raise TooBig(f"{src} grew past {cap} bytes while it was copied")
            fout.write(chunk)
    os.chmod(dest, 0o644)
    return copied


class Budget:
    """Bytes one submission may still bring into the output folder."""

    def __init__(self, total, per_file):
        self.left = total or None
        self.per_file = per_file or None

    def allows(self, size):
        return ((self.per_file is None or size <= self.per_file)
                and (self.left is None or size <= self.left))

    def spend(self, size):
        if self.left is not None:
            self.left -= size


def copy_tree(src, dest, budget, always=()):
    """Copy the real directories and regular files under ``src`` to ``dest`` (replaced if it
    exists), never following a link and never opening anything but a regular file.

    Files named in ``always`` (the grader's own products, such as the graded notebook) are copied
    first and whatever their size; every other file only while ``budget`` allows it. Hidden
    folders and files (names starting with a dot) are not copied. Returns what was not copied, in
    words, with names relative to ``src``.
    """
    src, dest = Path(src), Path(dest)
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        dest.unlink()
    elif dest.exists():
        import shutil

        shutil.rmtree(dest)  # rmtree does not follow links
    dest.mkdir(parents=True)
    entries, extra = walk(src)
    left_out = []
    hidden = []
    files = []
    for e in entries:
        rel = e.path.relative_to(src)
        if any(h in e.path.parents for h in hidden):
            continue
        if e.path.name.startswith("."):
            what = "a hidden folder" if e.kind == "dir" else describe(e)
            left_out.append(f"'{rel}': {what} (its name starts with a dot)")
            if e.kind == "dir":
                hidden.append(e.path)
            continue
        if e.kind == "dir":
            (dest / rel).mkdir(parents=True, exist_ok=True)
        elif e.kind == "file":
            files.append((rel.as_posix() not in always, e.size, rel, e))
        else:
            left_out.append(f"'{rel}': {describe(e)}")
    for capped, size, rel, e in sorted(files, key=lambda f: (f[0], f[1], str(f[2]))):
        if capped and not budget.allows(size):
            why = (f"over the {size_words(budget.per_file)} a file may have"
                   if budget.per_file and size > budget.per_file
                   else "over what is left of the submission's cap")
            left_out.append(f"'{rel}': {describe(e)}, {why}")
            continue
        try:
            budget.spend(_copy_file(e.path, dest / rel, budget.per_file if capped else 0))
        except OSError as err:
            left_out.append(f"'{rel}': could not be copied ({err.strerror or err})")
    if extra:
        left_out.append(f"{extra} more entries, not copied (over {MAX_ENTRIES})")
    return left_out


def remove_leftovers(folder, course_root=None):
    """Remove the links and special files under ``folder`` (never following a link); returns them
    in words, with names relative to ``folder``."""
    entries, _ = walk(folder)
    # describe them all before removing any (a link to a removed link would read as dangling)
    found = [(e, describe(e, course_root)) for e in entries if e.kind not in ("dir", "file")]
    removed = []
    for e, what in found:
        try:
            os.unlink(e.path)
        except OSError as err:
            what += f" (could not be removed: {err.strerror})"
        removed.append(f"'{e.path.relative_to(folder)}': {what}")
    return removed


def _remove_leftovers_after_run(folder):
    """Called in nbgrader's pipeline right after the notebook ran in ``folder``
    (``<course>/autograded/<student>/<assignment>``): the record goes to ``<course>``."""
    from . import course

    folder = Path(folder)
    removed = remove_leftovers(folder, course.ROOT)
    if removed:
        old = read_leftovers(folder.parents[2])
        record = folder.parents[2] / LEFTOVERS_FILE
        if record.is_symlink():
            record.unlink()
        record.write_text(json.dumps(old + removed))


def read_leftovers(scratch):
    """What :class:`RemoveLeftovers` removed while a submission was graded in ``scratch``."""
    try:
        return json.loads(read_capped(Path(scratch) / LEFTOVERS_FILE, MB))
    except (OSError, ValueError):
        return []


try:
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # nbgrader is not needed to read this module
    NbGraderPreprocessor = object


class RemoveLeftovers(NbGraderPreprocessor):
    """After the notebook ran: remove the links and special files it left in its working folder
    (recorded in ``leftovers.json`` of the scratch course), before nbgrader's ``set_permissions``
    walks that folder and ``chmod``s each entry (following links, failing on a loop)."""

    def preprocess(self, nb, resources):
        path = (resources.get("metadata") or {}).get("path")
        if path and os.environ.get("NBGRADER_EXECUTION") == "autograde":
            _remove_leftovers_after_run(path)
        return nb, resources
