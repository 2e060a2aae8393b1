# %% [markdown]
# # 07 · 多层 RNN 与双向 RNN — Deep and bidirectional RNNs
#
# So far every network of the course had **one** recurrent layer that reads the sentence from left to
# right. The lecture notes end with two ways to build bigger recurrent networks:
#
# * **多层 RNN (deep or stacked RNN)**: put recurrent layers on top of each other, so that the states
#   of one layer are the inputs of the next;
# * **双向 RNN (bidirectional RNN)**: read the sequence in both directions, so that the state at time
#   $t$ knows the past *and* the future of the sequence.
#
# Both are one argument of `torch.nn.RNN`, `LSTM` and `GRU` (`num_layers=L`, `bidirectional=True`).
# In this notebook you build them yourself, for any of the three cells, and reproduce PyTorch's
# outputs, final states and parameter names exactly. Then two experiments show what each one buys:
# a tagger whose hardest words can only be tagged by looking ahead, and a language model that a
# bidirectional RNN "solves" by reading the answer.
#
# **Learning goals.** After this notebook you can
#
# 1. write the recurrence of a deep RNN, $h_t^{(l)} = f\big(h_t^{(l-1)}, h_{t-1}^{(l)}\big)$ with
#    $h_t^{(0)} = x_t$, and implement it once for every cell kind (RNN, LSTM, GRU) through a step
#    function;
# 2. implement a bidirectional layer: a forward and a backward RNN side by side in *one* layer, their
#    states aligned in time and concatenated to $2H$;
# 3. combine both into PyTorch's multi-layer bidirectional RNN, with its parameter names
#    (`weight_ih_l0`, `weight_hh_l1_reverse`, ...), its state layout $(L\cdot 2, N, H)$ and its
#    parameter count, and check every number against `torch.nn`;
# 4. measure when direction helps and depth does not (tagging words whose tag depends on the next
#    word), and why a bidirectional RNN must never be used to predict the next token.
#
# **Conventions** (as in the whole course): inputs are time-major, `x` has shape (T, N, D); a hidden
# state has shape (N, H); weights are in PyTorch's layout, `W_ih` (G·H, D), `W_hh` (G·H, H), with
# G = 1 (RNN), 4 (LSTM, gate blocks i, f, g, o) or 3 (GRU, blocks r, z, n), and a step computes
# `x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh`. NumPy exercises work in float64.
#
# **术语表 · Glossary.** The Chinese and English terms of the course and the symbol each notebook uses: [GLOSSARY.md](../../GLOSSARY.md).

# %%
import numpy as np
import torch

import utils
from utils import data, deep, plotting, tagging, text

plotting.use_course_style()
torch.set_num_threads(1)  # the models here are tiny: one thread is faster than several
rng = utils.seed_all(0)
print("grading mode:", utils.grading_mode(), "| device:", utils.device())

# %% [markdown]
# ## 1. 多层 RNN — stacking recurrent layers
#
# A one-layer RNN turns the inputs $x_1, \dots, x_T$ into states $h_1, \dots, h_T$: a sequence of
# vectors again. Nothing stops us from feeding that sequence to a second RNN, and its states to a
# third. Layer $l$ at time $t$ then has **two** inputs: the state of the layer below at the **same**
# time, $h_t^{(l-1)}$, and its own state at the **previous** time, $h_{t-1}^{(l)}$. For Elman layers
# (notebook 02):
#
# $$h_t^{(l)} = \tanh\!\big(W_{xh}^{(l)}\, h_t^{(l-1)} + W_{hh}^{(l)}\, h_{t-1}^{(l)} + b^{(l)}\big),
# \qquad l = 1, \dots, L, \qquad h_t^{(0)} = x_t,$$
#
# and the output reads the top layer, $y_t = W_{hy}\, h_t^{(L)} + b_y$. Every layer has its own
# weights: $W_{xh}^{(1)}$ is $H \times D$, the layers above read $H$ numbers, so their $W_{xh}^{(l)}$
# are $H \times H$. Each layer has its own initial state $h_0^{(l)}$. With an LSTM or a GRU in place of
# tanh the picture is the same: only the step changes, and an LSTM layer passes its $h$ (not its cell
# state $c$) up to the next layer.
#
# The lower layers see the inputs, the higher ones see features of features: the same reason for
# depth as in a feed-forward network. Depth multiplies the parameters and the time per step; whether
# it helps depends on the task (section 8 measures one where it does not).
#
# > **A note on the lecture notes.** The notes' sentence on deep RNNs is garbled ("the first layer's
# > output of the input of the layer above directly receives the previous time's input ..."). What is
# > right: layer 1 receives $x_t$ and $h_{t-1}^{(1)}$; every other layer $l$ receives
# > $h_t^{(l-1)}$ (the layer below, **same** time $t$) and $h_{t-1}^{(l)}$ (itself, previous time).
# > Nothing comes from the layer below at time $t-1$.

# %%
fig = deep.draw_stacked(num_layers=3, T=4)
plotting.finish(fig)

# %% [markdown]
# The grid can be computed in two orders: **time first** (at each $t$, go up through the layers) or
# **layer first** (run layer 1 over the whole sequence, then layer 2 over the states of layer 1, ...).
# Every arrow goes up or right, so both orders meet each box after its two inputs and give the same
# numbers. PyTorch computes layer by layer; a model that must answer while the sequence is still
# arriving (speech, streaming) goes time first.
#
# ### Worked example: `num_layers=2` is two RNNs, one on top of the other
#
# `torch.nn.RNN(D, H, num_layers=2)` names its weights by layer, `weight_ih_l0`, `weight_hh_l0`,
# `bias_ih_l0`, `bias_hh_l0` for the bottom layer (`l0`) and the same with `l1` for the next. PyTorch
# keeps two biases per layer and always adds them, $b = b_{ih} + b_{hh}$. Below, the states of the
# two-layer module equal those of two one-layer modules applied one after the other, with the weights
# copied layer by layer: "layer first" in code.

# %%
D, H, T, N = 3, 4, 6, 2
utils.seed_all(1)
two_layers = torch.nn.RNN(D, H, num_layers=2, dtype=torch.float64)
for name, p in two_layers.state_dict().items():
    print(f"{name:<14} {tuple(p.shape)}")

x_demo = torch.randn(T, N, D, dtype=torch.float64)
out_two, h_n_two = two_layers(x_demo)

below = x_demo                                          # h^(0)_t = x_t
for layer in range(2):
    one = torch.nn.RNN(below.shape[2], H, dtype=torch.float64)
    one.load_state_dict({f"{w}_l0": two_layers.state_dict()[f"{w}_l{layer}"] for w in deep.WEIGHT_NAMES})
    below, _ = one(below)                               # the whole sequence of layer `layer`
print("top states equal:", torch.allclose(below, out_two, rtol=0, atol=1e-13))  # float64 rounding only
print("h_n has one final state per layer:", tuple(h_n_two.shape), "= (num_layers, N, H)")
assert torch.allclose(below, out_two, rtol=0, atol=1e-13)


# %% [markdown]
# **Parameters.** A layer with G gate blocks (G = 1, 4, 3 for RNN, LSTM, GRU) that reads $D_l$
# numbers has $G H (D_l + H) + 2GH$ parameters: the two weight matrices and PyTorch's two biases, with
# $D_1 = D$ and $D_l = H$ above. The code checks the formula against PyTorch for the three cells.

# %%
def count_formula(kind, D, H, num_layers, directions=1):
    '''G H (D_l + H) + 2 G H per layer and direction; D_1 = D, D_l = directions * H above.'''
    G = deep.GATE_BLOCKS[kind]
    widths = [D] + [directions * H] * (num_layers - 1)
    return sum(directions * (G * H * (width + H) + 2 * G * H) for width in widths)


