"""A kernel that dies for no reason the grader can name is run once more, from a fresh scratch
folder; one killed by the memory limit is not (a second run would end the same way)."""

from autograder import outcome, pool
from autograder.intake import Submission
from autograder.job import Limits

DIED = {"autograde_ok": False, "error": "DeadKernelError: Kernel died", "log": "", "cells": [],
        "protection": {"kernel_died": "the notebook's kernel died", "kernel_exit": "signal SIGKILL"}}
GRADED = {"autograde_ok": True, "error": "", "log": "", "cells": [{"grade_id": "t"}], "protection": {}}


def _fake_worker(results, seen):
    """A stand-in for the worker: looks at the scratch folder it is given, litters it as a run
    does, and returns the next of ``results``."""
    def run(scratch, sub, *args):
        seen.append(sorted(p.name for p in scratch.iterdir()))
        (scratch / "made-by-the-run.txt").write_text("x")
        return results.pop(0), ""
    return run


def _scratch(tmp_path):
    scratch = tmp_path / "jobs" / "ann__01_one_hot"
    (scratch / "submitted").mkdir(parents=True)
    (scratch / "gradebook.db").write_text("template")
    return scratch


def _job(scratch):
    return pool.run_job(scratch, Submission("ann", "01_one_hot", None), Limits(), 60, True,
                            None, [])


def test_a_kernel_that_died_once_is_graded_on_a_second_run_from_a_fresh_scratch(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(pool, "run_worker", _fake_worker([DIED, GRADED], seen))
    scratch = _scratch(tmp_path)
    result, error, note = _job(scratch)
    assert result is GRADED and error == ""
    assert note.startswith("graded on a second run") and "signal SIGKILL" in note, note
    # the second run started from the folder as it was before the first, not from its leftovers
    assert seen == [["gradebook.db", "submitted"], ["gradebook.db", "submitted"]], seen
    assert not (tmp_path / "jobs" / "ann__01_one_hot.spare").exists()


def test_a_kernel_that_dies_twice_is_reported_once_with_both_runs_said(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "run_worker", _fake_worker([DIED, DIED], []))
    result, _, note = _job(_scratch(tmp_path))
    assert result is DIED and note == "it was run twice, with the same end"
    reason = outcome.kernel_died_reason(Limits(), result)
    assert "[signal SIGKILL]" in reason, reason


def test_no_second_run_for_the_memory_limit_a_kill_by_the_judge_or_a_graded_notebook(tmp_path, monkeypatch):
    oom = dict(DIED, protection={"oom_kills": 1, "kernel_exit": "signal SIGKILL"})
    stuck = dict(DIED, protection={"killed_by_judge": "it did not stop within 10 s of the time limit's "
                                   "interrupt", "kernel_exit": "signal SIGKILL"})
    for k, first in enumerate((oom, stuck, GRADED)):
        seen = []
        monkeypatch.setattr(pool, "run_worker", _fake_worker([first], seen))
        result, _, note = _job(_scratch(tmp_path / str(k)))
        assert result is first and note == "" and len(seen) == 1
    reason = outcome.kernel_died_reason(Limits(memory_mb=512), oom)
    assert "killed for using more than the 512 MB memory limit" in reason, reason
    reason = outcome.kernel_died_reason(Limits(), stuck)
    assert "stopped by the grader: it did not stop within 10 s" in reason, reason
