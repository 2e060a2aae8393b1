"""What crosses between the judge and the student's kernel: plain data, as JSON text.

The judge (:mod:`autograder.judge`) decides the tests; the student's code runs in another process
(:mod:`autograder.agent`). Values cross as plain data only: numbers, strings, ``None``, NumPy arrays
of a numeric, boolean or string dtype, PyTorch tensors, tuples, lists and dicts of them, slices,
``torch.device``/``torch.dtype`` names and NumPy random generators (their state). Anything else
stays where it lives and crosses as a *handle*: the student's objects as ``{"ref": n}``, the
judge's functions as ``{"cb": n}``.

:func:`decode` is the judge's side of the border, so it trusts nothing: it builds fresh arrays from
bytes, checks dtypes and shapes, and accepts only the tags below. An object that claims to equal
anything, an ndarray subclass that lies or a patched NumPy in the student's kernel cannot reach it:
what arrives is bytes, and the judge's own NumPy reads them.
"""

import base64
import json
import os

import numpy as np

MAX_MESSAGE = 256 * 1024 * 1024  # characters; a bigger message is refused, not read
_DTYPE_KINDS = set("biufcUS")    # bool, int, uint, float, complex, str, bytes (no objects)
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
NAMED_TUPLE_PACKAGES = {"torch", "collections"}  # named tuples rebuilt by class, no code run


class WireError(ValueError):
    """A message that is not plain data in the agreed form."""


def _array(a):
    a = np.asarray(a)  # a subclass's own methods are not used: only its bytes cross
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    if a.dtype.kind not in _DTYPE_KINDS or a.dtype.fields is not None:
        raise TypeError(f"an array of dtype {a.dtype} cannot cross")
    return [a.dtype.str, list(a.shape), base64.b64encode(a.tobytes()).decode("ascii")]