for kind, module in [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
    for L in (1, 3):
        counted = deep.n_parameters(module(10, 32, num_layers=L))
        assert counted == count_formula(kind, 10, 32, L)
        print(f"{kind.upper():>4}, D=10, H=32, {L} layer(s): {counted:6d} parameters (formula: "
              f"{count_formula(kind, 10, 32, L)})")

# %% [markdown]
# ## 2. One stacked RNN for every cell: the step interface
#
# You wrote the Elman step in notebook 02, and notebooks 05 and 06 have you write the LSTM and GRU
# steps. A stacked RNN does not care what happens inside a step, so the exercise receives the step as
# an argument. A later notebook cannot import your earlier code, so `utils.deep` gives you the three
# steps as bridges to PyTorch (a `torch.nn.RNNCell`, `LSTMCell` or `GRUCell` with the weights copied
# in, taking and returning NumPy arrays). They all have the same interface:
#
# ```python
# new_state = step(x_t, state, W_ih, W_hh, b_ih, b_hh)
# ```
#
# * `x_t` is (N, D); the weights are PyTorch's, in its order;
# * a **state is a tuple** of (N, H) arrays whose **first entry is always $h$**: `(h,)` for an RNN
#   or a GRU, `(h, c)` for an LSTM. So `state[0]` is what a layer passes up, for every cell kind, and
#   your code never needs to know which cell it runs.

# %%
utils.seed_all(2)
cell = torch.nn.LSTMCell(3, 2, dtype=torch.float64)
W = tuple(getattr(cell, name).detach().numpy() for name in deep.WEIGHT_NAMES)
print("LSTM weight shapes (i, f, g, o blocks stacked):", [w.shape for w in W])
x_t, h, c = np.ones((1, 3)), np.zeros((1, 2)), np.zeros((1, 2))
h1, c1 = deep.lstm_step(x_t, (h, c), *W)                 # a state goes in, a state comes out
print("new state (h, c):", h1.round(4), c1.round(4))
(h_rnn,) = deep.rnn_step(x_t, (h,), np.ones((2, 3)), np.eye(2), np.zeros(2), np.zeros(2))
print("RNN: tanh(1 + 1 + 1) =", np.tanh(3.0).round(6), "| rnn_step:", h_rnn.round(6))
assert np.allclose(h_rnn, np.tanh(3.0), rtol=1e-12)       # h = tanh(W_ih x + W_hh 0 + 0), x = (1, 1, 1)


# %% [markdown]
# ## 3. Exercise 1 — a stacked RNN (4 points)
#
# Implement `stacked_forward(x, states0, layers, step)`: an RNN of $L$ layers over the whole sequence.
# Layer $l$ at time $t$ computes its new state as `step(below, previous, *layers[l])`, where
# `previous` is its own state at time $t-1$ (at $t = 1$: `states0[l]`) and `below` is its input: $x_t$
# for the bottom layer, and for every other layer the $h$ (the first entry of the state) of the layer
# below **at the same time step $t$**. Return the $h$ of the top layer at every step, and every
# layer's final state.
#
# Rules: use only the `step` you are given and NumPy (no `torch` here); work for any cell kind (never
# look inside a state except for `state[0]`); change none of your arguments: not the list `states0`
# you are given (build a new list), not the list `layers`, not `x` nor the arrays they hold. Either
# loop order (time first or layer first) is fine.

# %% nbgrader={"grade": false, "grade_id": "stacked_forward", "locked": false, "schema_version": 3, "solution": true}
def stacked_forward(x, states0, layers, step):
    """A stacked (deep) RNN of L layers over a whole sequence, for any cell kind.

    Layer l at time t reads the layer below at the same time and itself at time t-1:
    state_t^(l) = step(h_t^(l-1), state_{t-1}^(l), *layers[l]), with h_t^(0) = x_t.

    Inputs:
    - x: inputs, shape (T, N, D)
    - states0: list of L initial states, bottom layer first. A state is a tuple of (N, H) arrays
      whose first entry is h: (h,) for an RNN or a GRU, (h, c) for an LSTM.
    - layers: list of L weight tuples (W_ih, W_hh, b_ih, b_hh), bottom layer first; the bottom
      layer's W_ih is (G*H, D), the others' (G*H, H).
    - step: step(x_t, state, W_ih, W_hh, b_ih, b_hh) -> new state, a tuple like `state`.

    Returns a tuple (out, states):
    - out: the h of the top layer at every time step, an array of shape (T, N, H) (float64 for
      float64 inputs)
    - states: a new list of the L final states (after time step T), bottom layer first, each a
      tuple like states0[l]. `states0` itself is left unchanged.
    """
    ### BEGIN SOLUTION
    states = list(states0)                      # a new list: the caller's stays as it was
    outputs = []
    for t in range(x.shape[0]):
        inp = x[t]                              # h_t^(0) = x_t
        for l, weights in enumerate(layers):
            states[l] = step(inp, states[l], *weights)   # below at time t, itself at t-1
            inp = states[l][0]                  # its h is the input of the layer above
        outputs.append(inp)
    return np.stack(outputs), states
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_stacked_forward_shapes_and_by_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import deep, fixtures

_fx = fixtures.load("07_deep_bidirectional")


def running_sum_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    """A toy 'cell' without activation: h_t = W_hh h_{t-1} + W_ih x_t (the biases are unused)."""
    return (state[0] @ W_hh.T + x_t @ W_ih.T,)


# Shapes: 3 LSTM layers, D = 2, H = 3, T = 4, N = 2 (states are (h, c) pairs).
_rng = utils.seed_all(0)
_params = deep.random_params("lstm", 2, 3, 3, False, _rng)
_layers = [tuple(_params[f"{_n}_l{_l}"] for _n in deep.WEIGHT_NAMES) for _l in range(3)]
_states0 = [(np.zeros((2, 3)), np.zeros((2, 3))) for _ in range(3)]
_result = stacked_forward(_rng.standard_normal((4, 2, 2)), _states0, _layers, deep.lstm_step)
utils.check_equal("stacked_forward returns a pair (out, states)", len(_result), 2)
utils.check_shape("out of 3 LSTM layers, T=4, N=2, H=3", _result[0], (4, 2, 3),
                  hint="out holds the top layer's h at every step: (T, N, H)")
utils.check_equal("number of final states (one per layer)", len(_result[1]), 3)
utils.check_equal("each final LSTM state is a tuple (h, c) of length", len(_result[1][0]), 2)

# By hand: two running-sum layers (all weights 1), x = 1, 2, 3, 4, zero initial states.
#   layer 1 sums the inputs:  1, 3, 6, 10
#   layer 2 sums layer 1:     1, 4, 10, 20   (at time t it adds layer 1's state at the SAME time t)
_case = _fx["stacked_by_hand"]
_one = (np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), np.zeros(1))
_zero = (np.zeros((1, 1)),)
_out, _states = stacked_forward(_case.inputs["x"], [_zero, _zero], [_one, _one], running_sum_step)
utils.check_close("stacked_forward by hand (two running sums of x = 1, 2, 3, 4)",
                  _out, np.array([1.0, 4.0, 10.0, 20.0]).reshape(4, 1, 1),
                  atol=1e-12, rtol=0,  # small integers: exact in float64
                  mistakes=_case.mistakes("out"))
utils.check_close("final h of both layers by hand", np.array([_s[0] for _s in _states]),
                  np.array([10.0, 20.0]).reshape(2, 1, 1), atol=1e-12, rtol=0,
                  mistakes=_case.mistakes("h_n"))
### BEGIN HIDDEN TESTS
from autograder.references import deep as _ref

_rng = utils.seed_all(None)
for _T, _N, _D, _H, _L in [(1, 1, 1, 1, 1), (1, 2, 3, 2, 2), (4, 1, 2, 5, 3), (3, 2, 4, 4, 2)]:
    for _kind in deep.KINDS:
        _p = deep.random_params(_kind, _D, _H, _L, False, _rng)
        _layers = [tuple(_p[f"{_n}_l{_l}"] for _n in deep.WEIGHT_NAMES) for _l in range(_L)]
        _states0 = [tuple(_rng.standard_normal((_N, _H)) for _ in range(deep.STATE_SIZE[_kind]))
                    for _l in range(_L)]
        _out, _states = stacked_forward(_rng.standard_normal((_T, _N, _D)), _states0, _layers,
                                        _ref.NUMPY_STEPS[_kind])
        utils.check_shape(f"out of {_kind}, T={_T}, N={_N}, D={_D}, H={_H}, L={_L}", _out, (_T, _N, _H))
        utils.check_type(f"out of {_kind}, T={_T}, N={_N}, L={_L} (float64 inputs)", _out, np.ndarray,
                         dtype=np.float64, hint="np.stack of the float64 states is a float64 array")
        utils.check_type(f"the final states of {_kind}, L={_L}", _states, list, items=tuple,
                         hint="the docstring promises a new list of the L final states, each a "
                              "tuple like states0[l] (what step returned)")
        utils.check_equal(f"number of final states, L={_L}", len(_states), _L)
        for _s in _states:
            utils.check_equal(f"{_kind} final state is a tuple of length", len(tuple(_s)),
                              deep.STATE_SIZE[_kind])
# what comes back, on fresh inputs that the call must leave as they were (x, the lists states0
# and layers, every array in them): 2 LSTM layers, T=3, N=2, D=2, H=3
_p = deep.random_params("lstm", 2, 3, 2, False, _rng)
_result = utils.call_unchanged(
    "stacked_forward(x, states0, layers, step) (2 LSTM layers, T=3, N=2, D=2, H=3)", stacked_forward,
    _rng.standard_normal((3, 2, 2)),
    [tuple(_rng.standard_normal((2, 3)) for _ in range(2)) for _l in range(2)],
    [tuple(_p[f"{_n}_l{_l}"] for _n in deep.WEIGHT_NAMES) for _l in range(2)], _ref.NUMPY_STEPS["lstm"])
utils.check_type("what stacked_forward returns", _result, tuple,
                 hint="return out, states: a tuple (out, states)")
utils.check_equal("stacked_forward returns a pair (out, states)", len(_result), 2)
utils.check_type("out of 2 LSTM layers (float64 inputs)", _result[0], np.ndarray, dtype=np.float64,
                 hint="np.stack of the float64 states is a float64 array")
utils.check_type("the final states of 2 LSTM layers", _result[1], list, items=tuple,
                 hint="the docstring promises a new list of the L final states, each a tuple (h, c) "
                      "like states0[l]")
for _s in _result[1]:
    utils.check_type("the arrays of a final LSTM state", _s, tuple, items=np.ndarray)
# by hand with fresh numbers: running sums with weights a (layer 1) and b (layer 2), x_t = 1:
# layer 1 = a t, layer 2 = b a t (t + 1) / 2
_a, _b, _T = _rng.uniform(0.5, 2.0), _rng.uniform(0.5, 2.0), 5
_out, _ = stacked_forward(np.ones((_T, 1, 1)), [_zero, _zero],
                          [(np.full((1, 1), _a), np.ones((1, 1)), np.zeros(1), np.zeros(1)),
                           (np.full((1, 1), _b), np.ones((1, 1)), np.zeros(1), np.zeros(1))],
                          running_sum_step)
_t = np.arange(1, _T + 1)
utils.check_close("stacked_forward by hand (running sums with fresh weights)", _out,
                  (_b * _a * _t * (_t + 1) / 2).reshape(_T, 1, 1), atol=1e-10, rtol=1e-10)  # rounding only
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_stacked_forward_against_torch", "locked": true, "points": 3, "schema_version": 3, "solution": false}
from utils import deep, fixtures

_fx = fixtures.load("07_deep_bidirectional")

# Against torch.nn.RNN / LSTM / GRU(num_layers=3) holding the same weights, for the three cells.
# The fixture's weights are named as a state_dict; D = H = 3, so a wrong input still fits.
for _kind in deep.KINDS:
    _case = _fx[f"stacked_{_kind}"]
    _x = _case.inputs["x"]
    _params = {_k: _v for _k, _v in _case.inputs.items() if _k.startswith(("weight", "bias"))}
    _hx = (_case.inputs["h0"], _case.inputs["c0"]) if _kind == "lstm" else (_case.inputs["h0"],)
    _layers = [tuple(_params[f"{_n}_l{_l}"] for _n in deep.WEIGHT_NAMES) for _l in range(3)]
    _states0 = [tuple(_s[_l] for _s in _hx) for _l in range(3)]
    _kept = [tuple(_a.copy() for _a in _s) for _s in _states0]
    _out, _states = stacked_forward(_x, _states0, _layers, deep.STEPS[_kind])
    _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _params, num_layers=3,
                                               bidirectional=False)
    utils.check_close(f"stacked_forward out ({_kind.upper()}, 3 layers) against torch.nn.{_kind.upper()}",
                      _out, _out_torch,
                      atol=1e-10, rtol=1e-8,  # float64: PyTorch's fused kernels round in another order
                      mistakes=_case.mistakes("out"))
    utils.check_close(f"final h of every layer ({_kind.upper()}) against torch's h_n",
                      np.array([_s[0] for _s in _states]), _hn_torch[0], atol=1e-10, rtol=1e-8,
                      mistakes=_case.mistakes("h_n"))
    if _kind == "lstm":
        utils.check_close("final c of every LSTM layer against torch's c_n",
                          np.array([_s[1] for _s in _states]), _hn_torch[1], atol=1e-10, rtol=1e-8,
                          mistakes=_case.mistakes("c_n"))
    for _l in range(3):
        if not all(np.array_equal(_a, _b) for _a, _b in zip(_states0[_l], _kept[_l])):
            raise utils.CheckFailure(
                "stacked_forward changed its input states0: after the call, the list you were given "
                f"holds other states (layer {_l}). Build a new list, e.g. states = list(states0), "
                "and replace the entries of that one.")
### BEGIN HIDDEN TESTS
from autograder.references import deep as _ref

_rng = utils.seed_all(None)


def _np_rnn_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    return (np.tanh(x_t @ W_ih.T + b_ih + state[0] @ W_hh.T + b_hh),)


