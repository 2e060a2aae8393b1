"""Notebook 06 (GRU, 门控循环单元): PyTorch bridges, the cell diagram and experiment helpers.

No graded answer lives here. The bridges put NumPy weights (PyTorch's layout: blocks r, z, n stacked
in ``W_ih (3H, D)``, ``W_hh (3H, H)``, ``b_ih (3H,)``, ``b_hh (3H,)``) into ``torch.nn.GRUCell`` and
``torch.nn.GRU`` in float64, so that the notebook's tests compare a student's NumPy code with
PyTorch's own GRU and with ``torch.autograd``.
"""

import time

import numpy as np
import torch

from . import diagrams, tasks
from .env import device
from .torch_ref import to_numpy, to_torch


# ------------------------------------------------------------------------------------------------
# bridges to torch.nn
# ------------------------------------------------------------------------------------------------
def _copy_weights(module, suffix, W_ih, W_hh, b_ih, b_hh):
    with torch.no_grad():
        for name, value in (("weight_ih", W_ih), ("weight_hh", W_hh), ("bias_ih", b_ih),
                            ("bias_hh", b_hh)):
            getattr(module, name + suffix).copy_(to_torch(value))
    return module


def gru_cell_module(W_ih, W_hh, b_ih, b_hh):
    """A float64 ``torch.nn.GRUCell`` holding the given weights (W_ih (3H, D), W_hh (3H, H))."""
    H3, D = np.shape(W_ih)
    cell = torch.nn.GRUCell(D, H3 // 3, bias=True, dtype=torch.float64)
    return _copy_weights(cell, "", W_ih, W_hh, b_ih, b_hh)


def gru_module(W_ih, W_hh, b_ih, b_hh):
    """A float64, time-major, one-layer ``torch.nn.GRU`` holding the given weights."""
    H3, D = np.shape(W_ih)
    gru = torch.nn.GRU(D, H3 // 3, num_layers=1, bias=True, batch_first=False, dtype=torch.float64)
    return _copy_weights(gru, "_l0", W_ih, W_hh, b_ih, b_hh)


def gru_step_torch(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """h_t of one step computed by ``torch.nn.GRUCell`` (a NumPy array (N, H), float64)."""
    cell = gru_cell_module(W_ih, W_hh, b_ih, b_hh)
    with torch.no_grad():
        return to_numpy(cell(to_torch(x_t), to_torch(h_prev)))


def gru_forward_torch(x, h0, W_ih, W_hh, b_ih, b_hh):
    """``(all states (T, N, H), last state (N, H))`` computed by ``torch.nn.GRU``, as NumPy arrays."""
    gru = gru_module(W_ih, W_hh, b_ih, b_hh)
    with torch.no_grad():
        out, h_n = gru(to_torch(x), to_torch(h0)[None])
    return to_numpy(out), to_numpy(h_n[0])


def gru_step_grads_torch(dh_t, x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    """The gradients of ``sum(dh_t * h_t)`` for one ``torch.nn.GRUCell`` step, by ``torch.autograd``.

    Returns ``(dx_t, dh_prev, dW_ih, dW_hh, db_ih, db_hh)`` as NumPy float64 arrays.
    """
    cell = gru_cell_module(W_ih, W_hh, b_ih, b_hh)
    x = to_torch(x_t, requires_grad=True)
    h = to_torch(h_prev, requires_grad=True)
    (cell(x, h) * to_torch(dh_t)).sum().backward()
    return (to_numpy(x.grad), to_numpy(h.grad), to_numpy(cell.weight_ih.grad),
            to_numpy(cell.weight_hh.grad), to_numpy(cell.bias_ih.grad), to_numpy(cell.bias_hh.grad))


def random_gru(rng, N, D, H, T=None, scale=1.0):
    """Random inputs of a GRU step (``T=None``: x_t (N, D), h_prev) or sequence (x (T, N, D), h0).

    Weights are drawn like PyTorch's initialisation, U(-k, k) with k = ``scale``/√H; inputs are
    N(0, 1) and the state is tanh of N(0, 1) (a GRU state lies in (-1, 1)). Returns a dict whose
    keys are the exercises' argument names, float64.
    """
    k = scale / np.sqrt(H)
    x = rng.standard_normal((N, D) if T is None else (T, N, D))
    h = np.tanh(rng.standard_normal((N, H)))
    return {"x_t" if T is None else "x": x, "h_prev" if T is None else "h0": h,
            "W_ih": rng.uniform(-k, k, (3 * H, D)), "W_hh": rng.uniform(-k, k, (3 * H, H)),
            "b_ih": rng.uniform(-k, k, 3 * H), "b_hh": rng.uniform(-k, k, 3 * H)}


def gru_weights(core):
    """The weights of a one-layer ``torch.nn.GRU`` as NumPy float64 arrays (W_ih, W_hh, b_ih, b_hh)."""
    return {name: to_numpy(getattr(core, torch_name)) for name, torch_name in
            (("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"),
             ("b_hh", "bias_hh_l0"))}


# ------------------------------------------------------------------------------------------------
# the diagram
# ------------------------------------------------------------------------------------------------
def draw_gru_cell():
    """The GRU cell in PyTorch's form: gates r_t and z_t, the candidate n_t, and the mix
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}. Returns the figure."""
    fig, ax = diagrams.canvas(10.4, 5.9, size=0.82)
    box, node, arrow, path, label = diagrams.box, diagrams.node, diagrams.arrow, diagrams.path, diagrams.label
    y_top, y_hbus, y_xbus, y_gate = 5.0, 1.05, 0.45, 2.2
    x_z, x_r, x_hn, x_n, x_mix = 2.6, 4.4, 6.2, 8.2, 8.2

    # h_{t-1}: the state line along the top, and down to the bus that feeds the gates
    label(ax, (0.45, y_top), "$h_{t-1}$", fontsize=12)
    path(ax, [(0.85, y_top), (x_z - 0.22, y_top)])
    path(ax, [(1.2, y_top), (1.2, y_hbus), (x_hn, y_hbus)], arrow_at_end=False)
    # x_t: the input bus along the bottom
    label(ax, (0.45, y_xbus), "$x_t$", fontsize=12)
    path(ax, [(0.75, y_xbus), (x_n + 0.25, y_xbus)], arrow_at_end=False)

    # the two gates (σ), each fed by h_{t-1} and x_t
    for xc, name in ((x_z, "z"), (x_r, "r")):
        title = "update gate" if name == "z" else "reset gate"
        box(ax, (xc, y_gate), f"{title}\n$\\sigma \\to {name}_t$", width=1.3, height=0.75, kind="gate",
            fontsize=9)
        arrow(ax, (xc - 0.22, y_hbus), (xc - 0.22, y_gate - 0.38))
        arrow(ax, (xc + 0.22, y_xbus), (xc + 0.22, y_gate - 0.38))

    # candidate: W_hn h + b_hn, scaled by r_t, then tanh together with the input part
    box(ax, (x_hn, 1.75), "$W_{hn}h_{t-1}{+}b_{hn}$", width=1.75, height=0.5, fontsize=9)
    arrow(ax, (x_hn, y_hbus), (x_hn, 1.5))
    node(ax, (x_hn, 2.9), "⊙")
    arrow(ax, (x_hn, 2.0), (x_hn, 2.68))
    path(ax, [(x_r, y_gate + 0.38), (x_r, 2.9), (x_hn - 0.22, 2.9)])
    label(ax, (x_r + 0.75, 3.1), "$r_t$", fontsize=11)
    box(ax, (x_n, 2.9), "tanh$(W_{in}x_t{+}b_{in}{+}\\cdot)$", width=2.0, height=0.5, fontsize=9)
    arrow(ax, (x_hn + 0.22, 2.9), (x_n - 1.0, 2.9))
    arrow(ax, (x_n + 0.25, y_xbus), (x_n + 0.25, 2.65))

    # the mix: z_t ⊙ h_{t-1} on the state line, (1 - z_t) ⊙ n_t from below, added
    node(ax, (x_z, y_top), "⊙")
    arrow(ax, (x_z, y_gate + 0.38), (x_z, y_top - 0.22))
    label(ax, (x_z - 0.35, 3.4), "$z_t$", fontsize=11)
    node(ax, (5.4, 4.05), "1−", fontsize=9)
    path(ax, [(x_z, 4.05), (5.4 - 0.22, 4.05)])
    node(ax, (x_mix, 4.05), "⊙")
    arrow(ax, (5.4 + 0.22, 4.05), (x_mix - 0.22, 4.05))
    label(ax, (6.9, 4.25), "$1-z_t$", fontsize=10)
    arrow(ax, (x_n, 3.15), (x_mix, 3.83))
    label(ax, (x_n + 0.35, 3.5), "$n_t$", fontsize=11)
    node(ax, (x_mix, y_top), "+")
    arrow(ax, (x_z + 0.22, y_top), (x_mix - 0.22, y_top))
    arrow(ax, (x_mix, 4.27), (x_mix, y_top - 0.22))
    arrow(ax, (x_mix + 0.22, y_top), (9.7, y_top))
    label(ax, (10.05, y_top), "$h_t$", fontsize=12)
    label(ax, (5.4, y_top + 0.22), "$z_t \\odot h_{t-1}$", fontsize=9, va="bottom")
    label(ax, (x_mix + 0.95, 4.3), "$(1-z_t)\\odot n_t$", fontsize=9)

    diagrams.legend(ax, (0.4, 5.65), kinds=("gate", "layer", "op"))
    ax.set_title("GRU cell (PyTorch's form): $h_t = (1-z_t)\\odot n_t + z_t\\odot h_{t-1}$",
                 fontsize=11)
    return fig


# ------------------------------------------------------------------------------------------------
# experiment helpers
# ------------------------------------------------------------------------------------------------
CORES = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


def make_core(kind, D, H, keep_bias=0.0):
    """A one-layer ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` with PyTorch's initialisation.

    keep_bias: initial bias of the block that keeps the old state: the GRU's update gate z
    (block 1 of r, z, n) or the LSTM's forget gate f (block 1 of i, f, g, o); the RNN has none.
    It is put in ``bias_ih`` with the matching part of ``bias_hh`` set to 0.
    """
    core = CORES[kind](D, H)
    if kind in ("gru", "lstm") and keep_bias is not None:
        with torch.no_grad():
            core.bias_ih_l0[H:2 * H].fill_(keep_bias)
            core.bias_hh_l0[H:2 * H].zero_()
    return core


def train_on_first_symbol(kind, T, seed, steps, H=32, n_symbols=4, lr=1e-2, keep_bias=1.0,
                          batch=64, n_test=1000):
    """Train a classifier with a ``kind`` core on the first-symbol task; evaluate on new sequences.

    Returns ``dict(model, losses, accuracy, seconds_per_step)``; the test sequences are drawn after
    training from the same generator, so the model never saw them.
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = tasks.SequenceClassifier(make_core(kind, n_symbols, H, keep_bias), n_symbols)
    model = model.to(device())
    start = time.perf_counter()
    losses = tasks.train_classifier(model, lambda: tasks.first_symbol_task(T, batch, n_symbols, rng),
                                    steps=steps, lr=lr, max_norm=1.0)
    seconds = (time.perf_counter() - start) / max(steps, 1)
    x_test, y_test = tasks.first_symbol_task(T, n_test, n_symbols, rng)
    return {"model": model, "losses": np.array(losses), "seconds_per_step": seconds,
            "accuracy": tasks.accuracy(model, x_test, y_test)}


def warm_up(kinds=("rnn", "gru", "lstm")):
    """Run each kind of layer forward and backward twice, so that the first timed run does not pay
    for PyTorch's one-off set-up (kernel selection, memory pools)."""
    dev = device()
    for kind in kinds:
        core = CORES[kind](4, 8).to(dev)
        for _ in range(2):
            out, _ = core(torch.randn(5, 3, 4, device=dev))
            out.sum().backward()


def count_operator_calls(kind, T=20, N=64, D=32, H=32):
    """How many PyTorch operators one forward and backward pass of a ``kind`` layer runs, on the CPU.

    Returns ``(calls, fused)``: the number of ATen operator calls that reach PyTorch's dispatcher
    (seen through a ``TorchDispatchMode``), and the names of the fused whole-sequence RNN kernels
    among them (for example ``mkldnn_rnn_layer``, oneDNN's LSTM), if any.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    core = CORES[kind](D, H)
    x = torch.randn(T, N, D)
    with _Count() as counter:
        out, _ = core(x)
        out.sum().backward()
    fused = sorted({name for name in counter.names if "rnn_layer" in name})
    return len(counter.names), fused


def time_forward_backward(kinds, T, N, D, H, repeats=3, seed=0):
    """Seconds of one forward and backward pass of each layer kind in ``kinds`` on a random batch.

    The kinds are timed in turn, ``repeats`` rounds, so that all see the same load of the machine,
    and each gets the fastest of its runs (other programs can only make a run slower, never
    faster). Returns ``{kind: seconds}``.
    """
    torch.manual_seed(seed)
    dev = device()
    cores = {kind: CORES[kind](D, H).to(dev) for kind in kinds}
    x = torch.randn(T, N, D, device=dev)
    times = {kind: [] for kind in kinds}
    for round_ in range(repeats + 1):                 # round 0 warms up and is not counted
        for kind, core in cores.items():
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            out, _ = core(x)
            out.sum().backward()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if round_:
                times[kind].append(time.perf_counter() - start)
    return {kind: float(np.min(t)) for kind, t in times.items()}


__all__ = ["CORES", "count_operator_calls", "draw_gru_cell", "gru_cell_module", "gru_forward_torch",
           "gru_module", "gru_step_grads_torch", "gru_step_torch", "gru_weights", "make_core",
           "random_gru", "time_forward_backward", "train_on_first_symbol", "warm_up"]
