"""The kernel that runs a student's code during grading: ipykernel, started under a guard.

nbgrader talks to the judge (:mod:`autograder.judge`), which decides the test cells itself and
starts this kernel (``python -m autograder.kernel -f {connection_file}``, inside a bubblewrap
sandbox where one can be had, or the same forked by the sandboxed zygote of the grader's slot:
:mod:`autograder.zygote`) for everything else; the judge's agent (:mod:`autograder.agent`)
runs the student's functions here when a test calls them. The guard applies to the student's code
only, and is configured by the worker through environment variables:

- ``AUTOGRADER_MEMORY_MB``: the memory the kernel may allocate (``RLIMIT_DATA``: heap and private
  writable mappings); an allocation past it raises ``MemoryError`` in the student's cell, and the
  grader lives on. Not ``RLIMIT_AS``: the address space of a kernel that imported PyTorch is
  ~1.5 GB before any work, much of it shared libraries and malloc arenas reserved per thread,
  and how much depends on the thread count, so an address-space limit kills correct notebooks
  at random (an allocation in a native thread fails and aborts the kernel).
- ``AUTOGRADER_OUTPUT_BYTES``: what the notebook may print in all; the rest is dropped, with one note.
- ``AUTOGRADER_WRITABLE``: folders the notebook may write to (its own working folder and a home).
- ``AUTOGRADER_UNREADABLE``: folders it may not read (the course's solutions, the other
  submissions, the gradebook that holds the hidden tests).

Once the kernel has started, a PEP 578 audit hook (which Python code cannot remove) refuses file
access outside those rules, starting processes, ``ctypes`` libraries, sending signals, sockets and
SQLite connections, and records each refusal. At the end of grading, the worker's probe cell
(:func:`probe`) reports those refusals and whether the course's checks, NumPy, PyTorch, builtins
or IPython's error handling were replaced. The scores do not depend on any of this (the judge
decides them in its own process); the guard keeps the student's code from the course's files and
from other processes where no sandbox can be had, and reports what it refused.
"""

import json
import os
import sys

from . import job  # the limits, read from the environment the worker wrote (before the guard)

PROBE_MARK = "AUTOGRADER-INTEGRITY "
_state = {"events": [], "snapshot": None, "busy": False}


def apply_limits():
    memory_mb = job.memory_mb()
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _paths(var):
    return [os.path.realpath(p) for p in os.environ.get(var, "").split(os.pathsep) if p]


def _inside(path, folders):
    return any(path == f or path.startswith(f + os.sep) for f in folders)


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_BLOCKED_EVENTS = {
    "subprocess.Popen": "starting a process",
    "os.system": "starting a process",
    "os.exec": "starting a process",
    "os.posix_spawn": "starting a process",
    "os.spawn": "starting a process",
    "os.fork": "forking the kernel",
    "os.forkpty": "forking the kernel",
    "os.kill": "sending a signal",
    "os.killpg": "sending a signal",
    "signal.pthread_kill": "sending a signal",
    "ctypes.dlopen": "loading a native library with ctypes",
    "ctypes.dlsym": "calling native code with ctypes",
    "ctypes.string_at": "reading raw memory with ctypes",
    "ctypes.wstring_at": "reading raw memory with ctypes",
    "ctypes.cdata": "reading raw memory with ctypes",
    "ctypes.call_function": "calling native code with ctypes",
    "sqlite3.connect": "opening an SQLite database",
    "socket.connect": "opening a network connection",
    "socket.bind": "opening a network socket",
}
_WRITE_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
                 "os.truncate", "os.symlink", "os.link", "shutil.rmtree", "shutil.copyfile",
                 "shutil.move", "os.utime"}


