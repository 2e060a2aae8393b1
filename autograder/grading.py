"""Grade a class: intake, one isolated worker per submission, the gradebook, grades.csv, feedback.

    grade(submissions, out)  ->  list of Outcome

``out`` becomes an nbgrader course folder of this grading run: ``gradebook.db`` (unless ``db_url``
names another), ``submitted/``, ``autograded/``, ``public/`` (the autograded notebooks as students
may see them) and ``feedback/`` in nbgrader's layout, plus ``grades.csv`` and ``report.txt``.
Workers grade in scratch folders; only this process writes the gradebook and ``out`` (a single
writer), so parallel workers never contend for them.
"""

import csv
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import course, gradebook, intake, notebooks, release, safefiles, worker
from .feedback import regenerate as regenerate_feedback
from .job import DEFAULT_LIMITS, MIN_MEMORY_MB, Job, Limits  # noqa: F401  (the limits live with the job)

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


def _template(assignment, workdir):
    """Release the assignment once into a template course: its gradebook and release notebook."""
    tdir = Path(workdir) / "templates" / assignment
    tdir.mkdir(parents=True, exist_ok=True)
    db = tdir / "gradebook.db"
    path = release.generate(assignment, release_dir=tdir / "release", db_url=f"sqlite:///{db}")
    return db, notebooks.read(path)


def _run_worker(scratch, sub, limits, job_timeout, feedback, release_path, unreadable):
    job_file = scratch / "job.json"
    Job(scratch, sub.student_id, sub.assignment, limits, release=release_path, unreadable=unreadable,
        mplconfig=scratch.parent.parent / "mplconfig", feedback=feedback).write(job_file)
    log = scratch / "worker.log"
    result_file = scratch / "result.json"
    proc = _start_worker(job_file, log)
    _RUNNING.add(proc)
    _limit_file_size(proc, limits.disk_bytes)
    try:
        ended = _wait(proc, job_timeout, result_file)
        if ended is False:
            return None, (f"grading took longer than {job_timeout} s in all and was stopped "
                          "(an endless loop outside any single cell's limit?)")
    finally:
        _kill(proc)  # the kernel and anything it started share the worker's session
        _RUNNING.discard(proc)
    if ended == "lost" and not result_file.exists():
        return None, (f"the grading process died without a result ({_exit_words(proc)}) and was "
                      "noticed at once; nothing could be scored. Grade it again; if it happens "
                      "again, grade this submission alone and look at its log")
    if not result_file.exists():
        output = ""
        if log.exists():
            with open(log, "rb") as f:
                f.seek(max(0, log.stat().st_size - 600))
                output = f.read().decode("utf-8", "replace")
        return None, ("the grading process ended without a result (exit code "
                      f"{_exit_code(proc)}): {output.strip()}")
    return json.loads(result_file.read_text()), ""


def _font_cache(folder):
    """Build matplotlib's font cache once for all kernels of this run (it takes seconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                   env=dict(os.environ, MPLCONFIGDIR=str(folder)), capture_output=True)


_RUNNING = set()  # worker processes in flight, killed on Ctrl-C
_START_LOCK = threading.Lock()
_PRELOADED = []  # the fork server's imports are set once


def _start_worker(job_file, log):
    """Start the process that grades one job, in a session of its own.

    Importing nbgrader takes seconds, longer than grading a notebook, so workers are forked from a
    fork server that has imported it once: each is still a fresh process. multiprocessing imports
    the program's main module again in each worker; that is harmless only for a package's
    ``__main__`` (``python -m autograder``, ``python -m pytest``) or when there is no main file.
    Any other program (a plain script, a Jupyter kernel) gets a new interpreter per job instead.
    """
    main = sys.modules["__main__"]
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    safe = name.endswith(".__main__") or not hasattr(main, "__file__")
    if safe and "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        with _START_LOCK:
            if not _PRELOADED:
                ctx.set_forkserver_preload(["autograder.worker", "nbgrader.apps", "nbgrader.api"])
                _PRELOADED.append(True)
            proc = ctx.Process(target=worker.run, args=(str(job_file), str(log)))
            proc.start()
        return proc
    return subprocess.Popen([sys.executable, "-m", "autograder.worker", str(job_file), str(log)],
                            cwd=job_file.parent, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=str(course.ROOT)))


POLL_S = 0.5  # how often a waiting grader looks at its worker
RESULT_GRACE_S = 30  # how long a worker that wrote its result may take to end


def _limit_file_size(proc, max_bytes):
    """No file the worker, its kernel or anything they start writes may grow past ``max_bytes``
    (RLIMIT_FSIZE: the write fails with "File too large"), so a notebook cannot fill the disk
    with one file, sparse or not. Set from here, before the kernel is started (it inherits it)."""
    if not max_bytes:
        return
    try:
        import resource

        _, hard = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)
        cap = max_bytes if hard == resource.RLIM_INFINITY else min(max_bytes, hard)
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (cap, cap))
    except (ImportError, AttributeError, OSError, ValueError):
        pass  # not on Linux, or the worker has already ended


def _pid_state(pid):
    """'gone', 'zombie' (ended, not yet reaped) or 'running'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return "zombie" if state in (b"Z", b"X", b"x") else "running"
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return "gone"
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass
    return "running"


