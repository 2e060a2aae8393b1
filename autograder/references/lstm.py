"""Instructor-only references of notebook 05 (LSTM): what the hidden tests compare with.

Never shipped to students (see ``__init__.py``). Written apart from the notebook's solution cells and
in another style: the whole sequence is one function, vectorised over the batch and the four gates
(one matrix product per step for all gates, the input products of all steps in one product), and the
backward pass keeps the gate gradients of every step in one array, so that the weight gradients are
one matrix product each after the loop. ``tests/test_lstm_references.py`` checks everything here
against ``torch.nn.LSTM`` and ``torch.autograd``.

Conventions (those of the course): x (T, N, D), states (N, H), all states (T, N, H); W_ih (4H, D),
W_hh (4H, H) and b (4H,) stack the gate blocks in PyTorch's order i, f, g, o; b = b_ih + b_hh.

The step-level functions take and return what the notebook's exercises take and return; a step cache
is the tuple ``(x_t, h_prev, c_prev, i, f, g, o, c_t, W_ih, W_hh)`` that the notebook prescribes.
"""

import numpy as np

ASSIGNMENT = "05_lstm"


# ------------------------------------------------------------------------------------------------
# the model
# ------------------------------------------------------------------------------------------------
def _sigma(z):
    # exp of a non-positive number only: no overflow for any z
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _gates(pre, H):
    """The four gate activations of pre-activations (..., 4H), stacked i, f, g, o along the last axis."""
    act = np.empty_like(pre)
    act[..., : 2 * H] = _sigma(pre[..., : 2 * H])
    act[..., 2 * H: 3 * H] = np.tanh(pre[..., 2 * H: 3 * H])
    act[..., 3 * H:] = _sigma(pre[..., 3 * H:])
    return act


def lstm_forward(x, h0, c0, W_ih, W_hh, b):
    """The LSTM over a sequence. Returns ``(h_all (T, N, H), h_T, c_T, cache)``."""
    x = np.asarray(x)
    T, N, _ = x.shape
    H = W_hh.shape[1]
    dtype = np.result_type(x, h0, c0, W_ih, W_hh, b)
    pre_x = (x.reshape(T * N, -1) @ W_ih.T).reshape(T, N, 4 * H) + b   # all input products at once
    acts = np.empty((T, N, 4 * H), dtype=dtype)
    cs = np.empty((T + 1, N, H), dtype=dtype)
    hs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0], cs[0] = h0, c0
    for t in range(T):
        acts[t] = _gates(pre_x[t] + hs[t] @ W_hh.T, H)
        gi, gf, gg, go = (acts[t, :, k * H:(k + 1) * H] for k in range(4))
        cs[t + 1] = gf * cs[t] + gi * gg
        hs[t + 1] = go * np.tanh(cs[t + 1])
    cache = {"x": x, "hs": hs, "cs": cs, "acts": acts, "W_ih": W_ih, "W_hh": W_hh}
    return hs[1:].copy(), hs[T].copy(), cs[T].copy(), cache


def lstm_backward(dh_all, cache, dh_T=None, dc_T=None):
    """Gradients of a loss whose gradient with respect to every h_t is ``dh_all`` (T, N, H); ``dh_T``
    and ``dc_T`` (N, H) are extra gradients on the last states. Returns a dict with dx, dh0, dc0,
    dW_ih, dW_hh, db."""
    x, hs, cs, acts = cache["x"], cache["hs"], cache["cs"], cache["acts"]
    W_ih, W_hh = cache["W_ih"], cache["W_hh"]
    T, N, D = x.shape
    H = W_hh.shape[1]
    dpre = np.empty_like(acts)                     # dE/d(pre-activation) of every step, (T, N, 4H)
    dh_next = np.zeros((N, H), dtype=acts.dtype) if dh_T is None else np.array(dh_T, dtype=acts.dtype)
    dc_next = np.zeros((N, H), dtype=acts.dtype) if dc_T is None else np.array(dc_T, dtype=acts.dtype)
    for t in range(T - 1, -1, -1):
        gi, gf, gg, go = (acts[t, :, k * H:(k + 1) * H] for k in range(4))
        th = np.tanh(cs[t + 1])
        dh = dh_all[t] + dh_next
        dc = dc_next + dh * go * (1.0 - th * th)
        dact = np.concatenate([dc * gg, dc * cs[t], dc * gi, dh * th], axis=1)
        slope = np.concatenate([gi * (1 - gi), gf * (1 - gf), 1 - gg * gg, go * (1 - go)], axis=1)
        dpre[t] = dact * slope
        dh_next = dpre[t] @ W_hh
        dc_next = dc * gf
    flat = dpre.reshape(T * N, 4 * H)
    return {
        "dx": (flat @ W_ih).reshape(T, N, D),
        "dh0": dh_next,
        "dc0": dc_next,
        "dW_ih": flat.T @ x.reshape(T * N, D),
        "dW_hh": flat.T @ hs[:T].reshape(T * N, H),
        "db": flat.sum(axis=0),
    }


