"""The process pool: one worker process per submission, forked from a fork server that has imported
nbgrader, started in a session of its own, waited on and killed; a kernel that died for no reason
the grader can name gets one more run (:func:`run_job`). In the sandbox, each worker slot has a
zygote that forks the students' kernels (:class:`Slots`, :mod:`autograder.zygote`)."""

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import course, credentials, judge_fork, worker
from .job import Job
from .outcome import kernel_died, kernel_died_reason

RUNNING = set()  # worker processes in flight, killed on Ctrl-C
_START_LOCK = threading.Lock()
_PRELOADED = []  # the fork server's imports are set once
POLL_S = 0.5  # how often a waiting grader looks at its worker
RESULT_GRACE_S = 30  # how long a worker that wrote its result may take to end


def run_worker(scratch, sub, limits, job_timeout, feedback, release_path, unreadable, slots=None):
    """Grade ``sub`` in ``scratch`` in a worker process of its own; ``(result, "")`` with the worker's
    result.json, or ``(None, why)`` when it ended without one or ran past ``job_timeout`` seconds.
    ``slots`` (:class:`Slots`): the student's kernel is forked by a slot's zygote."""
    job_file = scratch / "job.json"
    mplconfig = scratch.parent.parent / "mplconfig"  # the run's, with matplotlib's font cache
    slot, zygote_at = slots.take(scratch) if slots is not None else (None, None)
    Job(scratch, sub.student_id, sub.assignment, limits, release=release_path, unreadable=unreadable,
        mplconfig=mplconfig, feedback=feedback, zygote=zygote_at).write(job_file)
    log = scratch / "worker.log"
    result_file = scratch / "result.json"
    try:
        proc = start_worker(job_file, log, mplconfig)
    except BaseException:
        if slot is not None:
            slots.give_back(slot, scratch)
        raise
    RUNNING.add(proc)
    _limit_file_size(proc, limits.disk_bytes)
    try:
        ended = wait(proc, job_timeout, result_file)
        if ended is False:
            return None, (f"grading took longer than {job_timeout} s in all and was stopped "
                          "(an endless loop outside any single cell's limit?)")
    finally:
        kill(proc)  # the kernel and anything it started share the worker's session
        RUNNING.discard(proc)
        if slot is not None:
            slots.give_back(slot, scratch)
    if ended == "lost" and not result_file.exists():
        return None, (f"the grading process died without a result ({exit_words(proc)}) and was "
                      "noticed at once; nothing could be scored. Grade it again; if it happens "
                      "again, grade this submission alone and look at its log")
    if not result_file.exists():
        output = ""
        if log.exists():
            with open(log, "rb") as f:
                f.seek(max(0, log.stat().st_size - 600))
                output = f.read().decode("utf-8", "replace")
        return None, ("the grading process ended without a result (exit code "
                      f"{exit_code(proc)}): {output.strip()}")
    return json.loads(result_file.read_text()), ""


def start_worker(job_file, log, mplconfig=None):
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
            first = not _PRELOADED
            if first:
                ctx.set_forkserver_preload(["autograder.worker", "nbgrader.apps", "nbgrader.api"]
                                           + judge_fork.PRELOAD + judge_fork.course_modules())
                _PRELOADED.append(True)
            proc = ctx.Process(target=worker.run, args=(str(job_file), str(log)))
            # the fork server starts with the first worker, and imports matplotlib with this
            # run's configuration folder (its font cache built), not the grader's own
            saved = os.environ.get("MPLCONFIGDIR")
            setting = bool(first and mplconfig)
            if setting:
                os.environ["MPLCONFIGDIR"] = str(mplconfig)
            try:
                proc.start()
            finally:
                if setting and saved is None:
                    os.environ.pop("MPLCONFIGDIR", None)
                elif setting:
                    os.environ["MPLCONFIGDIR"] = saved
        return proc
    return subprocess.Popen([sys.executable, "-m", "autograder.worker", str(job_file), str(log)],
                            cwd=job_file.parent, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=str(course.ROOT)))


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