def _wait(proc, timeout, result_file=None):
    """Wait for a worker: True when it ended, "lost" when its handle still says it runs but the
    process is gone or a zombie (or it wrote ``result_file`` and did not end within
    RESULT_GRACE_S), False when ``timeout`` (None: no limit) ran out first. Looks every POLL_S."""
    deadline = None if timeout is None else time.monotonic() + timeout
    result_since = None
    while True:
        if isinstance(proc, subprocess.Popen):
            if proc.poll() is not None:
                return True
        elif not proc.is_alive():
            return True
        elif _pid_state(proc.pid) != "running":
            proc.join(POLL_S)  # let the handle catch up if the fork server does report it
            return True if not proc.is_alive() else "lost"
        now = time.monotonic()
        if result_file is not None and result_file.exists():
            result_since = result_since or now
            if now - result_since > RESULT_GRACE_S:
                return "lost"
        if deadline is not None and now >= deadline:
            return False
        step = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - now))
        if isinstance(proc, subprocess.Popen):
            try:
                proc.wait(step)
            except subprocess.TimeoutExpired:
                pass
        else:
            proc.join(step)


def _exit_code(proc):
    return proc.returncode if isinstance(proc, subprocess.Popen) else proc.exitcode


def _exit_words(proc):
    code = _exit_code(proc)
    if code is None:
        try:
            with open(f"/proc/{proc.pid}/stat", "rb") as f:
                status = int(f.read().rsplit(b")", 1)[1].split()[-1])  # exit_code, as waitpid's
            if os.WIFSIGNALED(status):
                code = -os.WTERMSIG(status)
            elif os.WIFEXITED(status):
                code = os.WEXITSTATUS(status)
        except (OSError, ValueError, IndexError):
            return "its exit status was never reported"
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _kill(proc):
    """Kill a worker, its kernel and anything they started (the worker's session)."""
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass
    _wait(proc, 60)  # not forever: a worker whose end is never reported must not hang the run


def in_shard(student_id, k, n):
    """Whether a student belongs to shard k of n (1-based); stable across machines and runs."""
    digest = hashlib.sha256(student_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def _cache_key(notebook, assignment, limits, feedback):
    h = hashlib.sha256()
    h.update(Path(notebook).read_bytes())
    h.update(course.source_notebook(assignment).read_bytes())
    h.update(repr((limits, feedback)).encode())
    return h.hexdigest()


def _done_file(out, sub):
    return out / ".autograder" / "done" / f"{sub.student_id}__{sub.assignment}.json"


def _cached(out, sub, key, db_url):
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


def _remember(out, outcome, key):
    path = _done_file(out, outcome)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "outcome": asdict(outcome)}))
    os.replace(tmp, path)


def _run_job(scratch, sub, limits, job_timeout, feedback, release_path, unreadable):
    """:func:`_run_worker`, once more from a fresh copy of the scratch folder when the kernel died
    for no reason the grader can name (not the memory limit, not killed by the judge because it
    ignored the time limit's interrupt): a crash that a second run does not
    repeat is the machine's, not the student's (e.g. on a machine short of memory). A kernel that
    dies again is reported. Returns ``(result, error, note)``; ``note`` says a retry happened."""
    spare = scratch.with_name(scratch.name + ".spare")
    shutil.copytree(scratch, spare, symlinks=True)
    try:
        result, error = _run_worker(scratch, sub, limits, job_timeout, feedback, release_path, unreadable)
        seen = (result or {}).get("protection") or {}
        died = result is not None and not result.get("autograde_ok") and \
            _kernel_died(result.get("error", "") + result.get("log", "")) and \
            not seen.get("oom_kills") and not seen.get("killed_by_judge")
        if not died:
            return result, error, ""
        first = _kernel_died_reason(limits, result).split(";")[0]
        os.rename(scratch, scratch.with_name(scratch.name + ".first-run"))
        os.rename(spare, scratch)
        result, error = _run_worker(scratch, sub, limits, job_timeout, feedback, release_path, unreadable)
        if result is not None and result.get("autograde_ok"):
            return result, error, f"graded on a second run: in the first, {first}"
        return result, error, "it was run twice, with the same end"
    finally:
        if spare.exists():
            shutil.rmtree(spare, ignore_errors=True)


