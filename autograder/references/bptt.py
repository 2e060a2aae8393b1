"""Instructor-only references of notebook 03 (BPTT): NumPy backward passes, the mistakes the tests
name, and the visible tests' fixtures.

Never shipped to students (see ``__init__.py``). The references are written apart from the solution
cells: :func:`backward` handles full and truncated BPTT in one loop that keeps the pre-activation
gradients of every step and forms the weight gradients with one product each after the loop;
``tests/test_bptt_references.py`` checks them against ``torch.autograd``.

A step cache is ``(x_t, h_prev, h_t, W_xh, W_hh)``, a sequence cache the list of the T step caches, as
the notebooks prescribe. Every ``*_mistakes`` function returns ``{description: tuple of outputs}``.
"""

import numpy as np

ASSIGNMENT = "03_bptt"


# ------------------------------------------------------------------------------------------------
# references
# ------------------------------------------------------------------------------------------------
def forward(x, h0, W_xh, W_hh, b_h):
    """States (T, N, H) and the step caches of the Elman RNN (NumPy)."""
    h_t, states, cache = np.asarray(h0), [], []
    for x_t in np.asarray(x):
        h_new = np.tanh(x_t @ W_xh.T + h_t @ W_hh.T + b_h)
        cache.append((x_t, h_t, h_new, W_xh, W_hh))
        states.append(h_new)
        h_t = h_new
    return np.stack(states), cache


def backward(dh, cache, k=None):
    """(dx, dh0, dW_xh, dW_hh, db_h) of sum(dh * h); blocks of ``k`` steps when ``k`` is given."""
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    T = len(cache)
    xs = np.stack([c[0] for c in cache])
    hs_prev = np.stack([c[1] for c in cache])
    hs = np.stack([c[2] for c in cache])
    W_xh, W_hh = cache[0][3], cache[0][4]
    da = np.zeros(hs.shape, dtype=np.result_type(dh, hs))
    carried = np.zeros_like(da[0])
    for t in range(T - 1, -1, -1):
        if k is not None and (t + 1) % k == 0:
            carried = np.zeros_like(carried)
        da[t] = (dh[t] + carried) * (1.0 - hs[t] ** 2)
        carried = da[t] @ W_hh
    H = hs.shape[-1]
    flat = da.reshape(-1, H)
    return (da @ W_xh, carried, flat.T @ xs.reshape(flat.shape[0], -1),
            flat.T @ hs_prev.reshape(flat.shape[0], -1), flat.sum(axis=0))


def step_backward(dh_t, cache):
    """The five gradients of one step."""
    dx, dh_prev, dW_xh, dW_hh, db_h = backward(np.asarray(dh_t)[None], [cache])
    return dx[0], dh_prev, dW_xh, dW_hh, db_h


def softmax_cross_entropy(logits, targets):
    """(mean cross-entropy, dlogits) by a log-sum-exp."""
    logits = np.asarray(logits, dtype=np.float64)
    V = logits.shape[-1]
    m = logits.max(axis=-1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))
    onehot = np.asarray(targets)[..., None] == np.arange(V)
    M = onehot[..., 0].size
    return float(-(log_p * onehot).sum() / M), (np.exp(log_p) - onehot) / M


# ------------------------------------------------------------------------------------------------
# mistakes
# ------------------------------------------------------------------------------------------------
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
        dx[t], dh_next, gx, gh, gb = step_backward(upstream, cache[t])
        if accumulate:
            dW_xh, dW_hh, db_h = dW_xh + gx, dW_hh + gh, db_h + gb
        else:
            dW_xh, dW_hh, db_h = gx, gh, gb
    return np.stack(dx), dh_next, dW_xh, dW_hh, db_h


def sequence_backward_mistakes(dh, cache):
    """{description: (dx, dh0, dW_xh, dW_hh, db_h)} of common mistakes in rnn_backward."""
    correct = _sequence_backward(dh, cache)
    first_step = step_backward(dh[-1], cache[-1])  # the backward step done first
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
            dx[t], dh_next, gx, gh, gb = step_backward(dh[t] + dh_next, cache[t])
            dW_xh, dW_hh, db_h = dW_xh + gx, dW_hh + gh, db_h + gb
        return np.stack(dx), dh_next, dW_xh, dW_hh, db_h

    def window():  # each entry point t carried back through exactly k steps (another scheme)
        dx, dh0 = np.zeros((T,) + cache[0][0].shape), np.zeros_like(dh[0])
        dW_xh, dW_hh, db_h = 0, 0, 0
        for t in range(T):
            g = dh[t]
            for s in range(t, max(t - k, -1), -1):
                dx_s, g, gx, gh, gb = step_backward(g, cache[s])
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


