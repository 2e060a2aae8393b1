"""Grade ONE submission in its own scratch course directory, with nbgrader's real pipeline.

:mod:`autograder.grading` runs :func:`run` in a process of its own per submission, forked
from a fork server that has already imported nbgrader (importing it costs seconds, more than grading
a notebook), so that a notebook that crashes, hangs or exhausts memory harms nothing else.
``python -m autograder.worker JOB.json`` does the same by hand. The job file names a scratch folder
already laid out as an nbgrader course::

    scratch/gradebook.db                                  copy of the assignment's template gradebook
    scratch/submitted/<student>/<assignment>/<nb>.ipynb   the submission

The worker runs ``autograde`` and ``generate_feedback`` there and writes ``scratch/result.json``:
the score of every graded cell and the message of every failed test. Feedback is generated from a
copy of the autograded notebook whose hidden tests and tracebacks are removed, so that students see
each test's name, points and message but not the hidden tests' code.
"""

import json
import os
import sys
import warnings
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets.config import Config

from . import integrity, judge, judge_fork, notebooks
from .job import Job, kernel_env


# nbgrader: the test cells are marked after they have been restored from the gradebook (here, not in
# the judge, which would otherwise import nbgrader at every start: 1.5 s per submission)
class MarkJudgedCells(NbGraderPreprocessor):
    """Put the run's nonce on the first line of every test cell whose grade id and source are the
    gradebook's (nbgrader's OverwriteCells has just restored them): those, and only those, are
    run by the judge. A cell the student made to look like a test is not marked, so it runs in the
    student's kernel like any other code."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        nonce = os.environ.get("AUTOGRADER_JUDGE_NONCE", "")
        if not nonce:
            return nb, resources
        meta = resources["nbgrader"]
        with Gradebook(meta["db_url"]) as gb:
            source_nb = gb.find_notebook(meta["notebook"], meta["assignment"])
            tests = {c.name: c.source for c in source_nb.source_cells
                     if c.cell_type == "code" and c.name in {g.name for g in source_nb.grade_cells}
                     and not any(s.name == c.name for s in source_nb.solution_cells)}
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code" and grade_id in tests and cell.source == tests[grade_id]:
                cell.source = judge.MARK + nonce + "\n" + cell.source
        return nb, resources


def _config(scratch, cell_timeout, autograded_dir="autograded"):
    from nbgrader.preprocessors import OverwriteCells
    from traitlets.config.loader import PyFileConfigLoader

    from . import course

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course.ROOT)).load_config()
    cfg.merge(Config({
        "CourseDirectory": {
            "root": str(scratch),
            "source_directory": str(course.SOURCE_DIR),
            "autograded_directory": autograded_dir,
            "db_url": f"sqlite:///{scratch / 'gradebook.db'}",
        },
        "Execute": {"timeout": int(cell_timeout)},
        "NbGraderAPI": {"log_level": "WARN"},
    }))
    from nbgrader.converters import Autograde

    sanitize = list(Autograde.class_traits()["sanitize_preprocessors"].default())
    sanitize.insert(sanitize.index(OverwriteCells) + 1, MarkJudgedCells)
    cfg.merge(Config({"Autograde": {"sanitize_preprocessors": sanitize}}))
    return cfg


def _error_message(cell):
    """The last line a failing test printed: ``ExceptionName: message``, without the traceback."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if any(o.get("ename") == "CellTimeoutError" for o in errors):
        return "CellTimeoutError: the cell ran past the time limit and was stopped (an endless loop?)"
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            text = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
            return text
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            return "the test wrote to stderr, which nbgrader counts as a failure:\n" + out["text"][-800:]
    return ""


GRADER_NOTE = "autograder_for_graders"  # metadata key of the cells only graders may see


def grader_notes(source_nb):
    """``{grade_id: text}``: the model answer and rubric of every answer graded by hand (a written
    answer or a task), from the source notebook's solution."""
    def by_hand(cell):
        meta = notebooks.nbgrader_meta(cell)
        written = meta.get("grade") and meta.get("solution") and cell.cell_type == "markdown"
        return meta.get("task") or written

    return {notebooks.grade_id(c): notebooks.strip_solution_markers(c.source).strip()
            for c in source_nb.cells if notebooks.grade_id(c) and by_hand(c)}


