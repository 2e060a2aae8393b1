"""What a student leaves behind cannot hurt the run (`autograder.grading`, `autograder.intake`,
`autograder.safefiles`).

One class of notebook-01 submissions is graded once, beside an honest control that must get full
marks in the same run: named pipes, sockets, device files, symbolic links (loops, dangling, to the
course's solutions, a student folder that is a link), a 2 GiB sparse file and hidden folders, in the
hand-in and created by the notebook while it is graded; tampered nbgrader metadata; and a worker
that is killed while it grades and whose end the fork server never reports. The run must finish,
write a row of grades.csv for everyone, name each problem in the right student's row, and leave no
link, special file or huge file in the output folder.

The run is made by a small driver in a fresh ``python -c`` process, so that the workers are forked
from the fork server as with ``python -m autograder`` (whatever starts pytest), and so that the
driver can kill one worker.
"""

import csv
import json
import os
import socket
import stat
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import course, notebooks, safefiles, sample_classes

A = "01_one_hot"
GiB = 2**30
KILL_AFTER_S = 3

# added as the first cell of a solved notebook: what a notebook can leave in its working folder
LEAVES_SPECIAL = """\
import os, stat
os.mkfifo('pipe')
os.mkfifo('trap' + '.ipy' + 'nb')
os.symlink('loop_b', 'loop_a')
os.symlink('loop_a', 'loop_b')
os.symlink('nowhere', 'dangling')
os.mkdir('.hidden')
with open(os.path.join('.hidden', 'notes.txt'), 'w') as f:
    f.write('hidden')
try:
    os.mknod('null', stat.S_IFCHR | 0o666, os.makedev(1, 3))
except OSError:
    pass
"""
LEAVES_BIG = """\
try:
    with open('huge.bin', 'wb') as f:
        f.seek(2 * 1024**3)
        f.write(b'x')
except OSError:
    pass
for k in range(4):
    with open(f'part{k}.bin', 'wb') as f:
        f.seek(15 * 10**6 - 1)
        f.write(b'x')
with open('big.bin', 'wb') as f:
    f.seek(30 * 10**6 - 1)
    f.write(b'x')
"""

# the driver: grades the class with one worker killed KILL_AFTER_S after it started, behind a
# handle that never reports its end (as the fork server did in CI: join() waited out the job's limit)
DRIVER = """\
import json, os, signal, sys, threading, time
from dataclasses import asdict
from autograder import grading, pool

cls, out, report, kill_after = sys.argv[1:5]
start_worker, run_worker = pool.start_worker, pool.run_worker
timing = {}

class Unreported:
    def __init__(self, proc):
        self.proc, self.pid, self.exitcode = proc, proc.pid, None
    def is_alive(self):
        return True
    def join(self, timeout=None):
        time.sleep(3600 if timeout is None else timeout)
    def kill(self):
        self.proc.kill()

def start(job_file, log, *rest):
    proc = start_worker(job_file, log, *rest)
    if "victim__" not in str(job_file):
        return proc
    def kill():
        timing["killed"] = time.time()
        os.kill(proc.pid, signal.SIGKILL)
    threading.Timer(float(kill_after), kill).start()
    return Unreported(proc)

def run(scratch, sub, *args):
    try:
        return run_worker(scratch, sub, *args)
    finally:
        timing.setdefault(sub.student_id, time.time())

pool.start_worker, pool.run_worker = start, run
t0 = time.time()
outcomes, problems = grading.grade(cls, out, limits=grading.Limits(cell_timeout=20,
                                   output_bytes=200_000), progress=False)
with open(report, "w") as f:
    json.dump({"seconds": time.time() - t0, "timing": timing, "problems": problems,
               "outcomes": [asdict(o) for o in outcomes]}, f)
"""


def _mark(nb, gid):
    return next(c for c in nb.cells if notebooks.grade_id(c) == gid)