def _torch_case(kind, T, N, D, H, L, scale=1.0):
    p = deep.random_params(kind, D, H, L, False, _rng)
    x = scale * _rng.standard_normal((T, N, D))
    hx = tuple(_rng.standard_normal((L, N, H)) for _ in range(deep.STATE_SIZE[kind]))
    layers = [tuple(p[f"{n}_l{l}"] for n in deep.WEIGHT_NAMES) for l in range(L)]
    return p, x, hx, layers, [tuple(s[l] for s in hx) for l in range(L)]


# fresh random weights, edge shapes (T=1, N=1, L=1, D != H, D = H), torch bridges against torch.nn;
# scale 30: saturated units, extreme but valid inputs
for _T, _N, _D, _H, _L, _scale in [(1, 1, 1, 1, 1, 1.0), (1, 3, 2, 4, 2, 1.0), (5, 1, 4, 4, 3, 1.0),
                                   (3, 2, 5, 2, 2, 30.0)]:
    for _kind in deep.KINDS:
        _p, _x, _hx, _layers, _states0 = _torch_case(_kind, _T, _N, _D, _H, _L, _scale)
        _out, _states = stacked_forward(_x, _states0, _layers, deep.STEPS[_kind])
        _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _p, _L, False)
        _m = _ref.stacked_mistakes(_x, _states0, _layers, _ref.NUMPY_STEPS[_kind])
        _what = f"({_kind}, T={_T}, N={_N}, D={_D}, H={_H}, L={_L}, inputs x{_scale:g})"
        utils.check_close(f"stacked_forward out {_what}", _out, _out_torch, atol=1e-10, rtol=1e-8,
                          mistakes=_m["out"])
        for _i, _name in enumerate(["h_n", "c_n"][:deep.STATE_SIZE[_kind]]):
            utils.check_close(f"final states {_name} {_what}", np.array([_s[_i] for _s in _states]),
                              _hn_torch[_i], atol=1e-10, rtol=1e-8, mistakes=_m[_name])
        utils.check_type(f"out {_what}", _out, np.ndarray, dtype=np.float64,
                         hint="np.stack of the float64 states is a float64 array")
        utils.check_type(f"the final states {_what}", _states, list, items=tuple,
                         hint="the docstring promises a new list of the L final states, each a "
                              "tuple like states0[l]")
# saturated units whatever the draw: biases near +-1000 and +-800 drive every tanh and sigmoid of
# every step to +-1 or 0 (a step's own overflow inside is allowed: errstate)
_SATURATED = np.array([-1000.0, 1000.0, -800.0, 800.0])
for _kind in deep.KINDS:
    _p, _x, _hx, _layers, _states0 = _torch_case(_kind, 3, 2, 3, 2, 2)
    for _l in range(2):
        _p[f"bias_ih_l{_l}"][...] = np.resize(_SATURATED, _p[f"bias_ih_l{_l}"].shape)  # in _layers too
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        _out, _states = stacked_forward(_x, _states0, _layers, deep.STEPS[_kind])
    _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _p, 2, False)
    utils.check_close(f"stacked_forward out ({_kind}, 2 layers, saturated units: biases near +-1000)",
                      _out, _out_torch, atol=1e-10, rtol=1e-8)  # float64 rounding only
    for _i, _name in enumerate(["h_n", "c_n"][:deep.STATE_SIZE[_kind]]):
        utils.check_close(f"final states {_name} ({_kind}, saturated units)",
                          np.array([_s[_i] for _s in _states]), _hn_torch[_i], atol=1e-10, rtol=1e-8)
# against the independent NumPy reference, with NumPy steps, on fresh inputs that the call must
# leave as they were (x, the lists states0 and layers, every array in them)
for _kind in deep.KINDS:
    _p, _x, _hx, _layers, _states0 = _torch_case(_kind, 4, 2, 3, 5, 3)
    _out, _states = utils.call_unchanged(
        f"stacked_forward(x, states0, layers, step) ({_kind}, T=4, N=2, D=3, H=5, L=3)",
        stacked_forward, _x, _states0, _layers, _ref.NUMPY_STEPS[_kind])
    _ref_out, _ref_states = _ref.stacked(_x, _states0, _layers, _ref.NUMPY_STEPS[_kind])
    utils.check_close(f"stacked_forward out ({_kind}, NumPy steps) against the reference", _out,
                      _ref_out, atol=1e-12, rtol=1e-10)  # the same float64 operations
# float32 inputs are accepted; the answer is good to float32 precision
_p, _x, _hx, _layers, _states0 = _torch_case("gru", 4, 2, 3, 3, 2)
_f32 = lambda a: a.astype(np.float32)  # noqa: E731
_out32, _ = stacked_forward(_f32(_x), [tuple(map(_f32, s)) for s in _states0],
                            [tuple(map(_f32, w)) for w in _layers], _ref.NUMPY_STEPS["gru"])
utils.check_close("stacked_forward with float32 inputs", _out32,
                  _ref.stacked(_x, _states0, _layers, _ref.NUMPY_STEPS["gru"])[0],
                  atol=1e-4, rtol=1e-3)  # float32 keeps ~7 digits; 4 steps x 2 layers add rounding
# the library rule: no torch, also not through a helper (a pure NumPy step, so that any torch
# call would be the function's own)
utils.check_no_library("stacked_forward", stacked_forward,
                       ["torch", "RNN", "LSTM", "GRU", "RNNCell", "references", "torch_forward"])
_p, _x, _hx, _layers, _states0 = _torch_case("rnn", 3, 2, 3, 4, 2)
_ = utils.check_no_library_calls("stacked_forward", stacked_forward, _x, _states0, _layers, _np_rnn_step)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. 双向 RNN — reading the sequence in both directions
#
# A left-to-right RNN's state $h_t$ summarises $x_1, \dots, x_t$: the past only. Often the label of
# position $t$ depends on what comes **after** it. In "the garden light is bright", *light* is a noun
# because *is* follows; in "the children light the fire" it is a verb because *the* follows. When the
# whole sequence is available before we must answer (tagging a finished sentence, reading a whole
# utterance), we can run a second RNN from right to left and give each position both summaries:
#
# $$\overrightarrow{h}_t = f\big(x_t,\ \overrightarrow{h}_{t-1}\big)\ \ (t = 1, \dots, T),
# \qquad
# \overleftarrow{h}_t = f\big(x_t,\ \overleftarrow{h}_{t+1}\big)\ \ (t = T, \dots, 1),
# \qquad
# h_t = \big[\overrightarrow{h}_t\,;\ \overleftarrow{h}_t\big] \in \mathbb{R}^{2H}.$$
#
# The two RNNs have **their own weights** (PyTorch: `weight_ih_l0` and `weight_ih_l0_reverse`) and
# their own initial states. Both read the same $x_t$ and live in the same layer: $\overleftarrow{h}_t$
# is not computed from $\overrightarrow{h}_t$ or the other way round. Position $t$ gets the forward
# state **at time $t$** (it has read $x_1..x_t$) next to the backward state **at time $t$** (it has
# read $x_T..x_t$). The backward RNN computes its states in the order $T, T-1, \dots, 1$, so they have
# to be put back in time order before they are joined: the most common bug in a hand-written
# bidirectional layer.
#
# **Concatenate (拼接) or sum?** PyTorch concatenates, forward half first: the output is $2H$ wide and the
# next layer (or the read-out) has separate weights for the two halves,
# $W[\overrightarrow{h}_t; \overleftarrow{h}_t] = W_1\overrightarrow{h}_t + W_2\overleftarrow{h}_t$.
# Summing, $\overrightarrow{h}_t + \overleftarrow{h}_t$, keeps the width $H$ (fewer parameters above)
# but forces $W_1 = W_2$: the layer above can no longer tell which direction a feature came from.
# Keras offers both (`Bidirectional(merge_mode="concat")` by default, or `"sum"`, `"ave"`, `"mul"`).
# This course follows PyTorch: concatenation.
#
# **Final states.** PyTorch's `h_n` holds the forward RNN's state after $x_T$ and the **backward RNN's
# state after $x_1$**, its last input: $\overleftarrow{h}_1$, which is the second half of
# `output[0]`, not of `output[-1]`. The code below checks these facts, and the identity of the
# concatenation, on `torch.nn.GRU`.
#
# > **A note on the lecture notes.** The notes say a bidirectional RNN "adds two RNN layers together"
# > and that a bidirectional LSTM "has two layers of LSTM". It is **one** layer made of **two RNNs
# > side by side**, one per direction, reading the same inputs; their states are **concatenated**
# > (PyTorch, Keras's default) or sometimes summed — not two layers stacked, and not one added on top
# > of the other. `torch.nn.LSTM(num_layers=1, bidirectional=True)` has one layer and two directions.

# %%
fig = deep.draw_bidirectional(T=4)
plotting.finish(fig)

utils.seed_all(3)
bi_gru = torch.nn.GRU(3, 4, bidirectional=True, dtype=torch.float64)
print("parameters:", list(bi_gru.state_dict()))
x_demo = torch.randn(5, 2, 3, dtype=torch.float64)
out, h_n = bi_gru(x_demo)
print("output:", tuple(out.shape), "= (T, N, 2H) | h_n:", tuple(h_n.shape), "= (2 directions, N, H)")
H = 4
print("h_n[0] (forward)  == output[-1, :, :H]:", torch.allclose(h_n[0], out[-1, :, :H]))
print("h_n[1] (backward) == output[0, :, H:]: ", torch.allclose(h_n[1], out[0, :, H:]))
print("h_n[1] (backward) == output[-1, :, H:]:", torch.allclose(h_n[1], out[-1, :, H:]))
assert torch.equal(h_n[0], out[-1, :, :H]) and torch.equal(h_n[1], out[0, :, H:])

# a linear layer on the concatenation = separate weights on the two halves: W [f; b] = W_1 f + W_2 b
W_read = torch.randn(5, 2 * H, dtype=torch.float64)
assert torch.allclose(out @ W_read.T, out[..., :H] @ W_read[:, :H].T + out[..., H:] @ W_read[:, H:].T)


# %% [markdown]
# ## 5. Exercise 2 — a bidirectional layer (4 points)
#
# Implement `bidirectional_layer`: run the forward RNN over $x_1, \dots, x_T$ and the backward RNN
# over $x_T, \dots, x_1$ with the `step` you are given, and return, for every time step, the forward
# state next to the backward state **of the same time step**, forward half first: `out[t] =`
# $[\overrightarrow{h}_t ; \overleftarrow{h}_t]$, shape (T, N, 2H). Also return each direction's
# final state as PyTorch defines it (forward: after $x_T$; backward: after $x_1$).
#
# Hints: `x[::-1]` is the sequence reversed in time (a view: it does not copy or change `x`);
# `np.concatenate(..., axis=2)` joins along the features. No `torch` here, and change none of your
# arguments in place (not `x`, not the arrays of the states and weights).

