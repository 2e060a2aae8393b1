"""What became of each submission, and how it is told: the :class:`Outcome`, the explanations of
what went wrong in words, ``grades.csv``, ``report.txt`` and the terminal's table."""

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

CSV_COLUMNS = ["student_id", "assignment", "score", "max_score", "auto_score", "auto_max_score",
               "status", "problems", "integrity"]


@dataclass
class Outcome:
    """What became of one submission."""

    student_id: str
    assignment: str
    status: str  # graded | failed | missing | not submitted
    score: float = 0.0
    max_score: float = 0.0
    auto_score: float = 0.0
    auto_max_score: float = 0.0
    manual_pending: bool = False  # written answers still to grade by hand in formgrader
    problems: list = field(default_factory=list)
    tests: list = field(default_factory=list)  # per graded cell: grade_id, score, max, message
    error_cells: list = field(default_factory=list)  # cells (not only tests) that raised
    integrity: list = field(default_factory=list)  # findings of the scan and the probe
    protection: dict = field(default_factory=dict)  # sandbox and memory group, from the judge

    @property
    def graded(self):
        return self.status == "graded"


def explain(result, limits):
    """Problems an instructor should know, read from the worker's result."""
    problems = []
    msgs = " ".join([c["message"] for c in result["cells"]] + result.get("error_cells", []))
    if "CellTimeoutError" in msgs or "Timeout" in result.get("error", ""):
        problems.append(f"a cell ran longer than the {limits.cell_timeout} s limit and was stopped")
    if any("printed more than" in r for r in result.get("integrity", [])) or \
            (result.get("protection") or {}).get("output_capped"):  # the judge's own count
        problems.append(f"the notebook printed more than {limits.output_bytes} characters; the "
                        "rest of its output was dropped")
    if "MemoryError" in msgs:
        problems.append("the notebook ran out of memory (MemoryError) under the kernel's limit")
    if "File too large" in msgs + result.get("error", "") and limits.disk_mb:
        problems.append(f"the notebook tried to write a file larger than {limits.disk_mb} MB "
                        "(the submission's cap); the write was refused")
    if kernel_died(result.get("error", "")):
        problems.append(kernel_died_reason(limits, result))
    return problems


def kernel_died(text):
    return any(k in text for k in ("DeadKernel", "Kernel died", "kernel died"))


def kernel_died_reason(limits, result=None):
    """Why nothing could be scored when the kernel died, with what the judge saw of its end (the
    exit status, a kill by the memory group, the memory it reached)."""
    seen = (result or {}).get("protection") or {}
    if seen.get("oom_kills"):
        return (f"the notebook's kernel was killed for using more than the {limits.memory_mb} MB memory "
                f"limit (shared memory included); nothing could be scored. Ask the student to run the "
                f"notebook top to bottom and resubmit")
    if seen.get("killed_by_judge"):
        return (f"the notebook's kernel was stopped by the grader: {seen['killed_by_judge']} (code "
                f"that does not return to Python, e.g. a long NumPy call or a native loop); nothing "
                f"could be scored. Ask the student to run the notebook top to bottom and resubmit")
    memory = (f", or native code that could not allocate memory under the {limits.memory_mb} MB "
              f"limit" if limits.memory_mb else "")
    facts = [seen["kernel_exit"]] if seen.get("kernel_exit") else []
    if seen.get("memory_peak_mb") is not None:
        facts.append(f"memory peak {seen['memory_peak_mb']} MB")
    return (f"the notebook's kernel died while running (it crashed, e.g. a segmentation fault in "
            f"native code{memory})" + (f" [{', '.join(facts)}]" if facts else "")
            + "; nothing could be scored. Ask the student to run the notebook top to bottom and resubmit")


def write_grades_csv(path, outcomes, db_url):
    tmp = Path(path).with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for o in outcomes:
            writer.writerow([o.student_id, o.assignment, f"{o.score:g}", f"{o.max_score:g}",
                             f"{o.auto_score:g}", f"{o.auto_max_score:g}", o.status,
                             "; ".join(o.problems), "; ".join(o.integrity)])
    os.replace(tmp, path)


def protection_summary(outcomes):
    """How the student's code was held while it ran, in words: the sandbox, the memory group."""
    kinds = {}
    for o in outcomes:
        p = o.protection
        if not p:
            continue
        if p.get("protection") == "sandbox":
            text = "in a bubblewrap sandbox (no network, own PIDs and /tmp, course files read-only, " \
                   "solutions, references and other submissions hidden)"
        else:
            text = f"without the sandbox ({p.get('why_not_sandbox') or 'not available'}): " \
                   "the guard in the kernel only"
        text += "; memory " + {"cgroup": "limited by a control group (shared mappings count)",
                               "rlimit": f"limited by RLIMIT_DATA only ({p.get('why_not_cgroup', '')})",
                               "none": "not limited"}.get(p.get("memory", "none"), "not limited")
        if p.get("kernel"):
            text += f"; its kernel {p['kernel']}"
        kinds.setdefault(text, []).append(o.student_id)
    if not kinds:
        return []
    lines = ["Protection: tests were decided by the judge, in a process of its own; the student's code ran"]
    for text, students in kinds.items():
        lines.append(f"  {text}: {len(students)} submission(s)")
    return lines


def write_report(path, outcomes, intake_problems):
    lines = ["Grading report", "==============", ""]
    if intake_problems:
        lines += ["Folders that are not submissions:"] + [f"  - {p}" for p in intake_problems] + [""]
    lines += protection_summary(outcomes) + [""]
    for o in outcomes:
        lines.append(f"{o.student_id} / {o.assignment}: {o.status}, "
                     f"{o.score:g} of {o.max_score:g} points")
        lines += [f"  - {p}" for p in o.problems]
        lines += [f"  ! integrity: {f}" for f in o.integrity]
        failed = [t for t in o.tests if t["kind"] == "test" and t["auto_score"] is not None
                  and t["auto_score"] < t["max_score"]]
        for t in failed:
            msg = (t["message"] or "failed").splitlines()
            if msg and msg[0].startswith("NotImplementedError"):
                msg = ["not attempted (NotImplementedError)"]
            lines.append(f"  x {t['grade_id']} ({t['auto_score']:g}/{t['max_score']:g}): {msg[0][:200]}")
            lines += [f"      {m[:200]}" for m in msg[1:6]]
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def format_table(outcomes):
    """A readable table of outcomes for the terminal."""
    rows = [("student", "assignment", "tests", "by hand", "total", "status", "note")]
    for o in outcomes:
        note = ("INTEGRITY: " + o.integrity[0]) if o.integrity else (o.problems[0] if o.problems else "")
        hand_max = o.max_score - o.auto_max_score
        hand = (f"{o.score - o.auto_score:g}/{hand_max:g}" + (" (to do)" if o.manual_pending else "")
                if hand_max else "-")
        rows.append((o.student_id, o.assignment,
                     f"{o.auto_score:g}/{o.auto_max_score:g}" if o.max_score else "-", hand,
                     f"{o.score:g}/{o.max_score:g}" if o.max_score else "-",
                     o.status, note[:60] + ("…" if len(note) > 60 else "")))
    n = len(rows[0]) - 1
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:n], widths, strict=True)) + "  " + r[n])
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)
