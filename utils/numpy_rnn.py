"""Reference NumPy Elman RNN: forward and backward passes with the course-wide signatures.

These are the functions students write in notebooks 02 (forward) and 03 (backward); later notebooks
import them for their experiments. Shapes are time-major and the weights are laid out as in the
maths and in PyTorch::

    x (T, N, D)   h0 (N, H)   h (T, N, H)   logits (T, N, V)
    W_xh (H, D)   W_hh (H, H)   b_h (H,)    W_hy (V, H)   b_y (V,)

    a_t = W_xh x_t + W_hh h_{t-1} + b_h,   h_t = tanh(a_t),   y_t = W_hy h_t + b_y

With a batch of row vectors the code computes ``x_t @ W_xh.T``. Everything keeps the dtype of its
inputs (float64 in the exercises).

The last part of the module holds what the notebooks' tests need: an independent reference computed
with ``torch.autograd`` (:func:`torch_rnn_gradients`) and the *mistake variants* (what a function
returns when it makes a common mistake), so that a failing test can name the mistake.
"""

import numpy as np

from .text import one_hot

# --------------------------------------------------------------------------------------------
# Forward pass (notebook 02)
# --------------------------------------------------------------------------------------------


def rnn_step_forward(x_t, h_prev, W_xh, W_hh, b_h):
    """One step of the Elman RNN: h_t = tanh(x_t W_xhᵀ + h_prev W_hhᵀ + b_h).

    x_t: (N, D), h_prev: (N, H), W_xh: (H, D), W_hh: (H, H), b_h: (H,).
    Returns (h_t, cache): h_t (N, H) and cache = (x_t, h_prev, h_t, W_xh, W_hh), what the
    backward step needs.
    """
    h_t = np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b_h)
    return h_t, (x_t, h_prev, h_t, W_xh, W_hh)


def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """The Elman RNN over a whole sequence.

    x: (T, N, D), h0: (N, H). Returns (h, cache): all hidden states h (T, N, H), where h[t] is
    h_t, and cache, the list of the T step caches.
    """
    T = x.shape[0]
    h = []
    cache = []
    h_t = h0
    for t in range(T):
        h_t, step_cache = rnn_step_forward(x[t], h_t, W_xh, W_hh, b_h)
        h.append(h_t)
        cache.append(step_cache)
    return np.stack(h), cache


def output_layer(h, W_hy, b_y):
    """Logits y_t = W_hy h_t + b_y at every step. h: (T, N, H) -> logits (T, N, V)."""
    return h @ W_hy.T + b_y