# %% nbgrader={"grade": false, "grade_id": "bidirectional_layer", "locked": false, "schema_version": 3, "solution": true}
def bidirectional_layer(x, state0_f, state0_b, weights_f, weights_b, step):
    """One bidirectional layer: a forward RNN over x_1..x_T and a backward RNN over x_T..x_1.

    Inputs:
    - x: inputs, shape (T, N, D)
    - state0_f, state0_b: initial states of the forward and of the backward RNN; each a tuple
      of (N, H) arrays whose first entry is h: (h,) for an RNN or a GRU, (h, c) for an LSTM
    - weights_f, weights_b: their weight tuples (W_ih, W_hh, b_ih, b_hh)
    - step: step(x_t, state, W_ih, W_hh, b_ih, b_hh) -> new state, a tuple like `state`

    Returns a tuple (out, state_f, state_b):
    - out: an array of shape (T, N, 2H) (float64 for float64 inputs); out[t] = [h_fwd_t ; h_bwd_t],
      forward half first, both halves the states at time step t (h_fwd_t has read x_1..x_t,
      h_bwd_t has read x_T..x_t)
    - state_f: the forward RNN's final state, after reading x_T (a state: a tuple like state0_f)
    - state_b: the backward RNN's final state, after reading x_1 (the last input it reads)
    """
    ### BEGIN SOLUTION
    T = x.shape[0]
    state_f, state_b = state0_f, state0_b
    h_f, h_b = [], [None] * T
    for t in range(T):
        state_f = step(x[t], state_f, *weights_f)
        h_f.append(state_f[0])
    for t in reversed(range(T)):                # the backward RNN reads x_T, ..., x_1
        state_b = step(x[t], state_b, *weights_b)
        h_b[t] = state_b[0]                     # stored at the time step it belongs to
    out = np.concatenate([np.stack(h_f), np.stack(h_b)], axis=2)
    return out, state_f, state_b
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_bidirectional_layer_shapes_and_by_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import deep, fixtures

_fx = fixtures.load("07_deep_bidirectional")


def running_sum_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    """A toy 'cell' without activation: h_t = W_hh h_{t-1} + W_ih x_t (the biases are unused)."""
    return (state[0] @ W_hh.T + x_t @ W_ih.T,)


# Shapes: an LSTM layer with D = 3, H = 2, T = 5, N = 4.
_rng = utils.seed_all(0)
_p = deep.random_params("lstm", 3, 2, 1, True, _rng)
_wf = tuple(_p[f"{_n}_l0"] for _n in deep.WEIGHT_NAMES)
_wb = tuple(_p[f"{_n}_l0_reverse"] for _n in deep.WEIGHT_NAMES)
_zeros = (np.zeros((4, 2)), np.zeros((4, 2)))
_result = bidirectional_layer(_rng.standard_normal((5, 4, 3)), _zeros, _zeros, _wf, _wb, deep.lstm_step)
utils.check_equal("bidirectional_layer returns (out, state_f, state_b): length", len(_result), 3)
utils.check_shape("out of a bidirectional LSTM layer, T=5, N=4, H=2", _result[0], (5, 4, 4),
                  hint="both directions' h side by side: (T, N, 2H)")

# By hand: running sums (weights 1), x = 1, 2, 3, 4, zero initial states.
#   forward  h_t = x_1 + ... + x_t:  1, 3, 6, 10
#   backward h_t = x_t + ... + x_T: 10, 9, 7, 4   (aligned: at t = 1 it has read the whole sentence)
_case = _fx["bidirectional_by_hand"]
_one = (np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), np.zeros(1))
_zero = (np.zeros((1, 1)),)
_out, _sf, _sb = bidirectional_layer(_case.inputs["x"], _zero, _zero, _one, _one, running_sum_step)
utils.check_close("bidirectional_layer by hand (running sums of x = 1, 2, 3, 4)", _out,
                  np.array([[1.0, 10.0], [3.0, 9.0], [6.0, 7.0], [10.0, 4.0]]).reshape(4, 1, 2),
                  atol=1e-12, rtol=0,  # small integers: exact in float64
                  mistakes=_case.mistakes("out"))
utils.check_close("backward final state by hand (after reading x_1: the whole sum)", _sb[0],
                  np.array([[10.0]]), atol=1e-12, rtol=0, mistakes=_case.mistakes("h_b"))
### BEGIN HIDDEN TESTS
from autograder.references import deep as _ref

_rng = utils.seed_all(None)
for _T, _N, _D, _H in [(1, 1, 1, 1), (1, 3, 2, 4), (6, 1, 4, 2), (3, 2, 3, 3)]:
    for _kind in deep.KINDS:
        _p = deep.random_params(_kind, _D, _H, 1, True, _rng)
        _wf = tuple(_p[f"{_n}_l0"] for _n in deep.WEIGHT_NAMES)
        _wb = tuple(_p[f"{_n}_l0_reverse"] for _n in deep.WEIGHT_NAMES)
        _s0 = tuple(np.zeros((_N, _H)) for _ in range(deep.STATE_SIZE[_kind]))
        _out, _sf, _sb = bidirectional_layer(_rng.standard_normal((_T, _N, _D)), _s0, _s0, _wf, _wb,
                                             deep.STEPS[_kind])
        utils.check_shape(f"out ({_kind}, T={_T}, N={_N}, D={_D}, H={_H})", _out, (_T, _N, 2 * _H))
        utils.check_type(f"out ({_kind}, T={_T}, N={_N}, D={_D}, H={_H}, float64 inputs)", _out,
                         np.ndarray, dtype=np.float64,
                         hint="np.concatenate of the float64 states is a float64 array")
        for _which, _s in [("forward", _sf), ("backward", _sb)]:
            utils.check_type(f"the {_which} final state ({_kind})", _s, tuple, items=np.ndarray,
                             hint="a final state is a state: a tuple like state0_f, (h,) or (h, c), "
                                  "as step returned it")
        utils.check_equal(f"length of the {_kind} final states", (len(_sf), len(_sb)),
                          (deep.STATE_SIZE[_kind],) * 2)
# what comes back, on fresh inputs that the call must leave as they were: an LSTM layer, T=4,
# N=2, D=3, H=2
_p = deep.random_params("lstm", 3, 2, 1, True, _rng)
_result = utils.call_unchanged(
    "bidirectional_layer(x, state0_f, state0_b, weights_f, weights_b, step) (LSTM, T=4, N=2, D=3, H=2)",
    bidirectional_layer, _rng.standard_normal((4, 2, 3)),
    tuple(_rng.standard_normal((2, 2)) for _ in range(2)),
    tuple(_rng.standard_normal((2, 2)) for _ in range(2)),
    tuple(_p[f"{_n}_l0"] for _n in deep.WEIGHT_NAMES),
    tuple(_p[f"{_n}_l0_reverse"] for _n in deep.WEIGHT_NAMES),
    _ref.NUMPY_STEPS["lstm"])
utils.check_type("what bidirectional_layer returns", _result, tuple,
                 hint="return out, state_f, state_b: the docstring promises a tuple")
utils.check_equal("bidirectional_layer returns (out, state_f, state_b): length", len(_result), 3)
utils.check_type("out of an LSTM layer (float64 inputs)", _result[0], np.ndarray, dtype=np.float64)
for _which, _s in [("forward", _result[1]), ("backward", _result[2])]:
    utils.check_type(f"the {_which} final LSTM state", _s, tuple, items=np.ndarray,
                     hint="a final state is a tuple (h, c) like state0_f, as step returned it")
# by hand with fresh numbers: forward sums and backward sums of a random x
_x = _rng.integers(-9, 10, size=(7, 2, 1)).astype(float)
_out, _sf, _sb = bidirectional_layer(_x, (np.zeros((2, 1)),), (np.zeros((2, 1)),), _one, _one,
                                     running_sum_step)
utils.check_close("bidirectional_layer by hand (sums from the left and from the right)", _out,
                  np.concatenate([np.cumsum(_x, axis=0), np.cumsum(_x[::-1], axis=0)[::-1]], axis=2),
                  atol=1e-12, rtol=0)  # integers: exact
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_bidirectional_layer_against_torch", "locked": true, "points": 3, "schema_version": 3, "solution": false}
from utils import deep, fixtures

_fx = fixtures.load("07_deep_bidirectional")

# Against torch.nn.RNN / LSTM / GRU(bidirectional=True) holding the same weights (D = 4, H = 3).
for _kind in deep.KINDS:
    _case = _fx[f"bidirectional_{_kind}"]
    _x = _case.inputs["x"]
    _params = {_k: _v for _k, _v in _case.inputs.items() if _k.startswith(("weight", "bias"))}
    _hx = (_case.inputs["h0"], _case.inputs["c0"]) if _kind == "lstm" else (_case.inputs["h0"],)
    _x_before = _x.copy()
    _out, _sf, _sb = bidirectional_layer(
        _x, tuple(_s[0] for _s in _hx), tuple(_s[1] for _s in _hx),
        tuple(_params[f"{_n}_l0"] for _n in deep.WEIGHT_NAMES),
        tuple(_params[f"{_n}_l0_reverse"] for _n in deep.WEIGHT_NAMES), deep.STEPS[_kind])
    _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _params, num_layers=1, bidirectional=True)
    utils.check_close(f"bidirectional_layer out ({_kind.upper()}) against torch.nn.{_kind.upper()}"
                      "(bidirectional=True)", _out, _out_torch,
                      atol=1e-10, rtol=1e-8,  # float64: PyTorch's fused kernels round in another order
                      mistakes=_case.mistakes("out"))
    utils.check_close(f"forward final h ({_kind.upper()}) against h_n[0]", _sf[0], _hn_torch[0][0],
                      atol=1e-10, rtol=1e-8)
    utils.check_close(f"backward final h ({_kind.upper()}) against h_n[1]", _sb[0], _hn_torch[0][1],
                      atol=1e-10, rtol=1e-8, mistakes=_case.mistakes("h_b"))
    if _kind == "lstm":
        utils.check_close("forward and backward final c against c_n", np.stack([_sf[1], _sb[1]]),
                          _hn_torch[1], atol=1e-10, rtol=1e-8)
    utils.check_equal("x unchanged by the call", bool(np.array_equal(_x, _x_before)), True)
### BEGIN HIDDEN TESTS
from autograder.references import deep as _ref

_rng = utils.seed_all(None)


def _np_rnn_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    return (np.tanh(x_t @ W_ih.T + b_ih + state[0] @ W_hh.T + b_hh),)


def _bi_case(kind, T, N, D, H, scale=1.0):
    p = deep.random_params(kind, D, H, 1, True, _rng)
    x = scale * _rng.standard_normal((T, N, D))
    hx = tuple(_rng.standard_normal((2, N, H)) for _ in range(deep.STATE_SIZE[kind]))
    wf = tuple(p[f"{n}_l0"] for n in deep.WEIGHT_NAMES)
    wb = tuple(p[f"{n}_l0_reverse"] for n in deep.WEIGHT_NAMES)
    return p, x, hx, tuple(s[0] for s in hx), tuple(s[1] for s in hx), wf, wb


