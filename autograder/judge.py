"""The judge: the kernel nbgrader talks to while grading, which decides the tests in a process the
student's code cannot touch.

nbgrader executes the submission cell by cell through a Jupyter kernel. The worker
(:mod:`autograder.worker`) makes that kernel this one, forked from the worker itself, which has
NumPy, PyTorch and ipykernel imported already (:mod:`autograder.judge_fork`). It starts the
student's kernel (:mod:`autograder.kernel`, ipykernel under the guard, inside an OS sandbox where
the machine has one, see :func:`sandbox_command`) and:

- forwards every cell the student wrote or may have changed to the student's kernel, and passes its
  outputs back to nbgrader unchanged;
- runs every *test cell* itself, in its own namespace, with its own NumPy, PyTorch and course
  checks. A test cell is recognised by a first line that holds a nonce drawn for this grading run
  (:class:`autograder.worker.MarkJudgedCells` adds it, after nbgrader has restored the test cells
  from the gradebook), which the student's code never sees: test cells never reach the student's kernel
  with it. Before judging, the cell's *visible* part also runs in the student's kernel, silently,
  so that names it defines are there for the student's later cells, as in JupyterLab.
- A name the test uses that the test cells did not define is looked up in the student's kernel:
  plain data (:mod:`autograder.wire`) is copied, a module is imported here by name (the judge's own
  copy), and anything else (the student's functions, classes, models) becomes a
  :class:`RemoteRef`, whose calls, attributes and items are run in the student's kernel by
  :mod:`autograder.agent`. Values come back as plain data only.

So the expected values, the comparisons and the decision of each test never run where the student's
code runs; patching NumPy or the checks, forging outputs, reading the test's frames or source, or
switching a guard off in the student's kernel cannot reach them. A test cell's outputs are only
what the judge printed and the error it raised.
"""

import ast
import builtins
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ipykernel.kernelbase import Kernel

from . import credentials, job, wire, zygote

_STARTED = time.time()  # when the judge's module was imported: its clock for the report

MARK = "# autograder-judge "
SERVE = "__import__('autograder.agent').agent.serve()"
TRUSTED_PACKAGES = {"numpy", "torch", "utils", "math", "random", "collections", "itertools",
                    "functools", "matplotlib", "statistics", "string", "re", "json", "typing"}
_DUNDERS = {"__name__", "__qualname__", "__doc__", "__module__", "__wrapped__"}


def new_nonce():
    return secrets.token_hex(16)


def is_marked(code, nonce):
    return bool(nonce) and code.startswith(MARK + nonce + "\n")


def unmark(source):
    """A test cell's source without the judge's first line."""
    if source.startswith(MARK):
        return source.split("\n", 1)[1] if "\n" in source else ""
    return source


# --- the sandbox -----------------------------------------------------------------------------------

def sandbox_available():
    """Why bubblewrap cannot be used here, or "" when it can."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        done = subprocess.run([exe, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                               "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "true"],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap could not run ({err})"
    if done.returncode != 0:
        return "bwrap cannot create namespaces here: " + done.stderr.decode(errors="replace").strip()[:300]
    return ""


def sandbox_command(command, hidden, writable, cwd, homes=()):
    """``command`` inside bubblewrap: no network, its own PID namespace (nothing outlives it), a
    private /tmp, the grading account's ``homes`` emptied, the whole file system read-only,
    ``hidden`` folders replaced by empty ones and only ``writable`` folders writable."""
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    private = ["/tmp"]
    for home in homes:
        if os.path.isdir(home) and not any(_within(home, p) for p in private):
            args += ["--tmpfs", home]
            private.append(home)
    # Python, its packages and the course stay where they are when they live in an emptied folder
    # (a virtual environment made by mktemp, a CI checkout under /tmp, a pyenv Python or a course
    # in the grader's home); what ``hidden`` names inside them is hidden again below
    course_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    needed = {os.path.realpath(p) for p in [sys.prefix, sys.base_prefix, sys.exec_prefix, course_root,
                                            os.path.dirname(os.path.realpath(sys.executable)),
                                            *sys.path] if p and os.path.isdir(p)}
    inside = sorted(p for p in needed if any(_within(p, q) for q in private))
    for path in inside:
        if not any(_within(path, q) and q != path for q in inside):
            args += ["--ro-bind", path, path]
    for path in hidden:
        if os.path.isdir(path):
            args += ["--tmpfs", path]
        elif os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    for path in writable:
        if os.path.isdir(path):
            args += ["--bind", path, path]
    return args + ["--chdir", cwd, "--"] + list(command)


def _within(path, folder):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# --- memory: a control group counts every page, shared mappings included ----------------------------

CGROUP_HEADROOM_MB = 1024  # pages of the libraries a PyTorch kernel touches, on top of its own data


def memory_cgroup(limit_mb):
    """Create a memory control group limited to ``limit_mb`` MB under this process's own one.

    Returns ``(folder, "")``, or ``(None, why)`` where none can be made (no cgroup file system,
    not writable, no memory controller). The kernel's RLIMIT_DATA (see :mod:`autograder.kernel`)
    still applies, so an ordinary allocation past the limit fails with a MemoryError first; the
    group catches what RLIMIT_DATA does not count, such as shared memory mappings.
    """
    if not limit_mb:
        return None, "no memory limit was asked for"
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError as err:
        return None, f"no control groups here ({err})"
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            candidates.append((Path("/sys/fs/cgroup/memory") / path.lstrip("/"), "memory.limit_in_bytes"))
        elif controllers == "":
            for root in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
                candidates.append((root / path.lstrip("/"), "memory.max"))
    for parent, limit_file in candidates:
        for stale in parent.glob("autograder-*"):  # left by judges that were killed
            try:
                if not Path(f"/proc/{int(stale.name.split('-')[1])}").exists():
                    stale.rmdir()
            except (OSError, ValueError, IndexError):
                pass
        folder = parent / f"autograder-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except OSError:
            continue
        try:
            (folder / limit_file).write_text(str(int(limit_mb) * 1024 * 1024))
            return folder, ""
        except OSError:
            folder.rmdir()
    return None, "no writable memory control group (cgroup) here"


def _join_cgroup(cgroup, pid):
    """Put a kernel the zygote forked into the memory group (before any of the student's code runs:
    the judge sends the first cell only once the kernel answers)."""
    if cgroup is not None:
        try:
            (cgroup / "cgroup.procs").write_text(str(pid))
        except OSError:  # RLIMIT_DATA still limits the kernel
            pass


def _file_size_limit():
    """This judge's RLIMIT_FSIZE (the worker's, set by the grader), for a kernel not its child."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return 0 if soft == resource.RLIM_INFINITY else soft