def softmax(logits):
    """Probabilities over the last axis, computed stably (the largest logit is subtracted first)."""
    z = logits - np.max(logits, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Backward pass (notebook 03)
# --------------------------------------------------------------------------------------------


def rnn_step_backward(dh_t, cache):
    """Backward pass of one step.

    dh_t: (N, H), the gradient of the loss with respect to h_t (everything that reaches h_t).
    cache: (x_t, h_prev, h_t, W_xh, W_hh) from :func:`rnn_step_forward`.
    Returns (dx_t (N, D), dh_prev (N, H), dW_xh (H, D), dW_hh (H, H), db_h (H,)).
    """
    x_t, h_prev, h_t, W_xh, W_hh = cache
    da = dh_t * (1 - h_t**2)  # tanh'(a_t) = 1 - tanh(a_t)^2 = 1 - h_t^2
    dx_t = da @ W_xh
    dh_prev = da @ W_hh
    dW_xh = da.T @ x_t
    dW_hh = da.T @ h_prev
    db_h = da.sum(axis=0)
    return dx_t, dh_prev, dW_xh, dW_hh, db_h


def rnn_backward(dh, cache):
    """Backpropagation through time over the whole sequence.

    dh: (T, N, H), the upstream gradient on every hidden state (from the outputs y_t).
    cache: the list of step caches from :func:`rnn_forward`.
    Returns (dx (T, N, D), dh0 (N, H), dW_xh (H, D), dW_hh (H, H), db_h (H,)); the weight
    gradients are summed over time.
    """
    return rnn_backward_truncated(dh, cache, k=len(cache))


def rnn_backward_truncated(dh, cache, k):
    """Truncated BPTT in blocks of ``k`` steps.

    The steps are cut into blocks {0..k-1}, {k..2k-1}, ...; the gradient that enters at h_t flows
    back only to the first step of its block (at most k steps): the state entering a block is
    treated as a constant, as ``h.detach()`` at every block start does in PyTorch. ``dh0`` gets
    only what flows back from the first block. ``k >= T`` is full BPTT.

    dh: (T, N, H), cache: list of T step caches, k: int >= 1.
    Returns (dx, dh0, dW_xh, dW_hh, db_h) as :func:`rnn_backward`.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    x0, h_prev0, _, W_xh, W_hh = cache[0]
    T = len(cache)
    dx = np.zeros((T,) + x0.shape, dtype=np.result_type(dh, x0))
    dW_xh = np.zeros_like(W_xh, dtype=dx.dtype)
    dW_hh = np.zeros_like(W_hh, dtype=dx.dtype)
    db_h = np.zeros(W_hh.shape[0], dtype=dx.dtype)
    dh_next = np.zeros_like(dh[0])
    for t in reversed(range(T)):
        if (t + 1) % k == 0:  # last step of a block: nothing flows in from the block after it
            dh_next = np.zeros_like(dh_next)
        dx[t], dh_next, dW_xh_t, dW_hh_t, db_h_t = rnn_step_backward(dh[t] + dh_next, cache[t])
        dW_xh += dW_xh_t
        dW_hh += dW_hh_t
        db_h += db_h_t
    return dx, dh_next, dW_xh, dW_hh, db_h


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of the softmax over the last axis, and its gradient.

    logits: (T, N, V) (any leading shape), targets: (T, N) integer class indices.
    Returns (loss, dlogits): loss = mean over the T*N positions of -log softmax(logits)[target],
    a float; dlogits = (softmax(logits) - one_hot(targets)) / (T*N), of the shape of logits.
    Stable for any logits: log-probabilities use the log-sum-exp trick.
    """
    targets = np.asarray(targets)
    V = logits.shape[-1]
    z = logits.reshape(-1, V)
    y = targets.reshape(-1)
    M = z.shape[0]
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(M), y].mean()
    dz = np.exp(log_probs)
    dz[np.arange(M), y] -= 1
    dz /= M
    return float(loss), dz.reshape(logits.shape)


def output_layer_backward(dlogits, h, W_hy):
    """Backward pass of :func:`output_layer`.

    dlogits: (T, N, V), h: (T, N, H), W_hy: (V, H).
    Returns (dh (T, N, H), dW_hy (V, H), db_y (V,)); the weight gradients are summed over time
    and batch.
    """
    V = dlogits.shape[-1]
    H = h.shape[-1]
    dh = dlogits @ W_hy
    dW_hy = dlogits.reshape(-1, V).T @ h.reshape(-1, H)
    db_y = dlogits.reshape(-1, V).sum(axis=0)
    return dh, dW_hy, db_y


# --------------------------------------------------------------------------------------------
# A character-level language model built from the pieces above
# --------------------------------------------------------------------------------------------

PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def init_params(D, H, V, rng):
    """Random weights of an Elman RNN with an output layer, as a dict of float64 arrays.

    Weights are drawn from N(0, 1/fan_in) (so that a_t starts with unit-size entries whatever the
    sizes), W_hh from N(0, 1/H) scaled by 1/2 so that the network starts far from explosion;
    biases start at zero. rng: a NumPy Generator (from :func:`utils.seed_all`).
    """
    return {
        "W_xh": rng.standard_normal((H, D)) / np.sqrt(D),
        "W_hh": 0.5 * rng.standard_normal((H, H)) / np.sqrt(H),
        "b_h": np.zeros(H),
        "W_hy": rng.standard_normal((V, H)) / np.sqrt(H),
        "b_y": np.zeros(V),
    }


def sample(params, first, n, rng, temperature=1.0, h0=None):
    """Generate ``n`` codes from a character model, starting from the code ``first``.

    Each output is drawn from softmax(y_t / temperature) and fed back as the next one-hot input
    (temperature < 1 is more conservative, > 1 more random). Returns a list of ``n`` ints
    (``first`` not included).
    """
    V, H = params["W_hy"].shape
    h = np.zeros((1, H)) if h0 is None else h0
    code = first
    out = []
    for _ in range(n):
        x_t = one_hot([code], V)
        h, _ = rnn_step_forward(x_t, h, params["W_xh"], params["W_hh"], params["b_h"])
        logits = (h @ params["W_hy"].T + params["b_y"]) / temperature
        p = softmax(logits)[0]
        code = int(rng.choice(V, p=p))
        out.append(code)
    return out


# --------------------------------------------------------------------------------------------
# Independent reference with torch.autograd (for tests)
# --------------------------------------------------------------------------------------------


