"""Grade a class: intake, one isolated worker per submission, the gradebook, grades.csv, feedback.

    grade(submissions, out)  ->  list of Outcome

``out`` becomes an nbgrader course folder of this grading run: ``gradebook.db`` (unless ``db_url``
names another), ``submitted/``, ``autograded/``, ``public/`` (the autograded notebooks as students
may see them) and ``feedback/`` in nbgrader's layout, plus ``grades.csv`` and ``report.txt``.
Workers grade in scratch folders; only this process writes the gradebook and ``out`` (a single
writer), so parallel workers never contend for them.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import course, gradebook, intake, notebooks, pool, release, resume, safefiles
from .feedback import regenerate as regenerate_feedback
from .job import DEFAULT_LIMITS, Limits  # noqa: F401  (grading.Limits: callers' name for the job's limits)

# what a caller of grade() reads; they live in autograder.outcome
from .outcome import (  # noqa: F401
    CSV_COLUMNS,
    Outcome,
    explain,
    format_table,
    kernel_died,
    kernel_died_reason,
    protection_summary,
    write_grades_csv,
    write_report,
)


def _template(assignment, workdir):
    """Release the assignment once into a template course: its gradebook and release notebook."""
    tdir = Path(workdir) / "templates" / assignment
    tdir.mkdir(parents=True, exist_ok=True)
    db = tdir / "gradebook.db"
    path = release.generate(assignment, release_dir=tdir / "release", db_url=f"sqlite:///{db}",
                            reuse=True)
    return db, notebooks.read(path)


def _font_cache(folder):
    """Build matplotlib's font cache once for all kernels of this run (it takes seconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                   env=dict(os.environ, MPLCONFIGDIR=str(folder)), capture_output=True)