def install_guard():
    """Install the audit hook (for the rest of the kernel's life) and the output cap."""
    writable = _paths("AUTOGRADER_WRITABLE")
    unreadable = _paths("AUTOGRADER_UNREADABLE")

    def refuse(what):
        if os.environ.get("AUTOGRADER_DEBUG"):
            import traceback

            traceback.print_stack(file=sys.__stderr__)
        if len(_state["events"]) < 100:
            _state["events"].append(what)
        raise PermissionError(f"not allowed while grading: {what}")

    def hook(event, args):
        if _state["busy"]:
            return
        if event in _BLOCKED_EVENTS:
            refuse(f"{_BLOCKED_EVENTS[event]} ({event})")
        if event == "open":
            path, mode, flags = args[0], args[1], args[2]
            if not isinstance(path, (str, bytes, os.PathLike)):
                return  # an open file descriptor
            real = os.path.realpath(os.fsdecode(path))
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                mode is None and flags & _WRITE_FLAGS)
            if writing and not _inside(real, writable):
                refuse(f"writing {real}")
            if _inside(real, unreadable) and not _inside(real, writable):
                refuse(f"reading {real}")
        elif event in _WRITE_EVENTS:
            for arg in args[:2]:
                if isinstance(arg, (str, bytes, os.PathLike)):
                    real = os.path.realpath(os.fsdecode(arg))
                    if not _inside(real, writable):
                        refuse(f"changing {real} ({event})")
        elif event in ("os.listdir", "os.scandir", "glob.glob"):
            arg = args[0] if args else None
            if isinstance(arg, (str, bytes, os.PathLike)):
                real = os.path.realpath(os.fsdecode(arg))
                if _inside(real, unreadable) and not _inside(real, writable):
                    refuse(f"listing {real}")

    sys.addaudithook(hook)
    _cap_output(job.output_bytes())

    def no_exit(*args, **kwargs):
        refuse("ending the kernel with os._exit")

    import posix

    os._exit = no_exit
    posix._exit = no_exit


def _cap_output(max_bytes):
    """Stop printing after ``max_bytes`` characters on stdout and stderr together.

    The cap is set on ipykernel's stream class, since the kernel may give each cell new streams.
    """
    if not max_bytes:
        return
    from ipykernel.iostream import OutStream

    budget = {"left": max_bytes, "noted": False}
    write = OutStream.write

    def capped(self, text):
        if _state["busy"]:  # the probe's own report always gets through
            return write(self, text)
        n = len(text)
        if budget["left"] >= n:
            budget["left"] -= n
            return write(self, text)
        if budget["left"] > 0:
            write(self, text[: budget["left"]])
            budget["left"] = 0
        if not budget["noted"]:
            budget["noted"] = True
            _state["events"].append(f"printed more than {max_bytes} characters")
        return n

    OutStream.write = capped

    def drop_instance_writes(*args):
        # IPython tees each cell's output by setting `write` on the stream instance and restores
        # the bound method it found, which would hide the class-level cap: clear it before a cell.
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, OutStream):
                vars(stream).pop("write", None)

    ip = _ipython()
    if ip is not None:
        ip.events.register("pre_run_cell", drop_instance_writes)


# What the probe compares: the identity of every public function of these modules, and of their
# code objects, as they were when the kernel started.
_WATCHED = ["numpy", "numpy.testing", "builtins", "torch", "torch.nn.functional", "utils",
            "utils.checks", "utils.gradcheck", "utils.fixtures", "math"]


# builtins that IPython and ipykernel themselves set or replace for every cell
_KERNEL_BUILTINS = {"input", "raw_input", "_", "__", "___", "display", "get_ipython", "exit",
                    "quit", "copyright", "credits", "license", "help"}


