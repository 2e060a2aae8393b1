"""Students' kernels forked from a sandboxed process that has already imported what they need.

A student's kernel started as a new interpreter spends over a second of CPU on importing ipykernel,
NumPy, PyTorch and matplotlib before the notebook's first cell, for every submission. So the grader
starts, for each of its worker slots, one *zygote*: ``python -m autograder.zygote FD`` in the same
bubblewrap sandbox a kernel gets (:func:`autograder.judge.sandbox_command`), with only the slot's
folder writable (:class:`autograder.pool.Slots` moves one submission's working folder and home
into it at a time). It imports those modules (:data:`PRELOAD`), makes itself undumpable (no
process in the sandbox may read or trace its memory) and waits on the listening socket ``FD``,
bound by the grader outside the sandbox in a folder the sandbox hides.

For each submission the judge connects (:func:`start_kernel`) and sends the kernel's arguments,
environment and working folder with four file descriptors (stdout, stderr and the agent's two
pipes). The zygote forks; the child, in a session of its own, takes that environment, those
descriptors, the working folder and the file size limit, and becomes the student's kernel
(:func:`autograder.kernel.main`, guard included) exactly as ``python -m autograder.kernel`` would.
The zygote answers with the child's PID, and its exit status when it ends. One kernel at a time:
the next request is accepted only when the kernel and everything it started have ended, the
sandbox's private folders (/tmp, /dev/shm, the emptied homes) are empty again, /dev is as the
sandbox made it and no System V IPC object is left, so nothing one student's code leaves there
reaches the next (the grader empties the slot's folder itself: :class:`autograder.pool.Slots`).
A zygote that cannot clean up ends, and the grader starts a new one. The kernel is killed when the
judge's connection closes (the judge died) and when the zygote dies.

What stays the zygote's: memory pages it wrote before the fork (copied on write, not shared back)
and nothing else. It never holds a submission, a test or a nonce.
"""

import json
import os
import select
import signal
import socket
import sys
import time

#: imported once, before any kernel is forked: what every kernel imports at its start. Not
#: ``autograder.agent``, which takes its pipes from the kernel's environment when it is imported,
#: nor matplotlib_inline or pyplot, which hook into the IPython shell that is there when they are
#: imported (before it, figures would show as text only).
PRELOAD = ["ipykernel.kernelapp", "ipykernel.ipkernel", "IPython", "numpy", "torch",
           "torch.nn.functional", "matplotlib", "matplotlib.font_manager",
           "autograder.kernel"]
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
MAX_REQUEST = 1 << 20


def _prctl(option, value):
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except Exception:
        pass


# --- the zygote, inside the sandbox --------------------------------------------------------------

def serve(listen_fd):
    """Import :data:`PRELOAD`, then fork one kernel per connection, one at a time, forever."""
    # ipykernel's own default, set before matplotlib reads it at import (as in a fresh kernel)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # a module the kernel will then import itself
            pass
    import gc

    gc.collect()
    gc.freeze()  # the imports' objects are never collected: fewer pages copied in each kernel
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # what a kernel starts is ours to reap and to kill
    _remember_dev()
    listener = socket.socket(fileno=listen_fd)
    real_exit = os._exit  # the guard replaces it in the kernel
    print("zygote ready", flush=True)
    while True:
        conn, _ = listener.accept()
        try:
            _one_kernel(conn, listener, real_exit)
        except Exception as err:  # a broken request ends its kernel, never the zygote
            print(f"zygote: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        finally:
            conn.close()
            try:
                _clean_up()
            except Exception as err:
                print(f"zygote: cleaning up failed, ending ({type(err).__name__}: {err})",
                      file=sys.stderr, flush=True)
                real_exit(1)


def _one_kernel(conn, listener, real_exit):
    conn.settimeout(60)  # the request is sent at once; a silent connection is dropped
    data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 4)
    try:
        while not data.endswith(b"\n") and len(data) < MAX_REQUEST:
            chunk = conn.recv(MAX_REQUEST)
            if not chunk:
                raise ValueError("the request ended early")
            data += chunk
        request = json.loads(data)
        if request.get("ping"):  # answered once the last kernel's leftovers are gone
            conn.sendall(b'{"ready": true}\n')
            return
        if len(fds) != 4:
            raise ValueError(f"expected 4 file descriptors, got {len(fds)}")
        pid = os.fork()
        if pid == 0:
            try:
                _become_kernel(request, fds, (conn, listener))
                code = 0
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                real_exit(code)
    finally:
        for fd in fds:
            os.close(fd)
    conn.settimeout(None)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    status = _wait_for(pid, conn)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    try:
        conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
    except OSError:
        pass