def wait(proc, timeout, result_file=None):
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


def exit_code(proc):
    return proc.returncode if isinstance(proc, subprocess.Popen) else proc.exitcode


def exit_words(proc):
    code = exit_code(proc)
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


def kill(proc):
    """Kill a worker, its kernel and anything they started (the worker's session)."""
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass
    wait(proc, 60)  # not forever: a worker whose end is never reported must not hang the run


def run_job(scratch, sub, limits, job_timeout, feedback, release_path, unreadable, slots=None):
    """:func:`run_worker`, once more from a fresh copy of the scratch folder when the kernel died
    for no reason the grader can name (not the memory limit, not killed by the judge because it
    ignored the time limit's interrupt): a crash that a second run does not
    repeat is the machine's, not the student's (e.g. on a machine short of memory). A kernel that
    dies again is reported. Returns ``(result, error, note)``; ``note`` says a retry happened."""
    spare = scratch.with_name(scratch.name + ".spare")
    shutil.copytree(scratch, spare, symlinks=True)
    try:
        result, error = run_worker(scratch, sub, limits, job_timeout, feedback, release_path, unreadable,
                                   slots)
        seen = (result or {}).get("protection") or {}
        died = result is not None and not result.get("autograde_ok") and \
            kernel_died(result.get("error", "") + result.get("log", "")) and \
            not seen.get("oom_kills") and not seen.get("killed_by_judge")
        if not died:
            return result, error, ""
        first = kernel_died_reason(limits, result).split(";")[0]
        os.rename(scratch, scratch.with_name(scratch.name + ".first-run"))
        os.rename(spare, scratch)
        result, error = run_worker(scratch, sub, limits, job_timeout, feedback, release_path, unreadable,
                                   slots)
        if result is not None and result.get("autograde_ok"):
            return result, error, f"graded on a second run: in the first, {first}"
        return result, error, "it was run twice, with the same end"
    finally:
        if spare.exists():
            shutil.rmtree(spare, ignore_errors=True)


