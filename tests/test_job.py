"""The grading job: one typed record from the command line to the student's kernel."""

import re

import pytest

from autograder import job
from autograder.job import DEFAULT_LIMITS, Job, Limits


def test_a_job_survives_its_trip_through_the_scratch_folder(tmp_path):
    sent = Job(tmp_path, "ann", "01_one_hot", Limits(cell_timeout=5, memory_mb=0),
               release=tmp_path / "release.ipynb", unreadable=[tmp_path / "a", str(tmp_path / "b")],
               feedback=False, sandbox="off")
    sent.write(tmp_path / "job.json")
    got = Job.read(tmp_path / "job.json")
    assert got == sent
    assert got.limits == Limits(cell_timeout=5, memory_mb=0)
    assert got.unreadable == (tmp_path / "a", tmp_path / "b")


def test_a_job_from_another_version_is_refused_by_name(tmp_path):
    text = Job(tmp_path, "ann", "01_one_hot").to_json().replace('"feedback"', '"feedbacks"')
    with pytest.raises(ValueError, match=r"unknown fields \['feedbacks'\]"):
        Job.from_json(text)


def test_the_kernel_reads_the_limits_the_worker_wrote():
    env = job.kernel_env(Limits(memory_mb=1024, output_bytes=500))
    assert (job.memory_mb(env), job.output_bytes(env)) == (1024, 500)
    none = job.kernel_env(Limits(memory_mb=0, output_bytes=0))
    assert (job.memory_mb(none), job.output_bytes(none)) == (0, 0)
    assert (job.memory_mb({}), job.output_bytes({})) == (0, 0)


@pytest.mark.parametrize("kwargs,says", [
    ({"memory_mb": 100}, "too low"), ({"cell_timeout": 0}, "must be positive"),
    ({"output_bytes": -1}, "0 (none) or positive"), ({"disk_mb": -1}, "0 (none) or positive"),
    ({"cell_timeout": "60"}, "whole number"), ({"memory_mb": True}, "whole number")])
def test_impossible_limits_are_refused_with_what_to_do(kwargs, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        Limits(**kwargs)


def test_one_set_of_defaults():
    from autograder.cli import build_parser

    args = build_parser().parse_args(["grade", "x", "--out", "y"])
    assert Limits(cell_timeout=args.timeout, memory_mb=args.memory,
                  output_bytes=args.max_output) == DEFAULT_LIMITS


def test_the_student_kernel_loads_its_limits_without_nbgrader():
    # autograder.kernel reads its limits through autograder.job; nbgrader (or anything else heavy)
    # imported there would start in every student's kernel (it once stopped the kernel starting)
    import subprocess
    import sys

    heavy = "{'nbgrader', 'torch', 'numpy', 'traitlets'}"
    code = f"import sys, autograder.kernel; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing autograder.kernel also imported {out.strip()}"