def _wait_for(pid, conn):
    """The kernel's wait status; it is killed when the judge's end of ``conn`` closes or speaks."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3: look every 50 ms
        pidfd = None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            watched = [conn] + ([pidfd] if pidfd is not None else [])
            ready = select.select(watched, [], [], 0.05 if pidfd is None else None)[0]
            if conn in ready:  # the judge asks for the end, or died
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return os.waitpid(pid, 0)[1]
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _others():
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]


def _clean_up():
    """Kill and reap whatever the last kernel left running, and empty the private folders. A
    zygote that cannot do so ends (the grader then starts a new one), so no leftover survives."""
    deadline = time.monotonic() + 10
    while True:
        left = _others()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if not left:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {left} would not end")
        time.sleep(0.01)
    homes = [p for p in os.environ.get("AUTOGRADER_ZYGOTE_PRIVATE", "").split(os.pathsep) if p]
    for folder in ["/tmp", "/dev/shm", *homes]:
        if os.path.isdir(folder):
            _empty(folder)
    _restore_dev()
    _remove_sysv_ipc()


_DEV = {}  # /dev as the sandbox made it: name -> (kind, link target or folder mode)


def _remember_dev():
    _DEV.update((entry.name, _dev_kind(entry)) for entry in os.scandir("/dev"))


def _dev_kind(entry):
    if entry.is_symlink():
        return ("link", os.readlink(entry.path))
    if os.path.ismount(entry.path):
        return ("node", None)  # a device or a mount: the kernel cannot remove it
    if entry.is_dir():
        return ("dir", os.stat(entry.path).st_mode & 0o7777)
    return ("file", None)


def _restore_dev():
    """/dev is the sandbox's own writable tmpfs: what a kernel added or changed goes, and its links
    and folders (/dev/shm) are put back as they were (its devices are mounts, which stay)."""
    for entry in os.scandir("/dev"):
        if _DEV.get(entry.name) == _dev_kind(entry):
            continue
        if os.path.ismount(entry.path):
            continue
        if entry.is_dir(follow_symlinks=False):
            _empty(entry.path)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)
    for name, (kind, value) in _DEV.items():
        path = f"/dev/{name}"
        if kind == "link" and not os.path.lexists(path):
            os.symlink(value, path)
        elif kind == "dir" and not os.path.lexists(path):
            os.mkdir(path)
            os.chmod(path, value)


def _remove_sysv_ipc():
    """System V shared memory, message queues and semaphores live in the sandbox's IPC namespace,
    beyond the kernel's end: removed. (POSIX message queues cannot be listed without their file
    system; only code that knows a queue's name can use it, so they serve collusion, not theft.)"""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    for kind, remove in (("shm", lambda i: libc.shmctl(i, ipc_rmid, None)),
                         ("msg", lambda i: libc.msgctl(i, ipc_rmid, None)),
                         ("sem", lambda i: libc.semctl(i, 0, ipc_rmid))):
        try:
            lines = open(f"/proc/sysvipc/{kind}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            remove(int(line.split()[1]))


def _empty(folder):
    """Remove what ``folder`` holds, but for the mounts in it (what the sandbox binds back into an
    emptied home: Python, the course; read-only, and not to be walked file by file). A folder the
    kernel made unreadable is opened first; what still cannot be removed raises."""
    dirs, todo = [], [folder]
    while todo:
        for entry in os.scandir(todo.pop()):
            if os.path.ismount(entry.path):
                continue
            if entry.is_dir(follow_symlinks=False):
                _open_up(entry.path)
                dirs.append(entry.path)
                todo.append(entry.path)
            else:
                os.unlink(entry.path)
    mounts = None
    for path in reversed(dirs):
        try:
            os.rmdir(path)
        except OSError:  # fine if it leads to a mount (a bound or hidden folder of the sandbox)
            mounts = _mount_points() if mounts is None else mounts
            if not any(m.startswith(path + "/") for m in mounts):
                raise


def _mount_points():
    """The mount points of this mount namespace (/proc/self/mountinfo's fifth field, unescaped)."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            points.append(point.encode().decode("unicode_escape") if "\\" in point else point)
    return points


def _open_up(path):
    try:
        os.chmod(path, 0o700)  # a student's chmod 000 must not keep its files for the next one
    except OSError:
        pass


def _become_kernel(request, fds, sockets):
    """In the forked child: take the request's session, descriptors, environment, folder and limits,
    then run :func:`autograder.kernel.main` as ``python -m autograder.kernel ARGS`` would."""
    for sock in sockets:
        sock.close()
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))  # the zygote's end is the kernel's
    _prctl(PR_SET_DUMPABLE, 1)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
    out, err, agent_read, agent_write = fds
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    env = dict(request["env"])
    env["AUTOGRADER_AGENT_FDS"] = f"{agent_read},{agent_write}"
    os.environ.clear()
    os.environ.update(env)
    os.chdir(request["cwd"])
    sys.path[0] = os.getcwd()  # as ``python -m``: the notebook's folder first
    if request.get("file_bytes"):
        import resource

        limit = int(request["file_bytes"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    from . import kernel

    sys.argv = [kernel.__file__] + list(request["args"])
    kernel.main()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    serve(int(argv[0]))


# --- the judge's side ----------------------------------------------------------------------------

class ZygoteError(RuntimeError):
    """The zygote could not start a kernel: the judge starts a new interpreter instead."""


class ForkedKernel:
    """A kernel the zygote forked, seen as :class:`subprocess.Popen` is by the judge: ``pid`` is its
    PID outside the sandbox (for signals and the memory group), ``poll``, ``wait``, ``kill``."""

    def __init__(self, conn, pid):
        self._conn = conn
        self.pid = pid
        self.returncode = None
        self._buffer = b""

    def _read(self, timeout):
        if self.returncode is not None:
            return
        if select.select([self._conn], [], [], timeout)[0]:
            try:
                chunk = self._conn.recv(4096)
            except OSError:
                chunk = b""
            if not chunk:  # the zygote died: its kernel died with it (PR_SET_PDEATHSIG)
                self.returncode = -signal.SIGKILL
                return
            self._buffer += chunk
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if "exit" in message:
                    self.returncode = int(message["exit"])

    def poll(self):
        self._read(0)
        if self.returncode is None and not _running(self.pid):
            self._read(2)  # ended: the zygote reports its status at once
            if self.returncode is None:
                self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout=None):
        import subprocess

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("student kernel", timeout)
            self._read(0.05)
        return self.returncode

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self):
        self._conn.close()


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X", b"x")
    except (OSError, IndexError):
        return False


def _host_pid(sandbox_pid, inner_pid):
    """The PID outside the sandbox of the process that is ``inner_pid`` inside it: the one among
    the sandbox's descendants whose last ``NSpid`` is ``inner_pid``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = dict(line.split(":\t", 1) for line in
                              open(f"/proc/{entry}/status").read().splitlines() if ":\t" in line)
                parents[int(entry)] = (int(status["PPid"]), status.get("NSpid", "").split())
            except (OSError, KeyError, ValueError):
                pass
    for pid, (_, nspids) in parents.items():
        if nspids and nspids[-1] == str(inner_pid) and len(nspids) > 1:
            up, seen = pid, 0
            while up in parents and seen < 8:
                up, seen = parents[up][0], seen + 1
                if up == sandbox_pid:
                    return pid
    return None


