"""The Elman RNN of notebook 02: the mistakes its tests can name, and independent references.

The tests of notebook 02 compare a student's function with a reference; when the answer is wrong,
``utils.check_close(..., mistakes=...)`` looks through a catalogue of common wrong answers and names
the one the student's output matches. The ``*_mistakes`` functions below build those catalogues:
each returns ``{description: zero-argument callable}``, and a callable that cannot be computed for
the given shapes (a transposed weight when ``D != H``) is simply skipped by ``utils.diagnose``.

The references (``*_torch``) are ``torch.nn`` modules that receive the NumPy weights, as in
:mod:`utils.torch_ref`, so they share no code with the exercises. The helpers at the end support the
notebook's demonstrations: the parameter count and scaled orthogonal matrices. (The count of
notebook 01's fully connected layer is an exercise there, so it is not given here.)

Shapes follow the course: ``x (T, N, D)``, ``x_t (N, D)``, ``h (T, N, H)``, ``W_xh (H, D)``,
``W_hh (H, H)``, ``b_h (H,)``, ``W_hy (V, H)``, ``b_y (V,)``, logits ``(T, N, V)``.
"""

import numpy as np
import torch

from .torch_ref import elman_forward_torch, to_numpy, to_torch

__all__ = [
    "elman_forward_torch",
    "elman_param_count",
    "elman_step_torch",
    "forward_mistakes",
    "output_layer_torch",
    "output_mistakes",
    "scaled_orthogonal",
    "softmax_mistakes",
    "softmax_torch",
    "step_mistakes",
]


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _sigmoid(a):
    """The logistic function 1 / (1 + e^-a), written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# --------------------------------------------------------------------------------------------------
# One step: h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b_h), rows are examples.
# Each entry maps a description to the wrong step function (x_t, h_prev, W_xh, W_hh, b_h) -> h_t.
_STEP_VARIANTS = {
    "used the logistic sigmoid σ instead of tanh (the Elman RNN's activation is tanh)":
        lambda x, h, Wx, Wh, b: _sigmoid(x @ Wx.T + h @ Wh.T + b),
    "no activation: returned a_t = W_xh x_t + W_hh h_{t-1} + b_h without applying tanh":
        lambda x, h, Wx, Wh, b: x @ Wx.T + h @ Wh.T + b,
    "used ReLU instead of tanh":
        lambda x, h, Wx, Wh, b: np.maximum(x @ Wx.T + h @ Wh.T + b, 0.0),
    "forgot the bias b_h":
        lambda x, h, Wx, Wh, b: np.tanh(x @ Wx.T + h @ Wh.T),
    "W_xh not transposed: wrote x_t @ W_xh where the row convention needs x_t @ W_xh.T":
        lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh.T + b),
    "W_hh transposed: wrote h_prev @ W_hh (that is W_hhᵀ h_{t-1}) instead of h_prev @ W_hh.T":
        lambda x, h, Wx, Wh, b: np.tanh(x @ Wx.T + h @ Wh + b),
    "both weights not transposed: wrote x_t @ W_xh + h_prev @ W_hh":
        lambda x, h, Wx, Wh, b: np.tanh(x @ Wx + h @ Wh + b),
    "swapped the weights: W_xh multiplied h_{t-1} and W_hh multiplied x_t":
        lambda x, h, Wx, Wh, b: np.tanh(h @ Wx.T + x @ Wh.T + b),
    "left out the previous state: h_t must depend on W_hh h_{t-1}":
        lambda x, h, Wx, Wh, b: np.tanh(x @ Wx.T + b),
    "left out the input: h_t must depend on W_xh x_t":
        lambda x, h, Wx, Wh, b: np.tanh(h @ Wh.T + b),
}


def _step(x_t, h_prev, W_xh, W_hh, b_h):
    return np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)


def step_mistakes(x_t, h_prev, W_xh, W_hh, b_h):
    """Common wrong answers of ``rnn_step_forward`` for these inputs: ``{description: callable}``.

    x_t (N, D), h_prev (N, H), W_xh (H, D), W_hh (H, H), b_h (H,); each callable returns (N, H).
    """
    args = _f64(x_t, h_prev, W_xh, W_hh, b_h)
    return {desc: (lambda f=f: f(*args)) for desc, f in _STEP_VARIANTS.items()}


# --------------------------------------------------------------------------------------------------
# The forward pass over a sequence.
def _run(x, h0, params, step):
    h_t, states = h0, []
    for x_t in x:
        h_t = step(x_t, h_t, *params)
        states.append(h_t)
    return np.stack(states)


def _batch_major(x, h0, W_xh, W_hh, b_h):
    """The loop of a student who took axis 1 for time: each 'step' sees x[:, n], of shape (T, D)."""
    h_t, states = h0, []
    for n in range(x.shape[1]):
        h_t = _step(x[:, n], h_t, W_xh, W_hh, b_h)
        states.append(h_t)
    return np.stack(states)


def forward_mistakes(x, h0, W_xh, W_hh, b_h):
    """Common wrong answers of ``rnn_forward`` (its states ``h``): ``{description: callable}``.

    x (T, N, D), h0 (N, H); each callable returns what the mistaken code returns for ``h``
    (usually (T, N, H); another shape where the mistake changes it).
    """
    x, h0, W_xh, W_hh, b_h = _f64(x, h0, W_xh, W_hh, b_h)
    params = (W_xh, W_hh, b_h)

    def right():
        return _run(x, h0, params, _step)

    def shifted():
        return np.concatenate([h0[None], right()[:-1]])

    def no_carry():
        return np.stack([_step(x_t, h0, *params) for x_t in x])

    mistakes = {
        "stored h_{t-1} instead of h_t: your states are shifted by one step "
        "(h[0] must be h_1, the state after the first input, not h0)": shifted,
        "ignored h0: the recurrence must start from the given h0, not from zeros":
            lambda: _run(x, np.zeros_like(h0), params, _step),
        "did not carry the state: every step used h0 instead of the previous step's h_t": no_carry,
        "looped over axis 1 (the batch) instead of axis 0 (time): x is time-major, "
        "x[t] has shape (N, D)": lambda: _batch_major(x, h0, *params),
        "returned only the last state h_T instead of all T states": lambda: right()[-1],
        "returned the states in reverse time order": lambda: right()[::-1],
    }
    for desc, f in _STEP_VARIANTS.items():
        mistakes[f"every step has the mistake of rnn_step_forward: {desc} "
                 "(fix rnn_step_forward first)"] = lambda f=f: _run(x, h0, params, f)
    return mistakes


# --------------------------------------------------------------------------------------------------
# The output layer and the softmax.
def output_mistakes(h, W_hy, b_y):
    """Common wrong answers of ``output_layer`` (logits): ``{description: callable}``.

    h (T, N, H), W_hy (V, H), b_y (V,).
    """
    h, W_hy, b_y = _f64(h, W_hy, b_y)
    return {
        "forgot the bias b_y": lambda: h @ W_hy.T,
        "W_hy not transposed: wrote h @ W_hy where the row convention needs h @ W_hy.T":
            lambda: h @ W_hy + b_y,
        "applied tanh to the logits: the output layer is affine, y_t = W_hy h_t + b_y":
            lambda: np.tanh(h @ W_hy.T + b_y),
        "applied softmax: output_layer returns the logits (scores); softmax is a separate step":
            lambda: _softmax(h @ W_hy.T + b_y, axis=-1),
        "used only the last hidden state h_T: the output layer gives logits at every step":
            lambda: h[-1] @ W_hy.T + b_y,
    }


def _softmax(z, axis):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_mistakes(logits):
    """Common wrong answers of ``softmax`` (probabilities over the last axis): ``{desc: callable}``.

    logits: any shape (..., V). Variants that need an axis the input lacks are skipped.
    """
    (z,) = _f64(logits)
    shifted = np.exp(z - np.max(z, axis=-1, keepdims=True))
    mistakes = {
        "normalised over axis 0 (time) instead of the last axis (the vocabulary)":
            lambda: _softmax(z, axis=0),
        "normalised over axis 0 (time) instead of the last axis (the vocabulary): "
        "np.sum(..., axis=0)": lambda: shifted / np.sum(shifted, axis=0, keepdims=True),
        "exp without normalising: divide by the sum over the last axis, so that each row of "
        "probabilities sums to 1": lambda: shifted,
        "exp without normalising (and without subtracting the max): divide by the sum over the "
        "last axis, so that each row sums to 1": lambda: np.exp(z),
        "normalised over all entries at once (np.sum without axis): each row must sum to 1 "
        "on its own": lambda: shifted / np.sum(shifted),
        "normalised over all entries at once (np.sum without axis), after subtracting one global "
        "max: each row must sum to 1 on its own":
            lambda: np.exp(z - z.max()) / np.sum(np.exp(z - z.max())),
    }
    if z.ndim >= 3:
        mistakes["normalised over axis 1 (the batch) instead of the last axis (the vocabulary)"] = (
            lambda: _softmax(z, axis=1))
    return mistakes


# --------------------------------------------------------------------------------------------------
# Independent references built on torch.nn modules (float64).
def elman_step_torch(x_t, h_prev, W_xh, W_hh, b_h):
    """One step computed by ``torch.nn.RNNCell`` with the weights copied in (b_ih = b_h, b_hh = 0).

    x_t (N, D), h_prev (N, H). Returns a NumPy array (N, H).
    """
    H, D = np.shape(W_xh)
    cell = torch.nn.RNNCell(D, H, bias=True, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(to_torch(W_xh))
        cell.weight_hh.copy_(to_torch(W_hh))
        cell.bias_ih.copy_(to_torch(b_h))
        cell.bias_hh.zero_()
        return to_numpy(cell(to_torch(x_t), to_torch(h_prev)))


def output_layer_torch(h, W_hy, b_y):
    """The logits ``W_hy h_t + b_y`` at every step, by ``torch.nn.Linear`` with copied weights.

    h (T, N, H), W_hy (V, H), b_y (V,). Returns a NumPy array (T, N, V).
    """
    V, H = np.shape(W_hy)
    layer = torch.nn.Linear(H, V, bias=True, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(to_torch(W_hy))
        layer.bias.copy_(to_torch(b_y))
        return to_numpy(layer(to_torch(h)))


def softmax_torch(logits):
    """``torch.softmax`` over the last axis, in float64; a NumPy array of the input's shape."""
    with torch.no_grad():
        return to_numpy(torch.softmax(to_torch(logits), dim=-1))


# --------------------------------------------------------------------------------------------------
# Parameter counts and matrices for the notebook's demonstrations.
def elman_param_count(D, H, V=None):
    """Parameters of an Elman RNN: H·D + H·H + H (W_xh, W_hh, b_h), + V·H + V with an output layer.

    The count does not depend on the sequence length T: the same weights serve every step.
    """
    count = H * D + H * H + H
    if V is not None:
        count += V * H + V
    return count


def scaled_orthogonal(n, scale, rng):
    """``scale`` times a random orthogonal (n, n) matrix: every singular value equals ``scale``.

    rng: a NumPy Generator (from ``utils.seed_all``). The QR factor is made unique by fixing the
    signs of R's diagonal, so the matrix is uniformly distributed over the orthogonal group.
    """
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    return scale * q