def _explain(result, limits):
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
    if _kernel_died(result.get("error", "")):
        problems.append(_kernel_died_reason(limits, result))
    return problems


def _kernel_died(text):
    return any(k in text for k in ("DeadKernel", "Kernel died", "kernel died"))


def _kernel_died_reason(limits, result=None):
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


def grade(submissions, out, assignments=None, db_url=None, limits=DEFAULT_LIMITS, workers=None,
          progress=True, keep_scratch=False, feedback=True, force=False, shard=None):
    """Grade every submission under ``submissions`` (a folder or a zip) into ``out``.

    feedback: write the feedback pages (the self-check turns it off: it reads scores only).
    force: regrade submissions already graded into ``out`` (by default a submission whose notebook,
        assignment source and limits are unchanged since it was graded is not graded again, so an
        interrupted run resumes where it stopped).
    shard: ``(k, n)`` grades only the students of shard k of n (1-based), for several machines
        sharing one gradebook (``db_url``).
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
        unreadable = [course.SOURCE_DIR, workdir, Path(submissions).resolve(), out]
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
                    intake.prepare(sub, releases[sub.assignment], releases, nb_dest,
                                   file_cap=limits.file_bytes, total_cap=limits.disk_bytes)
                except Exception as err:  # nothing in one hand-in may stop the others
                    sub.fatal = (f"the hand-in could not be read ({type(err).__name__}: "
                                 f"{str(err)[:300]}); nothing was graded")
            if sub.fatal:
                outcomes.append(_not_graded(sub, db_url))
                continue
            key = _cache_key(nb_dest, sub.assignment, limits, feedback)
            done = None if force else _cached(out, sub, key, db_url)
            if done is not None:
                outcomes.append(done)
                continue
            shutil.copy(templates[sub.assignment][0], scratch / "gradebook.db")
            # a submission already graded by hand gets its one feedback page from the course's
            # gradebook once the scores are merged (_finish), not from the worker's scratch copy
            by_hand = feedback and _graded_by_hand(db_url, sub)
            jobs.append((sub, scratch, key, by_hand))

        n_cells = {a: sum(c.cell_type == "code" for c in nb.cells) for a, nb in releases.items()}
        bar = _progress(len(jobs), progress)
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = {
                pool.submit(_run_job, scratch, sub, limits,
                            120 + limits.cell_timeout * max(10, n_cells.get(sub.assignment, 10)),
                            feedback and not by_hand, workdir / "templates" / sub.assignment / "release"
                            / sub.assignment / f"{sub.assignment}.ipynb", unreadable):
                (sub, scratch, key, by_hand)
                for sub, scratch, key, by_hand in jobs
            }
            for fut in as_completed(futures):
                sub, scratch, key, by_hand = futures[fut]
                try:
                    result, error, note = fut.result()
                    outcome = _finish(sub, scratch, result, error, out, db_url, limits, feedback, by_hand)
                    if note:
                        outcome.problems.append(note)
                except Exception as err:  # one submission's trouble must not stop the run
                    outcome = Outcome(sub.student_id, sub.assignment, "failed", problems=[
                        f"its grading could not be completed ({type(err).__name__}: "
                        f"{str(err)[:300]})"] + list(sub.problems))
                    gradebook.fill_previous(outcome, db_url)
                if outcome.graded:
                    _remember(out, outcome, key)
                outcomes.append(outcome)
                bar.update(1, failed=not outcome.graded)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in list(_RUNNING):
                _kill(proc)
            raise
        finally:
            pool.shutdown(wait=True)
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
        gradebook.prepare(db_url)
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


def _finish(sub, scratch, result, error, out, db_url, limits, feedback, by_hand=False):
    """Merge one worker's result into the gradebook and ``out`` (called by the single writer).

    by_hand: the submission holds manual grades; the worker wrote no feedback page, and its one
    page is made here from the course's gradebook, after the merge."""
    o = Outcome(sub.student_id, sub.assignment, "graded", problems=list(sub.problems))
    o.protection = (result or {}).get("protection") or {}
    if result is None or not result.get("autograde_ok") or not result["cells"]:
        o.status = "failed"
        reason = error or (result or {}).get("error") or "nbgrader could not grade it"
        text = reason + (result or {}).get("log", "")
        if _kernel_died(text):
            reason = _kernel_died_reason(limits, result)
        o.problems.insert(0, reason.strip().splitlines()[-1][:500] if reason.strip() else reason)
        if result:
            o.problems += [p for p in _explain(result, limits) if p not in o.problems]
        gradebook.fill_previous(o, db_url)
        return o
    o.problems += _explain(result, limits)
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
