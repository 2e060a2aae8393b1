"""Notebook 05 (LSTM, 长短期记忆网络): diagrams, PyTorch bridges and experiment helpers.

Nothing here implements a graded exercise: the diagrams are drawn with :mod:`utils.diagrams`, the
references are ``torch.nn.LSTM`` / ``torch.nn.LSTMCell`` modules that receive the NumPy weights
(and ``torch.autograd`` on them), and the experiment helpers train and probe PyTorch models.

Weights are laid out as in the maths and in PyTorch: ``W_ih (4H, D)``, ``W_hh (4H, H)``,
``b (4H,)``, gate blocks stacked i, f, g, o. PyTorch has two bias vectors that are always added,
``bias_ih + bias_hh``; the maths has one, so the bridges copy ``b`` into ``bias_ih`` and zero
``bias_hh``.
"""

import numpy as np
import torch
from matplotlib.patches import FancyBboxPatch

from . import diagrams, tasks
from .torch_ref import to_numpy, to_torch


# ------------------------------------------------------------------------------------------------
# PyTorch bridges
# ------------------------------------------------------------------------------------------------
def _copy_weights(module, W_ih, W_hh, b, suffix=""):
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(to_torch(W_ih))
        getattr(module, f"weight_hh{suffix}").copy_(to_torch(W_hh))
        getattr(module, f"bias_ih{suffix}").copy_(to_torch(b))
        getattr(module, f"bias_hh{suffix}").zero_()      # b_ih + b_hh = b
    return module


def lstm_cell_module(W_ih, W_hh, b):
    """A float64 ``torch.nn.LSTMCell`` with these weights (``bias_ih = b``, ``bias_hh = 0``)."""
    H, D = np.shape(W_hh)[1], np.shape(W_ih)[1]
    return _copy_weights(torch.nn.LSTMCell(D, H, dtype=torch.float64), W_ih, W_hh, b)


def lstm_module(W_ih, W_hh, b):
    """A one-layer, time-major, float64 ``torch.nn.LSTM`` with these weights."""
    H, D = np.shape(W_hh)[1], np.shape(W_ih)[1]
    return _copy_weights(torch.nn.LSTM(D, H, dtype=torch.float64), W_ih, W_hh, b, "_l0")


def lstm_step_torch(x_t, h_prev, c_prev, W_ih, W_hh, b):
    """``(h_t, c_t)`` of one step computed by ``torch.nn.LSTMCell``, as float64 NumPy arrays."""
    cell = lstm_cell_module(W_ih, W_hh, b)
    with torch.no_grad():
        h_t, c_t = cell(to_torch(x_t), (to_torch(h_prev), to_torch(c_prev)))
    return to_numpy(h_t), to_numpy(c_t)


def lstm_forward_torch(x, h0, c0, W_ih, W_hh, b):
    """``(h_all (T, N, H), h_T, c_T)`` computed by ``torch.nn.LSTM``, as float64 NumPy arrays."""
    lstm = lstm_module(W_ih, W_hh, b)
    with torch.no_grad():
        h_all, (h_T, c_T) = lstm(to_torch(x), (to_torch(h0)[None], to_torch(c0)[None]))
    return to_numpy(h_all), to_numpy(h_T[0]), to_numpy(c_T[0])


def lstm_step_grads_torch(x_t, h_prev, c_prev, W_ih, W_hh, b, dh_t, dc_t):
    """``torch.autograd`` through ``torch.nn.LSTMCell``: the gradients of
    L = sum(dh_t * h_t) + sum(dc_t * c_t) with respect to x_t, h_prev, c_prev, W_ih, W_hh and b,
    as a tuple of float64 NumPy arrays in that order."""
    cell = lstm_cell_module(W_ih, W_hh, b)
    inputs = [to_torch(a, requires_grad=True) for a in (x_t, h_prev, c_prev)]
    h_t, c_t = cell(inputs[0], (inputs[1], inputs[2]))
    loss = (h_t * to_torch(dh_t)).sum() + (c_t * to_torch(dc_t)).sum()
    grads = torch.autograd.grad(loss, inputs + [cell.weight_ih, cell.weight_hh, cell.bias_ih])
    return tuple(to_numpy(g) for g in grads)