def public_copy(nb, integrity_notes=(), notes_for_graders=None):
    """The autograded notebook as students may see it: hidden tests out, tracebacks cut to their
    last line (a traceback quotes the lines of test code around the failure), the probe cell out,
    and the integrity findings, if any, on top.

    ``notes_for_graders`` (``{grade_id: markdown}``, see :func:`grader_notes`) puts the model answer
    and rubric right after each answer graded by hand, in a cell marked ``GRADER_NOTE``: formgrader,
    which reads these copies, shows it beside the student's answer, and the feedback pages drop it
    (:class:`autograder.feedback.DropGraderNotes`). Cells a student marked so are removed first.
    """
    nb = notebooks.copy_of(nb)
    nb.cells = [c for c in nb.cells
                if c.source.strip() != integrity.PROBE_SOURCE and GRADER_NOTE not in c.get("metadata", {})]
    for k in reversed(range(len(nb.cells))):
        note = (notes_for_graders or {}).get(notebooks.grade_id(nb.cells[k]))
        if note and not notebooks.is_test(nb.cells[k]):
            cell = nbformat.v4.new_markdown_cell(
                f"**For the grader — never shown to the student: the model answer and rubric of "
                f"`{notebooks.grade_id(nb.cells[k])}`.**\n\n{note}")
            cell.metadata[GRADER_NOTE] = True
            nb.cells.insert(k + 1, cell)
    if integrity_notes:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(
            "**Integrity review.** The grader found the following; an instructor will look at it.\n\n"
            + "\n".join(f"- {n}" for n in integrity_notes)))
    for cell in nb.cells:
        if notebooks.is_test(cell):
            cell.source = notebooks.without_hidden_tests(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
    return nb


def install_kernel(scratch, job):
    """Make ``python3`` mean the judge (:mod:`autograder.judge`) here, which runs the test cells
    itself and the rest in the student's kernel (:mod:`autograder.kernel`, ipykernel under the
    guard, in a bubblewrap sandbox where one can be had).

    The student's code may write only to its working folder and a scratch home, and may not read
    the course's solutions, the instructor-only references, the gradebook (which holds the hidden
    tests) or the other submissions. Returns the nonce that marks this run's test cells.
    """
    from . import course, credentials, judge

    scratch = Path(scratch)
    # with a zygote, the home and the working folder live in the slot's folder, which its sandbox
    # sees (scratch/home and scratch/autograded link there: pool.Slots)
    home = (scratch / "home").resolve()
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    workdir = (scratch / "autograded").resolve() / job.student_id / job.assignment
    spec_dir = scratch / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    student_env = {
        **kernel_env(job.limits),
        "AUTOGRADER_WRITABLE": os.pathsep.join([str(workdir), str(home), "/dev/null"]),
        "AUTOGRADER_UNREADABLE": os.pathsep.join(
            [str(p) for p in job.unreadable]
            + [str(scratch), str(course.ROOT / "autograder" / "references")]
            + credentials.credential_paths(os.environ)),
        # emptied in the sandbox, but for what Python and the course need (judge.sandbox_command)
        "AUTOGRADER_HOMES": os.pathsep.join(credentials.homes(os.environ)),
        "HOME": str(home), "TMPDIR": str(home / "tmp"),
        "MPLCONFIGDIR": str(job.mplconfig or home / "mpl"),
        "IPYTHONDIR": str(home / ".ipython"), "PYTHONDONTWRITEBYTECODE": "1",
        # libraries' caches go to the scratch home: a cache folder inherited from the grader's
        # environment (PyTorch exports TORCHINDUCTOR_CACHE_DIR once it has used it) lies outside
        # what the student may write, and creating it there was refused and flagged honest work
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TORCHINDUCTOR_CACHE_DIR": str(home / ".cache" / "torchinductor"),
        "TRITON_CACHE_DIR": str(home / ".cache" / "triton"),
        # one thread per kernel: kernels graded side by side would fight over the cores
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }
    nonce = judge.new_nonce()
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "autograder.judge", "-f", "{connection_file}"],
        "metadata": judge_fork.kernel_spec_metadata(),
        "display_name": "Python 3 (graded)", "language": "python",
        "interrupt_mode": "message",  # handled by the judge, which interrupts the student's kernel
        "env": {
            "AUTOGRADER_JUDGE_NONCE": nonce,
            "AUTOGRADER_JUDGE_REPORT": str(scratch / "judge.json"),
            "AUTOGRADER_JUDGE_RELEASE": str(job.release or ""),
            "AUTOGRADER_STUDENT_ENV": json.dumps(student_env),
            "AUTOGRADER_SANDBOX": job.sandbox or os.environ.get("AUTOGRADER_SANDBOX", "auto"),
            "AUTOGRADER_ZYGOTE_AT": json.dumps(job.zygote) if job.zygote else "",
            "MPLCONFIGDIR": student_env["MPLCONFIGDIR"], "HOME": str(home),
            "XDG_CACHE_HOME": student_env["XDG_CACHE_HOME"],
            "TORCHINDUCTOR_CACHE_DIR": student_env["TORCHINDUCTOR_CACHE_DIR"],
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        },
    }))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(Path(scratch) / "jupyter")] + [p for p in [os.environ.get("JUPYTER_PATH")] if p])
    os.environ["AUTOGRADER_JUDGE_NONCE"] = nonce  # for MarkJudgedCells, in this process
    return nonce


