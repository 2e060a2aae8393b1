"""Checks for the notebooks' tests. Each failure says what was expected, what came back, where they
differ and what to look at, so that a failing test teaches.

Every check raises :class:`CheckFailure` (an ``AssertionError``), which nbgrader counts as a failed
test; its message is what the student reads.

The NumPy (and ``sys.setprofile``) functions used here are bound when this module is imported, so a
notebook that later replaces ``np.allclose`` or ``sys.getprofile`` cannot change what these checks
decide.
"""

import ast
import inspect
import sys
import textwrap
import threading

import numpy as np

# Bound at import time: see the module docstring.
_asarray = np.asarray
_abs = np.abs
_isfinite = np.isfinite
_argmax = np.argmax
_unravel = np.unravel_index
_count = np.count_nonzero
_array_equal = np.array_equal
_float64 = np.float64
_setprofile, _getprofile = sys.setprofile, sys.getprofile
_thread_setprofile, _thread_getprofile = threading.setprofile, threading.getprofile


class CheckFailure(AssertionError):
    """A test failed; the message explains what is wrong and where to look."""


def _fail(name, lines, hint=None):
    text = [f"{name}:"] + [f"  {line}" for line in lines]
    if hint:
        text.append(f"  Hint: {hint}")
    raise CheckFailure("\n".join(text))


def _as_numbers(name, value, what="your result"):
    """Convert to a float64 array, or fail with a message that names the type that came back."""
    if value is None:
        _fail(name, [f"{what} is None: did the function forget to `return` its result?"])
    if type(value).__module__.startswith("torch"):
        _fail(name, [f"{what} is a {type(value).__name__} from PyTorch; this exercise works in "
                     "NumPy, so return a NumPy array."])
    try:
        arr = _asarray(value, dtype=_float64)
    except (TypeError, ValueError):
        _fail(name, [f"{what} has type {type(value).__name__}, which is not an array of numbers."])
    return arr


def _fmt(x):
    return np.array2string(_asarray(x), precision=6, threshold=12, edgeitems=3)


def _a(noun):
    """``noun`` with its article: "an int", "a float", "a uint8"."""
    return ("an " if noun[:1].lower() in "aeio" else "a ") + noun


def check_type(name, value, expected_type, dtype=None, items=None, hint=None):
    """Fail unless ``value`` is an ``expected_type`` (a type or a tuple of types), an array of
    ``dtype`` when one is given (exactly: int32 is not int64), and, for ``items``, a sequence whose
    every element is an ``items``."""
    if not isinstance(value, expected_type):
        names = " or ".join(t.__name__ for t in (expected_type if isinstance(expected_type, tuple)
                                                 else (expected_type,)))
        kind = type(value).__name__ if type(value).__module__ == "builtins" else \
            f"{type(value).__module__.split('.')[0]}.{type(value).__name__}"
        _fail(name, [f"expected {_a(names)}, got {_a(kind)}."], hint)
    if dtype is not None and np.dtype(getattr(value, "dtype", None)) != np.dtype(dtype):
        _fail(name, [f"expected dtype {np.dtype(dtype)}, got {value.dtype}."], hint)
    if items is not None:
        wrong = [v for v in value if not isinstance(v, items)]
        if wrong:
            _fail(name, [f"expected every element to be {_a(items.__name__)}, got "
                         f"{_a(type(wrong[0]).__name__)} ({wrong[0]!r})."], hint)


def _same(a, b):
    if isinstance(a, np.random.Generator):  # drawing from a generator is what it is given for
        return True
    if type(a).__module__.startswith("torch") and hasattr(a, "shape") and hasattr(a, "dtype"):
        import torch

        return (isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype
                and bool(torch.equal(a.detach().cpu(), b.detach().cpu())))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:
        return a is b


def call_unchanged(name, func, *args, **kwargs):
    """Call ``func(*args, **kwargs)`` and fail if the call changed one of its arguments in place
    (an array's or a tensor's entries, shape or dtype, a list's items, a dict's entries); returns
    what the call returned. A NumPy Generator argument may change: drawing from it is its use."""
    import copy

    before = copy.deepcopy((args, kwargs))
    result = func(*args, **kwargs)
    pairs = zip(before[0], args, strict=True)
    named = [(f"argument {k + 1}", old, new) for k, (old, new) in enumerate(pairs)]
    named += [(f"argument {key}=", before[1][key], kwargs[key]) for key in kwargs]
    for which, old, new in named:
        if not _same(old, new):
            _fail(name, [f"the call changed its {which} in place: the caller's data is not yours "
                         "to change."],
                  "work on a copy (x = x.copy(), sorted(tokens), x + 1 instead of x += 1), or build "
                  "a new result")
    return result