# ------------------------------------------------------------------------------------------------
# the exercises' signatures
# ------------------------------------------------------------------------------------------------
STEP_GRADS = ("dx_t", "dh_prev", "dc_prev", "dW_ih", "dW_hh", "db")


def step_cache(x_t, h_prev, c_prev, W_ih, W_hh, b):
    """The cache of one step in the notebook's layout: (x_t, h_prev, c_prev, i, f, g, o, c_t, W_ih, W_hh)."""
    _, _, c_T, cache = lstm_forward(np.asarray(x_t)[None], h_prev, c_prev, W_ih, W_hh, b)
    H = W_hh.shape[1]
    gi, gf, gg, go = (cache["acts"][0, :, k * H:(k + 1) * H].copy() for k in range(4))
    return (x_t, h_prev, c_prev, gi, gf, gg, go, c_T, W_ih, W_hh)


def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b):
    """One step: ``(h_t, c_t, cache)`` with the notebook's cache layout."""
    _, h_T, c_T, _ = lstm_forward(np.asarray(x_t)[None], h_prev, c_prev, W_ih, W_hh, b)
    return h_T, c_T, step_cache(x_t, h_prev, c_prev, W_ih, W_hh, b)


def lstm_step_backward(dh_t, dc_t, cache):
    """One step backward from the notebook's cache: ``(dx_t, dh_prev, dc_prev, dW_ih, dW_hh, db)``."""
    x_t, h_prev, c_prev, gi, gf, gg, go, c_t, W_ih, W_hh = cache
    seq_cache = {"x": np.asarray(x_t)[None], "hs": np.stack([h_prev, h_prev]),
                 "cs": np.stack([c_prev, c_t]), "acts": np.concatenate([gi, gf, gg, go], axis=1)[None],
                 "W_ih": W_ih, "W_hh": W_hh}
    g = lstm_backward(np.zeros((1,) + np.shape(dh_t)), seq_cache, dh_T=dh_t, dc_T=dc_t)
    return g["dx"][0], g["dh0"], g["dc0"], g["dW_ih"], g["dW_hh"], g["db"]


def init_lstm_bias(H, forget_bias=1.0):
    """The bias of ``init_lstm_params``: zero except the forget-gate block."""
    return np.concatenate([np.zeros(H), np.full(H, float(forget_bias)), np.zeros(2 * H)])


def peephole_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b, w_ci, w_cf, w_co):
    """Peephole LSTM step (Gers & Schmidhuber 2000): i, f see c_{t-1}; o sees c_t. Returns (h_t, c_t)."""
    H = W_hh.shape[1]
    z = x_t @ W_ih.T + h_prev @ W_hh.T + b
    z_i, z_f, z_g, z_o = _split(z, H)
    c_t = _sigma(z_f + c_prev * w_cf) * c_prev + _sigma(z_i + c_prev * w_ci) * np.tanh(z_g)
    return _sigma(z_o + c_t * w_co) * np.tanh(c_t), c_t