def _from_array(item):
    if not (isinstance(item, list) and len(item) == 3):
        raise WireError("a malformed array")
    dtype_str, shape, data = item
    if not isinstance(dtype_str, str) or not isinstance(shape, list) or not isinstance(data, str):
        raise WireError("a malformed array")
    dtype = np.dtype(dtype_str)
    if dtype.kind not in _DTYPE_KINDS or dtype.fields is not None or dtype.hasobject:
        raise WireError(f"an array of dtype {dtype} may not cross")
    if not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("a malformed array shape")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size * dtype.itemsize != len(raw):
        raise WireError("an array whose bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode(value, handle):
    """``value`` as JSON-ready plain data; ``handle(obj)`` gives the tag of anything else."""
    t = type(value)
    if t in (bool, int, str, type(None)):
        return value
    if t is float:
        return {"f": repr(value)}  # JSON has no inf or nan
    if t is complex:
        return {"c": [repr(value.real), repr(value.imag)]}
    if t is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    if t is tuple:
        return {"t": [encode(v, handle) for v in value]}
    if isinstance(value, tuple) and hasattr(t, "_fields") and \
            (t.__module__ or "").split(".")[0] in NAMED_TUPLE_PACKAGES:
        # a library's named tuple (PyTorch's PackedSequence): rebuilt from its fields over there
        return {"nt": [t.__module__, t.__qualname__, [encode(v, handle) for v in value]]}
    if t is list:
        return [encode(v, handle) for v in value]
    if t is dict:
        return {"d": [[encode(k, handle), encode(v, handle)] for k, v in value.items()]}
    if t is slice:
        return {"s": [encode(v, handle) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"e": 1}
    if t in (set, frozenset):
        return {"set": [encode(v, handle) for v in value]}
    if t is range:
        return {"r": [value.start, value.stop, value.step]}
    if isinstance(value, np.ndarray):
        try:
            return {"a": _array(value)}
        except TypeError:
            return handle(value)
    if isinstance(value, np.generic):
        try:
            return {"n": _array(np.asarray(value))}
        except TypeError:
            return handle(value)
    if isinstance(value, np.dtype):
        return {"dt": value.str} if value.kind in _DTYPE_KINDS and value.fields is None else handle(value)
    if isinstance(value, np.random.Generator):
        return {"g": [type(value.bit_generator).__name__, json.dumps(value.bit_generator.state)]}
    torch = _torch()
    if torch is not None:
        if isinstance(value, torch.Tensor) and not value.is_sparse:
            data = value.detach().cpu()
            if data.dtype == torch.bfloat16:  # NumPy has no bfloat16
                data = data.to(torch.float32)
            try:
                return {"T": [_array(data.numpy()), str(value.device), str(value.dtype)]}
            except TypeError:
                return handle(value)
        if isinstance(value, torch.device):
            return {"dev": str(value)}
        if isinstance(value, torch.dtype):
            return {"tdt": str(value)}
    return handle(value)


def decode(item, resolve, depth=0):
    """Plain data from :func:`encode`'s form; ``resolve(tag)`` turns a handle tag into an object."""
    if depth > 64:
        raise WireError("data nested too deep")
    if type(item) in (bool, int, str, type(None)):
        return item
    if type(item) is float:
        return item
    if type(item) is list:
        return [decode(v, resolve, depth + 1) for v in item]
    if type(item) is not dict or len(item) != 1:
        raise WireError(f"unexpected data: {str(item)[:80]}")
    (tag, body), = item.items()
    if tag == "f":
        return float(body)
    if tag == "c":
        return complex(float(body[0]), float(body[1]))
    if tag == "b":
        return base64.b64decode(body.encode("ascii"), validate=True)
    if tag == "t":
        return tuple(decode(v, resolve, depth + 1) for v in _list(body))
    if tag == "d":
        return {_key(decode(k, resolve, depth + 1)): decode(v, resolve, depth + 1)
                for k, v in (_pair(p) for p in _list(body))}
    if tag == "s":
        start, stop, step = (decode(v, resolve, depth + 1) for v in _list(body, 3))
        return slice(start, stop, step)
    if tag == "e":
        return Ellipsis
    if tag == "nt":
        module, qualname, fields = _list(body, 3)
        if str(module).split(".")[0] not in NAMED_TUPLE_PACKAGES:
            raise WireError(f"a named tuple of {module!r} may not cross")
        import importlib

        cls = importlib.import_module(str(module))
        for part in str(qualname).split("."):
            cls = getattr(cls, part)
        if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
            raise WireError(f"{module}.{qualname} is not a named tuple")
        return tuple.__new__(cls, [decode(v, resolve, depth + 1) for v in _list(fields)])
    if tag == "set":
        return {_key(decode(v, resolve, depth + 1)) for v in _list(body)}
    if tag == "r":
        start, stop, step = _list(body, 3)
        if not all(type(v) is int for v in (start, stop, step)):
            raise WireError("a malformed range")
        return range(start, stop, step)
    if tag == "it":
        return iter([decode(v, resolve, depth + 1) for v in _list(body)])
    if tag == "a":
        return _from_array(body)
    if tag == "n":
        return _from_array(body)[()]
    if tag == "dt":
        dtype = np.dtype(str(body))
        if dtype.kind not in _DTYPE_KINDS or dtype.hasobject:
            raise WireError(f"dtype {dtype} may not cross")
        return dtype
    if tag == "g":
        kind, state = _list(body, 2)
        if kind not in ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"):
            raise WireError(f"unknown bit generator {kind!r}")
        bit = getattr(np.random, kind)(0)  # a fixed seed: no OS entropy drawn, the state replaces it
        bit.state = json.loads(state)
        return np.random.Generator(bit)
    if tag in ("T", "dev", "tdt"):
        return _decode_torch(tag, body)
    if tag in ("ref", "cb"):
        if type(body) is not int:
            raise WireError("a malformed handle")
        return resolve(tag, body)
    raise WireError(f"unknown tag {tag!r}")


def _list(body, n=None):
    if type(body) is not list or (n is not None and len(body) != n):
        raise WireError("malformed data")
    return body


def _pair(p):
    return _list(p, 2)


def _key(k):
    if isinstance(k, (list, dict, np.ndarray)):
        raise WireError("an unhashable dict key")
    return k


def _torch():
    import sys

    return sys.modules.get("torch")


def _decode_torch(tag, body):
    import torch

    if tag == "dev":
        return torch.device(str(body))
    if tag == "tdt":
        dtype = getattr(torch, str(body).replace("torch.", ""), None)
        if not isinstance(dtype, torch.dtype):
            raise WireError(f"unknown torch dtype {body!r}")
        return dtype
    array, device, dtype_name = _list(body, 3)
    tensor = torch.from_numpy(_from_array(array))
    dtype = getattr(torch, str(dtype_name).replace("torch.", ""), None)
    if isinstance(dtype, torch.dtype) and dtype != tensor.dtype:
        tensor = tensor.to(dtype)
    device = str(device)
    if device != "cpu" and device.startswith("cuda") and torch.cuda.is_available():
        tensor = tensor.to(device)
    return tensor


def mutable_leaves(item, value):
    """The arrays, tensors and generators of ``value`` that were sent as plain data in ``item``
    (its encoded form), in an order both sides of the border agree on: what a call may change in
    place, to be copied back so that a function that modifies its inputs is seen to."""
    if type(item) is list and isinstance(value, list):
        for i, v in zip(item, value, strict=False):
            yield from mutable_leaves(i, v)
        yield value  # the list itself: a function may replace its entries
    elif type(item) is dict and len(item) == 1:
        (tag, body), = item.items()
        if tag == "t" and isinstance(value, tuple) and type(body) is list:
            for i, v in zip(body, value, strict=False):
                yield from mutable_leaves(i, v)
        elif tag == "d" and isinstance(value, dict) and type(body) is list:
            for pair, v in zip(body, value.values(), strict=False):
                if type(pair) is list and len(pair) == 2:
                    yield from mutable_leaves(pair[1], v)
            yield value
        elif tag in ("a", "T", "g"):
            yield value


def snapshot(value):
    if isinstance(value, list):
        return [id(v) for v in value]
    if isinstance(value, dict):
        return [(k, id(v)) for k, v in value.items()]
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.random.Generator):
        return _state_copy(value.bit_generator.state)
    return value.detach().clone()  # a tensor


def _state_copy(state):
    return {k: (_state_copy(v) if isinstance(v, dict) else v) for k, v in state.items()}


def changed(value, before):
    if isinstance(value, list):
        return [id(v) for v in value] != before
    if isinstance(value, dict):
        return [(k, id(v)) for k, v in value.items()] != before
    if isinstance(value, np.ndarray):
        return value.shape != before.shape or not np.array_equal(value, before, equal_nan=True)
    if isinstance(value, np.random.Generator):
        return value.bit_generator.state != before
    torch = _torch()
    return value.shape != before.shape or not torch.equal(value.detach(), before)


def copy_back(original, new):
    """Put what the other side's call left in ``new`` into ``original``, in place."""
    if isinstance(original, list) and isinstance(new, list):
        original[:] = new
    elif isinstance(original, dict) and isinstance(new, dict):
        original.clear()
        original.update(new)
    elif isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
        original.bit_generator.state = new.bit_generator.state
    elif isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape != new.shape and original.size == new.size:
            try:  # the call reshaped it in place (h.shape = ...): so is the original
                original.shape = new.shape
            except (AttributeError, ValueError):  # a view NumPy cannot reshape in place
                pass
        if original.shape == new.shape and original.flags.writeable:
            np.copyto(original, new, casting="unsafe")
    else:
        torch = _torch()
        if torch is not None and isinstance(original, torch.Tensor) and isinstance(new, torch.Tensor) \
                and original.shape == new.shape:
            with torch.no_grad():
                original.copy_(new.to(original.device, original.dtype))


def send(fd, text):
    """One message on a pipe: its length (8 bytes), then the UTF-8 text."""
    data = text.encode("utf-8")
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def receive(fd, wait=None):
    """The next message on a pipe (``wait(fd)`` is called before each blocking read); raises
    EOFError when the other end has closed it."""
    size = int.from_bytes(_read_exactly(fd, 8, wait), "little")
    if size > MAX_MESSAGE * 4:
        raise WireError("a message too long")
    return _read_exactly(fd, size, None).decode("utf-8")  # the writer is in the middle of it


def _read_exactly(fd, n, wait):
    chunks, left = [], n
    while left:
        if wait is not None:
            wait(fd)
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the pipe was closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def dumps(message):
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def loads(text):
    if not isinstance(text, str) or len(text) > MAX_MESSAGE:
        raise WireError("a message too long or not text")
    try:
        message = json.loads(text)
    except ValueError as err:
        raise WireError(f"not a message: {err}") from None
    if type(message) is not dict:
        raise WireError("not a message")
    return message