def check_shape(name, value, expected_shape, hint=None):
    """Fail unless ``value`` has ``expected_shape`` (a tuple; ``None`` entries match anything)."""
    shape = getattr(value, "shape", None)
    if shape is None:
        _fail(name, [f"expected an array of shape {tuple(expected_shape)}, "
                     f"got {_a(type(value).__name__)} with no shape."], hint)
    shape = tuple(shape)
    expected_shape = tuple(expected_shape)
    ok = len(shape) == len(expected_shape) and all(
        e is None or e == s for s, e in zip(shape, expected_shape, strict=True))
    if not ok:
        lines = [f"expected shape {expected_shape}, got {shape}."]
        if sorted(shape) == sorted(e for e in expected_shape if e is not None) and shape:
            lines.append("The sizes are right but in another order: is something transposed, or "
                         "are time and batch swapped? (sequences are time-major: (T, N, D))")
        _fail(name, lines, hint)


def diagnose(got, mistakes, atol=1e-6, rtol=1e-5):
    """Name the first mistaken variant that ``got`` matches, or return ``None``.

    ``mistakes`` maps a description of a mistake ("used sigmoid instead of tanh") to what the
    function returns when it makes that mistake (an array, or a zero-argument callable that
    computes it, so that costly variants are only computed when needed).
    """
    try:
        got = _asarray(got, dtype=_float64)
    except (TypeError, ValueError):
        return None
    for description, variant in (mistakes or {}).items():
        try:
            if callable(variant):
                variant = variant()
            variant = _asarray(variant, dtype=_float64)
        except Exception:  # a variant that cannot be computed for this input is not a match
            continue
        if variant.shape != got.shape:
            continue
        if _count(_abs(got - variant) > atol + rtol * _abs(variant)) == 0:
            return description
    return None


def check_close(name, got, expected, *, atol=1e-8, rtol=1e-6, mistakes=None, hint=None):
    """Fail unless ``got`` equals ``expected`` within ``|got - expected| <= atol + rtol*|expected|``.

    On failure the message gives the shape, the largest error and its index, how many entries
    differ, and, when ``got`` matches one of ``mistakes`` (see :func:`diagnose`), names the mistake.
    """
    narrowed = _narrower_float(got, expected)
    expected = _as_numbers(name, expected, "the reference")
    got = _as_numbers(name, got)
    if got.shape != expected.shape:
        matched = diagnose(got, mistakes, atol=max(atol, 1e-6), rtol=max(rtol, 1e-5))
        lines = [f"expected shape {expected.shape}, got {got.shape}."]
        if matched:
            lines.append(f"Your result matches a common mistake: {matched}.")
        _fail(name, lines, hint)
    bad_numbers = ~_isfinite(got)
    if _count(bad_numbers):
        idx = tuple(int(i) for i in _unravel(_argmax(bad_numbers), got.shape)) if got.ndim else ()
        _fail(name, [f"{_count(bad_numbers)} entries are NaN or infinite (first at index {idx}).",
                     "Look for a division by zero, a log of 0, or an exp that overflows."], hint)
    err = _abs(got - expected)
    too_far = err > atol + rtol * _abs(expected)
    if _count(too_far) == 0:
        return
    idx = tuple(int(i) for i in _unravel(_argmax(err), err.shape)) if err.ndim else ()
    lines = [
        f"{_count(too_far)} of {err.size} entries differ from the reference "
        f"(tolerance {atol:g} + {rtol:g}*|expected|).",
        f"Largest error {float(err[idx]):.3g} at index {idx}: "
        f"expected {float(expected[idx]):.6g}, got {float(got[idx]):.6g}.",
    ]
    if err.size <= 12:
        lines += [f"expected: {_fmt(expected)}", f"got:      {_fmt(got)}"]
    if narrowed:
        lines.append(f"Your result is {narrowed}, the reference float64: {narrowed} keeps fewer "
                     "digits than this tolerance asks for. Keep the inputs' float64 (no "
                     f".astype(np.{narrowed}), no dtype=np.{narrowed}).")
    matched = diagnose(got, mistakes, atol=max(atol, 1e-6), rtol=max(rtol, 1e-5))
    if matched:
        lines.append(f"Your result matches a common mistake: {matched}.")
    _fail(name, lines, hint)