def in_shard(student_id, k, n):
    """Whether a student belongs to shard k of n (1-based); stable across machines and runs."""
    digest = hashlib.sha256(student_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def grade(submissions, out, assignments=None, db_url=None, limits=DEFAULT_LIMITS, workers=None,
          progress=True, keep_scratch=False, feedback=True, force=False, shard=None, hide=()):
    """Grade every submission under ``submissions`` (a folder or a zip) into ``out``.

    feedback: write the feedback pages (the self-check turns it off: it reads scores only).
    force: regrade submissions already graded into ``out`` (by default a submission whose notebook,
        assignment source and limits are unchanged since it was graded is not graded again, so an
        interrupted run resumes where it stopped).
    shard: ``(k, n)`` grades only the students of shard k of n (1-based), for several machines
        sharing one gradebook (``db_url``).
    hide: more paths the students' code may not read (an LMS export the submissions were
        laid out from, its roster), beside those it never may.
    Returns ``(outcomes, intake_problems)``. Raises :class:`intake.IntakeError` when the
    submissions cannot be read at all.
    """
    out = Path(out).resolve()
    known = course.assignments()
    requested = [course.check_assignment(a) for a in assignments] if assignments else None
    default_db = f"sqlite:///{out / 'gradebook.db'}"
    db_url = db_url or default_db
    workers = workers or os.cpu_count() or 1
    workdir = Path(tempfile.mkdtemp(prefix="autograder-"))
    try:
        subs, problems = intake.read_class(submissions, workdir / "intake", known, requested,
                                           max_member=limits.disk_bytes)
        if shard:
            subs = [s for s in subs if in_shard(s.student_id, *shard)]
        if not subs and not problems:
            problems.append(f"no submissions found under {submissions} (expected "
                            "<student_id>/<assignment>/<notebook>.ipynb)")
        _open_output(out, db_url)  # only once the input could be read: a failed start leaves nothing
        templates = {a: _template(a, workdir) for a in sorted({s.assignment for s in subs})}
        # what a student's kernel may not read: the course's sources, every scratch folder but
        # its own, the submissions as handed in, and the output folder with the gradebook
        unreadable = [course.SOURCE_DIR, workdir, Path(submissions).resolve(), out,
                      *(Path(p).resolve() for p in hide)]
        releases = {a: t[1] for a, t in templates.items()}
        for a in known:
            if a not in releases and course.release_notebook(a).exists():
                releases[a] = notebooks.read(course.release_notebook(a))
        gradebook.write_course_config(out, None if db_url == default_db else db_url)
        _font_cache(workdir / "mplconfig")

        outcomes, jobs = [], []
        for sub in subs:
            scratch = workdir / "jobs" / f"{sub.student_id}__{sub.assignment}"
            nb_dest = scratch / "submitted" / sub.student_id / sub.assignment / f"{sub.assignment}.ipynb"
            if sub.folder is not None and not sub.fatal:
                try:
                    intake.prepare_notebook(sub, releases[sub.assignment], releases, nb_dest,
                                   file_cap=limits.file_bytes, total_cap=limits.disk_bytes)
                except Exception as err:  # nothing in one hand-in may stop the others
                    sub.fatal = (f"the hand-in could not be read ({type(err).__name__}: "
                                 f"{str(err)[:300]}); nothing was graded")
            if sub.fatal:
                outcomes.append(_not_graded(sub, db_url))
                continue
            key = resume.cache_key(nb_dest, sub.assignment, limits, feedback)
            done = None if force else resume.cached(out, sub, key, db_url)
            if done is not None:
                outcomes.append(done)
                continue
            shutil.copy(templates[sub.assignment][0], scratch / "gradebook.db")
            # a submission already graded by hand gets its one feedback page from the course's
            # gradebook once the scores are merged (_merge_result), not from the worker's scratch copy
            by_hand = feedback and _graded_by_hand(db_url, sub)
            jobs.append((sub, scratch, key, by_hand))

        n_cells = {a: sum(c.cell_type == "code" for c in nb.cells) for a, nb in releases.items()}
        bar = _progress(len(jobs), progress)
        slots = pool.sandbox_slots(workdir, min(workers, len(jobs)), unreadable) if jobs else None
        executor = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = {
                executor.submit(pool.run_job, scratch, sub, limits,
                                120 + limits.cell_timeout * max(10, n_cells.get(sub.assignment, 10)),
                                feedback and not by_hand, workdir / "templates" / sub.assignment
                                / "release" / sub.assignment / f"{sub.assignment}.ipynb", unreadable,
                                slots):
                (sub, scratch, key, by_hand)
                for sub, scratch, key, by_hand in jobs
            }
            for fut in as_completed(futures):
                sub, scratch, key, by_hand = futures[fut]
                try:
                    result, error, note = fut.result()
                    outcome = _merge_result(sub, scratch, result, error, out, db_url, limits, feedback,
                                            by_hand)
                    if note:
                        outcome.problems.append(note)
                except Exception as err:  # one submission's trouble must not stop the run
                    outcome = Outcome(sub.student_id, sub.assignment, "failed", problems=[
                        f"its grading could not be completed ({type(err).__name__}: "
                        f"{str(err)[:300]})"] + list(sub.problems))
                    gradebook.fill_previous(outcome, db_url)
                if outcome.graded:
                    resume.remember(out, outcome, key)
                outcomes.append(outcome)
                bar.update(1, failed=not outcome.graded)
        except KeyboardInterrupt:
            executor.shutdown(wait=False, cancel_futures=True)
            for proc in list(pool.RUNNING):
                pool.kill(proc)
            raise
        finally:
            executor.shutdown(wait=True)
            if slots is not None:
                slots.close()
            bar.close()
        outcomes.sort(key=lambda o: (o.student_id, o.assignment))
        write_grades_csv(out / "grades.csv", outcomes, db_url)
        write_report(out / "report.txt", outcomes, problems)
        return outcomes, problems
    finally:
        if keep_scratch:
            print(f"scratch folders kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _open_output(out, db_url):
    """Create the output folder and the gradebook's tables; a folder this call created is removed
    again when the gradebook cannot be opened."""
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        gradebook.create_tables(db_url)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


def _not_graded(sub, db_url):
    o = Outcome(sub.student_id, sub.assignment, sub.status_if_fatal, problems=[sub.fatal] + sub.problems)
    gradebook.fill_previous(o, db_url)
    return o


def _graded_by_hand(db_url, sub):
    """Whether the course's gradebook already holds manual grades of this submission."""
    try:
        return gradebook.graded_by_hand(db_url, sub.student_id, sub.assignment)
    except Exception:  # not graded before, or the gradebook unreachable (the merge will say)
        return False


def _merge_result(sub, scratch, result, error, out, db_url, limits, feedback, by_hand=False):
    """Merge one worker's result into the gradebook and ``out`` (called by the single writer).

    by_hand: the submission holds manual grades; the worker wrote no feedback page, and its one
    page is made here from the course's gradebook, after the merge."""
    o = Outcome(sub.student_id, sub.assignment, "graded", problems=list(sub.problems))
    o.protection = (result or {}).get("protection") or {}
    if result is None or not result.get("autograde_ok") or not result["cells"]:
        o.status = "failed"
        reason = error or (result or {}).get("error") or "nbgrader could not grade it"
        text = reason + (result or {}).get("log", "")
        if kernel_died(text):
            reason = kernel_died_reason(limits, result)
        o.problems.insert(0, reason.strip().splitlines()[-1][:500] if reason.strip() else reason)
        if result:
            o.problems += [p for p in explain(result, limits) if p not in o.problems]
        gradebook.fill_previous(o, db_url)
        return o
    o.problems += explain(result, limits)
    o.integrity = result.get("integrity", [])
    o.tests = result["cells"]
    o.error_cells = result.get("error_cells", [])
    try:
        gradebook.merge(db_url, scratch / "gradebook.db", sub.student_id, sub.assignment)
        gradebook.fill_scores(o, db_url)
    except gradebook.ERRORS as err:  # e.g. the server went away: not lost, graded again next run
        o.status = "failed"
        o.problems.insert(0, f"graded, but the grades could not be written to the gradebook "
                             f"({gradebook.first_line(err)}); run the same command again to retry")
        return o
    o.problems += _copy_results(sub, scratch, out, limits)
    if feedback and by_hand:
        # the worker's scratch gradebook has no manual grades: the page comes from the course's
        if regenerate_feedback(out, [sub.assignment], [sub.student_id])[1]:
            o.problems.append("its feedback page could not be made with the manual grades")
    elif feedback and not result.get("feedback_ok", False):
        o.problems.append("its feedback page could not be generated")
    return o


def _copy_results(sub, scratch, out, limits):
    """Copy what grading made for ``sub`` from its scratch course into ``out``; returns what an
    instructor should know of the files the notebook left in its working folder.

    Only real folders and regular files are copied, never following a link, within the
    submission's byte cap (``limits.disk_mb`` in all, ``limits.file_mb`` a file; the graded
    notebook and its feedback page always); what is not copied is named.
    """
    budget = safefiles.Budget(limits.disk_bytes, limits.file_bytes)
    products = {f"{sub.assignment}.ipynb", f"{sub.assignment}.html"}
    problems = []
    removed = safefiles.read_leftovers(scratch)
    if removed:
        problems.append("the notebook left links or special files in its working folder; they were "
                        "removed after it ran, never followed or opened: " + "; ".join(removed))
    for step in ("submitted", "autograded", "public", "feedback"):
        src = scratch / step / sub.student_id / sub.assignment
        if safefiles.entry(src) is None:
            continue
        left_out = safefiles.copy_tree(src, out / step / sub.student_id / sub.assignment, budget,
                                       always=products)
        if left_out and step == "autograded":
            problems.append("files the notebook left in its working folder that were not copied "
                            f"to {step}/ (the submission may bring {limits.disk_mb} MB in all, "
                            f"{limits.file_mb} MB a file): " + "; ".join(left_out))
        elif left_out:
            problems.append(f"not copied to {step}/: " + "; ".join(left_out))
    return problems


class _progress:
    """A progress bar on stderr: submissions done, failed, and the time left."""

    def __init__(self, total, enabled):
        self.failed = 0
        self.bar = None
        if enabled and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="submission", file=sys.stderr, dynamic_ncols=True)

    def update(self, n, failed):
        self.failed += int(failed)
        if self.bar:
            self.bar.set_postfix(failed=self.failed)
            self.bar.update(n)

    def close(self):
        if self.bar:
            self.bar.close()