def peephole_step_backward(dh_t, dc_t, x_t, h_prev, c_prev, W_ih, W_hh, b, w_ci, w_cf, w_co):
    """Gradients of L = sum(dh_t * h_t) + sum(dc_t * c_t) of a peephole step, as a dict with
    dx_t, dh_prev, dc_prev, dW_ih, dW_hh, db, dw_ci, dw_cf, dw_co."""
    H = W_hh.shape[1]
    z = x_t @ W_ih.T + h_prev @ W_hh.T + b
    z_i, z_f, z_g, z_o = (z[:, k * H:(k + 1) * H] for k in range(4))
    gi, gf, gg = _sigma(z_i + w_ci * c_prev), _sigma(z_f + w_cf * c_prev), np.tanh(z_g)
    c_t = gf * c_prev + gi * gg
    go = _sigma(z_o + w_co * c_t)
    th = np.tanh(c_t)
    dz_o = dh_t * th * go * (1 - go)
    dc = dc_t + dh_t * go * (1 - th * th) + dz_o * w_co        # o_t sees c_t: one more path into c_t
    dz_i = dc * gg * gi * (1 - gi)
    dz_f = dc * c_prev * gf * (1 - gf)
    dz_g = dc * gi * (1 - gg * gg)
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
    return {
        "dx_t": dz @ W_ih, "dh_prev": dz @ W_hh,
        "dc_prev": dc * gf + dz_i * w_ci + dz_f * w_cf,
        "dW_ih": dz.T @ x_t, "dW_hh": dz.T @ h_prev, "db": dz.sum(axis=0),
        "dw_ci": (dz_i * c_prev).sum(axis=0), "dw_cf": (dz_f * c_prev).sum(axis=0),
        "dw_co": (dz_o * c_t).sum(axis=0),
    }


# ------------------------------------------------------------------------------------------------
# mistakes: what a common wrong answer returns, as {description: zero-argument callable}
# ------------------------------------------------------------------------------------------------
def _split(z, H):
    return [z[:, k * H:(k + 1) * H] for k in range(4)]


def _step_variant(x_t, h_prev, c_prev, W_ih, W_hh, b, mistake):
    """(h_t, c_t) of one step computed with one common mistake."""
    H = W_hh.shape[1]
    z = x_t @ W_ih.T + h_prev @ W_hh.T + (0.0 if mistake == "no bias" else b)
    z_i, z_f, z_g, z_o = _split(z, H)
    if mistake == "ifog":
        z_g, z_o = z_o, z_g
    if mistake == "fi":
        z_i, z_f = z_f, z_i
    gi, gf, go = _sigma(z_i), _sigma(z_f), _sigma(z_o)
    gg = _sigma(z_g) if mistake == "sigmoid g" else np.tanh(z_g)
    if mistake == "tanh o":
        go = np.tanh(z_o)
    if mistake == "tanh gates":
        gi, gf, go, gg = np.tanh(z_i), np.tanh(z_f), np.tanh(z_o), _sigma(z_g)
    old = h_prev if mistake == "h for c" else c_prev
    c_t = gf * old + (gg if mistake == "no i" else gi * gg)
    if mistake == "no tanh":
        h_t = go * c_t
    elif mistake == "tanh c_prev":
        h_t = go * np.tanh(c_prev)
    else:
        h_t = go * np.tanh(c_t)
    return h_t, c_t


STEP_MISTAKES = {
    "ifog": "gate blocks read in the order i, f, o, g (PyTorch stacks i, f, g, o)",
    "fi": "input and forget gates swapped (blocks read as f, i, g, o)",
    "sigmoid g": "candidate g_t computed with the sigmoid instead of tanh",
    "tanh o": "output gate o_t computed with tanh instead of the sigmoid",
    "tanh gates": "sigmoid and tanh swapped (gates with tanh, candidate with the sigmoid)",
    "no bias": "bias b left out",
    "h for c": "h_{t-1} used in place of c_{t-1} in c_t = f_t * c_{t-1} + i_t * g_t",
    "no i": "input gate not applied: c_t = f_t * c_{t-1} + g_t",
    "no tanh": "h_t = o_t * c_t (the tanh on c_t is missing)",
    "tanh c_prev": "h_t = o_t * tanh(c_{t-1}): the old cell state instead of the new one",
}


def step_forward_mistakes(x_t, h_prev, c_prev, W_ih, W_hh, b, output="h_t"):
    """``{description: callable}`` of what each mistake returns as ``output`` ("h_t" or "c_t")."""
    k = {"h_t": 0, "c_t": 1}[output]
    return {d: (lambda m=m: _step_variant(x_t, h_prev, c_prev, W_ih, W_hh, b, m)[k])
            for m, d in STEP_MISTAKES.items()}


SEQUENCE_MISTAKES = {
    "c0": "c_{t-1} not carried: every step starts from c0",
    "h0": "h_{t-1} not carried: every step starts from h0",
    "swap": "h and c swapped in the call of lstm_step_forward",
    "store c": "c_t stored in h_all instead of h_t",
    "shift": "h_all[t] holds h_{t-1} (stored before the step)",
    "x0": "the first input x[0] used at every step",
    "reversed": "the sequence processed from the last step to the first",
}