def _narrower_float(got, expected):
    """The name of ``got``'s dtype when it is a float narrower than ``expected``'s float64, else
    None (a result computed in float32 cannot meet a float64 tolerance, and says why)."""
    got_dtype, expected_dtype = getattr(got, "dtype", None), getattr(expected, "dtype", None)
    if got_dtype is None or expected_dtype is None:
        return None
    try:
        if np.dtype(expected_dtype) == np.float64 and np.dtype(got_dtype).kind == "f" \
                and np.dtype(got_dtype).itemsize < 8:
            return np.dtype(got_dtype).name
    except TypeError:
        pass
    return None


def _matching_mistake(got, mistakes):
    for description, variant in (mistakes or {}).items():
        try:
            variant = variant() if callable(variant) else variant
            if type(variant) is type(got) and variant == got:
                return description
        except Exception:  # a variant that cannot be computed or compared is not a match
            continue
    return None


def check_equal(name, got, expected, hint=None, mistakes=None):
    """Fail unless ``got == expected`` exactly (integers, indices, lists, strings, shapes).

    ``mistakes`` maps descriptions of mistakes to what they return (non-array values, compared
    with ``==``); a matching one is named in the message.
    """
    if not isinstance(expected, np.ndarray) and not isinstance(got, np.ndarray):
        matched = None if got == expected else _matching_mistake(got, mistakes)
        if matched:
            _fail(name, [f"expected {expected!r}, got {got!r}.",
                         f"Your result matches a common mistake: {matched}."], hint)
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        got_arr = _asarray(got)
        expected = _asarray(expected)
        if got_arr.shape != expected.shape:
            _fail(name, [f"expected shape {expected.shape}, got {got_arr.shape}."], hint)
        if not _array_equal(got_arr, expected):
            diff = got_arr != expected
            idx = tuple(int(i) for i in _unravel(_argmax(diff), diff.shape)) if diff.ndim else ()
            _fail(name, [f"{_count(diff)} of {diff.size} entries differ; first at index {idx}: "
                         f"expected {expected[idx]!r}, got {got_arr[idx]!r}."], hint)
        return
    if type(got) is not type(expected) and not (
            isinstance(got, (int, np.integer)) and isinstance(expected, (int, np.integer))):
        _fail(name, [f"expected {_a(type(expected).__name__)} ({expected!r}), "
                     f"got {_a(type(got).__name__)} ({got!r})."], hint)
    if got != expected:
        _fail(name, [f"expected {expected!r}, got {got!r}."], hint)


def check_raises(name, func, exception, *args, match=None, hint=None, **kwargs):
    """Fail unless ``func(*args, **kwargs)`` raises ``exception`` (whose message contains ``match``)."""
    try:
        func(*args, **kwargs)
    except exception as err:
        if match is not None and match.lower() not in str(err).lower():
            _fail(name, [f"raised {exception.__name__} as it should, but its message "
                         f"{str(err)!r} does not mention {match!r}."], hint)
        return
    except Exception as err:
        _fail(name, [f"expected {exception.__name__}, got {type(err).__name__}: {err}"], hint)
    _fail(name, [f"expected {exception.__name__} to be raised, but the call returned normally."],
          hint)


