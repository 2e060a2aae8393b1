"""Measured figures for the README: how long notebooks take to run and to grade.

    python -m autograder benchmark [ASSIGNMENT ...] [--students N] [--workers W]

For each assignment it prints
- "Run all" of the solution in full, as a student runs it (fresh kernel, imports included);
- the same run in grading mode (``NBGRADER_EXECUTION=autograde``, experiments shrunk);
- grading one submission through ``python -m autograder grade`` (a worker, nbgrader autograde,
  feedback page, gradebook merge);
and, with ``--students N``, a class of N copies of the solution graded with ``--workers 1`` and
``--workers W``. First it times the instructor-only NumPy references of the gated cells (forward and
backward over a sequence) against ``torch.nn`` in float64 on one shape (``--references`` prints only
that table). Nothing is asserted: the numbers depend on the machine.
"""

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import course, execute, grading, notebooks, sample_classes


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
    rel = sample_classes.release_nb(assignment)
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


def plain_config():
    """The course's ``nbgrader_config.py`` without what the course adds to nbgrader itself (the
    leftover-file cleaner and the feedback template): the baseline is nbgrader as it comes, with the
    course's folders, timeout and stubs."""
    text = (course.ROOT / "nbgrader_config.py").read_text()
    additions = ("autograder.safefiles", "autograder.feedback")
    kept = [line for line in text.splitlines() if not any(a in line for a in additions)]
    return "\n".join(kept) + "\n"


def time_plain_nbgrader(assignment, students):
    """Seconds for nbgrader alone, one submission after another: ``nbgrader autograde`` then
    ``nbgrader generate_feedback`` in a course folder holding the same class."""
    source = notebooks.read(course.source_notebook(assignment))
    rel = sample_classes.release_nb(assignment)
    solved = notebooks.student_submission(source, rel)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "nbgrader_config.py").write_text(plain_config())
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


#: The shape of the reference timings: long enough that per-step overheads do not dominate.
REFERENCE_SHAPE = {"T": 50, "N": 64, "D": 64, "H": 128}


def _best_of(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _runs(cell, ref, shape, rng):
    """Two functions of no argument: the NumPy reference's and torch's forward + backward."""
    import torch

    T, N, D, H = (shape[k] for k in "TNDH")
    blocks = {"lstm": 4, "gru": 3}[cell]
    x, h0, c0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    W_ih, W_hh = rng.uniform(-0.1, 0.1, (blocks * H, D)), rng.uniform(-0.1, 0.1, (blocks * H, H))
    b_ih, b_hh = rng.uniform(-0.1, 0.1, blocks * H), rng.uniform(-0.1, 0.1, blocks * H)
    dh = rng.standard_normal((T, N, H))
    if cell == "lstm":
        def numpy_run():
            *_, cache = ref.lstm_forward(x, h0, c0, W_ih, W_hh, b_ih + b_hh)
            ref.lstm_backward(dh, cache)
        module = torch.nn.LSTM(D, H, dtype=torch.float64)
        state = (torch.tensor(h0)[None], torch.tensor(c0)[None])
    else:
        def numpy_run():
            *_, cache = ref.gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
            ref.gru_backward(dh, cache)
        module = torch.nn.GRU(D, H, dtype=torch.float64)
        state = torch.tensor(h0)[None]
    with torch.no_grad():
        for name, value in (("weight_ih_l0", W_ih), ("weight_hh_l0", W_hh),
                            ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(module, name).copy_(torch.tensor(value))
    x_t, dh_t = torch.tensor(x, requires_grad=True), torch.tensor(dh)

    def torch_run():
        out, _ = module(x_t, state)
        out.backward(dh_t)
    return numpy_run, torch_run


def time_references(repeats=5, shape=None):
    """``[(cell, numpy seconds, torch seconds)]``: forward + backward over one sequence, float64.

    The NumPy side is the instructor-only reference (``autograder.references.lstm``/``gru``), the
    torch side ``torch.nn.LSTM``/``GRU`` with ``backward`` of the same upstream gradient; each the
    best of ``repeats`` runs, on one thread (as the grader's kernels run).
    """
    import importlib

    import numpy as np
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    rows = []
    try:
        for cell in ("lstm", "gru"):
            try:
                ref = importlib.import_module(f"autograder.references.{cell}")
            except ImportError:
                continue
            numpy_run, torch_run = _runs(cell, ref, shape or REFERENCE_SHAPE, rng)
            rows.append((cell, _best_of(numpy_run, repeats), _best_of(torch_run, repeats)))
    finally:
        torch.set_num_threads(threads)
    return rows


def print_references():
    """Print :func:`time_references`, run in a fresh interpreter whose NumPy (OpenBLAS) and torch
    both use one thread, as the grader's kernels do: BLAS threads fighting over a loaded machine
    made the NumPy figure ten times worse and meaningless."""
    import json

    shape = ", ".join(f"{k}={v}" for k, v in REFERENCE_SHAPE.items())
    one_thread = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    code = ("import json; from autograder.benchmark import time_references; "
            "print(json.dumps(time_references()))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, **one_thread), cwd=course.ROOT)
    if proc.returncode != 0:
        print(f"NumPy references could not be timed:\n{proc.stderr[-2000:]}")
        return
    print(f"NumPy reference against torch float64 on {shape} (forward + backward, one thread each):")
    print(f"  {'cell':<6}{'NumPy':>10}{'torch':>10}{'NumPy / torch':>15}")
    for cell, numpy_s, torch_s in json.loads(proc.stdout.strip().splitlines()[-1]):
        print(f"  {cell:<6}{numpy_s * 1e3:>7.1f} ms{torch_s * 1e3:>7.1f} ms{numpy_s / torch_s:>14.2f}x")


def main(assignments=None, students=0, workers=None, references_only=False):
    workers = workers or os.cpu_count() or 1
    print(f"machine: {_machine()}")
    print_references()
    if references_only:
        return
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