def lstm_sequence_grads_torch(x, h0, c0, W_ih, W_hh, b, dh_all):
    """``torch.autograd`` through ``torch.nn.LSTM``: gradients of L = sum(dh_all * h_all) with
    respect to x, h0, c0, W_ih, W_hh, b, as a dict of float64 NumPy arrays."""
    lstm = lstm_module(W_ih, W_hh, b)
    xs, h0_t, c0_t = (to_torch(a, requires_grad=True) for a in (x, h0, c0))
    h_all, _ = lstm(xs, (h0_t[None], c0_t[None]))
    loss = (h_all * to_torch(dh_all)).sum()
    grads = torch.autograd.grad(loss, [xs, h0_t, c0_t, lstm.weight_ih_l0, lstm.weight_hh_l0,
                                       lstm.bias_ih_l0])
    return dict(zip(["dx", "dh0", "dc0", "dW_ih", "dW_hh", "db"], (to_numpy(g) for g in grads),
                    strict=True))


# ------------------------------------------------------------------------------------------------
# diagrams
# ------------------------------------------------------------------------------------------------
def draw_lstm_cell(peephole=False):
    """The LSTM cell: four gates from [h_{t-1}, x_t], the cell path c_{t-1} -> (x) f -> (+) -> c_t
    drawn thick along the top, and h_t = o (x) tanh(c_t). ``peephole=True`` adds the peephole
    wires (dashed): c_{t-1} into i and f, the new c_t into o. Returns the figure."""
    fig, ax = diagrams.canvas(11.0, 6.2, size=0.85)
    cell_color = "#d62728"
    y_c, y_mid, y_gate, y_in = 5.0, 3.5, 2.0, 0.55
    xs = {"f": 2.6, "i": 4.3, "g": 5.7, "o": 7.4}
    ax.add_patch(FancyBboxPatch(
        (1.2, 1.1), 8.6, 4.6, boxstyle="round,pad=0.05,rounding_size=0.25", facecolor="#fafafa",
        edgecolor="#999999", linewidth=1.0, zorder=0))

    # the cell path along the top: c_{t-1} -> (x) f_t -> (+) -> c_t
    diagrams.label(ax, (0.45, y_c), "$c_{t-1}$", fontsize=12, color=cell_color)
    diagrams.node(ax, (xs["f"], y_c), "×")
    diagrams.node(ax, (xs["g"], y_c), "+")
    diagrams.arrow(ax, (0.85, y_c), (xs["f"] - 0.22, y_c), color=cell_color, width=3.2)
    diagrams.arrow(ax, (xs["f"] + 0.22, y_c), (xs["g"] - 0.22, y_c), color=cell_color, width=3.2)
    diagrams.arrow(ax, (xs["g"] + 0.22, y_c), (10.45, y_c), color=cell_color, width=3.2)
    diagrams.label(ax, (10.7, y_c), "$c_t$", fontsize=12, color=cell_color)
    diagrams.label(ax, (4.15, y_c + 0.42), r"cell path: $c_t = f_t \odot c_{t-1} + i_t \odot g_t$",
                   fontsize=9, color=cell_color)

    # the four gates
    for name, kind, text in (("f", "gate", r"$\sigma$"), ("i", "gate", r"$\sigma$"),
                             ("g", "layer", "tanh"), ("o", "gate", r"$\sigma$")):
        diagrams.box(ax, (xs[name], y_gate), text, width=0.9, height=0.5, kind=kind)
        sub = {"f": "$f_t$ forget", "i": "$i_t$ input", "g": r"$g_t=\hat c_t$", "o": "$o_t$ output"}[name]
        diagrams.label(ax, (xs[name] + 0.1, y_gate - 0.47), sub, fontsize=8, ha="left")

    # [h_{t-1}, x_t] feeds every gate: a bus under the gates
    diagrams.label(ax, (0.45, y_in), "$h_{t-1}$", fontsize=12)
    diagrams.label(ax, (xs["i"] - 0.6, 0.2), "$x_t$", fontsize=12)
    ax.plot([0.85, xs["o"]], [y_in, y_in], color="#333333", lw=1.3, zorder=2)
    ax.plot([xs["i"] - 0.6, xs["i"] - 0.6], [0.35, y_in], color="#333333", lw=1.3, zorder=2)
    for name in xs:
        diagrams.arrow(ax, (xs[name], y_in), (xs[name], y_gate - 0.25))
    diagrams.label(ax, (xs["o"] + 1.1, y_in), r"$W\,[x_t; h_{t-1}] + b$", fontsize=8)

    # f_t into the (x) of the cell path; i_t (x) g_t into the (+)
    diagrams.arrow(ax, (xs["f"], y_gate + 0.25), (xs["f"], y_c - 0.22))
    diagrams.node(ax, ((xs["i"] + xs["g"]) / 2, y_mid), "×")
    m = (xs["i"] + xs["g"]) / 2
    diagrams.path(ax, [(xs["i"], y_gate + 0.25), (xs["i"], y_mid), (m - 0.22, y_mid)])
    diagrams.path(ax, [(xs["g"], y_gate + 0.25), (xs["g"], y_mid), (m + 0.22, y_mid)])
    diagrams.arrow(ax, (m, y_mid + 0.22), (xs["g"] - 0.13, y_c - 0.18))

    # h_t = o_t (x) tanh(c_t)
    x_h = 8.9
    diagrams.node(ax, (x_h, 4.2), "tanh", radius=0.3, fontsize=8)
    diagrams.arrow(ax, (x_h, y_c), (x_h, 4.5))
    diagrams.node(ax, (x_h, y_mid - 0.3), "×")
    diagrams.arrow(ax, (x_h, 3.9), (x_h, y_mid - 0.08))
    diagrams.path(ax, [(xs["o"], y_gate + 0.25), (xs["o"], y_mid - 0.3), (x_h - 0.22, y_mid - 0.3)])
    diagrams.path(ax, [(x_h + 0.22, y_mid - 0.3), (10.45, y_mid - 0.3)])
    diagrams.label(ax, (10.7, y_mid - 0.3), "$h_t$", fontsize=12)
    diagrams.label(ax, (x_h + 0.25, 2.65), r"$h_t = o_t \odot \tanh(c_t)$", fontsize=8, ha="left")

    if peephole:
        peep = dict(color="#9467bd", width=1.3, linestyle="--")
        # c_{t-1} down into f and i (tapped before the forget multiplication)
        diagrams.path(ax, [(1.6, y_c), (1.6, y_gate + 0.6), (xs["f"] - 0.45, y_gate + 0.6),
                           (xs["f"] - 0.45, y_gate + 0.25)], **peep)
        diagrams.path(ax, [(xs["f"] - 0.45, y_gate + 0.6), (xs["i"] - 0.75, y_gate + 0.6),
                           (xs["i"] - 0.75, y_gate), (xs["i"] - 0.45, y_gate)], **peep)
        # the NEW c_t into o
        diagrams.path(ax, [(8.2, y_c), (8.2, y_gate), (xs["o"] + 0.45, y_gate)], **peep)
        diagrams.label(ax, (1.35, 3.2), "$w_{cf}, w_{ci}$", fontsize=8, color="#9467bd", rotation=90)
        diagrams.label(ax, (8.45, 2.9), "$w_{co}$", fontsize=8, color="#9467bd", rotation=90)
    diagrams.legend(ax, (1.4, 5.95), kinds=("gate", "layer", "op"))
    title = "Peephole LSTM cell (dashed: peephole connections)" if peephole else "LSTM cell"
    ax.set_title(title, fontsize=11)
    return fig