def output_layer_backward(dlogits, h, W_hy):
    """(dh, dW_hy, db_y) of the output layer logits = h @ W_hy.T + b_y, summed over time and batch."""
    V, H = np.shape(W_hy)
    return (np.einsum("tnv,vh->tnh", dlogits, W_hy), np.einsum("tnv,tnh->vh", dlogits, h),
            np.einsum("tnv->v", dlogits))


def output_layer_mistakes(dlogits, h, W_hy):
    """{description: (dh, dW_hy, db_y)}: common mistakes in the output layer's backward pass."""
    T, N, _ = np.shape(dlogits)
    dh, dW_hy, db_y = output_layer_backward(dlogits, h, W_hy)
    last_only = np.zeros_like(dh)
    last_only[-1] = dh[-1]
    variants = {
        "divided dW_hy and db_y by T*N a second time (softmax_cross_entropy's dlogits is already "
        "the gradient of the mean: only sum over time and batch)": (dh, dW_hy / (T * N), db_y / (T * N)),
        "sent the loss's gradient into the RNN only at the last step (a many-to-one model); here "
        "every step has a loss, so dh = dlogits @ W_hy at every step": (last_only, dW_hy, db_y),
        "dW_hy and db_y from the last time step only (they are sums over every step)":
            (dh, np.einsum("nv,nh->vh", dlogits[-1], h[-1]), dlogits[-1].sum(axis=0)),
    }
    if np.shape(W_hy)[0] == np.shape(W_hy)[1]:  # V == H: only then does a transposition fit
        variants.update({
            "multiplied by W_hy.T instead of W_hy (dh must be (T, N, H): dlogits (T, N, V) @ W_hy (V, H))":
                (np.einsum("tnv,hv->tnh", dlogits, W_hy), dW_hy, db_y),
            "dW_hy transposed: it is dlogits^T @ h, of shape (V, H) like W_hy":
                (dh, np.einsum("tnv,tnh->hv", dlogits, h), db_y),
        })
    return variants


def adagrad_step(p, grads, memory, lr=0.1, clip=5.0):
    """(new params, new sums) of one Adagrad update with entrywise clipping; nothing is changed."""
    params, sums = {}, {}
    for name, w in p.items():
        g = np.minimum(np.maximum(np.asarray(grads[name], dtype=np.float64), -clip), clip)
        sums[name] = memory[name] + g ** 2
        params[name] = w - lr * g / (np.sqrt(sums[name]) + 1e-10)
    return params, sums


def adagrad_mistakes(p, grads, memory, lr=0.1, clip=5.0):
    """{description: (new params, new sums)}: common mistakes in one Adagrad update."""
    def step(clip_update=True, clip_sum=True, root=True, accumulate=True, before=False, sign=1.0):
        params, sums = {}, {}
        for name, w in p.items():
            raw = np.asarray(grads[name], dtype=np.float64)
            g = np.clip(raw, -clip, clip)
            sums[name] = (memory[name] if accumulate else 0) + (g if clip_sum else raw) ** 2
            scale = memory[name] if before else sums[name]
            params[name] = w - sign * lr * (g if clip_update else raw) / (
                (np.sqrt(scale) if root else scale) + 1e-10)
        return params, sums

    return {
        "the gradient is not clipped to [-clip, clip] before the update (np.clip(g, -clip, clip))":
            step(clip_update=False, clip_sum=False),
        "the sum of squares adds the unclipped gradient: add the square of the clipped one":
            step(clip_sum=False),
        "divided by the sum of squares instead of its square root": step(root=False),
        "memory holds only the latest squared gradient: Adagrad adds it to the running sum":
            step(accumulate=False),
        "updated the parameters before adding the new squared gradient to memory (divide by the "
        "root of the sum that includes this step)": step(before=True),
        "moved along the gradient instead of against it (p -= ..., not p += ...)": step(sign=-1.0),
    }