class Slots:
    """One folder and one zygote (:mod:`autograder.zygote`) per worker slot, for a grading run in the
    sandbox: each slot's zygote forks the kernels of the submissions graded in it, one at a time.

    The zygote's sandbox hides what a kernel's sandbox hides (the run's folder with every scratch
    folder, the course's sources, the credentials) and may write only its slot's folder. So while a
    submission is graded, its working folder and home live there: :meth:`take` links
    ``scratch/autograded`` and ``scratch/home`` to the slot's (once the zygote says the last kernel's
    leftovers are gone, and the slot is emptied), :meth:`give_back` moves the graded folder back in
    their place. A slot that cannot be prepared grades the submission with a new interpreter.
    """

    def __init__(self, workdir, count, hidden):
        import queue

        self.folder = Path(workdir) / "slots"
        self.hidden = [str(p) for p in hidden]
        self.free = queue.SimpleQueue()
        self.zygotes = {}
        self.used = set()
        try:
            for k in range(count):
                (self.folder / str(k)).mkdir(parents=True, exist_ok=True)
                self.free.put(k)
                self._start(k)
        except BaseException:
            self.close()
            raise

    def _start(self, k):
        import socket

        from .judge import sandbox_command

        slot = self.folder / str(k)
        path = self.folder / f"{k}.sock"
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            listener.listen(4)
            homes = credentials.homes(os.environ)
            env = dict(credentials.kernel_environment(os.environ),
                       PYTHONPATH=str(course.ROOT), HOME=str(slot), PYTHONDONTWRITEBYTECODE="1",
                       MPLCONFIGDIR="/tmp/matplotlib-zygote", OMP_NUM_THREADS="1",
                       MKL_NUM_THREADS="1", AUTOGRADER_ZYGOTE_PRIVATE=os.pathsep.join(homes))
            command = sandbox_command(
                [sys.executable, "-m", "autograder.zygote", str(listener.fileno())],
                self.hidden, [str(slot)], str(slot), homes)
            with open(self.folder / f"{k}.log", "ab") as log:
                proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=log, start_new_session=True,
                                        pass_fds=(listener.fileno(),))
        finally:
            listener.close()  # the zygote's now: with it gone, a connection is refused, not left waiting
        self.zygotes[k] = (proc, {"socket": str(path), "pid": proc.pid, "slot": str(slot)})

    def take(self, scratch):
        """A free slot for the submission in ``scratch``: ``(k, the zygote's address for the job)``."""
        from . import zygote

        k = self.free.get()
        try:
            slot = self.folder / str(k)
            proc, address = self.zygotes[k]
            # the last kernel's leftovers must be gone before the slot is emptied for this one: the
            # zygote answers only then (a zygote that ended or hangs is replaced)
            if proc.poll() is not None or (k in self.used and not zygote.ping(address["socket"], 60)):
                kill(proc)
                self._start(k)
            self.used.add(k)
            if not _emptied(slot):  # the home, a judge's channel, whatever the code left
                raise OSError(f"the slot's folder {slot} could not be emptied")
            for name in ("autograded", "home"):
                (slot / name).mkdir()
                if (scratch / name).exists() or (scratch / name).is_symlink():
                    shutil.rmtree(scratch / name, ignore_errors=True)
                (scratch / name).symlink_to(slot / name)
        except OSError as err:  # this submission's kernel starts as a new interpreter instead
            print(f"slot {k}: {err}", file=sys.stderr)
            for name in ("autograded", "home"):
                if (scratch / name).is_symlink():
                    (scratch / name).unlink()
            self.free.put(k)
            return None, None
        except BaseException:
            self.free.put(k)
            raise
        return k, self.zygotes[k][1]

    def give_back(self, k, scratch):
        """Put the graded folder back into ``scratch`` and free slot ``k`` (emptied by :meth:`take`)."""
        slot = self.folder / str(k)
        try:
            for name in ("autograded", "home"):
                link = scratch / name
                if link.is_symlink():
                    link.unlink()
                if name == "autograded" and (slot / name).exists():
                    os.rename(slot / name, link)
        finally:
            self.free.put(k)

    def close(self):
        for proc, _ in self.zygotes.values():
            kill(proc)


def _emptied(folder):
    """Remove everything in ``folder`` (folders a student's code made unreadable are opened first);
    whether it is empty now."""
    todo = [folder]
    while todo:  # chmod 000 would keep rmtree out, as a plain user
        for entry in os.scandir(todo.pop()):
            if entry.is_dir(follow_symlinks=False):
                try:
                    os.chmod(entry.path, 0o700)
                    todo.append(entry.path)
                except OSError:
                    pass
    for entry in Path(folder).iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return not any(Path(folder).iterdir())


def sandbox_slots(workdir, count, unreadable):
    """:class:`Slots` for a run whose kernels are sandboxed, or None where they are not (each kernel
    is then a new interpreter, as it is with ``AUTOGRADER_ZYGOTE=off``). ``unreadable``: the run's
    folders the students' code may not read; the worker adds the same ones (worker.install_kernel)."""
    from .judge import sandbox_available

    mode = os.environ.get("AUTOGRADER_SANDBOX", "auto")
    if mode in ("off", "none") or os.environ.get("AUTOGRADER_ZYGOTE") == "off" or sandbox_available():
        return None
    hidden = [*unreadable, course.ROOT / "autograder" / "references",
              *credentials.credential_paths(os.environ)]
    try:
        return Slots(workdir, count, hidden)
    except OSError as err:  # e.g. a socket path past AF_UNIX's 108 bytes under a long TMPDIR
        print(f"the kernels start as new interpreters: no zygote could be started ({err})",
              file=sys.stderr)
        return None
