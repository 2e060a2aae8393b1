"""Resuming an interrupted run: a submission whose notebook, assignment source and limits are
unchanged since it was graded into ``out`` keeps its outcome (``out/.autograder/done/``)."""

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from . import course, gradebook
from .outcome import Outcome


def cache_key(notebook, assignment, limits, feedback):
    h = hashlib.sha256()
    h.update(Path(notebook).read_bytes())
    h.update(course.source_notebook(assignment).read_bytes())
    h.update(repr((limits, feedback)).encode())
    return h.hexdigest()


def _done_file(out, sub):
    return out / ".autograder" / "done" / f"{sub.student_id}__{sub.assignment}.json"


def cached(out, sub, key, db_url):
    """The outcome of an identical earlier grading, if it is still in the gradebook."""
    path = _done_file(out, sub)
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved.get("key") != key:
        return None
    outcome = Outcome(**saved["outcome"])
    if gradebook.fill_scores(outcome, db_url) is None:  # the gradebook no longer has it
        return None
    return outcome


def remember(out, outcome, key):
    path = _done_file(out, outcome)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "outcome": asdict(outcome)}))
    os.replace(tmp, path)
