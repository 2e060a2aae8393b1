"""The judge's hands in the student's kernel.

During grading, test cells run in the judge (:mod:`autograder.judge`), another process. When a
test needs the student's code, the judge runs ``agent.serve()`` in the student's kernel, and the two
talk through the kernel's own stdin channel (``input_request``/``input_reply``): the judge sends an
operation (look up a name, call a function, read an attribute ...), the agent performs it and
answers with plain data (:mod:`autograder.wire`), or with a handle for an object that is not plain
data. A function of the judge passed to the student's code (a reference step, a decoder) becomes a
stub here that asks the judge to run it, so calls may nest both ways.

Nothing here is trusted: the student's code can change this module, and it does not matter; the
judge reads only plain data, and decides everything itself.
"""

import sys
import traceback

from . import wire

_objects = {}   # handle -> the object it stands for (kept alive while the kernel lives)
_handles = {}   # id(object) -> handle
_ITER_LIMIT = 100_000
_REPEAT_LIMIT = 1_000_000


def _kernel():
    from IPython import get_ipython

    return get_ipython().kernel


try:  # taken now, before any student code runs; the judge does not depend on it anyway
    from ipykernel.kernelbase import Kernel as _Kernel

    _RAW_INPUT = _Kernel.raw_input
except ImportError:  # pragma: no cover - the agent only ever runs in ipykernel
    _RAW_INPUT = None


def _pipes():
    """The pipe pair the judge opened for this kernel (read, write), or None."""
    import os

    fds = os.environ.get("AUTOGRADER_AGENT_FDS", "")
    try:
        read, write = (int(x) for x in fds.split(","))
        return read, write
    except ValueError:
        return None


_PIPES = _pipes()


def _ask(prompt):
    """Send ``prompt`` to the judge and wait for its answer: on the judge's pipes (a round trip
    costs tens of microseconds; a test may call a function thousands of times), else through the
    kernel's stdin channel."""
    if _PIPES is not None:
        wire.send(_PIPES[1], prompt)
        return wire.receive(_PIPES[0])
    return _RAW_INPUT(_kernel(), prompt)


def _handle(obj):
    h = _handles.get(id(obj))
    if h is None or _objects.get(h) is not obj:
        h = len(_objects) + 1
        _objects[h] = obj
        _handles[id(obj)] = h
    return {"ref": h}


def _encode(value):
    return wire.encode(value, _handle)


def _resolve(tag, n):
    if tag == "ref":
        if n not in _objects:
            raise wire.WireError(f"no object with handle {n}")
        return _objects[n]
    return _callback(n)


def _decode(item):
    return wire.decode(item, _resolve)


_STUBS = []  # the judge functions made while decoding the current operation's arguments


def _callback(n):
    def judge_function(*args, **kwargs):
        outcome, message = _exchange({"kind": "callback", "cb": n,
                                      "args": _encode(list(args)), "kwargs": _encode(kwargs)})
        if outcome == "return":
            return _decode(message["value"])
        import builtins

        exc = getattr(builtins, str(message.get("type")), None)
        exc = exc if isinstance(exc, type) and issubclass(exc, Exception) else RuntimeError
        raise exc(message.get("message", ""))

    judge_function.__name__ = f"judge_function_{n}"
    _STUBS.append(judge_function)
    return judge_function


def _error(err):
    frames = traceback.extract_tb(err.__traceback__)
    # the student's own lines (cells), not the agent's: where to look in the notebook
    where = [f"{f.name}, line {f.lineno}: {f.line}" for f in frames
             if f.filename != __file__ and "autograder" not in f.filename][-3:]
    return {"kind": "error", "type": type(err).__name__, "message": str(err)[:4000],
            "where": where}


def _lookup(name):
    import types

    ns = _kernel().shell.user_ns
    if name not in ns:
        return {"kind": "missing"}
    value = ns[name]
    if isinstance(value, types.ModuleType):
        return {"kind": "module", "name": getattr(value, "__name__", "")}
    return {"kind": "result", "value": _encode(value)}


def _type_of(obj):
    t = type(obj)
    return [getattr(t, "__module__", "") or "", getattr(t, "__qualname__", "") or ""]