# fresh random weights and edge shapes against torch.nn (scale 30: saturated units)
for _T, _N, _D, _H, _scale in [(1, 1, 1, 1, 1.0), (1, 2, 3, 2, 1.0), (6, 1, 2, 5, 1.0), (4, 3, 3, 3, 1.0),
                               (3, 2, 4, 2, 30.0)]:
    for _kind in deep.KINDS:
        _p, _x, _hx, _s0f, _s0b, _wf, _wb = _bi_case(_kind, _T, _N, _D, _H, _scale)
        _out, _sf, _sb = bidirectional_layer(_x, _s0f, _s0b, _wf, _wb, deep.STEPS[_kind])
        _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _p, 1, True)
        _m = _ref.bidirectional_mistakes(_x, _s0f, _s0b, _wf, _wb, _ref.NUMPY_STEPS[_kind])
        _what = f"({_kind}, T={_T}, N={_N}, D={_D}, H={_H}, inputs x{_scale:g})"
        utils.check_close(f"bidirectional_layer out {_what}", _out, _out_torch, atol=1e-10, rtol=1e-8,
                          mistakes=_m["out"])
        for _i in range(deep.STATE_SIZE[_kind]):
            utils.check_close(f"final states {_what}", np.stack([_sf[_i], _sb[_i]]), _hn_torch[_i],
                              atol=1e-10, rtol=1e-8)
        utils.check_type(f"out {_what}", _out, np.ndarray, dtype=np.float64,
                         hint="np.concatenate of the float64 states is a float64 array")
# saturated units whatever the draw: biases near +-1000 and +-800 in both directions drive every
# tanh and sigmoid of every step to +-1 or 0 (a step's own overflow inside is allowed: errstate)
_SATURATED = np.array([-1000.0, 1000.0, -800.0, 800.0])
for _kind in deep.KINDS:
    _p, _x, _hx, _s0f, _s0b, _wf, _wb = _bi_case(_kind, 3, 2, 3, 2)
    for _name in ("bias_ih_l0", "bias_ih_l0_reverse"):
        _p[_name][...] = np.resize(_SATURATED, _p[_name].shape)       # in _wf and _wb too
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        _out, _sf, _sb = bidirectional_layer(_x, _s0f, _s0b, _wf, _wb, deep.STEPS[_kind])
    _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _p, 1, True)
    utils.check_close(f"bidirectional_layer out ({_kind}, saturated units: biases near +-1000)", _out,
                      _out_torch, atol=1e-10, rtol=1e-8)  # float64 rounding only
    for _i in range(deep.STATE_SIZE[_kind]):
        utils.check_close(f"final states ({_kind}, saturated units)", np.stack([_sf[_i], _sb[_i]]),
                          _hn_torch[_i], atol=1e-10, rtol=1e-8)
# the independent NumPy reference with NumPy steps, on fresh inputs that the call must leave as
# they were
for _kind in deep.KINDS:
    _p, _x, _hx, _s0f, _s0b, _wf, _wb = _bi_case(_kind, 5, 2, 3, 4)
    _out, _, _ = utils.call_unchanged(
        f"bidirectional_layer(x, state0_f, state0_b, weights_f, weights_b, step) ({_kind}, T=5, N=2, "
        "D=3, H=4)", bidirectional_layer, _x, _s0f, _s0b, _wf, _wb, _ref.NUMPY_STEPS[_kind])
    utils.check_close(f"bidirectional_layer ({_kind}, NumPy steps) against the reference", _out,
                      _ref.bidirectional(_x, _s0f, _s0b, _wf, _wb, _ref.NUMPY_STEPS[_kind])[0],
                      atol=1e-12, rtol=1e-10)  # the same float64 operations
# float32 inputs are accepted
_p, _x, _hx, _s0f, _s0b, _wf, _wb = _bi_case("lstm", 4, 2, 3, 3)
_f32 = lambda t: tuple(a.astype(np.float32) for a in t)  # noqa: E731
_out32, _, _ = bidirectional_layer(_x.astype(np.float32), _f32(_s0f), _f32(_s0b), _f32(_wf), _f32(_wb),
                                   _ref.NUMPY_STEPS["lstm"])
utils.check_close("bidirectional_layer with float32 inputs", _out32,
                  _ref.bidirectional(_x, _s0f, _s0b, _wf, _wb, _ref.NUMPY_STEPS["lstm"])[0],
                  atol=1e-4, rtol=1e-3)  # float32 keeps ~7 digits
utils.check_no_library("bidirectional_layer", bidirectional_layer,
                       ["torch", "RNN", "LSTM", "GRU", "RNNCell", "references", "torch_forward"])
_p, _x, _hx, _s0f, _s0b, _wf, _wb = _bi_case("rnn", 3, 2, 3, 4)
_ = utils.check_no_library_calls("bidirectional_layer", bidirectional_layer, _x, _s0f, _s0b, _wf, _wb,
                                 _np_rnn_step)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Deep and bidirectional: PyTorch's `num_layers=L, bidirectional=True`
#
# Stacking bidirectional layers combines sections 1 and 4: layer $l \ge 2$ reads the **concatenated**
# output of the layer below, $[\overrightarrow{h}_t^{(l-1)} ; \overleftarrow{h}_t^{(l-1)}]$, so
# **both** of its directions have $W_{ih}$ of shape $(GH, 2H)$. Each direction of each layer is its own
# RNN with its own weights and initial state; the backward RNN of layer $l$ reads the *output of layer
# $l-1$* from right to left (not $x$).
#
# PyTorch counts layers from 0: the maths' layer $l$ (= 1 .. L) is PyTorch's `l{l-1}`
# (`weight_ih_l0` belongs to the bottom layer, which reads $x$). PyTorch's layout, which your function
# must follow exactly:
#
# | what | shape | order |
# |---|---|---|
# | parameters | `weight_ih_l{l}`, `weight_hh_l{l}`, `bias_ih_l{l}`, `bias_hh_l{l}`, the backward direction with `_reverse` | `l` = 0 .. L−1 (0 = bottom) |
# | `h0`, `h_n` (and `c0`, `c_n` of an LSTM) | (L·K, N, H), K = 2 directions (1 if not bidirectional) | **layer-major**: entry $k = l\cdot K + d$, $d$ = 0 forward, 1 backward |
# | `output` | (T, N, K·H) | the top layer only, forward half first |
#
# So `h_n[-1]` is the top layer's backward state and `h_n[-2]` its forward one. The parameter count
# becomes $\sum_l K\,[GH(D_l + H) + 2GH]$ with $D_1 = D$ and $D_l = KH$ above (the formula of section
# 1 with `directions=K`, checked here for the three cells):

