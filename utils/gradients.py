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




# ------------------------------------------------------------------------------------------------
# Diagram (the notes' figure was lost; drawn by code, in the style of utils.diagrams)
# ------------------------------------------------------------------------------------------------
def draw_jacobian_chain(steps=5):
    """The chain of step Jacobians from an early state h_t to the last h_T: one factor
    J_j = diag(g'(a_j)) W_hh per step, each of norm at most eta = gamma * lambda_h, so the product
    of T - t of them is at most eta^(T-t). Returns the figure."""
    from . import diagrams

    dx = 2.3
    fig, ax = diagrams.canvas(dx * steps + 1.0, 3.4, size=0.8)
    x0, y = 0.9, 1.55
    names = ["$h_t$"] + [f"$h_{{t+{j}}}$" for j in range(1, steps - 1)] + ["$h_T$"]
    for j, name in enumerate(names):
        cx = x0 + dx * j
        diagrams.box(ax, (cx, y), name, width=0.9, height=0.55, kind="state")
        if j + 1 < len(names):
            diagrams.arrow(ax, (cx + 0.45, y), (cx + dx - 0.45, y),
                           text=f"$J_{{t+{j + 1}}}$" if j + 2 < len(names) else "$J_T$")
            diagrams.label(ax, (cx + dx / 2, y - 0.45), r"$\|\cdot\| \leq \eta$", fontsize=8,
                           color="#666666")
    diagrams.label(ax, (x0 + dx * (steps - 1) / 2, 2.75),
                   r"$\partial h_T/\partial h_t = J_T \cdots J_{t+1}$,   "
                   r"$J_j = \mathrm{diag}(g'(a_j))\,W_{hh}$,   "
                   r"$\|\partial h_T/\partial h_t\| \leq \eta^{T-t}$", fontsize=10)
    diagrams.label(ax, (x0 + dx * (steps - 1) / 2, 0.5),
                   r"$\eta = \gamma\,\lambda_h$: $\gamma$ = 1 (tanh) or 1/4 (sigmoid) bounds $|g'|$, "
                   r"$\lambda_h$ = largest singular value of $W_{hh}$", fontsize=9, color="#333333")
    ax.set_title("The chain of step Jacobians between an early state and the last one", fontsize=10)
    return fig
