"""Notebook 06 (GRU): instructor-only references, mistake variants and the visible tests' fixtures.

Never shipped to students. The references are written apart from the notebook's solution cells and
in another style: the sequence-level :func:`gru_forward` computes the input part of all three gate
blocks for all time steps with ONE matrix product and the hidden part with one product per step;
:func:`gru_backward` accumulates the pre-activation gradients of every step and forms the weight
gradients with one matrix product each at the end. ``tests/test_gru_references.py`` checks both
against ``torch.nn.GRU`` and ``torch.autograd``.

PyTorch's GRU, blocks stacked r, z, n in ``W_ih (3H, D)``, ``W_hh (3H, H)``, ``b_ih``, ``b_hh (3H,)``::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

The notebook's step cache is the tuple ``(x_t, h_prev, W_ih, W_hh, r, z, n, hn)`` with
``hn = W_hn h_{t-1} + b_hn`` (N, H).
"""

import numpy as np

ASSIGNMENT = "06_gru"


def _sigmoid(a):
    # σ(a) = (1 + tanh(a/2)) / 2: no exp, so no overflow for any a
    return 0.5 + 0.5 * np.tanh(0.5 * a)


# ------------------------------------------------------------------------------------------------
# sequence-level reference (vectorised)
# ------------------------------------------------------------------------------------------------
def gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    """All states of a one-layer GRU. x (T, N, D), h0 (N, H).

    Returns ``(h_all (T, N, H), h_T (N, H), cache)``.
    """
    x, h0 = np.asarray(x), np.asarray(h0)
    T, N, D = x.shape
    H = h0.shape[1]
    dtype = np.result_type(x, h0, W_ih, W_hh, b_ih, b_hh)
    gi = (x.reshape(T * N, D) @ W_ih.T + b_ih).reshape(T, N, 3 * H)   # every step's input part
    h_all = np.empty((T, N, H), dtype)
    r = np.empty_like(h_all)
    z = np.empty_like(h_all)
    n = np.empty_like(h_all)
    hn = np.empty_like(h_all)
    h = h0.astype(dtype, copy=False)
    for t in range(T):
        gh = h @ W_hh.T + b_hh                                          # one product per step
        rz = _sigmoid(gi[t, :, :2 * H] + gh[:, :2 * H])
        r[t], z[t], hn[t] = rz[:, :H], rz[:, H:], gh[:, 2 * H:]
        n[t] = np.tanh(gi[t, :, 2 * H:] + r[t] * hn[t])
        h = n[t] + z[t] * (h - n[t])                                    # (1-z) n + z h
        h_all[t] = h
    cache = {"x": x, "h0": h0, "h_all": h_all, "r": r, "z": z, "n": n, "hn": hn,
             "W_ih": W_ih, "W_hh": W_hh}
    return h_all, h_all[-1].copy(), cache


def gru_backward(dh_all, cache, dh_T=None):
    """Gradients of a loss whose gradient w.r.t. the states is ``dh_all`` (T, N, H) (plus ``dh_T``
    (N, H) on the last state). Returns ``dict(dx, dh0, dW_ih, dW_hh, db_ih, db_hh)``."""
    x, h_all, r, z, n, hn = (cache[k] for k in ("x", "h_all", "r", "z", "n", "hn"))
    W_ih, W_hh = cache["W_ih"], cache["W_hh"]
    T, N, D = x.shape
    H = h_all.shape[2]
    h_prev_all = np.concatenate([cache["h0"][None], h_all[:-1]], axis=0)
    da_in = np.empty((T, N, 3 * H), h_all.dtype)      # d loss / d (W_ih x + b_ih)
    da_hid = np.empty((T, N, 3 * H), h_all.dtype)     # d loss / d (W_hh h + b_hh)
    dh = np.zeros((N, H), h_all.dtype) if dh_T is None else np.array(dh_T, dtype=h_all.dtype)
    for t in range(T - 1, -1, -1):
        dh = dh + dh_all[t]
        one_minus_z = 1.0 - z[t]
        g_n = dh * one_minus_z * (1.0 - n[t] ** 2)
        g_z = dh * (h_prev_all[t] - n[t]) * z[t] * one_minus_z
        g_r = g_n * hn[t] * r[t] * (1.0 - r[t])
        da_in[t, :, :H], da_in[t, :, H:2 * H], da_in[t, :, 2 * H:] = g_r, g_z, g_n
        da_hid[t, :, :2 * H] = da_in[t, :, :2 * H]
        da_hid[t, :, 2 * H:] = g_n * r[t]
        dh = dh * z[t] + da_hid[t] @ W_hh
    flat_in = da_in.reshape(T * N, 3 * H)
    flat_hid = da_hid.reshape(T * N, 3 * H)
    return {
        "dx": (flat_in @ W_ih).reshape(T, N, D),
        "dh0": dh,
        "dW_ih": flat_in.T @ x.reshape(T * N, D),
        "dW_hh": flat_hid.T @ h_prev_all.reshape(T * N, H),
        "db_ih": flat_in.sum(axis=0),
        "db_hh": flat_hid.sum(axis=0),
    }