# %%
for kind, module in [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
    m = module(10, 32, num_layers=3, bidirectional=True)
    assert deep.n_parameters(m) == count_formula(kind, 10, 32, 3, directions=2)
    print(f"{kind.upper():>4}, 3 layers, bidirectional: {deep.n_parameters(m):6d} parameters; "
          f"weight_ih_l1 {tuple(m.weight_ih_l1.shape)}, weight_ih_l1_reverse {tuple(m.weight_ih_l1_reverse.shape)}")
print("names of a 2-layer bidirectional LSTM:", deep.param_names(2, True))


# %% [markdown]
# ## 7. Exercise 3 — PyTorch's multi-layer bidirectional RNN (4 points)
#
# Implement `deep_rnn_forward(x, hx, params, step, num_layers, bidirectional=True)`, which computes
# exactly what `torch.nn.RNN`, `LSTM` or `GRU(D, H, num_layers, bidirectional=...)` computes, from a
# parameter dict keyed by PyTorch's names (so `module.state_dict()`, converted to NumPy, goes in
# unchanged) and initial states in PyTorch's layout. The simplest way is to build it from your two
# functions above: `bidirectional_layer` for every layer of a bidirectional network, `stacked_forward`
# (with one layer, or all of them) for a unidirectional one.
#
# The initial states come as a tuple like a step's state, but stacked over layers and directions:
# `hx = (h0,)` for an RNN or a GRU, `(h0, c0)` for an LSTM, each array (L·K, N, H). Return the final
# states in the same form and layout. No `torch` here, and change none of your arguments in place
# (not `x`, not the arrays of `hx`, not the dict `params`).

# %% nbgrader={"grade": false, "grade_id": "deep_rnn_forward", "locked": false, "schema_version": 3, "solution": true}
def deep_rnn_forward(x, hx, params, step, num_layers, bidirectional=True):
    """A multi-layer, optionally bidirectional RNN with torch.nn.RNN/LSTM/GRU's names and layout.

    Inputs:
    - x: inputs, shape (T, N, D)
    - hx: initial states in PyTorch's layout, a tuple of arrays of shape (L*K, N, H) with
      K = 2 if bidirectional else 1: (h0,) for an RNN or a GRU, (h0, c0) for an LSTM.
      Entry k = l*K + d belongs to layer l and direction d (0 forward, 1 backward).
    - params: dict of weight arrays by PyTorch's names: 'weight_ih_l{l}', 'weight_hh_l{l}',
      'bias_ih_l{l}', 'bias_hh_l{l}' for layer l = 0..L-1, and the same names ending in
      '_reverse' for the backward direction. weight_ih_l0 is (G*H, D); weight_ih_l{l} of a
      layer above is (G*H, K*H).
    - step: step(x_t, state, W_ih, W_hh, b_ih, b_hh) -> new state, a tuple like a state
    - num_layers: L
    - bidirectional: K = 2 directions if True, else 1

    Returns a tuple (out, hn):
    - out: the top layer's output at every step, an array of shape (T, N, K*H) (forward half
      first; float64 for float64 inputs)
    - hn: the final states, a tuple like hx of arrays of shape (L*K, N, H), same layout
    """
    ### BEGIN SOLUTION
    directions = ["", "_reverse"] if bidirectional else [""]
    inp, finals = x, []
    for l in range(num_layers):
        # the initial state of layer l, direction d: entry l * K + d of every array of hx
        states0 = [tuple(s[l * len(directions) + d] for s in hx) for d in range(len(directions))]
        weights = [tuple(params[f"{name}_l{l}{sfx}"]
                         for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                   for sfx in directions]
        if bidirectional:
            inp, last_f, last_b = bidirectional_layer(inp, states0[0], states0[1], weights[0],
                                                      weights[1], step)
            finals += [last_f, last_b]
        else:
            inp, (last,) = stacked_forward(inp, [states0[0]], [weights[0]], step)
            finals.append(last)
    hn = tuple(np.stack([state[i] for state in finals]) for i in range(len(hx)))
    return inp, hn
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_deep_rnn_forward_shapes_and_by_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import deep, fixtures


def running_sum_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    """A toy 'cell' without activation: h_t = W_hh h_{t-1} + W_ih x_t (the biases are unused)."""
    return (state[0] @ W_hh.T + x_t @ W_ih.T,)


# Shapes, with the state_dict of a real torch.nn.LSTM(5, 3, num_layers=2, bidirectional=True).
utils.seed_all(0)
_module = torch.nn.LSTM(5, 3, num_layers=2, bidirectional=True, dtype=torch.float64)
_params = {_k: _v.numpy() for _k, _v in _module.state_dict().items()}
_hx = (np.zeros((4, 6, 3)), np.zeros((4, 6, 3)))
_result = deep_rnn_forward(np.ones((7, 6, 5)), _hx, _params, deep.lstm_step, num_layers=2)
utils.check_equal("deep_rnn_forward returns a pair (out, hn)", len(_result), 2)
utils.check_shape("out of a 2-layer bidirectional LSTM, T=7, N=6, H=3", _result[0], (7, 6, 6))
utils.check_equal("an LSTM's hn is a tuple (h_n, c_n) of length", len(_result[1]), 2)
utils.check_shape("h_n of a 2-layer bidirectional LSTM", _result[1][0], (4, 6, 3),
                  hint="one final state per layer and direction: (L * 2, N, H)")

# By hand: 2 bidirectional layers of running sums, x = 1, 2, 3, 4 (D = H = 1, zero states).
#   layer 0: forward 1, 3, 6, 10; backward 10, 9, 7, 4
#   layer 1 reads [forward; backward] with W_ih = [[1, 1]]: their sums 11, 12, 13, 14, so
#            forward 11, 23, 36, 50; backward 50, 39, 27, 14
#   h_n = (layer 0 fwd, layer 0 bwd, layer 1 fwd, layer 1 bwd) = (10, 10, 50, 50)
_p = {}
for _l, _width in [(0, 1), (1, 2)]:
    for _sfx in ["", "_reverse"]:
        _p.update({f"weight_ih_l{_l}{_sfx}": np.ones((1, _width)), f"weight_hh_l{_l}{_sfx}": np.ones((1, 1)),
                   f"bias_ih_l{_l}{_sfx}": np.zeros(1), f"bias_hh_l{_l}{_sfx}": np.zeros(1)})
_out, _hn = deep_rnn_forward(np.arange(1.0, 5.0).reshape(4, 1, 1), (np.zeros((4, 1, 1)),), _p,
                             running_sum_step, num_layers=2)
utils.check_close("deep_rnn_forward by hand: out", _out,
                  np.array([[11.0, 50.0], [23.0, 39.0], [36.0, 27.0], [50.0, 14.0]]).reshape(4, 1, 2),
                  atol=1e-12, rtol=0)  # small integers: exact in float64
utils.check_close("deep_rnn_forward by hand: h_n", _hn[0], np.array([10.0, 10.0, 50.0, 50.0]).reshape(4, 1, 1),
                  atol=1e-12, rtol=0)
### BEGIN HIDDEN TESTS
from autograder.references import deep as _ref

_rng = utils.seed_all(None)
for _T, _N, _D, _H, _L, _bi in [(1, 1, 1, 1, 1, True), (1, 2, 3, 2, 2, False), (3, 1, 2, 4, 3, True),
                                (2, 2, 3, 3, 2, True)]:
    for _kind in deep.KINDS:
        _K = 2 if _bi else 1
        _p = deep.random_params(_kind, _D, _H, _L, _bi, _rng)
        _hx = tuple(np.zeros((_L * _K, _N, _H)) for _ in range(deep.STATE_SIZE[_kind]))
        _out, _hn = deep_rnn_forward(_rng.standard_normal((_T, _N, _D)), _hx, _p, deep.STEPS[_kind], _L, _bi)
        utils.check_shape(f"out ({_kind}, T={_T}, N={_N}, D={_D}, H={_H}, L={_L}, bidirectional={_bi})",
                          _out, (_T, _N, _K * _H))
        utils.check_type(f"out ({_kind}, L={_L}, bidirectional={_bi}, float64 inputs)", _out, np.ndarray,
                         dtype=np.float64)
        utils.check_type(f"hn ({_kind}, L={_L}, bidirectional={_bi})", _hn, tuple, items=np.ndarray,
                         hint="the docstring promises a tuple like hx: (h_n,) or (h_n, c_n), of arrays")
        utils.check_equal("length of hn", len(_hn), deep.STATE_SIZE[_kind])
        for _s in _hn:
            utils.check_shape(f"hn arrays ({_kind}, L={_L}, bidirectional={_bi})", _s, (_L * _K, _N, _H))
            utils.check_type(f"hn arrays ({_kind}, float64 inputs)", _s, np.ndarray, dtype=np.float64)
# what comes back, on fresh inputs that the call must leave as they were (x, the arrays of hx, the
# dict params): a 2-layer bidirectional LSTM, T=3, N=2, D=3, H=2
_result = utils.call_unchanged(
    "deep_rnn_forward(x, hx, params, step, 2, True) (LSTM, T=3, N=2, D=3, H=2)", deep_rnn_forward,
    _rng.standard_normal((3, 2, 3)), tuple(_rng.standard_normal((4, 2, 2)) for _ in range(2)),
    deep.random_params("lstm", 3, 2, 2, True, _rng), _ref.NUMPY_STEPS["lstm"], 2, True)
utils.check_type("what deep_rnn_forward returns", _result, tuple, hint="return out, hn: a tuple (out, hn)")
utils.check_equal("deep_rnn_forward returns a pair (out, hn)", len(_result), 2)
utils.check_type("out of a 2-layer bidirectional LSTM (float64 inputs)", _result[0], np.ndarray,
                 dtype=np.float64)
utils.check_type("hn of an LSTM", _result[1], tuple, items=np.ndarray,
                 hint="the docstring promises a tuple like hx, (h_n, c_n), of arrays; a list is not a tuple")
# by hand with fresh weights: one unidirectional running-sum layer with weight a, x_t = 1: h_t = a t
_a = _rng.uniform(0.5, 2.0)
_p = {"weight_ih_l0": np.full((1, 1), _a), "weight_hh_l0": np.ones((1, 1)), "bias_ih_l0": np.zeros(1),
      "bias_hh_l0": np.zeros(1)}
_out, _hn = deep_rnn_forward(np.ones((5, 1, 1)), (np.zeros((1, 1, 1)),), _p, running_sum_step, 1,
                             bidirectional=False)
utils.check_close("deep_rnn_forward by hand (one layer, one direction)", _out,
                  (_a * np.arange(1, 6)).reshape(5, 1, 1), atol=1e-12, rtol=1e-12)  # rounding only
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_deep_rnn_forward_against_torch", "locked": true, "points": 3, "schema_version": 3, "solution": false}
from utils import deep, fixtures

_fx = fixtures.load("07_deep_bidirectional")

# Against torch.nn.RNN / LSTM / GRU(num_layers=3, bidirectional=True) with the same weights
# (D = 2H = 6), and a 2-layer unidirectional LSTM. Random initial states in PyTorch's layout.
for _name, _kind, _L, _bi in [("deep_rnn", "rnn", 3, True), ("deep_lstm", "lstm", 3, True),
                              ("deep_gru", "gru", 3, True), ("deep_uni_lstm", "lstm", 2, False)]:
    _case = _fx[_name]
    _x = _case.inputs["x"]
    _params = {_k: _v for _k, _v in _case.inputs.items() if _k.startswith(("weight", "bias"))}
    _hx = (_case.inputs["h0"], _case.inputs["c0"]) if _kind == "lstm" else (_case.inputs["h0"],)
    _before = [_a.copy() for _a in (_x,) + _hx]
    _out, _hn = deep_rnn_forward(_x, _hx, _params, deep.STEPS[_kind], num_layers=_L, bidirectional=_bi)
    _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _params, _L, _bi)
    _what = f"{_kind.upper()}, {_L} layers, bidirectional={_bi}"
    utils.check_close(f"deep_rnn_forward out ({_what}) against torch.nn.{_kind.upper()}", _out, _out_torch,
                      atol=1e-10, rtol=1e-8,  # float64: PyTorch's fused kernels round in another order
                      mistakes=_case.mistakes("out"))
    for _i, _state in enumerate(["h_n", "c_n"][:len(_hx)]):
        utils.check_close(f"deep_rnn_forward {_state} ({_what}) against torch", _hn[_i], _hn_torch[_i],
                          atol=1e-10, rtol=1e-8, mistakes=_case.mistakes(_state))
    utils.check_equal("inputs unchanged by the call",
                      all(np.array_equal(_a, _b) for _a, _b in zip((_x,) + _hx, _before)), True)
### BEGIN HIDDEN TESTS
from autograder.references import deep as _ref

_rng = utils.seed_all(None)


def _np_rnn_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    return (np.tanh(x_t @ W_ih.T + b_ih + state[0] @ W_hh.T + b_hh),)


def _deep_case(kind, T, N, D, H, L, bi, scale=1.0):
    K = 2 if bi else 1
    p = deep.random_params(kind, D, H, L, bi, _rng)
    x = scale * _rng.standard_normal((T, N, D))
    hx = tuple(_rng.standard_normal((L * K, N, H)) for _ in range(deep.STATE_SIZE[kind]))
    return p, x, hx


# fresh weights and edge shapes against torch.nn (T=1, N=1, L=1, D != H, D = H, D = 2H; scale 30:
# saturated units)
for _T, _N, _D, _H, _L, _bi, _scale in [(1, 1, 1, 1, 1, True, 1.0), (1, 2, 3, 2, 2, True, 1.0),
                                        (4, 1, 4, 2, 3, True, 1.0), (3, 2, 3, 3, 2, True, 1.0),
                                        (3, 2, 2, 3, 3, False, 1.0), (2, 2, 3, 2, 2, True, 30.0)]:
    for _kind in deep.KINDS:
        _p, _x, _hx = _deep_case(_kind, _T, _N, _D, _H, _L, _bi, _scale)
        _out, _hn = deep_rnn_forward(_x, _hx, _p, deep.STEPS[_kind], _L, _bi)
        _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _p, _L, _bi)
        _m = _ref.deep_mistakes(_x, _hx, _p, _ref.NUMPY_STEPS[_kind], _L, _bi)
        _what = f"({_kind}, T={_T}, N={_N}, D={_D}, H={_H}, L={_L}, bidirectional={_bi}, inputs x{_scale:g})"
        utils.check_close(f"deep_rnn_forward out {_what}", _out, _out_torch, atol=1e-10, rtol=1e-8,
                          mistakes=_m["out"])
        for _i, _state in enumerate(["h_n", "c_n"][:len(_hx)]):
            utils.check_close(f"deep_rnn_forward {_state} {_what}", _hn[_i], _hn_torch[_i],
                              atol=1e-10, rtol=1e-8, mistakes=_m[_state])
        utils.check_type(f"out {_what}", _out, np.ndarray, dtype=np.float64)
        utils.check_type(f"hn {_what}", _hn, tuple, items=np.ndarray,
                         hint="the docstring promises a tuple like hx: (h_n,) or (h_n, c_n), of arrays")