def _child_setup(cgroup):
    """Run in the student's kernel process before it starts: into the memory group, and killed
    when the judge dies (the kernel runs in a session of its own, which the worker's kill of its
    session would not reach)."""
    def setup():
        if cgroup is not None:
            try:
                (cgroup / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:  # the group went away: RLIMIT_DATA still limits the kernel
                pass
        try:
            import ctypes
            import signal

            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except Exception:
            pass
    return setup


def _signal_name(signum):
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


# --- the student's kernel, reached through its channels ----------------------------------------------

class StudentKernelDied(RuntimeError):
    pass


class AgentStopped(RuntimeError):
    """The student's code ended the agent's session or closed its pipes: this test fails, the
    kernel lives on."""


class Link:
    """The student's kernel: started, watched, and spoken to through its Jupyter channels."""

    def __init__(self, kernel=None):
        """Start the student's kernel; :meth:`wait_ready` waits for it to answer. ``kernel``, the
        judge, may be given later (the judge starts this kernel before its own, see :func:`main`)."""
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        self.kernel = kernel
        mode = os.environ.get("AUTOGRADER_SANDBOX", "auto")
        why = "" if mode in ("off", "none") else sandbox_available()
        if mode == "require" and why:
            raise RuntimeError(f"the sandbox was required but {why}")
        # the slot's zygote (autograder/zygote.py), whose sandbox sees only the slot's folder
        zygote_at = json.loads(os.environ.get("AUTOGRADER_ZYGOTE_AT") or "null")
        if mode in ("off", "none") or why:
            zygote_at = None
        self.ipc_dir = tempfile.mkdtemp(prefix="ag-", dir=zygote_at["slot"] if zygote_at else "/tmp")
        conn_file, _ = write_connection_file(os.path.join(self.ipc_dir, "kernel.json"),
                                             transport="ipc", ip=os.path.join(self.ipc_dir, "k"))
        env = json.loads(os.environ.get("AUTOGRADER_STUDENT_ENV") or "{}")
        # what Python needs of the grader's environment, never its secrets (autograder/credentials.py)
        student_env = credentials.kernel_environment(os.environ)
        student_env.update(env)
        homes = [p for p in student_env.pop("AUTOGRADER_HOMES", "").split(os.pathsep) if p]
        writable = [p for p in student_env.get("AUTOGRADER_WRITABLE", "").split(os.pathsep) if p]
        student_env["AUTOGRADER_WRITABLE"] = os.pathsep.join(writable + [self.ipc_dir])
        hidden = [p for p in student_env.get("AUTOGRADER_UNREADABLE", "").split(os.pathsep) if p]
        # the judge's and the worker's memory, open files and environment (the nonce) are theirs
        student_env["AUTOGRADER_UNREADABLE"] = os.pathsep.join(
            hidden + [f"/proc/{os.getpid()}", f"/proc/{os.getppid()}"])
        command = [sys.executable, "-m", "autograder.kernel", "-f", conn_file]
        self.protection = "guard"
        if mode not in ("off", "none") and not why:
            command = sandbox_command(command, hidden, writable + [self.ipc_dir], os.getcwd(), homes)
            self.protection = "sandbox"
        self.protection_note = why if mode not in ("off", "none") else "switched off"
        # ipykernel ends itself when its parent changes; in the sandbox its parent is bubblewrap's
        # init (PID 1), so the judge's PID means nothing there: bwrap --die-with-parent does that job
        student_env.pop("JPY_PARENT_PID", None)
        if self.protection != "sandbox":
            student_env["JPY_PARENT_PID"] = str(os.getpid())
        # the agent's channel: a pipe each way, inherited by the kernel (faster than the kernel's
        # stdin channel by two orders of magnitude)
        agent_read, self.to_agent = os.pipe()
        self.from_agent, agent_write = os.pipe()
        student_env["AUTOGRADER_AGENT_FDS"] = f"{agent_read},{agent_write}"
        memory_mb = job.memory_mb(student_env)
        self.cgroup, why_no_cgroup = memory_cgroup(memory_mb + CGROUP_HEADROOM_MB if memory_mb else 0)
        self.proc, started = None, "started as a new interpreter"
        if zygote_at:
            try:
                self.proc = zygote.start_kernel(zygote_at, ["-f", conn_file], student_env, os.getcwd(),
                                                [1, 2, agent_read, agent_write], _file_size_limit())
                started = "forked from the slot's zygote (imports done once, not per submission)"
                _join_cgroup(self.cgroup, self.proc.pid)
            except zygote.ZygoteError as err:
                started = f"started as a new interpreter ({err})"
        if self.proc is None:
            self.proc = subprocess.Popen(command, env=student_env, cwd=os.getcwd(),
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=_child_setup(self.cgroup),
                                         pass_fds=(agent_read, agent_write))
        os.close(agent_read)
        os.close(agent_write)
        _record({"protection": self.protection, "kernel": started,
                 "why_not_sandbox": self.protection_note if self.protection != "sandbox" else "",
                 "memory": "cgroup" if self.cgroup else ("rlimit" if memory_mb else "none"),
                 "why_not_cgroup": "" if self.cgroup else why_no_cgroup})
        self.client = BlockingKernelClient(connection_file=conn_file)
        self.client.load_connection_file()
        # no heartbeat: whether the kernel lives is whether its process runs (see wait_ready)
        self.client.start_channels(hb=False)
        _clock("student_kernel_started")
        self.ready = False
        self.serving = None   # msg_id of the running agent.serve(), when a session is open
        self.pending = None   # msg_id of the cell being run for the student, when one is
        self.killed_why = ""  # set when the judge itself kills the kernel (a time limit it ignored)

    def wait_ready(self, timeout=120):
        """Wait until the student's kernel answers (it imports ipykernel: about two seconds, far
        more on a loaded machine). jupyter_client's ``wait_for_ready`` calls a kernel dead when one
        heartbeat goes unanswered for a second, which a busy machine (or a slow first import of
        PyTorch) does to a kernel that is only starting: here the kernel is alive while its process
        runs, and only its end, or ``timeout`` seconds without an answer, is a failure."""
        if self.ready:
            return self
        deadline = time.monotonic() + timeout
        while True:  # as jupyter_client: a kernel_info reply, then IOPub seen connected
            msg_id = self.client.kernel_info()
            while not self._reply_to(msg_id, deadline):
                pass
            try:
                self.client.get_iopub_msg(timeout=0.2)
                break
            except queue.Empty:  # IOPub not connected yet: what the kernel prints could be lost
                self._still_starting(deadline)
        while True:  # what the start printed and the status messages
            try:
                self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                break
        _clock("student_kernel_ready")
        self.ready = True
        return self

    def _reply_to(self, msg_id, deadline):
        try:
            reply = self.client.get_shell_msg(timeout=1)
        except queue.Empty:
            reply = None
        if reply is not None and reply.get("parent_header", {}).get("msg_id") == msg_id:
            return True
        self._still_starting(deadline)
        return False

    def _still_starting(self, deadline):
        if not self.alive():
            raise StudentKernelDied(f"the notebook's kernel did not start: its process ended (exit "
                                    f"status {self.proc.returncode}) before it answered")
        if time.monotonic() > deadline:
            raise StudentKernelDied("the notebook's kernel did not start: it did not answer in time")

    # plain cells

    def alive(self):
        return self.proc.poll() is None

    def execute(self, code, relay=True, silent=False, store_history=True, user_expressions=None):
        msg_id = self.client.execute(code, silent=silent, store_history=store_history,
                                     user_expressions=user_expressions or {}, allow_stdin=False)
        self.pending = msg_id
        reply = self._await_reply(msg_id, relay)
        self.pending = None
        return reply

    def _await_reply(self, msg_id, relay):
        """Relay the outputs of request ``msg_id`` until its reply and the kernel's idle status."""
        reply, idle, replied_at = None, False, 0.0
        while True:
            for msg in self._drain_iopub():
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "status":
                    idle = idle or msg["content"].get("execution_state") == "idle"
                elif relay:
                    self.kernel.relay(msg)
            if reply is not None and (idle or time.time() - replied_at > 5):
                return reply
            if reply is None:
                try:
                    shell = self.client.get_shell_msg(timeout=0.05)
                except Exception:  # queue.Empty
                    shell = None
                if shell is not None and shell["parent_header"].get("msg_id") == msg_id:
                    reply, replied_at = shell["content"], time.time()
            else:
                time.sleep(0.002)
            if not self.alive():
                raise StudentKernelDied("the notebook's kernel died")

    def _drain_iopub(self):
        out = []
        socket = getattr(self.client.iopub_channel, "socket", None)
        if socket is not None and not socket.poll(0):
            return out  # nothing waiting (asking the client costs a thread hop, ~0.1 ms)
        while True:
            try:
                out.append(self.client.get_iopub_msg(timeout=0))
            except Exception:
                return out

    def interrupt(self):
        """SIGINT to the student's kernel, from outside (the guard refuses a kernel's signal to
        itself, which is how ipykernel answers an interrupt_request). In the sandbox the kernel is
        a descendant of bubblewrap: found by its parent links in /proc."""
        import signal

        for pid in self._kernel_pids():
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

    def _kernel_pids(self):
        if self.protection != "sandbox" or isinstance(self.proc, zygote.ForkedKernel):
            return [self.proc.pid]
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
                except (OSError, IndexError, ValueError):
                    pass
        found, todo = [], [self.proc.pid]
        while todo:
            for child in parents.get(todo.pop(), []):
                todo.append(child)
                try:
                    if b"autograder.kernel" in Path(f"/proc/{child}/cmdline").read_bytes() and \
                            not Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"bwrap"):
                        found.append(child)
                except OSError:
                    pass
        return found

    def post_mortem(self):
        """Why the student's kernel ended, as far as can be seen from here: its exit status (the
        sandbox passes on a signal as 128 + its number) and whether the memory group killed it."""
        facts = {}
        code = self.proc.poll()
        if code is not None:
            signum = -code if code < 0 else (code - 128 if self.protection == "sandbox" and code > 128 else 0)
            facts["kernel_exit"] = f"signal {_signal_name(signum)}" if signum else f"exit code {code}"
        if self.cgroup is not None:  # cgroup v2's files, then v1's
            for name in ("memory.events", "memory.oom_control"):
                try:
                    lines = (self.cgroup / name).read_text().splitlines()
                    facts["oom_kills"] = int(dict(line.split()[:2] for line in lines).get("oom_kill", 0))
                    break
                except (OSError, ValueError):
                    pass
            for name in ("memory.peak", "memory.max_usage_in_bytes"):
                try:
                    facts["memory_peak_mb"] = int((self.cgroup / name).read_text()) // 2**20
                    break
                except (OSError, ValueError):
                    pass
        return facts

    def stop(self):
        try:
            self.client.stop_channels()
        except Exception:
            pass
        if self.alive():
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if isinstance(self.proc, zygote.ForkedKernel):
            self.proc.close()
        shutil.rmtree(self.ipc_dir, ignore_errors=True)
        for fd in (self.to_agent, self.from_agent):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.cgroup is not None:
            _record({k: v for k, v in self.post_mortem().items() if k != "kernel_exit"})
            for _ in range(50):  # empty once the kernel's processes are reaped
                try:
                    self.cgroup.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)

    # sessions with the agent

    def _wait_readable(self, fd):
        """Block until the agent has written, relaying what the student's code prints meanwhile and
        noticing a kernel that died or an agent session that ended."""
        import select

        while True:
            if select.select([fd], [], [], 0.05)[0]:
                return
            if self.kernel.interrupt_flag.is_set():
                raise KeyboardInterrupt  # the time limit: _interrupted waits for the kernel
            for msg in self._drain_iopub():
                if msg["parent_header"].get("msg_id") == self.serving and msg["msg_type"] == "stream":
                    self.kernel.relay_student_print(msg["content"].get("text", ""))
            try:
                shell = self.client.get_shell_msg(timeout=0)
            except Exception:
                shell = None
            if shell is not None and self.serving and shell["parent_header"].get("msg_id") == self.serving:
                self.serving = None
                content = shell["content"]
                raise AgentStopped(
                    "your code stopped the grader's connection to your kernel "
                    f"({content.get('ename', '')}: {content.get('evalue', '')})")
            if not self.alive():
                raise StudentKernelDied("the notebook's kernel died")

    def _next_prompt(self):
        try:
            text = wire.receive(self.from_agent, self._wait_readable)
        except EOFError:
            raise AgentStopped("your code closed the grader's connection to your kernel") from None
        for msg in self._drain_iopub():  # prints made during the operation, in order
            if msg["parent_header"].get("msg_id") == self.serving and msg["msg_type"] == "stream":
                self.kernel.relay_student_print(msg["content"].get("text", ""))
        return wire.loads(text)

    def _send(self, message):
        try:
            wire.send(self.to_agent, wire.dumps(message))
        except OSError:
            raise AgentStopped("your code closed the grader's connection to your kernel") from None

    def open(self):
        if self.serving is None:
            self.serving = self.client.execute(SERVE, silent=False, store_history=False,
                                               allow_stdin=False)
            for _ in range(100):  # an answer left over from an interrupted operation is dropped
                if self._next_prompt().get("kind") == "ready":
                    return
            raise wire.WireError("the agent did not start")

    def close(self):
        if self.serving is not None:
            msg_id = self.serving
            self._send({"op": "end"})
            self._await_reply(msg_id, relay=False)
            self.serving = None

    def request(self, op):
        """Send one operation, serve the judge functions it calls back, return its answer."""
        self.open()
        self._send(op)
        while True:
            message = self._next_prompt()
            kind = message.get("kind")
            if kind in ("result", "error", "missing", "module"):
                return message
            if kind == "callback":
                self._send(self.kernel.run_callback(message))
                continue
            raise wire.WireError(f"an unexpected message from the student's kernel: {kind!r}")