def _build(cls, solved, rel):
    """The class; returns which categories could be made here (a device file needs root)."""
    made = {}

    def put(student, nb):
        return notebooks.write(nb, cls / student / A / f"{A}.ipynb").parent

    put("honest", solved)
    put("victim", solved)
    os.mkfifo(put("fifo_left", solved) / "data.csv")
    folder = put("socket_left", solved)
    here = os.getcwd()
    os.chdir(folder)  # a socket's path may have at most ~100 characters
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind("kernel.sock")
        sock.close()
    finally:
        os.chdir(here)
    folder = put("device_left", solved)
    try:
        os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        made["device"] = True
    except (PermissionError, AttributeError):
        made["device"] = False  # needs root (CAP_MKNOD)
    folder = put("links_left", solved)
    os.symlink("loop_b", folder / "loop_a")
    os.symlink("loop_a", folder / "loop_b")
    os.symlink("nowhere", folder / "dangling")
    os.symlink(course.SOURCE_DIR, folder / "answers")
    with open(put("sparse_left", solved) / "weights.bin", "wb") as f:
        f.truncate(2 * GiB)
    put(".dotted", solved)
    (cls / ".git" / "objects").mkdir(parents=True)  # a hidden folder that is no student
    # the notebook itself is a link to the course's solution, or a pipe
    (cls / "link_notebook" / A).mkdir(parents=True)
    os.symlink(course.source_notebook(A), cls / "link_notebook" / A / f"{A}.ipynb")
    (cls / "fifo_notebook" / A).mkdir(parents=True)
    os.mkfifo(cls / "fifo_notebook" / A / f"{A}.ipynb")
    os.symlink(cls / "honest", cls / "link_folder")  # a student folder that is another's

    # tampered nbgrader metadata
    nb = notebooks.copy_of(solved)  # solved, with every test worth ten times its points
    for cell in nb.cells:
        if notebooks.is_test(cell):
            cell.metadata.nbgrader["points"] *= 10
    put("meta_points", nb)
    nb = notebooks.copy_of(rel)  # unsolved, with flags flipped and a test cell of its own
    _mark(nb, "test_build_vocab").metadata.nbgrader["solution"] = True
    _mark(nb, "test_encode").metadata.nbgrader["grade"] = False
    cell = _mark(nb, "test_one_hot")
    cell.metadata.nbgrader["locked"] = False
    cell.source = "pass"
    _mark(nb, "test_decode").metadata.nbgrader["cell_type"] = "markdown"
    _mark(nb, "test_pos_one_hot").metadata["nbgrader"] = "nothing to see here"
    bonus = nbformat.v4.new_code_cell("pass")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 50,
                                  "grade_id": "bonus", "schema_version": 3}
    nb.cells.insert(3, bonus)
    put("meta_flags", nb)
    nb = notebooks.copy_of(solved)  # solved, with ids renamed, duplicated and a test deleted
    _mark(nb, "test_encode").metadata.nbgrader["grade_id"] = "my_test_encode"
    nb.cells.append(notebooks.copy_of(_mark(nb, "one_hot")))
    nb.cells.remove(_mark(nb, "test_decode"))
    put("meta_ids", nb)

    # what the notebook leaves in its working folder while it is graded
    for student, code in (("runtime_special", LEAVES_SPECIAL), ("runtime_big", LEAVES_BIG)):
        nb = notebooks.copy_of(solved)
        nb.cells.insert(1, nbformat.v4.new_code_cell(code))
        put(student, nb)
    return made


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_files")
    rel = sample_classes.release_nb(A)
    solved = notebooks.student_submission(notebooks.read(course.source_notebook(A)), rel)
    made = _build(root / "class", solved, rel)
    source_mode = os.stat(course.source_notebook(A)).st_mode
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", DRIVER, root / "class", root / "out",
                           root / "run.json", str(KILL_AFTER_S)], cwd=course.ROOT,
                          capture_output=True, text=True, timeout=900)
    seconds = time.time() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert os.stat(course.source_notebook(A)).st_mode == source_mode, "the course's file changed"
    run = json.loads((root / "run.json").read_text())
    with open(root / "out" / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    print(f"graded {len(rows)} submissions in {seconds:.0f} s")
    return rows, run, root / "out", made


STUDENTS = {"honest", "victim", "fifo_left", "socket_left", "device_left", "links_left",
            "sparse_left", ".dotted", "link_notebook", "fifo_notebook", "link_folder",
            "meta_points", "meta_flags", "meta_ids", "runtime_special", "runtime_big"}


@pytest.mark.slow
def test_the_run_finishes_with_a_row_for_everyone(hostile_files):
    rows, run, out, _ = hostile_files
    assert set(rows) == STUDENTS
    honest = rows["honest"]
    assert honest["status"] == "graded" and honest["problems"] == "", honest
    assert float(honest["auto_score"]) == float(honest["auto_max_score"]) > 0, honest
    assert (out / "report.txt").exists() and (out / "feedback" / "honest" / A / f"{A}.html").exists()


@pytest.mark.slow
@pytest.mark.parametrize("student, says", [
    ("fifo_left", ["'data.csv'", "named pipe"]),
    ("socket_left", ["'kernel.sock'", "a socket"]),
    ("device_left", ["'null'", "device file"]),
    ("links_left", ["'loop_a'", "loops back", "'dangling'", "dangling link", "'answers'",
                    "course's solutions"]),
    ("sparse_left", ["'weights.bin'", "2.1 GB", "sparse"]),
    (".dotted", ["hidden", "'.dotted'"]),
])
def test_what_is_left_in_a_hand_in_is_named_and_the_notebook_graded(hostile_files, student, says):
    rows, _, out, made = hostile_files
    if student == "device_left" and not made["device"]:
        pytest.skip("a device file can only be made as root (CAP_MKNOD)")
    row = rows[student]
    full = rows["honest"]["auto_max_score"]
    assert row["status"] == "graded" and row["auto_score"] == full, row
    for words in says:
        assert words in row["problems"], (words, row["problems"])
    assert f"{student} / {A}: graded" in (out / "report.txt").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("student, says", [
    ("link_notebook", ["symbolic link to the course's solutions", "nothing was graded"]),
    ("fifo_notebook", ["named pipe", "nothing was graded"]),
    ("link_folder", ["symbolic link", "not followed"]),
])
def test_a_notebook_or_folder_that_is_not_a_real_one_is_never_followed(hostile_files, student, says):
    rows, _, _, _ = hostile_files
    row = rows[student]
    assert row["status"] == "failed" and float(row["auto_score"]) == 0, row
    for words in says:
        assert words in row["problems"], (words, row["problems"])


@pytest.mark.slow
def test_a_hidden_folder_that_is_no_student_is_reported(hostile_files):
    _, run, out, _ = hostile_files
    assert any("'.git'" in p and "hidden" in p for p in run["problems"]), run["problems"]
    assert "'.git'" in (out / "report.txt").read_text()


@pytest.mark.slow
def test_tampered_metadata_is_restored_from_the_release(hostile_files):
    rows, _, _, _ = hostile_files
    full = rows["honest"]["auto_max_score"]
    points = rows["meta_points"]  # solved: full marks, but not a point more
    assert points["status"] == "graded" and points["auto_score"] == points["auto_max_score"] == full
    assert "restored from the release" in points["problems"] and "points 30" in points["problems"]
    flags = rows["meta_flags"]  # unsolved: every tampered test still graded, and no bonus
    assert flags["status"] == "graded" and float(flags["auto_score"]) == 0, flags
    assert flags["auto_max_score"] == full, flags
    for gid in ("test_build_vocab (solution True", "test_encode (grade False",
                "test_one_hot (locked False", "test_decode (cell_type 'markdown'", "'bonus'"):
        assert gid in flags["problems"], (gid, flags["problems"])
    assert "was not nbgrader's" in flags["problems"] and "test_pos_one_hot" in flags["problems"]
    ids = rows["meta_ids"]  # solved: renamed, duplicated and deleted cells put right
    assert ids["status"] == "graded" and ids["auto_score"] == ids["auto_max_score"] == full, ids
    for words in ("'my_test_encode'", "duplicated", "one_hot", "put back", "test_decode",
                  "test_encode"):
        assert words in ids["problems"], (words, ids["problems"])


@pytest.mark.slow
def test_what_a_notebook_leaves_while_graded_is_removed_or_capped(hostile_files):
    rows, _, out, _ = hostile_files
    full = rows["honest"]["auto_max_score"]
    special = rows["runtime_special"]
    assert special["status"] == "graded" and special["auto_score"] == full, special
    for words in ("'pipe'", "named pipe", "'loop_a'", "loops back", "'dangling'", "'.hidden'"):
        assert words in special["problems"], (words, special["problems"])
    big = rows["runtime_big"]
    assert big["status"] == "graded" and big["auto_score"] == full, big
    for words in ("'big.bin'", "over the 20 MB a file may have", "'part3.bin'",
                  "over what is left"):
        assert words in big["problems"], (words, big["problems"])
    copied = out / "autograded" / "runtime_big" / A
    assert {"part0.bin", "part1.bin", "part2.bin"} <= {p.name for p in copied.iterdir()}


@pytest.mark.slow
def test_nothing_special_or_huge_reaches_the_output_folder(hostile_files):
    _, _, out, _ = hostile_files
    total = {}
    for dirpath, dirnames, filenames in os.walk(out):
        for name in dirnames + filenames:
            e = safefiles.entry(os.path.join(dirpath, name))
            assert e.kind in ("dir", "file"), f"{e.path} is {e.kind}"
            assert e.size <= 20 * safefiles.MB, f"{e.path} holds {e.size} bytes"
            parts = e.path.relative_to(out).parts
            if e.kind == "file" and len(parts) > 2 and parts[0] != ".autograder":
                total[parts[1]] = total.get(parts[1], 0) + e.size
    assert max(total.values()) <= 50 * safefiles.MB, total
    assert not (out / "autograded" / "runtime_special" / A / ".hidden").exists()


@pytest.mark.slow
def test_a_worker_that_dies_unreported_fails_only_its_submission_at_once(hostile_files):
    rows, run, _, _ = hostile_files
    victim = rows["victim"]
    assert victim["status"] == "failed" and "died without a result" in victim["problems"], victim
    noticed = run["timing"]["victim"] - run["timing"]["killed"]
    assert noticed < 15, f"the dead worker was noticed {noticed:.0f} s after it was killed"
    assert rows["honest"]["status"] == "graded"


# fast checks of the pieces, without grading


def test_copy_tree_copies_only_real_files_within_the_caps(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "sub").mkdir(parents=True)
    (src / "nb.ipynb").write_bytes(b"n" * 3000)  # the grader's product: copied whatever its size
    (src / "sub" / "small.txt").write_bytes(b"s" * 500)
    (src / "medium.bin").write_bytes(b"m" * 900)
    with open(src / "sparse.bin", "wb") as f:
        f.truncate(4 * GiB)
    os.mkfifo(src / "pipe")
    os.symlink("loop", src / "loop")
    os.symlink(tmp_path / "outside.txt", src / "outside")
    (tmp_path / "outside.txt").write_text("not the student's")
    (src / ".hidden").mkdir()
    (src / ".hidden" / "x").write_text("x")
    budget = safefiles.Budget(total=4000, per_file=1000)
    started = time.time()
    left_out = " ".join(safefiles.copy_tree(src, dest, budget, always={"nb.ipynb"}))
    assert time.time() - started < 5  # nothing blocked on the pipe, nothing read 4 GB
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "nb.ipynb", "sub", "sub/small.txt"]  # 3000 + 500 spent: 900 more is over the 4000
    for words in ("'medium.bin'", "over what is left", "'sparse.bin'", "over the 1 kB a file",
                  "'pipe': a named pipe", "'loop'", "loops back", "'outside'", "'.hidden'"):
        assert words in left_out, (words, left_out)