def ping(path, timeout):
    """Whether the zygote listening at ``path`` answers within ``timeout`` seconds: it does only once
    the last kernel it forked and everything that kernel started have ended and been cleaned up."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(str(path))
        conn.sendall(b'{"ping": true}\n')
        return conn.recv(64).startswith(b'{"ready"')
    except OSError:
        return False
    finally:
        conn.close()


def start_kernel(zygote, args, env, cwd, fds, file_bytes=0, timeout=120):
    """Ask the zygote ``{"socket": path, "pid": the sandbox's PID}`` for a kernel; a
    :class:`ForkedKernel`, or :class:`ZygoteError` where it cannot give one."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(zygote["socket"])
        request = json.dumps({"args": list(args), "env": dict(env), "cwd": str(cwd),
                              "file_bytes": int(file_bytes or 0)}).encode() + b"\n"
        socket.send_fds(conn, [request], list(fds))
        line = b""
        while not line.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                raise ZygoteError("the zygote ended the connection without starting a kernel")
            line += chunk
        inner = json.loads(line)["pid"]
        conn.settimeout(None)
    except (OSError, ValueError, KeyError) as err:
        conn.close()
        raise ZygoteError(f"the zygote could not be reached ({type(err).__name__}: {err})") from None
    pid = _host_pid(int(zygote["pid"]), inner)
    if pid is None:
        conn.close()
        raise ZygoteError("the kernel the zygote started could not be found outside the sandbox")
    return ForkedKernel(conn, pid)


if __name__ == "__main__":
    main()