_REPORT = {}


def forked_now():
    """This judge was forked from a prepared process (:mod:`autograder.judge_fork`), which imported
    this module long before: the report says so, and its clock counts from now."""
    global _STARTED
    _STARTED = time.time()
    _REPORT.clear()
    _REPORT["started"] = "forked"


def _clock(event):
    """Note when ``event`` happened, in seconds since the judge was imported: where a submission's
    time goes, in the scratch folder's ``judge.json`` (``grade --keep-scratch`` keeps it)."""
    clock = _REPORT.setdefault("clock", {"judge_imported_at": round(_STARTED, 3)})
    clock[event] = round(time.time() - _STARTED, 3)


def _record(info):
    """What protection this submission was graded under, for the worker's report."""
    _REPORT.update(info)
    path = os.environ.get("AUTOGRADER_JUDGE_REPORT")
    if path:
        try:
            Path(path).write_text(json.dumps(_REPORT))
        except OSError:
            pass


# --- the student's objects, seen from the judge ------------------------------------------------------

class StudentCodeError(Exception):
    """An exception raised in the student's kernel whose type is not a built-in one."""


class RemoteRef:
    """A handle on an object that lives in the student's kernel (a function, a model ...).

    Calling it, reading an attribute or an item runs in the student's kernel; what comes back is
    plain data or another handle.
    """

    __slots__ = ("_judge", "_handle", "_origin")

    def __init__(self, judge, handle, origin=""):
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_origin", origin)

    def _op(self, op, **fields):
        return self._judge.remote({"op": op, "ref": {"ref": self._handle}, **fields},
                                  origin=self._origin)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name not in _DUNDERS:
            raise AttributeError(name)
        return self._op("getattr", name=name)

    def __setattr__(self, name, value):
        self._op("setattr", name=name, value=self._judge.encode(value))

    def __call__(self, *args, **kwargs):
        encoded = [self._judge.encode(list(args)), self._judge.encode(kwargs)]
        return self._judge.remote({"op": "call", "ref": {"ref": self._handle}, "args": encoded[0],
                                   "kwargs": encoded[1], **_call_settings()}, origin=self._origin,
                                  sent=(encoded, [list(args), kwargs]))

    def __getitem__(self, key):
        return self._op("getitem", key=self._judge.encode(key))

    def __setitem__(self, key, value):
        self._op("setitem", key=self._judge.encode(key), value=self._judge.encode(value))

    def __len__(self):
        return int(self._op("len"))

    def __iter__(self):
        return iter(self._op("iter"))

    def __bool__(self):
        return bool(self._op("bool"))

    def __contains__(self, item):
        return bool(self._op("contains", item=self._judge.encode(item)))

    def __repr__(self):
        return str(self._op("repr"))

    def __str__(self):
        return str(self._op("str"))

    @property
    def __class__(self):
        """The class the student's object says it has, when that class is one the judge knows too
        (``isinstance(model.gru, torch.nn.GRU)``); a claim only, used for messages."""
        module, qualname = self._op("type")
        if isinstance(module, str) and module.split(".")[0] in ("torch", "numpy", "builtins") and \
                isinstance(qualname, str):
            try:
                import importlib

                cls = importlib.import_module(module)
                for part in qualname.split("."):
                    cls = getattr(cls, part)
                if isinstance(cls, type):
                    return cls
            except Exception:
                pass
        return RemoteRef

    # hooks of utils.checks

    def __autograder_source__(self):
        """The source of the student's function: from the cells the judge forwarded to the kernel
        (what really ran), else as the student's kernel reports it."""
        found = self._judge.source_of(self._origin)
        return found if found is not None else str(self._op("source"))

    def __autograder_calls__(self, name, args, kwargs, forbidden):
        encoded = [self._judge.encode(list(args)), self._judge.encode(kwargs)]
        return self._judge.remote({"op": "checked_call", "ref": {"ref": self._handle},
                                   "name": name, "args": encoded[0], "kwargs": encoded[1],
                                   "forbidden": self._judge.encode(list(forbidden)),
                                   **_call_settings()},
                                  origin=self._origin, sent=(encoded, [list(args), kwargs]))

    def __autograder_repeat__(self, n, args, kwargs):
        encoded = [self._judge.encode(list(args)), self._judge.encode(kwargs)]
        return self._judge.remote({"op": "repeat", "ref": {"ref": self._handle}, "n": int(n),
                                   "args": encoded[0], "kwargs": encoded[1], **_call_settings()},
                                  origin=self._origin, sent=(encoded, [list(args), kwargs]))