# ------------------------------------------------------------------------------------------------
# step-level references in the notebook's interface
# ------------------------------------------------------------------------------------------------
GRAD_NAMES = ("dx_t", "dh_prev", "dW_ih", "dW_hh", "db_ih", "db_hh")
CACHE_NAMES = ("x_t", "h_prev", "W_ih", "W_hh", "r", "z", "n", "hn")


def gru_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """``(h_t, cache)`` as the notebook's exercise returns them, from the sequence reference."""
    h_all, h_t, c = gru_forward(np.asarray(x_t)[None], h_prev, W_ih, W_hh, b_ih, b_hh)
    cache = (np.asarray(x_t), np.asarray(h_prev), W_ih, W_hh, c["r"][0], c["z"][0], c["n"][0],
             c["hn"][0])
    return h_t, cache


def gru_step_backward(dh_t, cache):
    """The six gradients of one step (a tuple in the notebook's order), from the sequence reference."""
    x_t, h_prev, W_ih, W_hh, r, z, n, hn = cache
    h_t = (1.0 - z) * n + z * h_prev
    seq = {"x": np.asarray(x_t)[None], "h0": np.asarray(h_prev), "h_all": h_t[None], "r": r[None],
           "z": z[None], "n": n[None], "hn": hn[None], "W_ih": W_ih, "W_hh": W_hh}
    g = gru_backward(np.asarray(dh_t)[None], seq)
    return g["dx"][0], g["dh0"], g["dW_ih"], g["dW_hh"], g["db_ih"], g["db_hh"]


def rnn_param_count(kind, D, H):
    """Parameters of one PyTorch layer: weights of (blocks·H) × (D + H) and two bias vectors."""
    blocks = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    return int(blocks * H * (D + H) + blocks * 2 * H)


# ------------------------------------------------------------------------------------------------
# mistake variants
# ------------------------------------------------------------------------------------------------
STEP_FORWARD_MISTAKES = {
    "zr": "the blocks read in the order z, r, n (PyTorch stacks them r, z, n)",
    "mix_swapped": "h_t = z_t ⊙ n_t + (1 − z_t) ⊙ h_{t−1}: the roles of z_t and 1 − z_t swapped "
                   "(the notes' u_t-form with PyTorch's z_t)",
    "reset_before": "the reset gate applied to h_{t−1} before W_hn, W_hn (r_t ⊙ h_{t−1}) + b_hn "
                    "(the original Cho et al. form; PyTorch applies r_t to W_hn h_{t−1} + b_hn)",
    "b_hn_outside": "b_hn added outside the reset gate: r_t ⊙ (W_hn h_{t−1}) + b_hn",
    "no_reset": "no reset gate in the candidate n_t",
    "sigmoid_n": "σ instead of tanh for the candidate n_t",
    "tanh_gates": "tanh instead of σ for the gates r_t and z_t",
    "no_b_hh": "b_hh left out (the GRU needs both biases: b_hn sits inside the reset gate's product)",
}


