"""Instructor-only references of notebook 07 (多层 RNN 与双向 RNN) and the mistakes its tests name.

Written apart from the solution cells and in another style: the solutions loop over time inside
each layer's loop the student chooses; these go layer by layer over whole sequences, reverse with
``[::-1]`` and slice PyTorch's state layout with reshapes. ``tests/test_deep_references.py`` checks
them against ``torch.nn.RNN/LSTM/GRU`` with copied weights.

A *step* is ``step(x_t, state, W_ih, W_hh, b_ih, b_hh) -> state`` with ``state`` a tuple whose first
entry is h: ``(h,)`` or ``(h, c)`` (see ``utils/deep.py``). :data:`NUMPY_STEPS` are NumPy steps with
PyTorch's formulas, for the hidden tests (they are answers of notebooks 02, 05 and 06, so they never
ship to students).
"""

import numpy as np

ASSIGNMENT = "07_deep_bidirectional"

_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


# ------------------------------------------------------------------------------------------------
# NumPy steps (PyTorch's formulas); the sigmoid is written with tanh, which never overflows
# ------------------------------------------------------------------------------------------------

def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def np_rnn_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    (h,) = state
    return (np.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh),)


def np_lstm_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = np.split(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return (_sigmoid(o) * np.tanh(c), c)


def np_gru_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    (h,) = state
    xr, xz, xn = np.split(x_t @ W_ih.T + b_ih, 3, axis=-1)
    hr, hz, hn = np.split(h @ W_hh.T + b_hh, 3, axis=-1)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return ((1.0 - z) * n + z * h,)


NUMPY_STEPS = {"rnn": np_rnn_step, "lstm": np_lstm_step, "gru": np_gru_step}


def accumulate_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    """The by-hand step of the visible tests: h_t = W_hh h_{t-1} + W_ih x_t (a running sum when
    both are 1; the biases are ignored)."""
    (h,) = state
    return (h @ W_hh.T + x_t @ W_ih.T,)


# ------------------------------------------------------------------------------------------------
# References
# ------------------------------------------------------------------------------------------------

def _run(x, state, weights, step):
    """One direction of one layer over the whole sequence: (all h (T, N, H), final state)."""
    hs = []
    for x_t in x:
        state = tuple(step(x_t, state, *weights))
        hs.append(state[0])
    return np.array(hs), state


def stacked(x, states0, layers, step):
    """Reference of ``stacked_forward``: layer by layer, each over the whole sequence."""
    below, finals = x, []
    for state, weights in zip(states0, layers, strict=True):
        below, last = _run(below, state, weights, step)
        finals.append(last)
    return below, finals


def bidirectional(x, state0_f, state0_b, weights_f, weights_b, step):
    """Reference of ``bidirectional_layer``: the backward pass reads ``x[::-1]`` and is flipped back."""
    hf, last_f = _run(x, state0_f, weights_f, step)
    hb, last_b = _run(x[::-1], state0_b, weights_b, step)
    return np.dstack([hf, hb[::-1]]), last_f, last_b


def deep(x, hx, params, step, num_layers, bidirectional=True):
    """Reference of ``deep_rnn_forward`` (PyTorch's layout: state k = layer·directions + direction)."""
    dirs = 2 if bidirectional else 1
    suffixes = ("", "_reverse")[:dirs]
    grid = [np.reshape(s, (num_layers, dirs) + np.shape(s)[1:]) for s in hx]    # (L, dirs, N, H)
    layer_in, finals = x, []
    for layer in range(num_layers):
        outs = []
        for d, sfx in enumerate(suffixes):
            w = tuple(params[f"{n}_l{layer}{sfx}"] for n in _NAMES)
            seq = layer_in if d == 0 else layer_in[::-1]
            hs, last = _run(seq, tuple(g[layer, d] for g in grid), w, step)
            outs.append(hs if d == 0 else hs[::-1])
            finals.append(last)
        layer_in = np.concatenate(outs, axis=-1)
    hn = tuple(np.array([f[i] for f in finals]) for i in range(len(hx)))
    return layer_in, hn


# ------------------------------------------------------------------------------------------------
# Mistakes: {output: {description: zero-argument callable}}, each what a planted mistake returns
# ------------------------------------------------------------------------------------------------

STACKED = {
    "x": "every layer read x_t instead of the layer below (h_t^(l-1))",
    "late": "layer l received the layer below at time t-1 (h_{t-1}^(l-1)) instead of time t",
    "bottom": "returned the first layer's states instead of the top layer's",
    "shared": "every layer used the first layer's weights",
    "c_up": "passed the LSTM's cell state c up to the next layer instead of h",
}


def _stacked_variant(x, states0, layers, step, mistake):
    states = [tuple(s) for s in states0]
    outs, bottoms = [], []
    for x_t in x:
        inp = x_t
        for layer in range(len(layers)):
            weights = layers[0] if mistake == "shared" else layers[layer]
            source = x_t if mistake == "x" else inp
            new = tuple(step(source, states[layer], *weights))
            if mistake == "late":
                inp = states[layer][0]
            elif mistake == "c_up":
                inp = new[-1]
            else:
                inp = new[0]
            states[layer] = new
        outs.append(inp)
        bottoms.append(states[0][0])
    out = np.array(bottoms if mistake == "bottom" else outs)
    return out, states


def stacked_mistakes(x, states0, layers, step):
    """``{"out": {...}, "h_n": {...}, "c_n": {...}}`` (c_n only for two-array states)."""
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = _stacked_variant(x, states0, layers, step, key)
        return cache[key]

    found = {"out": {}, "h_n": {}}
    two = len(states0[0]) == 2
    if two:
        found["c_n"] = {}
    for key, description in STACKED.items():
        if key == "c_up" and not two:
            continue
        found["out"][description] = lambda key=key: get(key)[0]
        found["h_n"][description] = lambda key=key: np.array([s[0] for s in get(key)[1]])
        if two:
            found["c_n"][description] = lambda key=key: np.array([s[1] for s in get(key)[1]])
    return found


BIDIRECTIONAL = {
    "unaligned": "the backward states were not reversed back into time order",
    "b_first": "the backward half came first (PyTorch puts the forward half first)",
    "summed": "the two directions were summed instead of concatenated",
    "f_weights": "the backward RNN used the forward weights",
    "forwards": "the backward RNN read the sequence forwards",
    "f_state0": "the backward RNN started from the forward initial state",
    "first_b": "returned the backward state at time T (its first step) instead of its state "
               "after reading x_1",
}


def _bidirectional_variant(x, s0f, s0b, wf, wb, step, mistake):
    hf, last_f = _run(x, s0f, wf, step)
    seq = x if mistake == "forwards" else x[::-1]
    hb, last_b = _run(seq, s0f if mistake == "f_state0" else s0b, wf if mistake == "f_weights" else wb,
                      step)
    if mistake not in ("unaligned", "forwards"):
        hb = hb[::-1]
    if mistake == "first_b":
        last_b = tuple(step(x[-1], s0b, *wb))
    if mistake == "summed":
        out = hf + hb
    elif mistake == "b_first":
        out = np.concatenate([hb, hf], axis=2)
    else:
        out = np.concatenate([hf, hb], axis=2)
    return out, last_f, last_b


def bidirectional_mistakes(x, s0f, s0b, wf, wb, step):
    """``{"out": {...}, "h_b": {...}}``: the outputs and the backward final h of each mistake."""
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = _bidirectional_variant(x, s0f, s0b, wf, wb, step, key)
        return cache[key]

    return {"out": {d: (lambda k=k: get(k)[0]) for k, d in BIDIRECTIONAL.items()},
            "h_b": {d: (lambda k=k: get(k)[2][0]) for k, d in BIDIRECTIONAL.items()}}


DEEP = {
    "dir_major": "read h0 in direction-major order (PyTorch's layout is layer-major: "
                 "index = layer * directions + direction)",
    "reverse_ignored": "the backward direction used the forward weights (the _reverse "
                       "parameters were ignored)",
    "all_x": "every layer read x instead of the layer below",
    "layer0": "every layer used layer 0's weights",
    "out_last": "took the backward final state from the last time step of the output "
                "(it is the state after reading x_1, at time 0)",
    "top_only": "h_n holds only the top layer's final states (PyTorch keeps every layer's)",
    "hc_swapped": "h_n and c_n were swapped",
}


def _deep_variant(x, hx, params, step, num_layers, bidirectional, mistake):
    dirs = 2 if bidirectional else 1
    suffixes = ("", "_reverse")[:dirs]
    H = np.shape(hx[0])[-1]
    layer_in, finals = x, []
    for layer in range(num_layers):
        outs = []
        for d, sfx in enumerate(suffixes):
            index = d * num_layers + layer if mistake == "dir_major" else layer * dirs + d
            sfx = "" if mistake == "reverse_ignored" else sfx
            w = tuple(params[f"{n}_l{0 if mistake == 'layer0' else layer}{sfx}"] for n in _NAMES)
            source = x if mistake == "all_x" else layer_in
            seq = source if d == 0 else source[::-1]
            hs, last = _run(seq, tuple(s[index] for s in hx), w, step)
            outs.append(hs if d == 0 else hs[::-1])
            finals.append(last)
        layer_in = np.concatenate(outs, axis=-1)
        if mistake == "out_last" and dirs == 2:
            finals[-1] = (layer_in[-1][:, H:],) + tuple(finals[-1][1:])
    if mistake == "top_only":
        finals = finals[-dirs:]
    order = range(len(hx))[::-1] if mistake == "hc_swapped" else range(len(hx))
    hn = tuple(np.array([f[i] for f in finals]) for i in order)
    return layer_in, hn


def deep_mistakes(x, hx, params, step, num_layers, bidirectional=True):
    """``{"out": {...}, "h_n": {...}[, "c_n": {...}]}`` of the deep (bidirectional) RNN's mistakes."""
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = _deep_variant(x, hx, params, step, num_layers, bidirectional, key)
        return cache[key]

    found = {"out": {}, "h_n": {}}
    if len(hx) == 2:
        found["c_n"] = {}
    for key, description in DEEP.items():
        if key == "hc_swapped" and len(hx) != 2:
            continue
        if key in ("dir_major", "reverse_ignored", "out_last") and not bidirectional:
            continue
        for i, output in enumerate(["h_n", "c_n"][:len(hx)]):
            found[output][description] = lambda key=key, i=i: get(key)[1][i]
        found["out"][description] = lambda key=key: get(key)[0]
    return found


# ------------------------------------------------------------------------------------------------
# Fixtures for the visible tests (fixed inputs drawn once)
# ------------------------------------------------------------------------------------------------

def _params(kind, D, H, num_layers, bidirectional, rng):
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    params = {}
    for layer in range(num_layers):
        width = D if layer == 0 else H * (2 if bidirectional else 1)
        for sfx in ("", "_reverse")[:2 if bidirectional else 1]:
            params[f"weight_ih_l{layer}{sfx}"] = rng.uniform(-0.8, 0.8, (G * H, width))
            params[f"weight_hh_l{layer}{sfx}"] = rng.uniform(-0.8, 0.8, (G * H, H))
            params[f"bias_ih_l{layer}{sfx}"] = rng.uniform(-0.5, 0.5, G * H)
            params[f"bias_hh_l{layer}{sfx}"] = rng.uniform(-0.5, 0.5, G * H)
    return params


def _evaluate(mistakes, expected):
    """The mistakes' outputs as arrays, without those that equal the right answer on these inputs
    (on a by-hand case some mistakes make no difference, and a fixture must tell them apart)."""
    found = {}
    for output, variants in mistakes.items():
        right = expected[output]
        kept = {}
        for description, variant in variants.items():
            value = np.asarray(variant())
            if value.shape != right.shape or not np.allclose(value, right, rtol=1e-6, atol=1e-8):
                kept[description] = value
        if kept:
            found[output] = kept
    return found


def _stacked_case(kind, T, N, D, H, L, rng):
    params = _params(kind, D, H, L, False, rng)
    x = rng.standard_normal((T, N, D))
    states = [rng.standard_normal((L, N, H)) * 0.5 for _ in range(2 if kind == "lstm" else 1)]
    layers = [tuple(params[f"{n}_l{k}"] for n in _NAMES) for k in range(L)]
    states0 = [tuple(s[k] for s in states) for k in range(L)]
    step = NUMPY_STEPS[kind]
    out, finals = stacked(x, states0, layers, step)
    expected = {"out": out, "h_n": np.array([f[0] for f in finals])}
    inputs = dict(params, x=x, h0=states[0])
    if kind == "lstm":
        expected["c_n"] = np.array([f[1] for f in finals])
        inputs["c0"] = states[1]
    return {"inputs": inputs, "expected": expected,
            "mistakes": _evaluate(stacked_mistakes(x, states0, layers, step), expected)}


def _bidirectional_case(kind, T, N, D, H, rng):
    params = _params(kind, D, H, 1, True, rng)
    x = rng.standard_normal((T, N, D))
    states = [rng.standard_normal((2, N, H)) * 0.5 for _ in range(2 if kind == "lstm" else 1)]
    wf = tuple(params[f"{n}_l0"] for n in _NAMES)
    wb = tuple(params[f"{n}_l0_reverse"] for n in _NAMES)
    s0f, s0b = tuple(s[0] for s in states), tuple(s[1] for s in states)
    step = NUMPY_STEPS[kind]
    out, last_f, last_b = bidirectional(x, s0f, s0b, wf, wb, step)
    inputs = dict(params, x=x, h0=states[0])
    expected = {"out": out, "h_f": last_f[0], "h_b": last_b[0]}
    if kind == "lstm":
        inputs["c0"] = states[1]
        expected.update(c_f=last_f[1], c_b=last_b[1])
    return {"inputs": inputs, "expected": expected,
            "mistakes": _evaluate(bidirectional_mistakes(x, s0f, s0b, wf, wb, step), expected)}


def _deep_case(kind, T, N, D, H, L, bidirectional, rng):
    params = _params(kind, D, H, L, bidirectional, rng)
    dirs = 2 if bidirectional else 1
    x = rng.standard_normal((T, N, D))
    hx = tuple(rng.standard_normal((L * dirs, N, H)) * 0.5 for _ in range(2 if kind == "lstm" else 1))
    step = NUMPY_STEPS[kind]
    out, hn = deep(x, hx, params, step, L, bidirectional)
    inputs = dict(params, x=x, h0=hx[0])
    expected = {"out": out, "h_n": hn[0]}
    if kind == "lstm":
        inputs["c0"] = hx[1]
        expected["c_n"] = hn[1]
    return {"inputs": inputs, "expected": expected,
            "mistakes": _evaluate(deep_mistakes(x, hx, params, step, L, bidirectional), expected)}


def fixture_cases():
    """The visible tests' inputs, correct outputs and the catalogued mistakes' outputs."""
    rng = np.random.default_rng(7)
    cases = {}
    # by hand: running sums (W_ih = W_hh = 1), x = 1, 2, 3, 4, zero initial states
    ones = (np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), np.zeros(1))
    x = np.arange(1.0, 5.0).reshape(4, 1, 1)
    zero = (np.zeros((1, 1)),)
    out, finals = stacked(x, [zero, zero], [ones, ones], accumulate_step)
    expected = {"out": out, "h_n": np.array([f[0] for f in finals])}
    cases["stacked_by_hand"] = {
        "inputs": {"x": x}, "expected": expected,
        "mistakes": _evaluate(stacked_mistakes(x, [zero, zero], [ones, ones], accumulate_step), expected)}
    out, last_f, last_b = bidirectional(x, zero, zero, ones, ones, accumulate_step)
    expected = {"out": out, "h_f": last_f[0], "h_b": last_b[0]}
    cases["bidirectional_by_hand"] = {
        "inputs": {"x": x}, "expected": expected,
        "mistakes": _evaluate(bidirectional_mistakes(x, zero, zero, ones, ones, accumulate_step),
                              expected)}
    # against PyTorch: D = H (a square case where a wrong input still fits) and D != H
    for kind in ("rnn", "lstm", "gru"):
        cases[f"stacked_{kind}"] = _stacked_case(kind, T=5, N=2, D=3, H=3, L=3, rng=rng)
        cases[f"bidirectional_{kind}"] = _bidirectional_case(kind, T=5, N=2, D=4, H=3, rng=rng)
        # D = 2H: a layer above reads 2H features, so 'every layer read x' still runs
        cases[f"deep_{kind}"] = _deep_case(kind, T=4, N=2, D=6, H=3, L=3, bidirectional=True, rng=rng)
    cases["deep_uni_lstm"] = _deep_case("lstm", T=4, N=2, D=3, H=3, L=2, bidirectional=False, rng=rng)
    return cases
