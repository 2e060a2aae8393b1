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
