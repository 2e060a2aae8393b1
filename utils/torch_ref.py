"""Independent references: ``torch.nn`` modules that receive the NumPy exercises' weights.

The weights are laid out as in the maths and in PyTorch (``W_xh (H, D)``, ``W_hh (H, H)``,
``b_h (H,)``), so they copy in unchanged. All references compute in float64, like the exercises.
"""

import numpy as np
import torch


def to_torch(a, requires_grad=False):
    """A float64 tensor (a copy) of the NumPy array ``a``."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64,
                        requires_grad=requires_grad)


def to_numpy(t):
    """A float64 NumPy array of the tensor ``t`` (detached, on the CPU)."""
    return t.detach().cpu().numpy().astype(np.float64)


def elman_rnn_module(W_xh, W_hh, b_h, nonlinearity="tanh"):
    """A one-layer ``torch.nn.RNN`` (time-major) computing h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h).

    PyTorch has two biases, ``b_ih`` and ``b_hh``, that are always added together; the maths has
    one, so ``b_ih = b_h`` and ``b_hh = 0``.

    W_xh: (H, D), W_hh: (H, H), b_h: (H,). Returns the module, in float64.
    """
    H, D = np.shape(W_xh)
    rnn = torch.nn.RNN(D, H, num_layers=1, nonlinearity=nonlinearity, bias=True,
                       batch_first=False, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(to_torch(W_xh))
        rnn.weight_hh_l0.copy_(to_torch(W_hh))
        rnn.bias_ih_l0.copy_(to_torch(b_h))
        rnn.bias_hh_l0.zero_()
    return rnn


def elman_forward_torch(x, h0, W_xh, W_hh, b_h, nonlinearity="tanh"):
    """All hidden states of an Elman RNN computed by ``torch.nn.RNN``.

    x: (T, N, D), h0: (N, H). Returns a NumPy array (T, N, H).
    """
    rnn = elman_rnn_module(W_xh, W_hh, b_h, nonlinearity)
    with torch.no_grad():
        states, _ = rnn(to_torch(x), to_torch(h0)[None])
    return to_numpy(states)