# ------------------------------------------------------------------------------------------------
# experiment helpers
# ------------------------------------------------------------------------------------------------
def make_core(kind, D, H, forget_bias=None, seed=0, recurrent_scale=None, input_scale=None):
    """A float32 ``torch.nn.RNN`` (tanh) or ``torch.nn.LSTM`` with PyTorch's default initialisation,
    drawn after ``seed_all(seed)``. For the LSTM, ``forget_bias`` (if given) sets b_f and zeros the
    other biases (b_ih = b, b_hh = 0). ``recurrent_scale`` / ``input_scale`` (if given) redraw
    W_hh / W_ih with N(0, scale^2 / H) / N(0, scale^2 / D) entries."""
    from .seeding import seed_all

    seed_all(seed)
    core = (torch.nn.LSTM if kind == "lstm" else torch.nn.RNN)(D, H)
    with torch.no_grad():
        if kind == "lstm" and forget_bias is not None:
            core.bias_ih_l0.zero_()
            core.bias_hh_l0.zero_()
            core.bias_ih_l0[H:2 * H] = forget_bias
        if recurrent_scale is not None:
            core.weight_hh_l0.normal_(0.0, recurrent_scale / H ** 0.5)
        if input_scale is not None:
            core.weight_ih_l0.normal_(0.0, input_scale / D ** 0.5)
    return core