def torch_rnn_gradients(x, h0, W_xh, W_hh, b_h, dh, k=None):
    """Gradients of sum_t <dh[t], h_t> computed by ``torch.autograd``, independently of the above.

    The forward pass runs in PyTorch (float64); with ``k`` given, the state is detached at every
    block start t = k, 2k, ... (truncated BPTT in blocks of k steps).
    Returns NumPy arrays (dx, dh0, dW_xh, dW_hh, db_h).
    """
    import torch

    def leaf(a):
        return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)

    xs, h_t, Wx, Wh, b = (leaf(a) for a in (x, h0, W_xh, W_hh, b_h))
    first = h_t
    states = []
    for t in range(xs.shape[0]):
        if k is not None and t > 0 and t % k == 0:
            h_t = h_t.detach()
        h_t = torch.tanh(xs[t] @ Wx.T + h_t @ Wh.T + b)
        states.append(h_t)
    loss = (torch.stack(states) * torch.tensor(np.asarray(dh, dtype=np.float64))).sum()
    grads = torch.autograd.grad(loss, [xs, first, Wx, Wh, b], allow_unused=True)
    out = []
    for g, like in zip(grads, (xs, first, Wx, Wh, b), strict=True):
        out.append(np.zeros(tuple(like.shape)) if g is None else g.detach().numpy().copy())
    return tuple(out)


def numerical_grads(forward, inputs, upstream):
    """Numerical gradients of sum(forward(*inputs)[0] * upstream) with respect to each input.

    forward: rnn_step_forward or rnn_forward (anything returning (output, cache)); inputs: the list
    of its float64 arguments; upstream: the gradient on the output. Central differences
    (:func:`utils.numerical_gradient`). Returns a tuple of arrays shaped like ``inputs``.
    """
    from .gradcheck import numerical_gradient

    grads = []
    for i in range(len(inputs)):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return forward(*args)[0]
        grads.append(numerical_gradient(f, np.array(inputs[i], dtype=np.float64), upstream))
    return tuple(grads)


def truncated_objective(x, h0, W_xh, W_hh, b_h, dh, k, h_fixed):
    """sum_t <dh[t], h_t> when every block of k steps starts from a constant state.

    Block b covers the steps s = b*k .. b*k + k - 1 and starts from h0 (first block) or from
    ``h_fixed[b*k - 1]``, a constant (the state of the full forward pass, not recomputed when the
    weights move). The gradient of this objective is what truncated BPTT in blocks of k computes.
    """
    total = 0.0
    for s in range(0, x.shape[0], k):
        start = h0 if s == 0 else h_fixed[s - 1]
        h_block, _ = rnn_forward(x[s:s + k], start, W_xh, W_hh, b_h)
        total += np.sum(h_block * dh[s:s + k])
    return total


def numerical_truncated_grads(x, h0, W_xh, W_hh, b_h, dh, k):
    """Numerical gradients of :func:`truncated_objective`: (dx, dh0, dW_xh, dW_hh, db_h)."""
    from .gradcheck import numerical_gradient

    inputs = [np.array(a, dtype=np.float64) for a in (x, h0, W_xh, W_hh, b_h)]
    h_fixed = rnn_forward(*inputs)[0]
    grads = []
    for i in range(5):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return truncated_objective(*args, dh, k, h_fixed)
        grads.append(numerical_gradient(f, inputs[i].copy()))
    return tuple(grads)


def torch_softmax_cross_entropy(logits, targets):
    """Mean cross-entropy and its gradient by ``torch.nn.functional.cross_entropy`` + autograd."""
    import torch

    z = torch.tensor(np.asarray(logits, dtype=np.float64), requires_grad=True)
    y = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    loss = torch.nn.functional.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1))
    loss.backward()
    return float(loss.detach()), z.grad.numpy().copy()


# --------------------------------------------------------------------------------------------
# Mistake variants (what a function returns when it makes a common mistake)
# --------------------------------------------------------------------------------------------

#: Names of the outputs of the step and sequence backward passes, in order.
BACKWARD_OUTPUTS = ("dx", "dh_prev", "dW_xh", "dW_hh", "db_h")


