"""Gradients through time (notebook 04, 梯度消失与梯度爆炸): random recurrent networks to study.

What notebook 04 needs beside the student's own code: :func:`recurrent_matrix` (a ``W_hh`` with a
chosen largest singular value), :func:`random_rnn` (a network and a batch of inputs, as keyword
arguments of the exercises), :data:`GAMMA` (the largest slope of each activation) and
:func:`flatten` (a list of gradients as one vector, to compare lists). The references the hidden
tests compare with and the catalogues of common mistakes are instructor-only
(``autograder/references/gradients.py``); the visible tests read their outputs on the visible inputs
as data (``utils/fixtures/04_vanishing_exploding.npz``).

Shapes follow the course: ``x`` (T, N, D), ``h0`` and ``h_prev`` (N, H), ``W_xh`` (H, D),
``W_hh`` (H, H), ``b_h`` (H,). Everything is computed in float64.
"""

import numpy as np

#: γ = max |g'(a)| of each activation: tanh'(0) = 1, σ'(0) = 1/4.
GAMMA = {"tanh": 1.0, "sigmoid": 0.25}


def _check_activation(activation):
    if activation not in GAMMA:
        raise ValueError(f"activation must be 'tanh' or 'sigmoid', got {activation!r}")


def recurrent_matrix(H, largest_singular_value, rng, kind="gaussian"):
    """A random (H, H) recurrent matrix W_hh whose largest singular value is the one asked for.

    kind="gaussian": i.i.d. normal entries, rescaled; its singular values spread out below λ_h and
        its eigenvalues are smaller still (about λ_h / 2 in modulus), like a freshly initialised net.
    kind="orthogonal": λ_h times a random orthogonal matrix; every singular value (and every
        eigenvalue's modulus) equals λ_h, the case where the bound η^(T-t) can be reached.
    rng: a NumPy Generator (from ``utils.seed_all``).
    """
    if kind == "gaussian":
        W = rng.standard_normal((H, H))
        return W * (largest_singular_value / np.linalg.norm(W, 2))
    if kind == "orthogonal":
        Q, R = np.linalg.qr(rng.standard_normal((H, H)))
        Q = Q * np.sign(np.diag(R))  # the sign fix makes Q uniformly distributed (Haar)
        return largest_singular_value * Q
    raise ValueError(f"kind must be 'gaussian' or 'orthogonal', got {kind!r}")


def random_rnn(rng, T, N, D, H, largest_singular_value=1.0, kind="gaussian", input_scale=1.0,
               bias_scale=0.5, state_scale=0.5):
    """A random Elman RNN and a batch of inputs, as keyword arguments of the course's functions.

    Returns a dict with x (T, N, D) standard normal, h0 (N, H) of scale ``state_scale``,
    W_xh (H, D) of scale ``input_scale``, W_hh (H, H) from :func:`recurrent_matrix` and
    b_h (H,) of scale ``bias_scale``; all float64. Use it as ``jacobian_norms(**net)``.
    """
    return {
        "x": rng.standard_normal((T, N, D)),
        "h0": state_scale * rng.standard_normal((N, H)),
        "W_xh": input_scale * rng.standard_normal((H, D)),
        "W_hh": recurrent_matrix(H, largest_singular_value, rng, kind),
        "b_h": bias_scale * rng.standard_normal(H),
    }


def flatten(arrays):
    """All entries of a list of arrays as one float64 vector (to compare lists of gradients)."""
    if len(arrays) == 0:
        return np.zeros(0)
    return np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in arrays])


