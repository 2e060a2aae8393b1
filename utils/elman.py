"""The Elman RNN of notebooks 02 and 03: references built on PyTorch, and demonstration helpers.

The references (``*_torch``) are ``torch.nn`` modules that receive the NumPy weights, as in
:mod:`utils.torch_ref`, so they share no code with the exercises; the visible tests compare with
them, and name common mistakes from the outputs shipped as data in ``utils/fixtures/02_elman_rnn.npz``
(the code that computes the mistakes is instructor-only, in ``autograder/references/elman.py``).
Nothing here is a NumPy implementation of an exercise. The helpers at the end support the
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
    "output_layer_torch",
    "scaled_orthogonal",
    "softmax_torch",
]


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


# --------------------------------------------------------------------------------------------------
# Diagrams (the notes' figures were lost; drawn by code, in the style of utils.diagrams)
# --------------------------------------------------------------------------------------------------
def draw_unrolled(T=4):
    """The Elman RNN unrolled over ``T`` steps: inputs x_t below, states h_t (one tanh layer each),
    outputs y_t above, and the same W_xh, W_hh, W_hy on every arrow of their kind. Returns the figure."""
    from . import diagrams

    dx = 2.2
    fig, ax = diagrams.canvas(dx * T + 2.4, 4.9, size=0.8)
    x0, y_in, y_h, y_out = 2.2, 0.55, 2.35, 4.05
    diagrams.label(ax, (0.55, y_h), "$h_0$")
    diagrams.arrow(ax, (0.85, y_h), (x0 - 0.73, y_h), text="$W_{hh}$", color="#b03a2e")
    for t in range(1, T + 1):
        cx = x0 + dx * (t - 1)
        diagrams.box(ax, (cx, y_in), f"$x_{{{t}}}$", width=0.75, height=0.45, kind="input")
        diagrams.box(ax, (cx, y_h), f"$h_{{{t}}}$ = tanh(·)", width=1.45, height=0.6, kind="layer",
                     fontsize=9)
        diagrams.box(ax, (cx, y_out), f"$y_{{{t}}}$", width=0.75, height=0.45, kind="input")
        diagrams.arrow(ax, (cx, y_in + 0.23), (cx, y_h - 0.3), text="$W_{xh}$", text_offset=(0.38, -0.1))
        diagrams.arrow(ax, (cx, y_h + 0.3), (cx, y_out - 0.23), text="$W_{hy}$", text_offset=(0.38, -0.1))
        if t < T:
            diagrams.arrow(ax, (cx + 0.73, y_h), (cx + dx - 0.73, y_h), text="$W_{hh}$", color="#b03a2e")
    diagrams.label(ax, (x0 + dx * (T - 1) + 1.15, y_h + 0.45), "same weights\nat every step",
                   fontsize=8, color="#666666", ha="left")
    ax.set_title(r"The Elman RNN unrolled: $h_t = \tanh(W_{xh}x_t + W_{hh}h_{t-1} + b_h)$, "
                 r"$y_t = W_{hy}h_t + b_y$", fontsize=10)
    return fig


def draw_shapes():
    """The four shapes side by side (many-to-many, many-to-one, one-to-many, sequence-to-sequence),
    each unrolled over a few steps: which steps read an input and which give an output. Returns the
    figure."""
    from . import diagrams

    fig, ax = diagrams.canvas(19.0, 4.4, size=0.7)

    def chain(x0, n, inputs, outputs, kind="layer", fed_back=False, start_arrow=None):
        centers = [(x0 + 1.1 * k, 2.1) for k in range(n)]
        for k, (cx, cy) in enumerate(centers):
            diagrams.box(ax, (cx, cy), "", width=0.62, height=0.5, kind=kind)
            if k in inputs:
                diagrams.box(ax, (cx, 0.75), "x", width=0.42, height=0.36, kind="input", fontsize=8)
                diagrams.arrow(ax, (cx, 0.93), (cx, cy - 0.25))
            if k in outputs:
                diagrams.box(ax, (cx, 3.45), "y", width=0.42, height=0.36, kind="input", fontsize=8)
                diagrams.arrow(ax, (cx, cy + 0.25), (cx, 3.27))
            if k + 1 < n:
                diagrams.arrow(ax, (cx + 0.31, cy), (cx + 0.79, cy))
                if fed_back and k in outputs:
                    diagrams.path(ax, [(cx + 0.12, 3.27), (cx + 0.55, 2.9), (cx + 0.95, 2.36)],
                                  color="#9467bd", linestyle="--")
        return centers

    chain(0.8, 4, range(4), range(4))
    diagrams.label(ax, (2.45, 4.1), "many-to-many\ntagging", fontsize=9)
    chain(5.6, 4, range(4), [3])
    diagrams.label(ax, (7.25, 4.1), "many-to-one\nclassification", fontsize=9)
    chain(10.4, 4, [0], range(4), fed_back=True)
    diagrams.label(ax, (12.05, 4.1), "one-to-many\ngeneration", fontsize=9)
    enc = chain(15.0, 2, range(2), [], kind="layer")
    dec = chain(17.2, 2, [], range(2), kind="state", fed_back=True)
    diagrams.arrow(ax, (enc[-1][0] + 0.31, 2.1), (dec[0][0] - 0.31, 2.1), color="#9467bd")
    diagrams.label(ax, (17.0, 4.1), "sequence-to-sequence\nencoder → decoder", fontsize=9)
    ax.set_title("Four shapes from one step: which steps read an input (x) and which give an output (y); "
                 "dashed: an output fed back as the next input", fontsize=10)
    return fig