def _step_variant(variant, x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    if variant == "no_b_hh":
        b_hr, b_hz, b_hn = 0.0 * b_hr, 0.0 * b_hz, 0.0 * b_hn
    if variant == "zr":
        W_ir, W_iz, b_ir, b_iz = W_iz, W_ir, b_iz, b_ir
        W_hr, W_hz, b_hr, b_hz = W_hz, W_hr, b_hz, b_hr
    gate = np.tanh if variant == "tanh_gates" else _sigmoid
    r = gate(x_t @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)
    z = gate(x_t @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)
    if variant == "reset_before":
        inner = (r * h_prev) @ W_hn.T + b_hn
    elif variant == "b_hn_outside":
        inner = r * (h_prev @ W_hn.T) + b_hn
    elif variant == "no_reset":
        inner = h_prev @ W_hn.T + b_hn
    else:
        inner = r * (h_prev @ W_hn.T + b_hn)
    act = _sigmoid if variant == "sigmoid_n" else np.tanh
    n = act(x_t @ W_in.T + b_in + inner)
    if variant == "mix_swapped":
        return z * n + (1.0 - z) * h_prev
    return (1.0 - z) * n + z * h_prev


def gru_step_forward_mistakes(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """``{description: zero-arg callable returning h_t}`` for the common mistakes of a step."""
    args = tuple(np.asarray(a, dtype=np.float64) for a in (x_t, h_prev, W_ih, W_hh, b_ih, b_hh))
    return {text: (lambda v=v: _step_variant(v, *args)) for v, text in STEP_FORWARD_MISTAKES.items()}


FORWARD_MISTAKES = {
    "from_h0": "every step started from h0 (the state is not carried from step to step)",
    "shifted": "h_0 … h_{T−1} returned (each state stored before its step instead of after)",
    "reversed": "the sequence read backwards (x_T first)",
    "x0": "x_1 fed at every step",
    "first_as_last": "the first state h_1 returned as the last one",
}


def _forward_variant(variant, x, h0, W_ih, W_hh, b_ih, b_hh):
    step = gru_step_forward
    if variant == "reversed":
        x = x[::-1]
    if variant == "x0":
        x = np.broadcast_to(x[:1], x.shape)
    states = [h0]
    for x_t in x:
        start = h0 if variant == "from_h0" else states[-1]
        states.append(step(x_t, start, W_ih, W_hh, b_ih, b_hh)[0])
    h_all = np.stack(states[:-1] if variant == "shifted" else states[1:])
    h_T = states[1] if variant == "first_as_last" else states[-1]
    return h_all, h_T


def gru_forward_mistakes(x, h0, W_ih, W_hh, b_ih, b_hh):
    """``{"h": {description: callable}, "h_T": {description: callable}}`` of the sequence mistakes
    (for each output, only the variants that get it wrong)."""
    args = tuple(np.asarray(a, dtype=np.float64) for a in (x, h0, W_ih, W_hh, b_ih, b_hh))
    right = gru_forward(*args)[:2]
    out = {"h": {}, "h_T": {}}
    for v, text in FORWARD_MISTAKES.items():
        results = _forward_variant(v, *args)
        for k, name in enumerate(["h", "h_T"]):
            # a variant that gets this output right is no diagnosis for it
            if results[k].shape != right[k].shape or not np.allclose(results[k], right[k], rtol=1e-9,
                                                                    atol=1e-12):
                out[name][text] = (lambda value=results[k]: value)
    return out


STEP_BACKWARD_MISTAKES = {
    "no_direct": "the direct path z_t ⊙ ∂E/∂h_t missing from dh_prev",
    "no_r_hidden": "r_t left out of the hidden path of the candidate (the gradient of W_hn h_{t−1} + "
                   "b_hn is r_t ⊙ δn, not δn)",
    "dz_sign": "∂h_t/∂z_t taken as n_t − h_{t−1} (the sign of the update gate's gradient flipped)",
    "dn_z": "∂h_t/∂n_t taken as z_t instead of 1 − z_t",
    "sigma_prime": "σ' taken as σ (z_t instead of z_t (1 − z_t))",
    "tanh_prime": "tanh' taken as 1 − n_t instead of 1 − n_t²",
    "dr_no_bias": "∂E/∂r_t computed with W_hn h_{t−1} alone, without b_hn",
    "blocks_zr": "the input-side gradient blocks stacked z, r, n instead of r, z, n",
    "mean": "the bias gradients averaged over the batch instead of summed",
}


def _step_backward_variant(variant, dh_t, cache, b_hn=None):
    x_t, h_prev, W_ih, W_hh, r, z, n, hn = cache
    H = h_prev.shape[1]
    W_hn = W_hh[2 * H:]
    d_n = dh_t * (z if variant == "dn_z" else 1.0 - z)
    d_z = dh_t * ((n - h_prev) if variant == "dz_sign" else (h_prev - n))
    a_n = d_n * ((1.0 - n) if variant == "tanh_prime" else (1.0 - n * n))
    reset_input = h_prev @ W_hn.T if variant == "dr_no_bias" else hn
    a_r = a_n * reset_input * r * (1.0 - r)
    a_z = d_z * (z if variant == "sigma_prime" else z * (1.0 - z))
    blocks_in = [a_z, a_r, a_n] if variant == "blocks_zr" else [a_r, a_z, a_n]
    g_in = np.concatenate(blocks_in, axis=1)
    g_hid = np.concatenate([a_r, a_z, a_n if variant == "no_r_hidden" else a_n * r], axis=1)
    dh_prev = g_hid @ W_hh + (0.0 if variant == "no_direct" else dh_t * z)
    reduce = np.mean if variant == "mean" else np.sum
    return (g_in @ W_ih, dh_prev, g_in.T @ x_t, g_hid.T @ h_prev, reduce(g_in, axis=0),
            reduce(g_hid, axis=0))


def gru_step_backward_mistakes(dh_t, cache):
    """``{gradient name: {description: zero-arg callable}}`` for the common mistakes of the backward
    step; a variant whose gradient equals the right one is left out for that gradient."""
    cache = tuple(np.asarray(c, dtype=np.float64) for c in cache)
    dh_t = np.asarray(dh_t, dtype=np.float64)
    right = gru_step_backward(dh_t, cache)
    out = {name: {} for name in GRAD_NAMES}
    for v, text in STEP_BACKWARD_MISTAKES.items():
        grads = _step_backward_variant(v, dh_t, cache)
        for k, name in enumerate(GRAD_NAMES):
            if not np.allclose(grads[k], right[k], rtol=1e-9, atol=1e-12):
                out[name][text] = (lambda g=grads[k]: g)
    return out


PARAM_COUNT_MISTAKES = {
    "one_bias": "one bias vector per block (PyTorch keeps two, b_ih and b_hh)",
    "gru_two": "the GRU counted with 2 blocks (r and z, forgetting the candidate n)",
    "lstm_three": "the LSTM counted with 3 blocks (its three gates, forgetting the candidate ĉ)",
    "no_bias": "no biases counted",
    "hh_as_hd": "W_hh counted as H × D instead of H × H",
}


def _count_variant(variant, kind, D, H):
    blocks = {"rnn": 1, "gru": 2 if variant == "gru_two" else 3,
              "lstm": 3 if variant == "lstm_three" else 4}[kind]
    hh = H * D if variant == "hh_as_hd" else H * H
    bias = {"one_bias": H, "no_bias": 0}.get(variant, 2 * H)
    return int(blocks * (H * D + hh + bias))


def rnn_param_count_mistakes(kind, D, H):
    """``{description: zero-arg callable returning an int}``, variants equal to the answer left out."""
    right = rnn_param_count(kind, D, H)
    out = {}
    for v, text in PARAM_COUNT_MISTAKES.items():
        value = _count_variant(v, kind, D, H)
        if value != right:
            out[text] = (lambda value=value: value)
    return out


# ------------------------------------------------------------------------------------------------
# inputs and fixtures
# ------------------------------------------------------------------------------------------------
def random_inputs(rng, N, D, H, T=None, scale=1.0):
    """Weights like PyTorch's init (U(-1/√H, 1/√H)) times ``scale``, inputs and states N(0, 1)."""
    k = scale / np.sqrt(H)
    out = {
        "h_prev" if T is None else "h0": np.tanh(rng.standard_normal((N, H))),
        "W_ih": rng.uniform(-k, k, (3 * H, D)) * 2.0,
        "W_hh": rng.uniform(-k, k, (3 * H, H)) * 2.0,
        "b_ih": rng.uniform(-k, k, 3 * H),
        "b_hh": rng.uniform(-k, k, 3 * H),
    }
    x = rng.standard_normal((N, D) if T is None else (T, N, D))
    return {("x_t" if T is None else "x"): x, **out}


def _called(mistakes):
    return {d: np.asarray(f()) for d, f in mistakes.items()}


def hand_step_inputs():
    """The visible by-hand case: D = H = 1, r = 1/2, z = 3/4, W_hn h + b_hn = 2, n = tanh(2)."""
    return {"x_t": np.array([[1.0]]), "h_prev": np.array([[0.5]]),
            "W_ih": np.array([[0.0], [0.0], [1.0]]), "W_hh": np.array([[0.0], [0.0], [2.0]]),
            "b_ih": np.array([0.0, np.log(3.0), 0.0]), "b_hh": np.array([0.0, 0.0, 1.0])}


def hand_backward_inputs():
    """The visible by-hand backward case: W = 0, r = 1/2, z = 3/4, n = 0, hn = 0, dh_t = 1."""
    return {"dh_t": np.array([[1.0]]), "x_t": np.array([[1.0]]), "h_prev": np.array([[0.5]]),
            "W_ih": np.zeros((3, 1)), "W_hh": np.zeros((3, 1)), "r": np.array([[0.5]]),
            "z": np.array([[0.75]]), "n": np.array([[0.0]]), "hn": np.array([[0.0]])}


def fixture_cases():
    """The visible tests' inputs, the right outputs and the common mistakes' outputs on them."""
    rng = np.random.default_rng(6)
    cases = {}

    hand = hand_step_inputs()
    h_t, _ = gru_step_forward(**hand)
    cases["step_hand"] = {"inputs": hand, "expected": {"h_t": h_t},
                          "mistakes": {"h_t": _called(gru_step_forward_mistakes(**hand))}}

    step = random_inputs(rng, N=3, D=4, H=5)
    h_t, cache = gru_step_forward(**step)
    cases["step_random"] = {
        "inputs": step,
        "expected": {"h_t": h_t, **dict(zip(CACHE_NAMES[4:], cache[4:], strict=True))},
        "mistakes": {"h_t": _called(gru_step_forward_mistakes(**step))}}

    seq = random_inputs(rng, N=2, D=3, H=4, T=6)
    h_all, h_T, _ = gru_forward(**seq)
    seq_mistakes = gru_forward_mistakes(**seq)
    cases["forward"] = {"inputs": seq, "expected": {"h": h_all, "h_T": h_T},
                        "mistakes": {k: _called(v) for k, v in seq_mistakes.items()}}

    hb = hand_backward_inputs()
    hb_cache = tuple(hb[k] for k in CACHE_NAMES)
    grads = gru_step_backward(hb["dh_t"], hb_cache)
    hb_mistakes = gru_step_backward_mistakes(hb["dh_t"], hb_cache)
    cases["backward_hand"] = {"inputs": hb, "expected": dict(zip(GRAD_NAMES, grads, strict=True)),
                              "mistakes": {k: _called(v) for k, v in hb_mistakes.items() if v}}

    back = random_inputs(rng, N=3, D=4, H=5)
    _, cache = gru_step_forward(**back)
    dh_t = rng.standard_normal((3, 5))
    grads = gru_step_backward(dh_t, cache)
    mistakes = gru_step_backward_mistakes(dh_t, cache)
    cases["backward_random"] = {
        "inputs": {"dh_t": dh_t, **back, **dict(zip(CACHE_NAMES, cache, strict=True))},
        "expected": dict(zip(GRAD_NAMES, grads, strict=True)),
        "mistakes": {k: _called(v) for k, v in mistakes.items() if v}}

    # D = 3, H = 2: every mistake gives another number (with H - D = 1, "one bias per block" and
    # "W_hh counted as H x D" would coincide)
    counts = {"inputs": {"D": np.array(3), "H": np.array(2)}, "expected": {}, "mistakes": {}}
    for kind in ("rnn", "gru", "lstm"):
        counts["expected"][kind] = np.array(rnn_param_count(kind, 3, 2))
        found = rnn_param_count_mistakes(kind, 3, 2)
        if found:
            counts["mistakes"][kind] = _called(found)
    cases["param_count"] = counts
    return cases