def test_read_capped_never_blocks_on_a_pipe_nor_follows_a_link(tmp_path):
    os.mkfifo(tmp_path / "pipe.ipynb")
    (tmp_path / "real.ipynb").write_text("{}")
    os.symlink(tmp_path / "real.ipynb", tmp_path / "link.ipynb")
    for name in ("pipe.ipynb", "link.ipynb"):
        with pytest.raises(safefiles.NotRegular):
            safefiles.read_capped(tmp_path / name, 100)
    with pytest.raises(safefiles.TooBig):
        safefiles.read_capped(tmp_path / "real.ipynb", 1)
    assert safefiles.read_capped(tmp_path / "real.ipynb", 100) == b"{}"


def test_restore_metadata_by_grade_id():
    from autograder import intake

    rel = notebooks.read(course.release_notebook(A))
    nb = notebooks.copy_of(rel)
    _mark(nb, "test_encode").metadata.nbgrader.update(points=99, grade=False)
    fake = nbformat.v4.new_code_cell("pass")
    fake.metadata["nbgrader"] = {"grade": True, "grade_id": "extra", "points": 5}
    nb.cells.append(fake)
    fixed, restored, unmarked = intake.restore_metadata(nb, notebooks.cells_by_id(rel))
    assert restored == ["test_encode (grade False instead of True, points 99 instead of 2)"]
    assert unmarked == ["'extra'"]
    assert _mark(fixed, "test_encode").metadata.nbgrader == _mark(rel, "test_encode").metadata.nbgrader
    assert "nbgrader" not in fixed.cells[-1].metadata


class _Handle:
    """A worker's handle that says it runs whatever became of the process (the fork server never
    reported its end)."""

    def __init__(self, pid):
        self.pid, self.exitcode = pid, None

    def is_alive(self):
        return True

    def join(self, timeout=None):
        time.sleep(timeout if timeout is not None else 3600)


def test_wait_notices_a_worker_that_is_gone_or_a_zombie():
    from autograder import pool

    pid = os.fork()
    if pid == 0:  # a child that ends at once and is not reaped: a zombie
        os._exit(3)
    try:
        time.sleep(0.2)
        started = time.time()
        assert pool.wait(_Handle(pid), 60) == "lost"
        assert time.time() - started < 5
        assert pool.exit_words(_Handle(pid)) == "exit code 3"
    finally:
        os.waitpid(pid, 0)
    started = time.time()
    assert pool.wait(_Handle(pid), 60) == "lost"  # reaped: gone
    assert time.time() - started < 5