def _library_code(value):
    """True unless ``value`` is a function whose code was written outside the installed packages,
    the standard library and the course (that is, in the notebook)."""
    call = type(value).__call__ if callable(value) else None
    code = getattr(value, "__code__", None) or getattr(call, "__code__", None)
    if code is None:
        return True  # a C function or a plain object: nothing shows it came from the notebook
    trusted = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    trusted.add(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # the course
    filename = os.path.realpath(code.co_filename) if os.sep in code.co_filename else ""
    return any(filename.startswith(t + os.sep) for t in trusted)


def _snapshot():
    import importlib

    snap = {}
    for name in _WATCHED:
        try:
            mod = importlib.import_module(name)
        except Exception:  # a module the course does not have yet
            continue
        for attr, value in list(vars(mod).items()):
            if attr.startswith("__") or (name == "builtins" and attr in _KERNEL_BUILTINS):
                continue
            code = getattr(value, "__code__", None)
            snap[(name, attr)] = (id(value), id(code) if code is not None else None)
        snap[(name, "<module>")] = (id(mod), None)
    return snap


def take_snapshot():
    """Record the watched modules and IPython's error handling before any student code runs."""
    sys.dont_write_bytecode = True
    try:  # loads matplotlib's font cache now, while reading the grader's files is still allowed
        import matplotlib.font_manager  # noqa: F401
    except ImportError:
        pass
    _state["snapshot"] = _snapshot()
    import utils

    # the objects the notebook's own names must still be (check_close, CheckFailure, seed_all ...)
    _state["course_names"] = {k: v for k, v in vars(utils).items() if not k.startswith("_")}
    ip = _ipython()
    if ip is not None:
        _state["ipython"] = _ipython_state(ip)


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _ipython_state(ip):
    def ours(callback):
        mod = getattr(callback, "__module__", "") or ""
        return mod.split(".")[0] in {"matplotlib", "matplotlib_inline", "ipykernel", "IPython",
                                     "autograder", "ipywidgets", "comm"}

    return {
        "showtraceback": getattr(ip.showtraceback, "__func__", ip.showtraceback),
        "_showtraceback": getattr(ip._showtraceback, "__func__", ip._showtraceback),
        "run_cell": getattr(ip.run_cell, "__func__", ip.run_cell),
        "custom_exceptions": tuple(ip.custom_exceptions),
        "input_transformers": len(ip.input_transformers_post) + len(ip.input_transformers_cleanup),
        "ast_transformers": len(ip.ast_transformers),
        "foreign_callbacks": sum(1 for cbs in ip.events.callbacks.values() for cb in cbs
                                 if not ours(cb)),
        "excepthook": sys.excepthook,
    }


def after_start():
    """Run by ipykernel (``exec_lines``) once the kernel is up, before the notebook's first cell."""
    _state["busy"] = True
    try:
        import autograder.agent  # noqa: F401  (the judge's hands, loaded before the guard)

        take_snapshot()
    finally:
        _state["busy"] = False
    install_guard()


def _lookup(mod, attr):
    module = sys.modules.get(mod)
    return getattr(module, attr, None) if attr != "<module>" else module


def probe():
    """Print one line for the worker: what the guard refused and what was replaced."""
    _state["busy"] = True
    try:
        findings = []
        before = _state.get("snapshot") or {}
        now = _snapshot()
        changed = sorted({f"{mod}.{attr}" for (mod, attr), ids in before.items()
                          if now.get((mod, attr), ids) != ids
                          and not _library_code(_lookup(mod, attr))})
        if changed:
            findings.append("replaced " + ", ".join(changed[:8])
                            + (f" and {len(changed) - 8} more" if len(changed) > 8 else ""))
        user_ns = getattr(_ipython(), "user_ns", None) or {}
        for name, original in _state.get("course_names", {}).items():
            if name in user_ns and user_ns[name] is not original and callable(original) \
                    and not _library_code(user_ns[name]):
                findings.append(f"replaced {name} in the notebook's namespace")
        for name in ("numpy", "torch", "utils", "utils.checks"):
            mod = sys.modules.get(name)
            if (name, "<module>") in before and mod is not None and id(mod) != before[(name, "<module>")][0]:
                findings.append(f"replaced the module {name} in sys.modules")
        ip = _ipython()
        if ip is not None and "ipython" in _state:
            was, is_ = _state["ipython"], _ipython_state(ip)
            for key, what in [("showtraceback", "IPython's showtraceback"),
                              ("_showtraceback", "IPython's _showtraceback"),
                              ("run_cell", "IPython's run_cell"),
                              ("custom_exceptions", "IPython's exception handler (set_custom_exc)"),
                              ("input_transformers", "IPython's input transformers"),
                              ("ast_transformers", "IPython's AST transformers"),
                              ("foreign_callbacks", "IPython event callbacks"),
                              ("excepthook", "sys.excepthook")]:
                if was[key] != is_[key]:
                    findings.append(f"changed {what}")
        print(PROBE_MARK + json.dumps({"tampering": findings, "refused": _state["events"]}))
    finally:
        _state["busy"] = False


def main():
    apply_limits()
    from ipykernel import kernelapp

    startup = "__import__('autograder.kernel').kernel.after_start()"
    kernelapp.launch_new_instance(argv=sys.argv[1:] + [f"--IPKernelApp.exec_lines={startup}"])


if __name__ == "__main__":
    main()