WARNINGS_PER_CALL = 20
_NUMPY_DEFAULT_ERR = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}


def _call_settings():
    """What a call carries of the test's context: NumPy's floating-point settings where the test
    changed them (``with np.errstate(over="raise")``)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return {}
    err = numpy.geterr()
    return {} if err == _NUMPY_DEFAULT_ERR else {"np_err": err}


def _warning_category(name):
    """The judge's class for a warning the student's code raised (by name; anything else: a
    UserWarning)."""
    for home in (builtins, getattr(sys.modules.get("numpy"), "exceptions", None)):
        found = getattr(home, str(name), None) if home is not None else None
        if isinstance(found, type) and issubclass(found, Warning):
            return found
    return UserWarning


class Namespace(dict):
    """The test cells' globals: what they define, then the student's names, looked up on demand."""

    def __init__(self, judge):
        super().__init__()
        self.judge = judge
        self.cache = {}

    def __missing__(self, name):
        if name in vars(builtins):
            raise KeyError(name)  # Python falls back to the builtins
        if name not in self.cache:
            self.cache[name] = self.judge.lookup(name)
        return self.cache[name]


def _builtin_exception(name):
    exc = getattr(builtins, str(name), None)
    return exc if isinstance(exc, type) and issubclass(exc, Exception) else None


class JudgeKernel(Kernel):
    implementation = "autograder-judge"
    implementation_version = "1"
    language = "python"
    language_version = sys.version.split()[0]
    language_info = {"name": "python", "mimetype": "text/x-python", "file_extension": ".py",
                     "version": sys.version.split()[0]}
    banner = "The autograder's judge"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.nonce = os.environ.get("AUTOGRADER_JUDGE_NONCE", "")
        self.link = None
        self.ns = Namespace(self)
        self.ns["__builtins__"] = builtins
        self.ns["__name__"] = "__main__"
        self.forwarded = []        # the code of every cell forwarded to the student's kernel
        self.callbacks = {}
        self.in_test = False
        self.imported = False
        self.ops = 0
        self.warning_registry = {}  # warnings shown once per place, as Python does
        self.timings = []   # per test cell: seconds replaying, seconds judging, operations
        import threading

        self.interrupt_flag = threading.Event()  # set by an interrupt_request (the time limit)
        student_env = json.loads(os.environ.get("AUTOGRADER_STUDENT_ENV") or "{}")
        self.output_cap = job.output_bytes(student_env)
        self.output_used, self.output_noted = 0, False

    # plumbing

    def _link(self):
        if self.link is None:
            early, error = _EARLY.pop("link", None), _EARLY.pop("error", None)
            if error is not None:
                raise error
            link = early or Link(self)
            link.kernel = self
            self.link = link.wait_ready()
        return self.link

    def _within_output_cap(self, content):
        """Count what the student's kernel sends; past the cap, drop it with one note. The guard
        caps printing inside the kernel too, but the student's code can switch that off."""
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        if not self.output_cap:
            return True
        self.output_used += size
        if self.output_used <= self.output_cap:
            return True
        if not self.output_noted:
            self.output_noted = True
            _record({"output_capped": self.output_cap})
            self.send_response(self.iopub_socket, "stream", {
                "name": "stdout", "text": f"\n[the grader dropped the rest: the notebook printed "
                                          f"more than {self.output_cap} characters]\n"})
        return False

    def relay(self, msg):
        kind = msg["msg_type"]
        if kind in ("stream", "display_data", "execute_result", "error", "clear_output",
                    "update_display_data") and self._within_output_cap(msg["content"]):
            self.send_response(self.iopub_socket, kind, msg["content"])

    def relay_student_print(self, text):
        # what the student's code printed while a test called it: shown, as stdout (a warning on
        # stderr would otherwise fail the test under nbgrader's rules); never an execute_result
        if self._within_output_cap({"text": text}):
            self.send_response(self.iopub_socket, "stream", {"name": "stdout", "text": text})

    def encode(self, value):
        def handle(obj):
            if isinstance(obj, RemoteRef):
                return {"ref": object.__getattribute__(obj, "_handle")}
            if hasattr(type(obj), "__next__") or isinstance(obj, (type({}.keys()), type({}.values()),
                                                                   type({}.items()))):
                # a generator or an iterator of the test's: what it yields crosses, as an iterator
                return {"it": [wire.encode(v, handle) for v in obj]}
            if callable(obj):
                n = len(self.callbacks) + 1
                self.callbacks[n] = obj
                return {"cb": n}
            raise TypeError(f"a {type(obj).__name__} cannot be passed to the student's code")

        return wire.encode(value, handle)

    def decode(self, item, origin=""):
        def resolve(tag, n):
            if tag == "ref":
                return RemoteRef(self, n, origin)
            if n not in self.callbacks:
                raise wire.WireError("an unknown judge function")
            return self.callbacks[n]

        return wire.decode(item, resolve)

    def remote(self, op, origin="", sent=None):
        """Run ``op`` in the student's kernel; ``sent`` = (encoded, original) arguments of a call,
        whose arrays the call changed in place are changed here too."""
        self.ops += 1
        answer = self._link().request(op)
        if sent is not None and type(answer.get("changed")) is list:
            leaves = list(wire.mutable_leaves(*sent))
            for entry in answer["changed"]:
                if type(entry) is list and len(entry) == 2 and type(entry[0]) is int \
                        and 0 <= entry[0] < len(leaves):
                    wire.copy_back(leaves[entry[0]], self.decode(entry[1]))
        if type(answer.get("warnings")) is list:
            self._warn_again(answer["warnings"])
        if answer.get("kind") == "error":
            raise self._student_error(answer)
        return self.decode(answer.get("value"), origin)

    def _warn_again(self, items):
        """Issue here the warnings the student's code issued during a call: the test's filters
        decide (show, record, ignore, or raise at the call, as ``simplefilter("error")`` does)."""
        import warnings

        for item in items[:WARNINGS_PER_CALL]:  # the agent caps too, but the agent is not trusted
            if type(item) is list and len(item) == 3 and type(item[1]) is str and type(item[2]) is int:
                warnings.warn_explicit(item[1], _warning_category(item[0]), "<your code>", item[2],
                                       module="student", registry=self.warning_registry)

    def _student_error(self, answer):
        name = str(answer.get("type", "Exception"))
        message = str(answer.get("message", ""))
        where = answer.get("where") or []
        if where and isinstance(where, list):
            message += "\n  (in your code: " + " <- ".join(str(w)[:200] for w in reversed(where)) + ")"
        if name == "CheckFailure":
            import utils

            return utils.CheckFailure(message)
        exc = _builtin_exception(name)
        if exc is not None:
            try:
                return exc(message)
            except Exception:
                pass
        return StudentCodeError(f"{name}: {message}")

    def lookup(self, name):
        self.ops += 1
        answer = self._link().request({"op": "lookup", "name": name})
        kind = answer.get("kind")
        if kind == "missing":
            raise KeyError(name)
        if kind == "module":
            import importlib

            module = str(answer.get("name"))
            # the judge's own copy, of a module it has or one of the course's libraries (a module
            # name the student reports must not make the judge import just anything)
            if module not in sys.modules and module.split(".")[0] not in TRUSTED_PACKAGES:
                raise KeyError(name)
            try:
                return importlib.import_module(module)
            except Exception:
                raise KeyError(name) from None
        if kind == "error":
            raise self._student_error(answer)
        return self.decode(answer.get("value"), origin=name)

    def run_callback(self, message):
        try:
            func = self.callbacks[int(message["cb"])]
            args = self.decode(message.get("args", []))
            kwargs = self.decode(message.get("kwargs", {"d": []}))
            return {"op": "return", "value": self.encode(func(*args, **kwargs))}
        except Exception as err:
            return {"op": "raise", "type": type(err).__name__, "message": str(err)}

    def source_of(self, name):
        for code in reversed(self.forwarded):
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            for node in reversed(tree.body):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                        node.name == name:
                    return ast.get_source_segment(code, node)
        return None

    # executing cells

    def do_execute(self, code, silent, store_history=True, user_expressions=None,
                   allow_stdin=False, *, cell_meta=None, cell_id=None):
        self.interrupt_flag.clear()
        parent = self.get_parent("shell")
        for stream in (sys.stdout, sys.stderr):  # what the judge prints belongs to this cell
            if hasattr(stream, "set_parent"):
                stream.set_parent(parent)
        if "first_cell" not in _REPORT.get("clock", {}):
            _clock("first_cell")
        try:
            if is_marked(code, self.nonce):
                return self._judge_cell(unmark(code))
            self.forwarded.append(code)
            reply = self._link().execute(code, silent=silent, store_history=store_history,
                                         user_expressions=user_expressions)
            reply = dict(reply)
            reply["execution_count"] = self.execution_count
            return reply
        except KeyboardInterrupt:
            return self._interrupted()
        except StudentKernelDied as err:
            self._die(str(err))

    def _die(self, why):
        # nbgrader must see a dead kernel, as it would have without the judge
        sys.__stderr__.write(f"autograder judge: {why}\n")
        if self.link is not None:
            if self.link.alive():
                self.link.killed_why = self.link.killed_why or why
                self.link.proc.kill()
                try:
                    self.link.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            _record({"kernel_died": why, "killed_by_judge": self.link.killed_why, **self.link.post_mortem()})
            self.link.stop()
        os._exit(1)

    def _send_interrupt_children(self):
        """nbgrader stopped the cell (its time limit), by an interrupt_request on the control
        channel (the judge's kernelspec asks for interrupts by message): the student's code is
        interrupted, and the judge, which is waiting for it, goes on when it answers. A kernel that
        does not stop within 10 s is killed, which the waiting judge reports as a dead kernel."""
        link = self.link
        if link is None:
            return
        self.interrupt_flag.set()  # the judge's own waiting stops at the next check
        link.interrupt()
        import threading

        def kill_if_stuck(busy=(link.serving, link.pending)):
            if any(busy) and (link.serving, link.pending) == busy and link.alive():
                link.killed_why = "it did not stop within 10 s of the time limit's interrupt"
                link.proc.kill()

        timer = threading.Timer(10, kill_if_stuck)
        timer.daemon = True
        timer.start()

    def _interrupted(self):
        """nbgrader stopped the cell (its time limit): stop the student's code too, and wait for
        the kernel to be ready again; a kernel that does not stop is killed (a dead kernel, as
        nbgrader would have seen it)."""
        link = self.link
        if link is not None:
            waiting = {m for m in (link.serving, link.pending) if m}
            deadline = time.time() + 10
            while waiting and time.time() < deadline:
                if not link.alive():
                    self._die("the notebook's kernel died after it was interrupted")
                try:
                    shell = link.client.get_shell_msg(timeout=0.2)
                except Exception:
                    continue
                waiting.discard(shell["parent_header"].get("msg_id"))
            if waiting:
                self._die("the notebook's kernel did not stop when it was interrupted")
            link.serving = link.pending = None
            link._drain_iopub()
        return self._error_reply("KeyboardInterrupt", "the cell was stopped (time limit)", [])

    def _error_reply(self, ename, evalue, tb):
        content = {"ename": ename, "evalue": evalue, "traceback": tb}
        self.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    def _release_imports(self):
        """Run the imports of the release's own code cells (not the student's, not the tests) here,
        so that ``np``, ``torch``, ``utils`` and the course's modules in a test are the judge's, even
        when the student rebinds those names to something else in the kernel."""
        from . import notebooks

        path = os.environ.get("AUTOGRADER_JUDGE_RELEASE")
        if not path or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            cells = json.load(f).get("cells", [])  # plain JSON: nbformat takes a second to import
        for cell in cells:
            if cell.get("cell_type") != "code" or notebooks.is_solution(cell) or notebooks.is_test(cell):
                continue
            source = cell.get("source", "")
            try:
                tree = ast.parse("".join(source) if isinstance(source, list) else source)
            except SyntaxError:
                continue
            imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
            for node in imports:
                try:
                    exec(compile(ast.Module(body=[node], type_ignores=[]), "<release imports>", "exec"),
                         self.ns)
                except Exception:
                    pass

    def _judge_cell(self, code):
        from . import notebooks

        if not self.imported:
            self.imported = True
            self._release_imports()
        link = self._link()
        visible = notebooks.without_hidden_tests(code, "")
        # the visible part in the student's kernel too, unseen: the names it defines are there for
        # the student's later cells, as when the notebook runs in JupyterLab
        started = time.perf_counter()
        link.execute(visible, relay=False, silent=True, store_history=False)
        if self.interrupt_flag.is_set():  # the time limit struck while the student's code ran
            raise KeyboardInterrupt
        replayed, self.ops = time.perf_counter(), 0
        self.ns.cache.clear()
        self.in_test = True
        interrupted = False
        try:
            compiled = compile(code, "<test cell>", "exec")
            exec(compiled, self.ns)
        except (KeyboardInterrupt, StudentKernelDied):
            interrupted = True
            raise
        except Exception as err:
            sys.stdout.flush()
            tb = traceback.format_exception(type(err), err, err.__traceback__)
            tb = [line for line in tb if "autograder/judge.py" not in line]
            return self._error_reply(type(err).__name__, str(err), tb)
        finally:
            self.in_test = False
            self.timings.append([round(replayed - started, 3), round(time.perf_counter() - replayed, 3),
                                 self.ops])
            _record({"test_cells": self.timings})
            if not interrupted:  # an interrupted session is ended by _interrupted
                try:
                    link.close()
                except StudentKernelDied:
                    raise
                except Exception:
                    link.serving = None
        sys.stdout.flush()
        return {"status": "ok", "execution_count": self.execution_count, "payload": [],
                "user_expressions": {}}

    def do_shutdown(self, restart):
        _clock("shutdown")
        if self.link is not None:
            self.link.stop()
        if not restart:
            # the reply goes out at once; then the judge ends itself: ipykernel's own shutdown of its
            # threads sometimes hangs for seconds (nbgrader waits, then kills), once per submission
            import threading

            threading.Timer(0.5, _end_now).start()
        return {"status": "ok", "restart": restart}