def _sequence_variant(x, h0, c0, W_ih, W_hh, b, mistake):
    T = len(x)
    h, c, hs = h0, c0, []
    for t in (range(T - 1, -1, -1) if mistake == "reversed" else range(T)):
        x_t = x[0] if mistake == "x0" else x[t]
        h_in = h0 if mistake == "h0" else h
        c_in = c0 if mistake == "c0" else c
        if mistake == "swap":
            h_in, c_in = c_in, h_in
        h_new, c_new, _ = lstm_step_forward(x_t, h_in, c_in, W_ih, W_hh, b)
        hs.append(c_new if mistake == "store c" else (h if mistake == "shift" else h_new))
        h, c = h_new, c_new
    h_all = np.stack(hs)
    if mistake == "reversed":
        h_all = h_all[::-1]
    return h_all, h, c


def sequence_mistakes(x, h0, c0, W_ih, W_hh, b, output="h_all"):
    """``{description: callable}`` of what each mistake returns as ``output`` (h_all, h_T or c_T)."""
    k = {"h_all": 0, "h_T": 1, "c_T": 2}[output]
    return {d: (lambda m=m: _sequence_variant(x, h0, c0, W_ih, W_hh, b, m)[k])
            for m, d in SEQUENCE_MISTAKES.items()}


BACKWARD_MISTAKES = {
    "no dh path": "the path h_t -> c_t left out: dc = dc_t only",
    "no dc_t": "the gradient dc_t from step t+1 ignored: dc = dh_t * o_t * tanh'(c_t) only",
    "no f": "dc_prev = dc without the factor f_t (the cell path is dc_{t-1} = f_t * dc)",
    "1-c^2": "tanh'(c_t) computed as 1 - c_t^2 instead of 1 - tanh(c_t)^2",
    "f slope": "sigma'(a_f) written as 1 - f_t^2 (the tanh formula)",
    "g slope": "tanh'(a_g) written as g_t (1 - g_t) (the sigmoid formula)",
    "ifog": "gate gradients stacked in the order i, f, o, g (PyTorch stacks i, f, g, o)",
    "mean db": "db averaged over the batch instead of summed",
    "df h": "forget-gate gradient with h_{t-1} in place of c_{t-1}",
    "do c": "output-gate gradient with c_t in place of tanh(c_t)",
}


def _backward_variant(dh_t, dc_t, cache, mistake):
    x_t, h_prev, c_prev, gi, gf, gg, go, c_t, W_ih, W_hh = cache
    th = np.tanh(c_t)
    slope_c = 1 - c_t ** 2 if mistake == "1-c^2" else 1 - th ** 2
    dc = {"no dh path": dc_t, "no dc_t": dh_t * go * slope_c}.get(mistake, dc_t + dh_t * go * slope_c)
    d_i = dc * gg * gi * (1 - gi)
    d_f = dc * (h_prev if mistake == "df h" else c_prev) * (1 - gf ** 2 if mistake == "f slope"
                                                            else gf * (1 - gf))
    d_g = dc * gi * (gg * (1 - gg) if mistake == "g slope" else 1 - gg ** 2)
    d_o = dh_t * (c_t if mistake == "do c" else th) * go * (1 - go)
    blocks = [d_i, d_f, d_o, d_g] if mistake == "ifog" else [d_i, d_f, d_g, d_o]
    dz = np.concatenate(blocks, axis=1)
    dc_prev = dc if mistake == "no f" else dc * gf
    db = dz.mean(axis=0) if mistake == "mean db" else dz.sum(axis=0)
    return dz @ W_ih, dz @ W_hh, dc_prev, dz.T @ x_t, dz.T @ h_prev, db


def step_backward_mistakes(dh_t, dc_t, cache, output="dW_hh"):
    """``{description: callable}`` of what each mistake returns as ``output`` (one of STEP_GRADS)."""
    k = STEP_GRADS.index(output)
    return {d: (lambda m=m: _backward_variant(dh_t, dc_t, cache, m)[k])
            for m, d in BACKWARD_MISTAKES.items()}