def _perform(msg):
    op = msg.get("op")
    try:
        if op == "lookup":
            return _lookup(str(msg["name"]))
        if op == "seed":
            import utils

            utils.seed_all(int(msg["seed"]))
            return {"kind": "result", "value": None}
        obj = _decode(msg["ref"]) if "ref" in msg else None
        if op in ("call", "checked_call", "repeat"):
            return _call(op, obj, msg)
        if op == "getattr":
            value = getattr(obj, str(msg["name"]))
        elif op == "setattr":
            setattr(obj, str(msg["name"]), _decode(msg["value"]))
            value = None
        elif op == "getitem":
            value = obj[_decode(msg["key"])]
        elif op == "setitem":
            obj[_decode(msg["key"])] = _decode(msg["value"])
            value = None
        elif op == "len":
            value = int(len(obj))
        elif op == "iter":
            value = []
            for item in obj:
                value.append(item)
                if len(value) > _ITER_LIMIT:
                    raise RuntimeError(f"more than {_ITER_LIMIT} items to iterate over")
        elif op == "bool":
            value = bool(obj)
        elif op == "contains":
            value = bool(_decode(msg["item"]) in obj)
        elif op == "repr":
            value = repr(obj)[:2000]
        elif op == "str":
            value = str(obj)[:100_000]
        elif op == "type":
            value = _type_of(obj)
        elif op == "source":
            import inspect

            value = inspect.getsource(obj)
        else:
            raise wire.WireError(f"unknown operation {op!r}")
        return {"kind": "result", "value": _encode(value)}
    except (Exception, SystemExit) as err:  # the student's error, reported to the judge as data
        return _error(err)


_WARNINGS_LIMIT = 20


def _errstate(settings):
    """The test's NumPy floating-point settings (``np.errstate(over="raise")`` around a call in the
    test), which the judge sends along: the same call in one process would run under them."""
    import contextlib

    if type(settings) is not dict:
        return contextlib.nullcontext()
    import numpy as np

    return np.errstate(**{k: str(v) for k, v in settings.items()
                          if k in ("divide", "over", "under", "invalid")})


def _call(op, obj, msg):
    """Call the student's function; its warnings go back to the judge, whose own filters (a test's
    ``warnings.simplefilter("error")``) decide what they do, as they would in one process."""
    import warnings

    caught = []
    try:
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            try:
                with _errstate(msg.get("np_err")):
                    answer = _call_body(op, obj, msg)
            finally:
                caught = list(log)
    except (Exception, SystemExit) as err:  # the student's error, reported to the judge as data
        answer = _error(err)
    try:
        answer["warnings"] = [[str(w.category.__name__), str(w.message)[:1000], int(w.lineno or 0)]
                              for w in caught[:_WARNINGS_LIMIT]]
    except Exception:  # a warning whose text cannot be read is not passed on
        pass
    return answer


def _call_body(op, obj, msg):
    del _STUBS[:]
    args, kwargs = _decode(msg["args"]), _decode(msg["kwargs"])
    stubs = tuple(_STUBS)
    leaves = list(wire.mutable_leaves([msg["args"], msg["kwargs"]], [args, kwargs]))
    before = [wire.snapshot(v) for v in leaves]
    if op == "call":
        value = obj(*args, **kwargs)
    elif op == "repeat":  # utils.repeat_calls: n calls in one go, the same argument objects each time
        n = int(msg["n"])
        if not 0 <= n <= _REPEAT_LIMIT:
            raise wire.WireError(f"{n} calls asked for at once")
        value = [obj(*args, **kwargs) for _ in range(n)]
    else:
        from utils.checks import check_no_library_calls

        # the judge's functions it was given (a decoder's step) are the test's, not the
        # student's: what they run is not held against the student
        value = check_no_library_calls(str(msg["name"]), obj, *args,
                                       forbidden=tuple(_decode(msg["forbidden"])),
                                       trusted=stubs, **kwargs)
    # inputs the function changed in place go back, so that a test can see it did
    after = [[k, _encode(v)] for k, (v, b) in enumerate(zip(leaves, before, strict=True))
             if wire.changed(v, b)]
    return {"kind": "result", "value": _encode(value), "changed": after}


def _exchange(prompt):
    """Send ``prompt`` to the judge, then do what it asks until it returns, raises or ends."""
    while True:
        message = wire.loads(_ask(wire.dumps(prompt)))
        op = message.get("op")
        if op in ("return", "raise", "end"):
            return op, message
        prompt = _perform(message)


def serve():
    """Run the judge's operations until it says ``end`` (one session per test cell)."""
    _exchange({"kind": "ready", "python": sys.version.split()[0]})