def grade_job(job):
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    from . import nbgrader_fast

    nbgrader_fast.install()

    judge_fork.prepare()  # first: before nbgrader opens sockets or an event loop
    scratch = job.scratch
    student, assignment = job.student_id, job.assignment
    os.chdir(scratch)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    install_kernel(scratch, job)
    submitted = scratch / "submitted" / student / assignment / f"{assignment}.ipynb"
    sub_nb = notebooks.read(submitted)
    findings = integrity.scan(sub_nb, notebooks.read(job.release)) if job.release else []
    sub_nb.cells.append(nbformat.v4.new_code_cell(integrity.PROBE_SOURCE))  # runs last, after every test
    notebooks.write(sub_nb, submitted)

    api = NbGraderAPI(config=_config(scratch, job.limits.cell_timeout))
    try:
        res = api.autograde(assignment, student, force=True, create=True)
    finally:
        judge_fork.discard()  # a judge prepared but never started (nbgrader failed before) ends
    result = {"autograde_ok": bool(res.get("success")), "log": res.get("log", "")[-4000:],
              "error": res.get("error", "")[-4000:] if res.get("error") else "",
              "cells": [], "notebooks": [], "error_cells": [], "integrity": [],
              "withheld": []}
    autograded = scratch / "autograded" / student / assignment
    from . import course

    notes = grader_notes(notebooks.read(course.source_notebook(assignment)))
    protection = scratch / "judge.json"
    result["protection"] = json.loads(protection.read_text()) if protection.exists() else {}
    for path in sorted(autograded.glob("*.ipynb")):
        nb = notebooks.read(path)
        for cell in nb.cells:  # the judge's marks are this run's secret, not the notebook's
            if cell.cell_type == "code":
                cell.source = judge.unmark(cell.source)
        notebooks.write(nb, path)
        result["integrity"], result["withheld"] = integrity.verdict(nb, findings)
        if result["withheld"]:
            integrity.withhold(scratch / "gradebook.db", path.stem, assignment, student, result["withheld"])
        result["notebooks"].append(path.stem)
        for k, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and not notebooks.is_test(cell):
                msg = _error_message(cell)
                if msg:
                    result["error_cells"].append(f"cell {k + 1}: {msg.splitlines()[0][:200]}")
        with Gradebook(f"sqlite:///{scratch / 'gradebook.db'}") as gb:
            for cell in nb.cells:
                meta = notebooks.nbgrader_meta(cell)
                if not meta.get("grade"):
                    continue
                g = gb.find_grade(meta["grade_id"], path.stem, assignment, student)
                if meta["grade_id"] in result["withheld"]:
                    g.auto_score = 0
                result["cells"].append({
                    "notebook": path.stem, "grade_id": meta["grade_id"],
                    "kind": "test" if notebooks.is_test(cell) else "written",
                    "max_score": float(g.max_score),
                    "auto_score": None if g.auto_score is None else float(g.auto_score),
                    "message": _error_message(cell) if notebooks.is_test(cell) else "",
                })
        notebooks.write(public_copy(nb, result["integrity"], notes),
                        scratch / "public" / student / assignment / path.name)
    if result["notebooks"] and job.feedback:
        fb_api = NbGraderAPI(config=_config(scratch, job.limits.cell_timeout, autograded_dir="public"))
        fres = fb_api.generate_feedback(assignment, student, force=True)
        result["feedback_ok"] = bool(fres.get("success"))
        if not fres.get("success"):
            result["error"] += "\n" + (fres.get("error") or fres.get("log") or "")[-2000:]
    (scratch / "result.json").write_text(json.dumps(result, indent=1))


def run(job_file, log_file):
    """Grade one job as the grader's worker process: in a session of its own, so that the grader
    can kill it together with the kernel it starts, with everything it prints going to
    ``log_file`` (a file, not a pipe: a notebook's flood of output stays on disk)."""
    try:
        os.setsid()
    except PermissionError:  # already a session's leader (started by hand from a shell)
        pass
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    from . import course

    # for the kernel this process starts: quiet warnings, and the course importable even when it
    # is not installed
    os.environ.update(PYTHONWARNINGS="ignore", PYTHONPATH=str(course.ROOT))
    warnings.simplefilter("ignore")
    grade_job(Job.read(job_file))


def main(argv=None):
    """``python -m autograder.worker JOB.json [LOG]``: grade one job (in a worker's session,
    printing to LOG, when LOG is given)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1:
        run(*argv[:2])
    else:
        grade_job(Job.read(argv[0]))


if __name__ == "__main__":
    main()
