"""Grade ONE submission in its own scratch course directory, with nbgrader's real pipeline.

Run as ``python -m autograder.worker JOB.json`` by :mod:`autograder.grading`, one process per
submission, so that a notebook that crashes, hangs or exhausts memory harms nothing else. The job
file names a scratch folder already laid out as an nbgrader course::

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
from pathlib import Path

from traitlets.config import Config

from . import notebooks


def _config(scratch, cell_timeout, autograded_dir="autograded"):
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


def public_copy(nb):
    """The autograded notebook as students may see it: hidden tests out, tracebacks cut to their
    last line (a traceback quotes the lines of test code around the failure)."""
    nb = notebooks.read_dict(nb)
    for cell in nb.cells:
        if notebooks.is_test(cell):
            cell.source = notebooks.strip_hidden_tests(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
    return nb


def install_kernel(scratch, memory_mb):
    """Make ``python3`` mean :mod:`autograder.kernel` (ipykernel under limits) in this process."""
    spec_dir = Path(scratch) / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "autograder.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (graded)", "language": "python",
        "env": {"AUTOGRADER_MEMORY_MB": str(memory_mb or "")},
    }))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(Path(scratch) / "jupyter")] + [p for p in [os.environ.get("JUPYTER_PATH")] if p])


def grade(job):
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    scratch = Path(job["scratch"])
    student, assignment = job["student_id"], job["assignment"]
    os.chdir(scratch)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    install_kernel(scratch, job.get("memory_mb"))
    api = NbGraderAPI(config=_config(scratch, job["cell_timeout"]))
    res = api.autograde(assignment, student, force=True, create=True)
    result = {"autograde_ok": bool(res.get("success")), "log": res.get("log", "")[-4000:],
              "error": res.get("error", "")[-4000:] if res.get("error") else "",
              "cells": [], "notebooks": [], "error_cells": []}
    autograded = scratch / "autograded" / student / assignment
    for path in sorted(autograded.glob("*.ipynb")):
        nb = notebooks.read(path)
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
                result["cells"].append({
                    "notebook": path.stem, "grade_id": meta["grade_id"],
                    "kind": "test" if notebooks.is_test(cell) else "written",
                    "max_score": float(g.max_score),
                    "auto_score": None if g.auto_score is None else float(g.auto_score),
                    "message": _error_message(cell) if notebooks.is_test(cell) else "",
                })
        notebooks.write(public_copy(nb), scratch / "public" / student / assignment / path.name)
    if result["notebooks"] and job.get("feedback", True):
        fb_api = NbGraderAPI(config=_config(scratch, job["cell_timeout"], autograded_dir="public"))
        fres = fb_api.generate_feedback(assignment, student, force=True)
        result["feedback_ok"] = bool(fres.get("success"))
        if not fres.get("success"):
            result["error"] += "\n" + (fres.get("error") or fres.get("log") or "")[-2000:]
    (scratch / "result.json").write_text(json.dumps(result, indent=1))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    job = json.loads(Path(argv[0]).read_text())
    grade(job)


if __name__ == "__main__":
    main()
