"""Numerical gradients by central differences, and the relative error used to compare gradients."""

import numpy as np

from .checks import CheckFailure


def rel_error(a, b):
    """Largest relative error ``|a - b| / max(1e-8, |a| + |b|)`` over all entries (a float).

    About 1e-7 or less for float64 gradients means agreement; 1e-2 or more means a bug.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, upstream=None, h=1e-5):
    """Gradient of ``f`` at ``x`` by central differences, ``(f(x+h) - f(x-h)) / 2h``, entry by entry.

    f: function of the array ``x`` (modified in place and restored), returning a scalar or, with
       ``upstream`` given, an array ``y``; the gradient is then that of ``sum(y * upstream)``.
    x: float64 array of any shape. float32 would lose the difference in rounding error: with
       h = 1e-5 its 7 significant digits leave about 2 in the difference quotient.
    Returns an array of the shape of ``x``.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 array, got {x.dtype}: "
                        "convert with x.astype(np.float64).")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        if upstream is None:
            grad[i] = (plus - minus) / (2 * h)
        else:
            grad[i] = np.sum((np.asarray(plus) - np.asarray(minus)) * upstream) / (2 * h)
    return grad


def check_gradient(name, analytic, numeric, tol=1e-6, hint=None):
    """Fail unless the analytic and numerical gradients agree to relative error ``tol``.

    Entry by entry as :func:`rel_error`, except that an entry below 1 % of the gradient's largest is
    measured against 1 % of the largest: central differences leave every entry an absolute error of
    about 1e-11, which is a relative error above 1e-6 on an entry of 1e-6 (a correct peephole LSTM
    failed so on 0.5 % of random draws). A wrong entry is still caught once it is off by more than
    ``tol`` / 100 of the largest entry.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise CheckFailure(f"{name}: gradient of shape {analytic.shape}, expected {numeric.shape} "
                           "(a gradient has the shape of the variable it is taken with respect to).")
    bad = ~(np.isfinite(analytic) & np.isfinite(numeric))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailure(f"{name}: nan or inf in the gradients, first at index {idx}: numerical "
                           f"{numeric[idx]:.6g}, analytic {analytic[idx]:.6g} (an overflow, or 0/0?).")
    size = np.abs(analytic) + np.abs(numeric)
    floor = max(1e-8, 1e-2 * float(np.max(size, initial=0.0)))
    errors = np.abs(analytic - numeric) / np.maximum(size, floor)
    err = float(np.max(errors, initial=0.0))
    if err > tol:
        idx = tuple(int(i) for i in np.unravel_index(np.argmax(errors), errors.shape))
        msg = (f"{name}: relative error {err:.2e} against the numerical gradient "
               f"(should be below {tol:g}).\n"
               f"  Worst entry at index {idx}: numerical {numeric[idx]:.6g}, analytic {analytic[idx]:.6g}.")
        if hint:
            msg += f"\n  Hint: {hint}"
        raise CheckFailure(msg)