PEEPHOLE_MISTAKES = {
    "o old": "output gate peeks at c_{t-1} instead of the new c_t",
    "i wcf": "input gate uses the forget gate's peephole weight w_cf",
    "after": "peephole term added after the sigmoid instead of inside it",
    "o tanh": "output gate peeks at tanh(c_t) instead of c_t",
    "no f": "forget gate without its peephole w_cf * c_{t-1}",
}


def _peephole_variant(x_t, h_prev, c_prev, W_ih, W_hh, b, w_ci, w_cf, w_co, mistake):
    H = W_hh.shape[1]
    z_i, z_f, z_g, z_o = _split(x_t @ W_ih.T + h_prev @ W_hh.T + b, H)
    if mistake == "after":
        gi = _sigma(z_i) + w_ci * c_prev
    else:
        gi = _sigma(z_i + (w_cf if mistake == "i wcf" else w_ci) * c_prev)
    gf = _sigma(z_f + (0.0 if mistake == "no f" else w_cf * c_prev))
    c_t = gf * c_prev + gi * np.tanh(z_g)
    seen = {"o old": c_prev, "o tanh": np.tanh(c_t)}.get(mistake, c_t)
    return _sigma(z_o + w_co * seen) * np.tanh(c_t), c_t


def peephole_mistakes(x_t, h_prev, c_prev, W_ih, W_hh, b, w_ci, w_cf, w_co, output="h_t"):
    k = {"h_t": 0, "c_t": 1}[output]
    args = (x_t, h_prev, c_prev, W_ih, W_hh, b, w_ci, w_cf, w_co)
    return {d: (lambda m=m: _peephole_variant(*args, m)[k]) for m, d in PEEPHOLE_MISTAKES.items()}


INIT_MISTAKES = {
    "input block": "forget bias put into the input-gate block b[:H]",
    "g block": "forget bias put into the third block b[2H:3H] (that is the candidate g)",
    "all": "every entry of b set to forget_bias",
    "none": "forget_bias ignored: b is all zeros",
}


def init_bias_mistakes(H, forget_bias=1.0):
    fb = float(forget_bias)
    zeros = np.zeros(4 * H)
    variants = {"input block": np.concatenate([np.full(H, fb), np.zeros(3 * H)]),
                "g block": np.concatenate([np.zeros(2 * H), np.full(H, fb), np.zeros(H)]),
                "all": np.full(4 * H, fb), "none": zeros}
    return {INIT_MISTAKES[k]: (lambda v=v: v) for k, v in variants.items()}


# ------------------------------------------------------------------------------------------------
# the visible tests' data
# ------------------------------------------------------------------------------------------------
def _drop_equal(expected, mistakes):
    """Mistakes whose output differs from the right one (a mistake equal to it cannot be named)."""
    out = {}
    for d, f in mistakes.items():
        v = np.asarray(f() if callable(f) else f, dtype=np.float64)
        if v.shape != expected.shape or not np.allclose(v, expected, rtol=1e-6, atol=1e-8):
            out[d] = v
    return out


def by_hand_step():
    """The by-hand case of the notebook: x_t = 0, h_{t-1} = 0, so every pre-activation is its bias;
    b = (0, ln 3, ln 2, ln 4) gives i = 1/2, f = 3/4, g = tanh(ln 2) = 3/5, o = 4/5; c_{t-1} = 2."""
    return {"x_t": np.zeros((1, 1)), "h_prev": np.zeros((1, 1)), "c_prev": np.array([[2.0]]),
            "W_ih": np.array([[1.0], [2.0], [3.0], [4.0]]), "W_hh": np.ones((4, 1)),
            "b": np.log([1.0, 3.0, 2.0, 4.0])}


def _random_step(rng, N, D, H):
    return {"x_t": rng.standard_normal((N, D)), "h_prev": rng.standard_normal((N, H)),
            "c_prev": rng.standard_normal((N, H)), "W_ih": rng.standard_normal((4 * H, D)) / np.sqrt(D),
            "W_hh": rng.standard_normal((4 * H, H)) / np.sqrt(H), "b": rng.standard_normal(4 * H)}