def state_jacobian_norms(core, x):
    """Spectral norms of dh_T/dh_t (and, for an LSTM, dc_T/dc_t) for every t, by ``torch.autograd``.

    core: a ``torch.nn.RNN`` or ``torch.nn.LSTM`` (one layer); x: (T, S, D) NumPy array of S
    sequences. h_t and c_t are the states that step t hands to step t+1; each Jacobian is taken with
    the other state of that step held fixed (the two gradients BPTT carries back, dh and dc).
    The states are run in float64 (the core is converted to float64 in place).
    Returns a dict of (T, S) arrays, row k = lag k = T - t, k=0..T-1:
    ``"h"`` and, for an LSTM, ``"c"`` and ``"f"`` (the norm of the cell path alone,
    prod diag(f_j) = max over units of prod f_j).
    """
    core = core.double()
    T, S, D = x.shape
    H = core.hidden_size
    lstm = isinstance(core, torch.nn.LSTM)
    # H copies of each sequence: copy k's backward pass gives row k of the Jacobian
    xs = torch.tensor(np.repeat(np.asarray(x, dtype=np.float64), H, axis=1))
    h = torch.zeros(1, S * H, H, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(1, S * H, H, dtype=torch.float64, requires_grad=True)
    hs, cs, fs = [h], [c], []
    for t in range(T):
        if lstm:
            with torch.no_grad():
                pre = (xs[t] @ core.weight_ih_l0.T + hs[-1][0] @ core.weight_hh_l0.T
                       + core.bias_ih_l0 + core.bias_hh_l0)
                fs.append(torch.sigmoid(pre[:, H:2 * H]))
            _, (h, c) = core(xs[t:t + 1], (hs[-1], cs[-1]))
            cs.append(c)
        else:
            _, h = core(xs[t:t + 1], hs[-1])
        hs.append(h)
    pick = torch.eye(H, dtype=torch.float64).repeat(S, 1)[None]       # copy k picks unit k
    out = {"h": hs, "c": cs} if lstm else {"h": hs}
    norms = {}
    for name, states in out.items():
        grads = torch.autograd.grad((states[-1] * pick).sum(), states[:-1], retain_graph=True)
        # lag 1..T; the rows of each Jacobian are the units of the last state
        J = torch.stack(grads[::-1])[:, 0].reshape(T, S, H, H)
        norms[name] = np.linalg.norm(J.numpy(), ord=2, axis=(2, 3))
        norms[name] = np.concatenate([np.ones((1, S)), norms[name][:-1]])  # lag 0..T-1
    if lstm:
        f = torch.stack(fs).numpy()[:, ::H]                               # (T, S, H): one copy each
        prods = np.cumprod(f[::-1], axis=0)                              # prod of the last k gates
        norms["f"] = np.concatenate([np.ones((1, S)), prods.max(axis=2)[:-1]])
    return norms


def first_symbol_run(core, T, steps, seed, lr=1e-2, batch=64, n_symbols=4, test_size=1000):
    """Train ``core`` (with a linear read-out) on the first-symbol task of length T, Adam, clipping
    at global norm 1. Returns ``(training losses, held-out accuracy, model)``; the held-out
    sequences are drawn after training, from the same generator, so the model never saw them."""
    rng = np.random.default_rng(seed)
    model = tasks.SequenceClassifier(core, n_symbols)
    from .env import device

    model = model.to(device())
    losses = tasks.train_classifier(model, lambda: tasks.first_symbol_task(T, batch, n_symbols, rng),
                                    steps=steps, lr=lr, max_norm=1.0)
    x_test, y_test = tasks.first_symbol_task(T, test_size, n_symbols, rng)
    return np.array(losses), tasks.accuracy(model, x_test, y_test), model
