"""Measured figures for the README: how long notebooks take to run and to grade.

    python -m autograder benchmark [ASSIGNMENT ...] [--students N] [--workers W]

For each assignment it prints
- "Run all" of the solution in full, as a student runs it (fresh kernel, imports included);
- the same run in grading mode (``NBGRADER_EXECUTION=autograde``, experiments shrunk);
- grading one submission through ``python -m autograder grade`` (a worker, nbgrader autograde,
  feedback page, gradebook merge);
and, with ``--students N``, a class of N copies of the solution graded with ``--workers 1`` and
``--workers W``. Nothing is asserted: the numbers depend on the machine.
"""

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import classes, course, execute, grading, notebooks


def _machine():
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def time_runs(assignment):
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / f"{assignment}.ipynb"
        shutil.copy(course.source_notebook(assignment), copy)
        full = execute.execute_in_place(copy)
        fast = execute.execute_in_place(copy, grading_mode="autograde")
    return full, fast


def time_grading(assignment, students, workers):
    source = notebooks.read(course.source_notebook(assignment))
    rel = classes.release_nb(assignment)
    solved = notebooks.student_submission(source, rel)
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(students):
            notebooks.write(solved, Path(tmp) / "class" / f"s{k:03d}" / assignment / f"{assignment}.ipynb")
        start = time.perf_counter()
        outcomes, _ = grading.grade(Path(tmp) / "class", Path(tmp) / "out", workers=workers,
                                    progress=False)
        seconds = time.perf_counter() - start
    assert all(o.graded for o in outcomes)
    return seconds


def time_plain_nbgrader(assignment, students):
    """Seconds for nbgrader alone, one submission after another: ``nbgrader autograde`` then
    ``nbgrader generate_feedback`` in a course folder holding the same class."""
    source = notebooks.read(course.source_notebook(assignment))
    rel = classes.release_nb(assignment)
    solved = notebooks.student_submission(source, rel)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(course.ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
        shutil.copytree(course.SOURCE_DIR / assignment, root / "solutions" / assignment)
        for k in range(students):
            notebooks.write(solved, root / "submitted" / f"s{k:03d}" / assignment / f"{assignment}.ipynb")
        run = [sys.executable, "-m", "nbgrader"]
        quiet = {"cwd": root, "capture_output": True, "check": True}
        subprocess.run(run + ["generate_assignment", assignment, "--force"], **quiet)
        start = time.perf_counter()
        subprocess.run(run + ["autograde", assignment, "--force"], **quiet)
        subprocess.run(run + ["generate_feedback", assignment, "--force"], **quiet)
        return time.perf_counter() - start


def main(assignments=None, students=0, workers=None):
    workers = workers or os.cpu_count() or 1
    print(f"machine: {_machine()}")
    print(f"{'notebook':<26}{'Run all (full)':>16}{'grading mode':>14}{'grade 1 submission':>20}")
    for a in assignments or course.assignments():
        full, fast = time_runs(a)
        one = time_grading(a, 1, 1)
        print(f"{a:<26}{full:>14.1f} s{fast:>12.1f} s{one:>18.1f} s", flush=True)
        if students:
            plain = time_plain_nbgrader(a, students)
            seq = time_grading(a, students, 1)
            par = time_grading(a, students, workers)
            print(f"  {students} submissions: plain nbgrader autograde + generate_feedback "
                  f"{plain:.1f} s; python -m autograder grade --workers 1 {seq:.1f} s, "
                  f"--workers {workers} {par:.1f} s ({plain / par:.2f}x faster than plain "
                  "nbgrader)", flush=True)