def step_backward_mistakes(dh_t, cache):
    """{description: (dx_t, dh_prev, dW_xh, dW_hh, db_h)}: common mistakes in rnn_step_backward.

    A mistake that cannot be computed for these shapes (a transposed weight when D != H) is left
    out.
    """
    x_t, h_prev, h_t, W_xh, W_hh = cache
    da = dh_t * (1 - h_t**2)

    def grads(da, dx=None, dh_prev=None, dW_xh=None, dW_hh=None, db=None):
        return (da @ W_xh if dx is None else dx(da),
                da @ W_hh if dh_prev is None else dh_prev(da),
                da.T @ x_t if dW_xh is None else dW_xh(da),
                da.T @ h_prev if dW_hh is None else dW_hh(da),
                da.sum(axis=0) if db is None else db(da))

    recipes = {
        "forgot the derivative of tanh (1 - h_t**2)": lambda: grads(dh_t),
        "used 1 - h_prev**2 instead of 1 - h_t**2 for tanh'":
            lambda: grads(dh_t * (1 - h_prev**2)),
        "used 1 - tanh(h_t)**2 (tanh applied twice) for tanh'":
            lambda: grads(dh_t * (1 - np.tanh(h_t)**2)),
        "used dW_xh = x_t.T @ da (transposed: dW_xh must have the shape (H, D) of W_xh)":
            lambda: grads(da, dW_xh=lambda d: x_t.T @ d),
        "used h_t instead of h_prev in dW_hh (W_hh multiplies h_{t-1})":
            lambda: grads(da, dW_hh=lambda d: d.T @ h_t),
        "used dW_hh = h_prev.T @ da (transposed)":
            lambda: grads(da, dW_hh=lambda d: h_prev.T @ d),
        "db_h not summed over the batch (it must have the shape (H,) of b_h)":
            lambda: grads(da, db=lambda d: d),
        "db_h averaged over the batch instead of summed":
            lambda: grads(da, db=lambda d: d.mean(axis=0)),
        "used W_hh.T for dh_prev (the row-vector code needs da @ W_hh)":
            lambda: grads(da, dh_prev=lambda d: d @ W_hh.T),
        "used W_xh.T for dx_t (the row-vector code needs da @ W_xh)":
            lambda: grads(da, dx=lambda d: d @ W_xh.T),
    }
    variants = {}
    for name, recipe in recipes.items():
        try:
            variants[name] = recipe()
        except ValueError:  # shapes that do not fit: this mistake would raise, not return
            continue
    return variants


def _sequence_backward(dh, cache, add_next=True, accumulate=True, reverse=True, k=None):
    """rnn_backward with switches that reproduce common mistakes (all True: correct)."""
    T = len(cache)
    dx, dW_xh, dW_hh, db_h = [None] * T, 0, 0, 0
    dh_next = np.zeros_like(dh[0])
    order = reversed(range(T)) if reverse else range(T)
    for t in order:
        if k is not None and (t + 1) % k == 0:
            dh_next = np.zeros_like(dh_next)
        upstream = dh[t] + dh_next if add_next else dh[t]
        dx[t], dh_next, gx, gh, gb = rnn_step_backward(upstream, cache[t])
        if accumulate:
            dW_xh, dW_hh, db_h = dW_xh + gx, dW_hh + gh, db_h + gb
        else:
            dW_xh, dW_hh, db_h = gx, gh, gb
    return np.stack(dx), dh_next, dW_xh, dW_hh, db_h


def sequence_backward_mistakes(dh, cache):
    """{description: (dx, dh0, dW_xh, dW_hh, db_h)} of common mistakes in rnn_backward."""
    correct = _sequence_backward(dh, cache)
    first_step = rnn_step_backward(dh[-1], cache[-1])  # the backward step done first
    return {
        "did not add the gradient flowing back from h_{t+1} (dh_next) to dh[t]":
            _sequence_backward(dh, cache, add_next=False),
        "overwrote the weight gradients at each step instead of summing them over time":
            _sequence_backward(dh, cache, accumulate=False),
        "returned dh[0] (the upstream gradient at step 0) instead of dh0":
            correct[:1] + (dh[0],) + correct[2:],
        "returned dh[-1] (the upstream gradient at the last step) instead of dh0":
            correct[:1] + (dh[-1],) + correct[2:],
        "returned dh_prev of the last time step (the first backward step) instead of dh0":
            correct[:1] + (first_step[1],) + correct[2:],
        "iterated forward in time (BPTT must go from t = T-1 down to 0)":
            _sequence_backward(dh, cache, reverse=False),
    }