def check_defined(namespace, names, hint):
    """Fail with ``hint`` unless every name in ``names`` is defined in ``namespace`` (the test cell's
    ``globals()``): a model or data set that a cell above makes and that cell has not run to its end."""
    missing = []
    for name in names:
        try:
            namespace[name]
        except KeyError:
            missing.append(name)
    if missing:
        raise CheckFailure(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined: {hint}")


def repeat_calls(func, n, *args, **kwargs):
    """``[func(*args, **kwargs) for _ in range(n)]``: ``n`` calls with the same arguments, a random
    generator among them advancing from call to call (draws to count, for a sampling test).

    Under the grader, where ``func`` lives in the student's kernel and the test in the judge, the
    ``n`` calls run there in one go instead of ``n`` round trips; each result is still checked here.
    """
    n = int(n)
    remote = getattr(type(func), "__autograder_repeat__", None)
    if remote is not None:
        results = remote(func, n, args, kwargs)
        if type(results) is not list or len(results) != n:
            raise CheckFailure(f"{n} calls of {getattr(func, '__name__', 'the function')} did not give "
                               f"{n} results")
        return results
    return [func(*args, **kwargs) for _ in range(n)]


def _dotted_names(tree):
    """Every dotted name in the code (``torch.nn.RNN``, ``F.one_hot``) and every imported module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            while isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            if isinstance(node, ast.Name):
                parts.append(node.id)
            names.add(".".join(reversed(parts)))
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def check_no_library(name, func, forbidden):
    """Fail if the source of ``func`` uses any of ``forbidden`` (module or attribute names).

    The exercises re-implement what libraries provide; calling the library instead earns no
    points. ``forbidden`` holds names such as ``"torch"`` or ``"one_hot"``: a use matches when any
    dotted part of a name in the code equals an entry, or the dotted name starts with it.
    """
    try:
        remote = getattr(type(func), "__autograder_source__", None)  # the grader's judge
        source = textwrap.dedent(remote(func) if remote else inspect.getsource(func))
    except (OSError, TypeError):
        _fail(name, ["its source code could not be read; define it with `def` in the notebook."])
    used = _dotted_names(ast.parse(source))
    parts = {p for n in used for p in n.split(".")}
    found = sorted(f for f in forbidden if f in parts or any(n.startswith(f + ".") for n in used))
    if found:
        _fail(name, [f"uses {', '.join(found)}: this exercise asks you to implement it yourself "
                     "with NumPy, so a library call earns no points here."])


def _package_roots(packages):
    """The folders of the installed ``packages`` (top-level names), for telling where code lives."""
    import importlib.util
    import os

    roots = []
    for package in packages:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        for folder in (spec.submodule_search_locations or []) if spec else []:
            roots.append(os.path.realpath(folder) + os.sep)
    return tuple(roots)


def _owner(obj):
    """The top-level package a built-in function or method belongs to ("torch", "numpy", ...)."""
    module = getattr(obj, "__module__", None)
    if not module:
        module = type(getattr(obj, "__self__", None)).__module__
    return (module or "").split(".")[0]


def check_no_library_calls(name, func, *args, forbidden=("torch", "autograder"), trusted=(), **kwargs):
    """Run ``func(*args, **kwargs)`` and fail if it called any code of the ``forbidden`` packages.

    Unlike :func:`check_no_library`, which reads the source, this watches what the function
    *does*: every Python function and every built-in it calls while it runs (through helpers,
    aliases, ``getattr`` or anything else) is checked against the folders and the module names of
    the forbidden packages. ``forbidden`` holds top-level package names; the default forbids
    PyTorch and the grader's instructor-only references. ``trusted`` functions (ones the test
    itself passes to ``func``, such as a decoder's step) are not watched while they run. Returns
    what ``func`` returned.

    What it cannot see: code running in another thread started before the call, or native code
    that calls a library without going through Python. The grader's integrity checks cover those.
    """
    remote = getattr(type(func), "__autograder_calls__", None)
    if remote is not None:  # a function in the student's kernel, seen from the grader's judge
        return remote(func, name, args, kwargs, tuple(forbidden))
    banned = frozenset(forbidden)
    roots = _package_roots(banned)
    found = []
    trusted_code = {getattr(f, "__code__", None) for f in trusted} - {None}
    inside_trusted = []  # frames of the test's own functions that ``func`` is calling

    def watch(frame, event, arg):
        if found:
            return
        if inside_trusted:  # what a function the test passed in does is not the student's
            if event == "return" and frame is inside_trusted[-1]:
                inside_trusted.pop()
            return
        if event == "call" and frame.f_code in trusted_code:
            inside_trusted.append(frame)
            return
        if event == "call" and frame.f_code.co_filename.startswith(roots):
            found.append(f"{frame.f_code.co_name} (in {frame.f_code.co_filename})")
        elif event == "c_call" and _owner(arg) in banned:
            found.append(f"{_owner(arg)}.{getattr(arg, '__name__', arg)}")

    previous, previous_threads = _getprofile(), _thread_getprofile()
    _setprofile(watch)
    _thread_setprofile(watch)
    try:
        result = func(*args, **kwargs)
    finally:
        untouched = _getprofile() is watch
        _setprofile(previous)
        _thread_setprofile(previous_threads)
    if not untouched:
        _fail(name, ["the function changed the interpreter's profiler (sys.setprofile) while it "
                     "ran, which is how this check watches for library calls: remove that."])
    if found:
        _fail(name, [f"while it ran it called {found[0]}: this exercise asks you to implement it "
                     f"yourself with NumPy, so a call into {' or '.join(sorted(banned))} earns no "
                     "points here (also when it is reached through a helper or an alias)."])
    return result