def _mirror_seeds(kernel):
    """``utils.seed_all(k)`` in a test seeds the student's kernel too (PyTorch's global generator
    there), as it did when tests ran beside the student's code."""
    import utils
    import utils.seeding

    original = utils.seeding.seed_all

    def seed_all(seed=0):
        rng = original(seed)
        if seed is not None and kernel.in_test:
            kernel.remote({"op": "seed", "seed": int(seed)})
        return rng

    seed_all.__doc__ = original.__doc__
    utils.seed_all = utils.seeding.seed_all = seed_all


_EARLY = {}  # the student's kernel, started before the judge's own (or why it could not be)


def _start_student_kernel_early():
    """Start the student's kernel first, so that its start (ipykernel's imports, about two
    seconds) runs while the judge starts its own kernel and nbgrader sends the first cells; the
    first cell that needs it waits for it (:meth:`JudgeKernel._link`). An error is kept and
    raised there, in a cell, as it was when the kernel was started at the first cell."""
    try:
        _EARLY["link"] = Link()
    except Exception as err:
        _EARLY["error"] = err


def main():
    here = os.path.realpath(os.getcwd())
    # the judge imports nothing from the student's folder (a numpy.py there must not shadow NumPy)
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != here]
    _start_student_kernel_early()
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance(kernel_class=JudgeKernel)
    app.initialize(sys.argv[1:])
    try:
        _mirror_seeds(app.kernel)
    except ImportError:
        pass
    _clock("ready")
    app.start()
    _end_now()


def _end_now():
    """End the judge at once: what had to be written is written (the report, the student's kernel
    stopped), and the exit handlers and teardown left (ZeroMQ's, PyTorch's) can block for seconds
    that nbgrader waits before it kills the process, once per submission."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