def truncated_backward_mistakes(dh, cache, k):
    """{description: (dx, dh0, dW_xh, dW_hh, db_h)} of common mistakes in rnn_backward_truncated."""
    T = len(cache)

    def shifted():  # resets at t % k == 0: the blocks are {0}, {1..k}, {k+1..2k}, ...
        dx, dW_xh, dW_hh, db_h = [None] * T, 0, 0, 0
        dh_next = np.zeros_like(dh[0])
        for t in reversed(range(T)):
            if t % k == 0:
                dh_next = np.zeros_like(dh_next)
            dx[t], dh_next, gx, gh, gb = rnn_step_backward(dh[t] + dh_next, cache[t])
            dW_xh, dW_hh, db_h = dW_xh + gx, dW_hh + gh, db_h + gb
        return np.stack(dx), dh_next, dW_xh, dW_hh, db_h

    def window():  # each entry point t carried back through exactly k steps (another scheme)
        dx, dh0 = np.zeros((T,) + cache[0][0].shape), np.zeros_like(dh[0])
        dW_xh, dW_hh, db_h = 0, 0, 0
        for t in range(T):
            g = dh[t]
            for s in range(t, max(t - k, -1), -1):
                dx_s, g, gx, gh, gb = rnn_step_backward(g, cache[s])
                dx[s] += dx_s
                dW_xh, dW_hh, db_h = dW_xh + gx, dW_hh + gh, db_h + gb
            if t < k:
                dh0 = dh0 + g
        return dx, dh0, dW_xh, dW_hh, db_h

    variants = {
        "no truncation (this is full BPTT: reset the flowing gradient at block boundaries)":
            _sequence_backward(dh, cache),
        "blocks of k + 1 steps instead of k (an off-by-one in the block boundary)":
            _sequence_backward(dh, cache, k=k + 1),
    }
    if k > 1:  # with k = 1 these mistakes give the right answer
        variants.update({
            "blocks of k - 1 steps instead of k (an off-by-one in the block boundary)":
                _sequence_backward(dh, cache, k=k - 1),
            "block boundaries shifted by one step (the flowing gradient is reset when t % k == 0 "
            "instead of when (t + 1) % k == 0)": shifted(),
            "a sliding window of k steps for each entry point (another truncation scheme; this "
            "exercise asks for blocks of k steps, as detach() every k steps)": window(),
        })
    return variants


def cross_entropy_mistakes(logits, targets):
    """{description: (loss, dlogits)} of common mistakes in softmax_cross_entropy."""
    targets = np.asarray(targets)
    V = logits.shape[-1]
    z = logits.reshape(-1, V)
    y = targets.reshape(-1)
    M = z.shape[0]
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    nll = -log_p[np.arange(M), y]
    onehot = np.eye(V)[y]
    N = logits.shape[1] if logits.ndim == 3 else M

    def shaped(d):
        return d.reshape(logits.shape)

    return {
        "averaged the loss but did not divide the gradient by T*N":
            (nll.mean(), shaped(p - onehot)),
        "summed the loss over the T*N positions instead of averaging (gradient not divided by T*N)":
            (nll.sum(), shaped(p - onehot)),
        "divided by the batch size N only, not by T*N":
            (nll.sum() / N, shaped((p - onehot) / N)),
        "forgot to subtract one_hot(targets) in the gradient (dlogits = probs / (T*N))":
            (nll.mean(), shaped(p / M)),
        "gradient of the wrong sign (one_hot - probs)":
            (nll.mean(), shaped((onehot - p) / M)),
        "returned the loss without its minus sign (the log-likelihood, not the cross-entropy)":
            (-nll.mean(), shaped((p - onehot) / M)),
    }


# --------------------------------------------------------------------------------------------
# A check for tests: a tuple of gradients compared one by one
# --------------------------------------------------------------------------------------------


def check_grads(name, got, expected, mistakes=None, names=BACKWARD_OUTPUTS, atol=1e-10,
                rtol=1e-7, hint=None):
    """Check the gradients a backward function returned, one by one, with ``check_close``.

    got: what the function returned (a tuple or list of arrays); expected: the reference tuple;
    mistakes: {description: tuple of the same length} (see the ``*_mistakes`` functions), so that a
    wrong gradient that matches a common mistake is named; names: the name of each gradient.
    """
    from .checks import CheckFailure, check_close

    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        count = len(got) if isinstance(got, (tuple, list)) else "not a tuple"
        raise CheckFailure(f"{name}: expected {len(expected)} values "
                           f"({', '.join(names[:len(expected)])}), got {count}.")
    for i, (n, g, e) in enumerate(zip(names, got, expected, strict=False)):
        variants = {d: v[i] for d, v in (mistakes or {}).items()}
        check_close(f"{name}: {n}", g, e, atol=atol, rtol=rtol, mistakes=variants, hint=hint)