def _model_case(p, x, h0, targets):
    """The output layer's part of model_loss_and_gradients on fixed inputs."""
    h, _ = forward(x, h0, p["W_xh"], p["W_hh"], p["b_h"])
    logits = h @ p["W_hy"].T + p["b_y"]
    _, dlogits = softmax_cross_entropy(logits, targets)
    expected = output_layer_backward(dlogits, h, p["W_hy"])
    return {"inputs": dict(p, x=x, h0=h0, targets=targets),
            "expected": dict(zip(OUTPUT_LAYER, expected, strict=True)),
            "mistakes": _split(output_layer_mistakes(dlogits, h, p["W_hy"]), OUTPUT_LAYER, expected)}


def _adagrad_case(p, grads, memory, lr, clip):
    new_p, new_sums = adagrad_step(p, grads, memory, lr, clip)
    flat = lambda d: np.concatenate([np.ravel(d[n]) for n in sorted(p)])  # noqa: E731
    mistakes = {d: (flat(a), flat(b)) for d, (a, b) in adagrad_mistakes(p, grads, memory, lr, clip).items()}
    expected = (flat(new_p), flat(new_sums))
    return {"inputs": dict({f"p_{n}": v for n, v in p.items()}, **{f"g_{n}": v for n, v in grads.items()},
                           **{f"m_{n}": v for n, v in memory.items()}, lr=np.array(lr), clip=np.array(clip)),
            "expected": dict(zip(ADAGRAD, expected, strict=True)),
            "mistakes": _split(mistakes, ADAGRAD, expected)}


# ------------------------------------------------------------------------------------------------
# fixtures of the visible tests
# ------------------------------------------------------------------------------------------------
GRADS = ("dx", "dh_prev", "dW_xh", "dW_hh", "db_h")
CE = ("loss", "dlogits")
OUTPUT_LAYER = ("dh", "dW_hy", "db_y")
ADAGRAD = ("params", "memory")  # every parameter raveled, in sorted order of names


def _split(mistakes, names, expected):
    """{output: {description: array}} from {description: tuple}. An output in which a mistake equals
    the answer is left out of that output's entry (``utils.bptt.fixture_mistakes`` fills it in from
    the expected values); a mistake equal to the answer in every output is dropped."""
    def same(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-8)

    split = {n: {d: np.asarray(v[i], dtype=np.float64) for d, v in mistakes.items()
                 if not same(v[i], expected[i])}
             for i, n in enumerate(names)}
    return {n: variants for n, variants in split.items() if variants}


def _sequence_inputs(rng, T, N, D, H, scale=2.0):
    return dict(x=rng.standard_normal((T, N, D)), h0=rng.standard_normal((N, H)),
                W_xh=rng.standard_normal((H, D)) / scale, W_hh=rng.standard_normal((H, H)) / scale,
                b_h=rng.standard_normal(H), dh=rng.standard_normal((T, N, H)))


def _backward_case(inputs, mistakes_of, k=None):
    args = {n: inputs[n] for n in ("x", "h0", "W_xh", "W_hh", "b_h")}
    _, cache = forward(**args)
    expected = backward(inputs["dh"], cache, k)
    mistakes = mistakes_of(inputs["dh"], cache) if k is None else mistakes_of(inputs["dh"], cache, k)
    return {"inputs": dict(inputs, **({} if k is None else {"k": np.array(k)})),
            "expected": dict(zip(GRADS, expected, strict=True)),
            "mistakes": _split(mistakes, GRADS, expected)}


def _step_case(x_t, h_prev, W_xh, W_hh, b_h, dh_t):
    _, cache = forward(x_t[None], h_prev, W_xh, W_hh, b_h)
    expected = step_backward(dh_t, cache[0])
    return {"inputs": dict(x_t=x_t, h_prev=h_prev, W_xh=W_xh, W_hh=W_hh, b_h=b_h, dh_t=dh_t),
            "expected": dict(zip(GRADS, expected, strict=True)),
            "mistakes": _split(step_backward_mistakes(dh_t, cache[0]), GRADS, expected)}


