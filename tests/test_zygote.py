"""Kernels forked from a slot's zygote (autograder/zygote.py): one student's kernel leaves nothing
for the next one graded in the same slot, cannot read the zygote, and cannot stop the grading of
those after it by killing it.

A class of four solved copies of notebook 01 is graded with one worker, so every kernel is forked
by the same slot's zygote, one after another. Each student's code switches the guard off (as code
that found a way around it would), then looks for what the others left and leaves its own: files
in /tmp, /dev/shm, /dev, its home and the slot's folder (also inside a folder it made unreadable), a
changed /dev/stdout, a file in place of /dev/shm, a System V shared memory segment and a process in
a session of its own. One of them also kills the zygote.
"""

import csv
import os
import signal

import pytest

from autograder import course, judge, notebooks, pool, sample_classes
from tests.test_judge import GUARD_OFF, run_cli

A = "01_one_hot"
STUDENTS = ["a_killer", "b_one", "c_two", "d_three"]

HUNT = GUARD_OFF + """
import os, subprocess, sys
_me = {me!r}
_cwd = os.getcwd()
_slot = os.path.dirname(os.path.dirname(os.path.dirname(_cwd)))
_places = ["/tmp", "/dev/shm", "/dev", os.environ.get("HOME", ""), _slot]
_found = []
for _d in _places:
    for _root, _dirs, _files in os.walk(_d):
        for _sub in _dirs:  # open what the last one closed (chmod 000)
            try:
                os.chmod(os.path.join(_root, _sub), 0o700)
            except OSError:
                pass
        _found += [os.path.join(_root, _f) for _f in _files if "zygote-marker" in _f and _me not in _f]
for _p in os.listdir("/proc"):
    if _p.isdigit():
        try:
            _c = open(f"/proc/{{_p}}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if "zygote-leftover" in _c and _me not in _c:
            _found.append(_c)
import ctypes
_libc = ctypes.CDLL(None)
for _line in open("/proc/sysvipc/shm").read().splitlines()[1:]:
    _found.append("shared memory segment " + _line.split()[1])
print("FOU" "ND=" + repr(_found))
print("DEV-STDOUT=" + os.readlink("/dev/stdout"))
print("DEV-SHM-" + ("IS-A-FOLDER" if os.path.isdir("/dev/shm") else "CHANGED"))
print("PAR" "ENT=" + open(f"/proc/{{os.getppid()}}/cmdline", "rb").read().replace(bytes(1), b" ").decode())
try:
    open(f"/proc/{{os.getppid()}}/mem", "rb").read(1)
    print("ZYGOTE-MEMORY-" "READABLE")
except OSError as _e:
    print("ZYGOTE-MEMORY-" "UNREADABLE", type(_e).__name__)
for _d in _places:
    try:
        open(os.path.join(_d, f"zygote-marker-{{_me}}"), "w").write("left by " + _me)
        _closed = os.path.join(_d, f"closed-{{_me}}")
        os.makedirs(_closed)
        open(os.path.join(_closed, f"zygote-marker-{{_me}}"), "w").write("left by " + _me)
        os.chmod(_closed, 0)  # unreadable, so that a careless clean-up leaves it
    except OSError as _e:
        print("not planted in", _d, _e)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", f"zygote-leftover-{{_me}}"],
                 start_new_session=True)
_libc.shmget(0, 4096, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600: a System V segment left behind
os.unlink("/dev/stdout")
os.symlink("/tmp", "/dev/stdout")
import shutil
os.chmod(f"/dev/shm/closed-{{_me}}", 0o700)
shutil.rmtree("/dev/shm")  # and a file in its place
open("/dev/shm", "w").write("left by " + _me)
"""
KILL = "\nos.kill(os.getppid(), 9)\n"

def test_a_zygote_that_cannot_start_leaves_the_kernels_as_new_interpreters(tmp_path, monkeypatch):
    if judge.sandbox_available():
        pytest.skip("no zygote without the sandbox: " + judge.sandbox_available())
    monkeypatch.delenv("AUTOGRADER_ZYGOTE", raising=False)
    monkeypatch.setenv("AUTOGRADER_SANDBOX", "auto")
    deep = tmp_path / ("x" * 120)  # a socket path past AF_UNIX's limit
    deep.mkdir()
    assert pool.sandbox_slots(deep, 2, []) is None
    left = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and str(deep).encode() in open(f"/proc/{pid}/cmdline", "rb").read():
                left.append(int(pid))
        except OSError:
            pass
    assert not left, "a zygote's sandbox was left running"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if judge.sandbox_available():
        pytest.skip("no zygote without the sandbox: " + judge.sandbox_available())
    root = tmp_path_factory.mktemp("zygote")
    source = notebooks.read(course.source_notebook(A))
    rel = sample_classes.release_nb(A)
    for student in STUDENTS:
        nb = notebooks.student_submission(source, rel)
        first = next(c for c in nb.cells if notebooks.is_solution(c) and c.cell_type == "code")
        code = HUNT.format(me=student) + (KILL if student == "a_killer" else "")
        first.source = code + "\n\n" + first.source
        sample_classes._put(root / "class", student, A, nb)
    proc = run_cli("grade", root / "class", "--out", root / "out", "--workers", 1, "--quiet",
                   env={k: v for k, v in os.environ.items() if k != "AUTOGRADER_ZYGOTE"})
    with open(root / "out" / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    pages = {s: (root / "out" / "feedback" / s / A / f"{A}.html") for s in STUDENTS}
    return proc, rows, {s: p.read_text() if p.exists() else "" for s, p in pages.items()}


@pytest.mark.slow
def test_each_kernel_is_forked_by_the_zygote_and_cannot_read_it(graded):
    _, rows, pages = graded
    for student in STUDENTS[1:]:
        assert rows[student]["status"] == "graded", rows[student]
        assert rows[student]["auto_score"] == rows[student]["auto_max_score"], rows[student]
        page = pages[student]
        assert "PARENT=" in page and "autograder.zygote" in page.split("PARENT=", 1)[1][:300], \
            f"{student}'s kernel was not forked by the slot's zygote"
        assert "ZYGOTE-MEMORY-UNREADABLE" in page, f"{student}'s code read the zygote's memory"
        assert "DEV-STDOUT=/proc/self/fd/1" in page and "DEV-SHM-IS-A-FOLDER" in page, \
            f"{student}'s /dev was changed by another"


@pytest.mark.slow
def test_nothing_one_student_leaves_reaches_the_next(graded):
    _, _, pages = graded
    for student, page in pages.items():
        if "FOUND=" not in page:
            continue  # the killer's kernel died with the zygote; its page may not show its prints
        found = page.split("FOUND=", 1)[1].split("\n", 1)[0]
        assert "zygote-marker" not in found and "zygote-leftover" not in found \
            and "shared memory" not in found, \
            f"{student} found what another student's code left: {found[:500]}"
        assert "FOUND=[]" in page, found[:300]


@pytest.mark.slow
def test_killing_the_zygote_harms_only_the_killer(graded):
    _, rows, _ = graded
    assert rows["a_killer"]["status"] != "graded" or float(rows["a_killer"]["auto_score"] or 0) < \
        float(rows["a_killer"]["auto_max_score"]), rows["a_killer"]
    for student in STUDENTS[1:]:
        assert rows[student]["status"] == "graded", rows[student]


@pytest.mark.slow
def test_no_process_a_student_started_outlives_the_run(graded):
    left = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"zygote-leftover" in cmdline:
                left.append((int(pid), cmdline[:120]))
    for pid, _ in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the run outlived it: {left}"