# saturated units whatever the draw: biases near +-1000 and +-800 in every layer and direction drive
# every tanh and sigmoid of every step to +-1 or 0 (a step's own overflow inside is allowed: errstate)
_SATURATED = np.array([-1000.0, 1000.0, -800.0, 800.0])
for _kind, _bi in [("rnn", True), ("lstm", True), ("gru", True), ("lstm", False)]:
    _p, _x, _hx = _deep_case(_kind, 3, 2, 3, 2, 2, _bi)
    for _name in _p:
        if _name.startswith("bias_ih"):
            _p[_name] = np.resize(_SATURATED, _p[_name].shape)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        _out, _hn = deep_rnn_forward(_x, _hx, _p, deep.STEPS[_kind], 2, _bi)
    _out_torch, _hn_torch = deep.torch_forward(_kind, _x, _hx, _p, 2, _bi)
    _what = f"({_kind}, 2 layers, bidirectional={_bi}, saturated units: biases near +-1000)"
    utils.check_close(f"deep_rnn_forward out {_what}", _out, _out_torch, atol=1e-10, rtol=1e-8)  # rounding
    for _i, _state in enumerate(["h_n", "c_n"][:len(_hx)]):
        utils.check_close(f"deep_rnn_forward {_state} {_what}", _hn[_i], _hn_torch[_i], atol=1e-10, rtol=1e-8)
# against the independent NumPy reference with NumPy steps, on fresh inputs that the call must
# leave as they were (x, the arrays of hx, the dict params and its arrays)
for _kind in deep.KINDS:
    _p, _x, _hx = _deep_case(_kind, 4, 2, 3, 4, 2, True)
    _out, _hn = utils.call_unchanged(
        f"deep_rnn_forward(x, hx, params, step, 2, True) ({_kind}, T=4, N=2, D=3, H=4)", deep_rnn_forward,
        _x, _hx, _p, _ref.NUMPY_STEPS[_kind], 2, True)
    _ref_out, _ref_hn = _ref.deep(_x, _hx, _p, _ref.NUMPY_STEPS[_kind], 2, True)
    utils.check_close(f"deep_rnn_forward ({_kind}, NumPy steps) against the reference", _out, _ref_out,
                      atol=1e-12, rtol=1e-10)  # the same float64 operations
    for _i, _state in enumerate(["h_n", "c_n"][:len(_hx)]):
        utils.check_close(f"deep_rnn_forward {_state} ({_kind}, NumPy steps) against the reference",
                          _hn[_i], _ref_hn[_i], atol=1e-12, rtol=1e-10)  # the same float64 operations
# float32 inputs are accepted
_p, _x, _hx = _deep_case("gru", 3, 2, 3, 2, 2, True)
_out32, _ = deep_rnn_forward(_x.astype(np.float32), tuple(a.astype(np.float32) for a in _hx),
                             {k: v.astype(np.float32) for k, v in _p.items()}, _ref.NUMPY_STEPS["gru"], 2, True)
utils.check_close("deep_rnn_forward with float32 inputs", _out32,
                  _ref.deep(_x, _hx, _p, _ref.NUMPY_STEPS["gru"], 2, True)[0],
                  atol=1e-4, rtol=1e-3)  # float32 keeps ~7 digits
utils.check_no_library("deep_rnn_forward", deep_rnn_forward,
                       ["torch", "RNN", "LSTM", "GRU", "RNNCell", "references", "torch_forward"])
_p, _x, _hx = _deep_case("rnn", 3, 2, 3, 2, 2, True)
_ = utils.check_no_library_calls("deep_rnn_forward", deep_rnn_forward, _x, _hx, _p, _np_rnn_step, 2, True)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Experiment 1 — tagging words that only the next word explains
#
# Notebook 01 tagged words with the nine part-of-speech tags of the notes (词性标注). `utils.tagging`
# generates as many tagged sentences as we want from a small grammar with eight **ambiguous** words
# (*saw, watch, light, book, play, fly, park, ring*: a noun or a verb by context), of two kinds:
#
# * **"left"**: the word **before** settles the tag ("we *saw* the cat": a verb after a pronoun; "the
#   *saw* is sharp": a noun after a determiner). A left-to-right RNN has read that word.
# * **"right"**: only the word **after** settles it ("the garden *light* is bright" vs "the children
#   *light* the fire"). Up to and including the ambiguous word, the two sentences look alike, so a
#   left-to-right RNN can only guess: about 50 % correct, whatever its size.
#
# We train taggers (`torch.nn.Embedding` → `torch.nn.RNN` with `num_layers` = 1, 2, 3, unidirectional
# or bidirectional → a linear layer to the 9 tags at every position; Elman cells, H = 32) on 2000
# sentences and measure the accuracy on 1000 **other** sentences: on all words, and on each kind of
# ambiguous word alone. Sentences are batched by length, so no padding is needed (padding and masking
# come in notebook 08).

# %%
train_groups = deep.by_length(tagging.tagging_corpus(utils.choose(full=2000, fast=100), utils.seed_all(100)))
test_groups = deep.by_length(tagging.tagging_corpus(utils.choose(full=1000, fast=100), utils.seed_all(101)))
n_test = {k: sum(int((g[2] == k).sum()) for g in test_groups.values()) for k in ("left", "right")}
print("held-out words:", sum(g[0].size for g in test_groups.values()), "| ambiguous:", n_test)
for words, tags in tagging.tagging_corpus(40, utils.seed_all(5)):
    kinds = tagging.ambiguity(words, tags)
    if "right" in kinds:
        print(" ".join(f"{w}/{t}" + ("*" if k == "right" else "") for w, t, k in zip(words, tags, kinds)))

# %%
depths = utils.choose(full=[1, 2, 3], fast=[1])
seeds = utils.choose(full=[0, 1, 2, 3, 4], fast=[0])
train_steps = utils.choose(full=100, fast=5)
if not utils.is_grading():  # a warm-up run, so that the first timing is fair
    deep.tagging_run("rnn", 1, False, train_groups, test_groups, 5, 0)
runs = {}
for bidirectional in (False, True):
    for L in depths:
        runs[bidirectional, L] = [deep.tagging_run("rnn", L, bidirectional, train_groups, test_groups,
                                                   train_steps, seed, device=utils.device())
                                  for seed in seeds]


def measured(bidirectional, key):
    '''(depths, seeds) array of one measurement.'''
    return np.array([[r[key] for r in runs[bidirectional, L]] for L in depths])


fig, axes = plotting.subplots(3, width=13.5, height=3.8)
styles = {False: ("unidirectional", plotting.COLORS["rnn"], "o"),
          True: ("bidirectional", plotting.COLORS["bound"], "s")}
for ax, key, title in [(axes[0], "all", "all held-out words"),
                       (axes[1], "right", 'ambiguous words settled by the NEXT word ("right")')]:
    for bidirectional, (name, color, marker) in styles.items():
        values = measured(bidirectional, key)
        ax.plot(depths, values.mean(axis=1), marker=marker, color=color, label=name)
        for column in values.T:                                     # each seed, faint
            ax.scatter(depths, column, marker=marker, color=color, alpha=0.3, s=18)
    ax.set(xlabel="number of layers L", ylabel="accuracy", title=title, xticks=depths)
axes[1].axhline(0.5, color=plotting.COLORS["reference"], ls="--", label="a coin flip (50 %)")
axes[1].set_ylim(0, 1.05)
axes[1].legend(loc="lower right")
ax = axes[2]
for bidirectional, (name, color, marker) in styles.items():
    params = measured(bidirectional, "params")[:, 0]
    seconds = measured(bidirectional, "seconds")
    ax.plot(depths, seconds.mean(axis=1), marker=marker, color=color, label=name)
    for column in seconds.T:                                        # each seed, faint
        ax.scatter(depths, column, marker=marker, color=color, alpha=0.3, s=18)
    for L, p, s in zip(depths, params, seconds.mean(axis=1)):
        ax.annotate(f"{p} params", (L, s), textcoords="offset points", fontsize=8, color=color,
                    xytext=(-20, 9) if bidirectional else (-20, -14))
ax.set(xlabel="number of layers L", ylabel=f"training time, {train_steps} steps (s)",
       title="cost: parameters and training time", xticks=depths)
ax.set(ylim=(0, None), xlim=(depths[0] - 0.4, depths[-1] + 0.4))
ax.legend()
plotting.finish(fig, f"Taggers on held-out sentences ({len(seeds)} seeds per point; line = mean)")
for (bidirectional, L), rs in runs.items():
    print(f"{styles[bidirectional][0]:>14}, L={L}: all {np.mean([r['all'] for r in rs]):.3f}, "
          f"left {np.mean([r['left'] for r in rs]):.3f}, right {np.mean([r['right'] for r in rs]):.3f} "
          f"(seeds {min(r['right'] for r in rs):.2f}..{max(r['right'] for r in rs):.2f}), "
          f"{rs[0]['params']} parameters, {np.mean([r['seconds'] for r in rs]):.2f} s")

# %% [markdown]
# What the full run shows (5 seeds per point, 1000 held-out sentences, 339 "right" and 331 "left"
# ambiguous words among 6995):
#
# * **Unidirectional taggers sit at a coin flip on the "right" words**: 50 %, 51 % and 50 % for 1, 2
#   and 3 layers (single seeds between 46 % and 54 %), while they tag every "left" word correctly. More
#   layers do not help: each layer above still sees only $x_1, \dots, x_t$, and up to the ambiguous
#   word the two readings of a "right" sentence are the same words. Their accuracy on all words,
#   97.2 % to 97.6 %, shows the cost: the "right" words are 4.8 % of all words, and half of them are
#   wrong.
# * **Every bidirectional tagger, of every depth and every seed, tags every held-out word
#   correctly**, "right" words included: its backward half at the ambiguous word has read the next word
#   (*is* or *the*).
# * **Cost.** One bidirectional layer (4889 parameters) has fewer parameters than two unidirectional
#   layers (5113) and is the only one that solves the task. The training time grows with the number of
#   layers and directions: three bidirectional layers took 2 to 6 times as long as one
#   unidirectional layer in our runs (the seconds depend on the machine and its load; the faint points
#   are single runs).
#
# Depth adds computation on the information a layer has; direction adds information.