def _ce_case(logits, targets):
    expected = softmax_cross_entropy(logits, targets)
    return {"inputs": {"logits": logits, "targets": targets},
            "expected": dict(zip(CE, expected, strict=True)),
            "mistakes": _split(cross_entropy_mistakes(logits, targets), CE, expected)}


def fixture_cases():
    """The visible tests' inputs (the numbers the notebook's tests always drew), the right gradients
    and the gradients of every catalogued mistake on them."""
    from utils import seed_all

    one = lambda v: np.array([[v]])  # noqa: E731
    cases = {}
    # the worked example, step 2: N = D = H = 1, dE/dh_2 = 1
    cases["step_hand"] = _step_case(one(-0.5), one(np.tanh(0.5)), one(1.0), one(0.5), np.zeros(1), one(1.0))
    r = seed_all(11)
    N, D, H = 2, 3, 4
    args = [r.standard_normal((N, D)), r.standard_normal((N, H)), r.standard_normal((H, D)),
            r.standard_normal((H, H)), r.standard_normal(H)]
    cases["step_numerical"] = _step_case(*args, r.standard_normal((N, H)))
    r = seed_all(12)
    x_t, h_prev = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    W_xh, W_hh, b_h = r.standard_normal((4, 4)), r.standard_normal((4, 4)), r.standard_normal(4)
    cases["step_autograd"] = _step_case(x_t, h_prev, W_xh, W_hh, b_h, r.standard_normal((3, 4)))

    # the worked example over two steps: dE/dh_1 = 0.3 (direct), dE/dh_2 = 1
    cases["sequence_hand"] = _backward_case(
        dict(x=np.array([[[0.5]], [[-0.5]]]), h0=one(0.0), W_xh=one(1.0), W_hh=one(0.5), b_h=np.zeros(1),
             dh=np.array([[[0.3]], [[1.0]]])), sequence_backward_mistakes)
    cases["sequence_numerical"] = _backward_case(_sequence_inputs(seed_all(21), 4, 2, 3, 4),
                                                 sequence_backward_mistakes)
    cases["sequence_autograd"] = _backward_case(_sequence_inputs(seed_all(22), 6, 3, 4, 5),
                                                sequence_backward_mistakes)

    cases["ce_hand"] = _ce_case(np.zeros((2, 1, 4)), np.array([[1], [3]]))
    r = seed_all(30)
    logits = 2 * r.standard_normal((4, 3, 6))
    cases["ce_torch"] = _ce_case(logits, r.integers(0, 6, size=(4, 3)))

    r = seed_all(31)
    T, N, D, H, V = 5, 3, 4, 6, 7
    p = {"W_xh": r.standard_normal((H, D)) / 2, "W_hh": r.standard_normal((H, H)) / 3,
         "b_h": 0.1 * r.standard_normal(H), "W_hy": r.standard_normal((V, H)),
         "b_y": 0.1 * r.standard_normal(V)}
    cases["model"] = _model_case(p, r.standard_normal((T, N, D)), r.standard_normal((N, H)),
                                 r.integers(0, V, size=(T, N)))
    r = seed_all(32)
    p = {"W": r.standard_normal((3, 2)), "b": r.standard_normal(3)}
    grads = {"W": 4 * r.standard_normal((3, 2)), "b": np.array([7.0, -0.5, -9.0])}   # some beyond 5
    memory = {"W": r.uniform(0.5, 2.0, (3, 2)), "b": r.uniform(0.5, 2.0, 3)}
    cases["adagrad"] = _adagrad_case(p, grads, memory, 0.1, 5.0)

    limits = _sequence_inputs(seed_all(40), 6, 2, 3, 4)
    for k in (6, 9, 1):
        cases[f"truncated_k{k}"] = _backward_case(limits, truncated_backward_mistakes, k)
    cases["truncated_numerical"] = _backward_case(_sequence_inputs(seed_all(41), 7, 2, 3, 4),
                                                  truncated_backward_mistakes, 3)
    cases["truncated_autograd"] = _backward_case(_sequence_inputs(seed_all(42), 8, 3, 2, 5),
                                                 truncated_backward_mistakes, 3)
    return cases
