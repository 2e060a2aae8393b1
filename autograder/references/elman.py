"""Instructor-only references of notebook 02 (Elman RNN): NumPy references, the mistakes the tests
name, and the visible tests' fixtures.

Never shipped to students (see ``__init__.py``). The NumPy references are written apart from the
solution cells (the sequence is one loop over precomputed input products; the softmax divides by a
log-sum-exp); ``tests/test_elman_references.py`` checks them against ``torch.nn``.

The ``*_mistakes`` functions return ``{description: zero-argument callable}`` for
``utils.check_close(..., mistakes=...)``; a callable that cannot be computed for the given shapes (a
transposed weight when ``D != H``) is skipped by ``utils.diagnose``. :func:`fixture_cases` evaluates
them on the visible tests' inputs, so that students get the outputs as data and never this code.

Shapes follow the course: ``x (T, N, D)``, ``x_t (N, D)``, ``h (T, N, H)``, ``W_xh (H, D)``,
``W_hh (H, H)``, ``b_h (H,)``, ``W_hy (V, H)``, ``b_y (V,)``, logits ``(T, N, V)``.
"""

import numpy as np

ASSIGNMENT = "02_elman_rnn"


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _sigmoid(a):
    """The logistic function 1 / (1 + e^-a), written with tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# ------------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------------
def step(x_t, h_prev, W_xh, W_hh, b_h):
    """h_t of one step (N, H): tanh of the stacked product [x_t, h_prev] @ [W_xh, W_hh]^T + b_h."""
    x_t, h_prev = np.asarray(x_t), np.asarray(h_prev)
    return np.tanh(np.concatenate([x_t, h_prev], axis=1) @ np.concatenate([W_xh, W_hh], axis=1).T
                   + b_h)


def forward(x, h0, W_xh, W_hh, b_h):
    """All states h (T, N, H); the input products of every step are one matrix product."""
    x = np.asarray(x)
    T, N, D = x.shape
    pre = (x.reshape(T * N, D) @ np.asarray(W_xh).T).reshape(T, N, -1) + b_h
    h = np.empty(pre.shape, dtype=np.result_type(pre, h0, W_hh))
    h_t = np.asarray(h0)
    for t in range(T):
        h_t = h[t] = np.tanh(pre[t] + h_t @ np.asarray(W_hh).T)
    return h


def output_layer(h, W_hy, b_y):
    """Logits (T, N, V) by einsum."""
    return np.einsum("tnh,vh->tnv", h, W_hy) + b_y


def softmax(logits):
    """exp(z - logsumexp(z)) over the last axis."""
    z = np.asarray(logits)
    m = z.max(axis=-1, keepdims=True)
    return np.exp(z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))


# ------------------------------------------------------------------------------------------------
# One step: h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b_h), rows are examples.
# Each entry maps a description to the wrong step function (x_t, h_prev, W_xh, W_hh, b_h) -> h_t.
# ------------------------------------------------------------------------------------------------
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


def step_mistakes(x_t, h_prev, W_xh, W_hh, b_h):
    """Common wrong answers of ``rnn_step_forward`` for these inputs: ``{description: callable}``.

    x_t (N, D), h_prev (N, H), W_xh (H, D), W_hh (H, H), b_h (H,); each callable returns (N, H).
    """
    args = _f64(x_t, h_prev, W_xh, W_hh, b_h)
    return {desc: (lambda f=f: f(*args)) for desc, f in _STEP_VARIANTS.items()}


# ------------------------------------------------------------------------------------------------
# The forward pass over a sequence.
# ------------------------------------------------------------------------------------------------
def _run(x, h0, params, step_fn):
    h_t, states = h0, []
    for x_t in x:
        h_t = step_fn(x_t, h_t, *params)
        states.append(h_t)
    return np.stack(states)


def _batch_major(x, h0, W_xh, W_hh, b_h):
    """The loop of a student who took axis 1 for time: each 'step' sees x[:, n], of shape (T, D)."""
    h_t, states = h0, []
    for n in range(x.shape[1]):   # (T, D) rows against h_t: NumPy broadcasts a single state (N = 1)
        h_t = np.tanh(x[:, n] @ W_xh.T + h_t @ W_hh.T + b_h)
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
        return forward(x, h0, *params)

    def shifted():
        return np.concatenate([h0[None], right()[:-1]])

    def no_carry():
        return np.stack([step(x_t, h0, *params) for x_t in x])

    mistakes = {
        "stored h_{t-1} instead of h_t: your states are shifted by one step "
        "(h[0] must be h_1, the state after the first input, not h0)": shifted,
        "ignored h0: the recurrence must start from the given h0, not from zeros":
            lambda: forward(x, np.zeros_like(h0), *params),
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


# ------------------------------------------------------------------------------------------------
# The output layer and the softmax.
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# fixtures of the visible tests
# ------------------------------------------------------------------------------------------------
def evaluate(mistakes, expected=None):
    """``{description: array}`` of lazily computed mistakes; those that raise for these shapes are
    left out, and so is one that equals ``expected`` on these inputs (it could never be told apart)."""
    out = {}
    with np.errstate(all="ignore"):
        for description, variant in mistakes.items():
            try:
                value = np.asarray(variant() if callable(variant) else variant, dtype=np.float64)
            except (ValueError, IndexError):
                continue
            if expected is not None and value.shape == np.shape(expected) and np.allclose(
                    value, expected, rtol=1e-6, atol=1e-8):
                continue
            out[description] = value
    return out


def _step_case(x_t, h_prev, W_xh, W_hh, b_h):
    inputs = dict(x_t=x_t, h_prev=h_prev, W_xh=W_xh, W_hh=W_hh, b_h=b_h)
    h_t = step(**inputs)
    return {"inputs": inputs, "expected": {"h_t": h_t},
            "mistakes": {"h_t": evaluate(step_mistakes(**inputs), h_t)}}


def _forward_case(x, h0, W_xh, W_hh, b_h):
    inputs = dict(x=x, h0=h0, W_xh=W_xh, W_hh=W_hh, b_h=b_h)
    h = forward(**inputs)
    return {"inputs": inputs, "expected": {"h": h},
            "mistakes": {"h": evaluate(forward_mistakes(**inputs), h)}}


def _output_case(h, W_hy, b_y):
    inputs = dict(h=h, W_hy=W_hy, b_y=b_y)
    logits = output_layer(**inputs)
    return {"inputs": inputs, "expected": {"logits": logits},
            "mistakes": {"logits": evaluate(output_mistakes(**inputs), logits)}}


def _softmax_case(logits):
    probs = softmax(logits)
    return {"inputs": {"logits": logits}, "expected": {"probs": probs},
            "mistakes": {"probs": evaluate(softmax_mistakes(logits), probs)}}


def fixture_cases():
    """The visible tests' inputs (the same numbers the notebook's tests always used), the right
    outputs and the outputs of every catalogued mistake on them."""
    from utils import seed_all

    cases = {}
    cases["step_hand"] = _step_case(
        np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]), np.array([[0.5, -0.5], [0.0, 0.0]]),
        np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]), np.array([[1.0, 0.0], [2.0, 1.0]]),
        np.array([0.0, -0.5]))
    rng = seed_all(2)
    N, D, H = 4, 5, 5
    x_t, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    W_xh, W_hh = rng.standard_normal((H, D)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H)
    cases["step_random"] = _step_case(x_t, h_prev, W_xh, W_hh, rng.standard_normal(H))

    cases["forward_hand"] = _forward_case(np.array([1.0, 0.0, 0.0]).reshape(3, 1, 1), np.zeros((1, 1)),
                                          np.array([[1.0]]), np.array([[0.5]]), np.array([0.0]))
    rng = seed_all(3)
    T, N, D, H = 5, 3, 4, 4
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    W_xh, W_hh = rng.standard_normal((H, D)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H)
    cases["forward_random"] = _forward_case(x, h0, W_xh, W_hh, rng.standard_normal(H))

    cases["output_hand"] = _output_case(np.array([[[1.0, 0.0]], [[0.5, -1.0]]]),
                                        np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.0]]),
                                        np.array([0.0, 1.0, -1.0]))
    rng = seed_all(6)
    T, N, H, V = 3, 2, 4, 4
    cases["output_random"] = _output_case(rng.standard_normal((T, N, H)), rng.standard_normal((V, H)),
                                          rng.standard_normal(V))

    cases["softmax_hand"] = _softmax_case(np.log(np.array([1.0, 2.0, 3.0])))
    cases["softmax_time_major"] = _softmax_case(seed_all(4).standard_normal((4, 3, 5)))
    cases["softmax_random"] = _softmax_case(3 * seed_all(7).standard_normal((5, 2, 6)))
    return cases
