"""Start the judge (:mod:`autograder.judge`) from a process that has already imported what it needs.

A judge started as ``python -m autograder.judge`` spends about two seconds of CPU on importing
ipykernel, NumPy and PyTorch, once per submission, more than grading a small notebook takes. So the
worker forks the judge's process as soon as it starts (:func:`prepare`), before nbgrader has opened
any socket or event loop: the child has the fork server's imports (NumPy, PyTorch, ipykernel, the
judge; see :data:`PRELOAD`), imports what is missing, and waits. When nbgrader starts the kernel,
:class:`ForkedJudgeProvisioner` hands it the command line, environment and folder that
``python -m autograder.judge`` would have had, and it becomes the judge.

The judge is the grader's own trusted code; the student's kernel is started apart from it, under
the guard and in the sandbox (forked by the slot's zygote, :mod:`autograder.zygote`, or as a new
interpreter). Where no process was prepared (no ``fork``, a
kernel started twice), the judge is started the usual way, as a new interpreter.
"""

import json
import os
import sys

from jupyter_client.provisioning import LocalProvisioner

NAME = "autograder-forked-judge"  # the kernel spec's provisioner
# imported by the grader's fork server, so that each worker and each judge has them for free
PRELOAD = ["numpy", "torch", "ipykernel.kernelapp", "ipykernel.ipkernel", "utils",
           "autograder.judge"]


def course_modules():
    """The course library's modules (``utils.*``) and matplotlib, which they import: the judge
    imports them with the release's imports on its first test cell (half a second or more per
    submission). The fork server imports them once, with ``MPLCONFIGDIR`` set to the run's folder,
    where :func:`autograder.grading` has built matplotlib's font cache (pool.start_worker)."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "utils")
    names = sorted(f"utils.{f[:-3]}" for f in os.listdir(folder)
                   if f.endswith(".py") and not f.startswith("_"))
    return ["matplotlib", "matplotlib.pyplot"] + names

_PREPARED = []  # at most one prepared judge per worker: a submission has one judge


class PreparedJudge:
    """A forked child that waits for its command line; Popen's interface for jupyter_client."""

    def __init__(self):
        read_end, self._request = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: import, wait, become the judge
            os.close(self._request)
            _child(read_end)
        os.close(read_end)
        self.returncode = None
        self.stdin = self.stdout = self.stderr = None

    def start(self, argv, env, cwd):
        request = json.dumps({"argv": list(argv), "env": dict(env), "cwd": str(cwd)}).encode()
        with os.fdopen(self._request, "wb") as pipe:
            pipe.write(request)
        return self

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum):
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self):
        import signal

        self.send_signal(signal.SIGKILL)

    def terminate(self):
        import signal

        self.send_signal(signal.SIGTERM)


def _child(read_end):
    """The prepared judge: never returns."""
    status = 1
    try:
        _let_go_of_inherited_files(keep=read_end)
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:  # the judge imports it itself, or says why it cannot
                pass
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        if not data:  # the worker ended without starting a kernel
            status = 0
            return
        request = json.loads(data)
        os.setsid()  # a session of its own, as jupyter_client gives a kernel it starts
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        threads = os.environ.get("OMP_NUM_THREADS")
        if threads:  # read by the OpenMP runtime when PyTorch loaded it, in the worker
            import torch

            torch.set_num_threads(int(threads))
        # [python, -m, autograder.judge, ...]; ipykernel read JPY_PARENT_PID (the worker, whose end
        # ends the judge) when it was imported, before this environment: it is passed again
        sys.argv = ["autograder.judge"] + request["argv"][3:] + [
            f"--IPKernelApp.parent_handle={int(os.environ.get('JPY_PARENT_PID') or 0)}"]
        from . import judge

        judge.forked_now()
        judge.main()  # ends the process
        status = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _let_go_of_inherited_files(keep):
    """Let go of what the worker had open (but the standard three and ``keep``), as a new process
    would: a pipe of the fork server's held here keeps it from ending. Each descriptor is pointed
    at /dev/null rather than closed, so that its number stays taken: an object of the worker's that
    owned one and closes it later closes /dev/null, not a pipe the judge has opened since."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = range(3, 1024)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        if fd > 2 and fd not in (keep, null):
            try:
                os.fstat(fd)  # open (not the listing's own descriptor, already closed)
                os.dup2(null, fd)
            except OSError:
                pass
    os.close(null)


def prepare():
    """Fork this worker's judge now, while nbgrader is still starting; a no-op where it cannot be."""
    if _PREPARED or not hasattr(os, "fork"):
        return
    try:
        _PREPARED.append(PreparedJudge())
    except OSError:
        pass
    from importlib.metadata import EntryPoint

    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    KernelProvisionerFactory.provisioners[NAME] = EntryPoint(
        name=NAME, value=f"{__name__}:ForkedJudgeProvisioner", group=KernelProvisionerFactory.GROUP_NAME)


def discard():
    """Let a prepared judge that was never used end (its pipe closes)."""
    while _PREPARED:
        judge = _PREPARED.pop()
        try:
            os.close(judge._request)
        except OSError:
            pass
        judge.wait()


class ForkedJudgeProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, which starts the kernel from the prepared judge."""

    async def launch_kernel(self, cmd, **kwargs):
        if not _PREPARED or cmd[1:3] != ["-m", "autograder.judge"]:
            return await super().launch_kernel(cmd, **kwargs)
        # what jupyter_client's launcher adds for a kernel it starts: the parent to watch
        env = dict(kwargs.get("env") or os.environ, JPY_PARENT_PID=str(os.getpid()))
        self.process = _PREPARED.pop().start(cmd, env, kwargs.get("cwd") or os.getcwd())
        self.pid = self.pgid = self.process.pid
        self.cwd = kwargs.get("cwd") or os.getcwd()
        return self.connection_info


def kernel_spec_metadata():
    """What the judge's kernel.json says so that jupyter_client uses :class:`ForkedJudgeProvisioner`
    (empty where no judge was prepared: the usual start)."""
    return {"kernel_provisioner": {"provisioner_name": NAME}} if _PREPARED else {}