def fixture_cases():
    rng = np.random.default_rng(505)
    cases = {}

    for name, args in (("step", _random_step(rng, 2, 3, 4)), ("step_by_hand", by_hand_step())):
        h_t, c_t, cache = lstm_step_forward(**args)
        cases[name] = {
            "inputs": args,
            "expected": {"h_t": h_t, "c_t": c_t, "i": cache[3], "f": cache[4], "g": cache[5],
                         "o": cache[6]},
            "mistakes": {"h_t": _drop_equal(h_t, step_forward_mistakes(**args, output="h_t")),
                         "c_t": _drop_equal(c_t, step_forward_mistakes(**args, output="c_t"))},
        }

    step = _random_step(rng, 2, 3, 4)
    seq = {"x": rng.standard_normal((3, 2, 3)), "h0": step["h_prev"], "c0": step["c_prev"],
           "W_ih": step["W_ih"], "W_hh": step["W_hh"], "b": step["b"]}
    h_all, h_T, c_T, _ = lstm_forward(**seq)
    cases["sequence"] = {
        "inputs": seq, "expected": {"h_all": h_all, "h_T": h_T, "c_T": c_T},
        "mistakes": {out: _drop_equal(val, sequence_mistakes(**seq, output=out))
                     for out, val in (("h_all", h_all), ("h_T", h_T), ("c_T", c_T))},
    }

    for name, args, upstream in (
            ("backward", _random_step(rng, 2, 3, 4), None),
            ("backward_by_hand", by_hand_step(), (np.zeros((1, 1)), np.ones((1, 1))))):
        cache = step_cache(**args)
        dh_t, dc_t = upstream or (rng.standard_normal((2, 4)), rng.standard_normal((2, 4)))
        grads = lstm_step_backward(dh_t, dc_t, cache)
        inputs = dict(args, dh_t=dh_t, dc_t=dc_t, i=cache[3], f=cache[4], g=cache[5], o=cache[6],
                      c_t=cache[7])
        cases[name] = {
            "inputs": inputs, "expected": dict(zip(STEP_GRADS, grads, strict=True)),
            "mistakes": {out: _drop_equal(val, step_backward_mistakes(dh_t, dc_t, cache, out))
                         for out, val in zip(STEP_GRADS, grads, strict=True)},
        }

    args = _random_step(rng, 2, 3, 4)
    args.update(w_ci=rng.standard_normal(4), w_cf=rng.standard_normal(4), w_co=rng.standard_normal(4))
    h_t, c_t = peephole_step_forward(**args)
    dh_t, dc_t = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    grads = peephole_step_backward(dh_t, dc_t, **args)
    cases["peephole"] = {
        "inputs": dict(args, dh_t=dh_t, dc_t=dc_t),
        "expected": {"h_t": h_t, "c_t": c_t, **{k: grads[k] for k in ("dw_ci", "dw_cf", "dw_co", "dc_prev")}},
        "mistakes": {"h_t": _drop_equal(h_t, peephole_mistakes(**args, output="h_t")),
                     "c_t": _drop_equal(c_t, peephole_mistakes(**args, output="c_t"))},
    }

    # by hand: with the inputs of by_hand_step, i and f peek at c_{t-1} = 2 and o at c_t = 1.45:
    # w_ci = ln(3)/2 gives i = sigma(ln 3) = 3/4, w_cf = -ln(3)/2 gives f = sigma(0) = 1/2, so
    # c_t = 1/2 * 2 + 3/4 * 3/5 = 1.45, and w_co = -ln(4)/1.45 gives o = sigma(0) = 1/2
    args = dict(by_hand_step(), w_ci=np.array([np.log(3.0) / 2]), w_cf=np.array([-np.log(3.0) / 2]),
                w_co=np.array([-np.log(4.0) / 1.45]))
    h_t, c_t = peephole_step_forward(**args)
    cases["peephole_by_hand"] = {
        "inputs": args, "expected": {"h_t": h_t, "c_t": c_t},
        "mistakes": {"h_t": _drop_equal(h_t, peephole_mistakes(**args, output="h_t")),
                     "c_t": _drop_equal(c_t, peephole_mistakes(**args, output="c_t"))},
    }

    H, fb = 3, 1.5
    b = init_lstm_bias(H, fb)
    cases["init"] = {"inputs": {"D": np.array(2), "H": np.array(H), "forget_bias": np.array(fb)},
                     "expected": {"b": b}, "mistakes": {"b": _drop_equal(b, init_bias_mistakes(H, fb))}}
    for case in cases.values():     # an output no mistake changes on these inputs names none
        case["mistakes"] = {out: m for out, m in case["mistakes"].items() if m}
    return cases