# %% [markdown]
# ## 9. Experiment 2 — the anti-example: a bidirectional language model reads the answer
#
# A language model (语言模型) predicts the next character, $p(x_{t+1} \mid x_1, \dots, x_t)$, and generates text
# one character at a time: it can only ever be given the past. Train a **bidirectional** RNN on that
# task anyway, with the targets $x_{t+1}$ at position $t$: its backward state $\overleftarrow{h}_t$ has
# read $x_T, \dots, x_{t+1}, x_t$, so the answer $x_{t+1}$ is **in its input**. Predicting it is
# copying, the loss drops to nearly zero, and nothing about language is learned.
#
# We train two character models on the first 85 % of *The Zen of Python* (`utils.data.zen_of_python()`,
# about 850 characters): the same Embedding → one Elman layer (H = 64) → linear read-out, once
# unidirectional, once bidirectional, 5 seeds each. We record the training loss, the loss on the last
# 15 % of the text (held out), and let each model generate text: at every step it reads everything
# generated so far and draws the next character from its prediction at the last position, where the
# backward direction has nothing to read ahead.

# %%
zen = data.zen_of_python()
vocab = text.Vocab(zen)
codes = vocab.codes(zen)
cut = int(0.85 * len(codes))
train_codes, held_out = codes[:cut], codes[cut:]
x_held, y_held = text.all_windows(held_out, 24, stride=4)
zen_words = set(zen.split())

lm_seeds = utils.choose(full=[0, 1, 2, 3, 4], fast=[0])
lm_steps = utils.choose(full=120, fast=5)
lm = {}
for bidirectional in (False, True):
    for seed in lm_seeds:
        lm_rng = utils.seed_all(seed)
        model = deep.CharModel(len(vocab), bidirectional, kind="rnn", hidden=64).to(utils.device())
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(lm_steps):
            inputs, targets = text.random_windows(train_codes, 24, 32, lm_rng)  # targets[t] = inputs[t + 1]
            loss = deep.char_loss(model, inputs, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            held_loss = deep.char_loss(model, x_held, y_held).item()
        sample = deep.sample_text(model, vocab, "Beautiful is ", utils.choose(full=80, fast=10), lm_rng)
        words = sample.split()[:-1] or sample.split()              # the last word may be cut off
        lm[bidirectional, seed] = dict(losses=np.array(losses), held=held_loss, sample=sample,
                                       real_words=np.mean([w in zen_words for w in words]))

fig, axes = plotting.subplots(2, width=11, height=3.6)
for bidirectional, (name, color, _) in styles.items():
    curves = np.array([lm[bidirectional, s]["losses"] for s in lm_seeds])
    steps_axis = np.arange(1, lm_steps + 1)
    axes[0].plot(steps_axis, curves.mean(axis=0), color=color, label=f"{name}: training loss")
    axes[0].fill_between(steps_axis, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.2)
    held = [lm[bidirectional, s]["held"] for s in lm_seeds]
    axes[0].scatter([lm_steps + 8] * len(held), held, color=color, marker="D", s=22,
                    label=f"{name}: held-out loss (end)")
    real = [lm[bidirectional, s]["real_words"] for s in lm_seeds]
    axes[1].bar(int(bidirectional), np.mean(real), color=color, alpha=0.5, width=0.6)
    axes[1].scatter([int(bidirectional)] * len(real), real, color=color, zorder=3, s=18)
axes[0].set(xlabel="training step", ylabel="cross-entropy (nats / character)", yscale="log",
            title="next-character loss (band: range over seeds)")
axes[0].legend(fontsize=8)
axes[1].set(xticks=[0, 1], xticklabels=["unidirectional", "bidirectional"], ylim=(0, 1.05),
            ylabel="share of generated words found in the Zen", title="what the models generate")
plotting.finish(fig, f"A next-character model, unidirectional vs bidirectional ({len(lm_seeds)} seeds)")
for bidirectional, (name, _, _) in styles.items():
    rs = [lm[bidirectional, s] for s in lm_seeds]
    print(f"{name:>14}: final training loss {np.mean([r['losses'][-1] for r in rs]):.3f}, held-out loss "
          f"{np.mean([r['held'] for r in rs]):.3f}, real words {np.mean([r['real_words'] for r in rs]):.2f}")
    print(f"{'':>16}sample (seed 0): {rs[0]['sample']!r}")
print(f"for comparison, a uniform guess over the {len(vocab)} characters: ln {len(vocab)} = {np.log(len(vocab)):.2f} nats")

# %% [markdown]
# What the full run shows (5 seeds each; the band is the range over seeds):
#
# * The **bidirectional** model's training loss falls to about 0.05 nats per character within a few
#   dozen steps, and its loss on the **held-out** 15 % of the text is 0.32: it "predicts" text it
#   has never seen almost perfectly. It does so by copying: the target $x_{t+1}$ is in the input of
#   its backward direction.
# * The **unidirectional** model learns slowly (training loss 0.39 after 120 steps) and its held-out
#   loss, 3.44, is not far from guessing uniformly among the 45 characters ($\ln 45 \approx 3.81$):
#   from 730 characters of text it memorises, it does not generalise. Its samples reproduce lines of
#   the Zen, and 94 % of the generated words are words of the Zen (seeds between 84 % and 100 %).
# * When generating, nothing lies ahead: at the last position the backward direction has read one
#   character, and the copying shortcut has nothing to copy. The bidirectional model's samples are
#   mostly not words ("bite implicit. Splicis be as benough te no bes ane---..."): 34 % of its
#   generated words are words of the Zen (seeds between 15 % and 62 %).
#
# The held-out loss did not reveal the problem, because it was measured the same way as the training
# loss, with the whole window (and so the answer) given to the model. A test set protects against
# memorising the training data, not against using information the model will not have when it is used.

# %% [markdown]
# ## 10. Written question (3 points)
#
# Using the numbers of the two experiments: (a) why does a deeper *unidirectional* tagger not get
# closer to 100 % on the "right" words, while one bidirectional layer does? (b) The bidirectional
# character model has by far the lowest loss, even on held-out text. Why is it nevertheless useless as
# a language model, and why did the held-out loss not reveal the problem? (c) Name one task where a
# bidirectional RNN is the right choice and one where it cannot be used, and say what decides.
# (About 6 to 10 sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_deep_bidirectional", "locked": false, "points": 3, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# (a) At an ambiguous "right" word, a left-to-right state has read only the words up to and
# including it, and in the "right" sentences these are the same for both tags (determiner, noun,
# ambiguous word: "the garden light ..." vs "the children light ..."). Any function of the same
# prefix gives the same answer for both, so the best possible is a guess, about 50 %. More layers
# compute more complex functions of the same prefix, but cannot add the missing information: the
# measured accuracies are 50 %, 51 %, 50 % for L = 1, 2, 3. The backward direction of a bidirectional
# layer has read the next word (*is* or *the*), which settles the tag: 100 % with one layer, every
# seed, even with fewer parameters (4889) than two unidirectional layers (5113).
#
# (b) A language model must predict $x_{t+1}$ from $x_1..x_t$. In a bidirectional RNN the backward
# state at $t$ has read $x_{t+1}$, so the model learns to copy the target from its input (training
# loss 0.05, held-out 0.32, against 0.39 and 3.44 for the unidirectional model) instead of learning
# the language. When it generates text the future does not exist yet (at the last position the
# backward direction has read one character), so the shortcut it relies on is gone and the samples are
# mostly non-words (34 % real words against 94 %). The held-out loss was computed with the whole true
# window as input, so the same leak was present at evaluation: a held-out set tests generalisation to
# new data under the same conditions, not whether the model uses information it will not have at use
# time. The evaluation must feed only the past, as generation does.
#
# (c) A bidirectional RNN fits wherever the whole sequence is known before any output is needed:
# tagging or named-entity recognition of a finished sentence, classifying a document, offline speech
# recognition, the encoder of a translation model. It cannot be used where an output at time $t$ must
# be produced before later inputs exist, or where the later inputs contain the answer: language
# modelling and text generation, the decoder of a translation model, streaming (live) speech
# recognition, forecasting the next value of a time series. What decides is whether $x_{t+1}, \dots,
# x_T$ are available, and legitimately so, when the output at $t$ is produced.
#
# **Rubric** (3 points)
#
# * (a) 1 point: says that a left-to-right state has seen only the prefix, which is the same for both
#   tags of a "right" word, so chance (≈50 %) is the limit, and that depth cannot add information that
#   is not in the prefix, with the measured numbers (≈50 % for L = 1..3 vs 100 % bidirectional).
#   ½ point for a correct explanation without the role of the identical prefix or without numbers.
# * (b) 1 point: the backward direction reads $x_{t+1}$, the target, so the model copies it (the low
#   loss is a leak, not learning); at generation time there is no future, so it produces nonsense; the
#   held-out loss was computed with the same leak (the whole window given), so it could not show it.
#   ½ point if the leak is explained but not why the held-out loss missed it.
# * (c) 1 point: one valid bidirectional task (whole sequence known in advance) and one invalid one
#   (generation, decoder, streaming, forecasting), with the criterion: are the later inputs available
#   (and not the answer) when the output at $t$ is needed. ½ point for correct examples without the
#   criterion.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * A **deep (stacked) RNN** (多层 RNN) feeds each layer's states to the next:
#   $h_t^{(l)} = f(h_t^{(l-1)}, h_{t-1}^{(l)})$ with $h_t^{(0)} = x_t$; the layer below at the **same**
#   time, the same layer at the previous time. It works for any cell: only the step changes.
# * A **bidirectional layer** (双向 RNN) is two RNNs side by side in one layer, one reading
#   $x_1..x_T$, one reading $x_T..x_1$, with their own weights; their states are aligned in time and
#   concatenated, $[\overrightarrow{h}_t ; \overleftarrow{h}_t]$ (2H, forward half first, as PyTorch;
#   some libraries can sum them instead). Not "two layers added together".
# * In a deep bidirectional RNN, every layer above the first reads the 2H concatenation. PyTorch names
#   the weights `weight_ih_l{l}[_reverse]` and lays states out layer-major, $(L\cdot K, N, H)$; the
#   backward direction's final state is its state after $x_1$, i.e. `output[0, :, H:]`.
# * Direction gives each position the future of the sequence; depth does not. On the tagging task,
#   unidirectional taggers of 1 to 3 layers stay
#   at about 50 % on words that only the next word settles; one bidirectional layer reaches 100 %.
# * A bidirectional model must never be used where the future is not available: trained as a
#   next-token model it reads the answer (training loss 0.05 and held-out loss 0.32 against
#   0.39 and 3.44 unidirectional, yet 34 % real words in its samples against 94 %).
#
# **References.** Schuster & Paliwal, *Bidirectional recurrent neural networks*, IEEE Trans. Signal
# Processing 1997. Graves, Mohamed & Hinton, *Speech recognition with deep recurrent neural networks*,
# ICASSP 2013 (deep bidirectional LSTMs). Pascanu, Gulcehre, Cho & Bengio, *How to construct deep
# recurrent neural networks*, ICLR 2014. Huang, Xu & Yu, *Bidirectional LSTM-CRF models for sequence
# tagging*, 2015. Dive into Deep Learning, chapters 10.3 (deep RNNs) and 10.4 (bidirectional RNNs).
# PyTorch documentation of `torch.nn.RNN`, `LSTM`, `GRU` (parameters and the layout of `h_n`).
