"""Instructor-only references of notebook 04 (梯度消失与梯度爆炸): the hidden tests' references, the
mistakes the tests name, and the visible tests' fixtures.

Never shipped to students (see ``__init__.py``). The references are built on PyTorch and share no
code with the exercises: ``torch.autograd`` for the Jacobians, ``torch.linalg`` for the spectral
norm, ``torch.nn.utils.clip_grad_norm_`` for clipping; ``tests/test_gradients_references.py`` checks
them. The ``*_mistakes`` functions are catalogues of common wrong answers for
``utils.check_close(..., mistakes=...)``; :func:`fixture_cases` evaluates them on the visible tests'
inputs, so that students get the outputs as data and never this code.

Shapes follow the course: ``x`` (T, N, D), ``h0`` and ``h_prev`` (N, H), ``W_xh`` (H, D),
``W_hh`` (H, H), ``b_h`` (H,). Everything is computed in float64.
"""

import numpy as np
import torch

from utils.gradients import GAMMA, _check_activation, flatten, random_rnn, recurrent_matrix  # noqa: F401  (re-exported)
from utils.torch_ref import to_numpy, to_torch

ASSIGNMENT = "04_vanishing_exploding"


def activation_function(a, activation="tanh"):
    """g(a) elementwise: ``np.tanh`` or the logistic sigmoid σ(a) = 1 / (1 + e^(-a))."""
    _check_activation(activation)
    a = np.asarray(a, dtype=np.float64)
    if activation == "tanh":
        return np.tanh(a)
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # σ(a), written without exp so it never overflows


def activation_derivative(a, activation="tanh"):
    """g'(a) elementwise, from the pre-activation ``a``: 1 - tanh(a)² or σ(a)(1 - σ(a))."""
    g = activation_function(a, activation)
    return 1.0 - g**2 if activation == "tanh" else g * (1.0 - g)


def rnn_states(x, h0, W_xh, W_hh, b_h, activation="tanh"):
    """Forward pass of the Elman RNN h_t = g(W_xh x_t + W_hh h_{t-1} + b_h), in NumPy.

    x: (T, N, D), h0: (N, H), W_xh: (H, D), W_hh: (H, H), b_h: (H,); activation "tanh"/"sigmoid".
    Returns ``(h, a)``: the states h_1..h_T and the pre-activations a_1..a_T, both (T, N, H).
    """
    x, h, W_xh, W_hh, b_h = (np.asarray(v, dtype=np.float64) for v in (x, h0, W_xh, W_hh, b_h))
    states = np.zeros((x.shape[0],) + h.shape)
    pre = np.zeros_like(states)
    for t, x_t in enumerate(x):
        pre[t] = x_t @ W_xh.T + h @ W_hh.T + b_h
        h = states[t] = activation_function(pre[t], activation)
    return states, pre


def _torch_activation(activation):
    _check_activation(activation)
    return torch.tanh if activation == "tanh" else torch.sigmoid


# ---------------------------------------------------------------------------------------------
# Independent references (PyTorch)
# ---------------------------------------------------------------------------------------------


def reference_step_jacobian(x_t, h_prev, W_xh, W_hh, b_h, activation="tanh"):
    """∂h_t/∂h_{t-1} for every example, by ``torch.autograd.functional.jacobian``.

    x_t: (N, D), h_prev: (N, H). Returns a float64 NumPy array (N, H, H) whose entry [n, i, j] is
    ∂h_t[n, i] / ∂h_{t-1}[n, j]. It differentiates the step function itself, so it does not use the
    formula diag(g'(a_t)) W_hh that the exercise implements.
    """
    g = _torch_activation(activation)
    x_t, W_xh, W_hh, b_h = (to_torch(v) for v in (x_t, W_xh, W_hh, b_h))
    h_prev = to_torch(h_prev)
    jacobians = []
    for n in range(h_prev.shape[0]):
        def step(h, n=n):
            return g(x_t[n] @ W_xh.T + h @ W_hh.T + b_h)
        jacobians.append(torch.autograd.functional.jacobian(step, h_prev[n]))
    H = W_hh.shape[0]
    return to_numpy(torch.stack(jacobians)) if jacobians else np.zeros((0, H, H))


def reference_jacobians_through_time(x, h0, W_xh, W_hh, b_h, activation="tanh"):
    """∂h_T/∂h_t for t = 0..T by backpropagation (``torch.autograd.grad``), not by multiplying
    step Jacobians. Returns a float64 array (T+1, N, H, H) indexed by t (t = 0 is h0, t = T is
    h_T itself, whose Jacobian is the identity)."""
    g = _torch_activation(activation)
    x, W_xh, W_hh, b_h = (to_torch(v) for v in (x, W_xh, W_hh, b_h))
    h = to_torch(h0, requires_grad=True)
    states = [h]
    for x_t in x:
        h = g(x_t @ W_xh.T + h @ W_hh.T + b_h)
        states.append(h)
    N, H = h.shape
    J = torch.zeros(len(states), N, H, H, dtype=torch.float64)
    for i in range(H):  # row i of every Jacobian: the gradient of h_T[:, i] w.r.t. each state
        rows = torch.autograd.grad(states[-1][:, i].sum(), states, retain_graph=True,
                                   allow_unused=True)
        for t, row in enumerate(rows):  # examples are independent, so summing over n is harmless
            if row is not None:
                J[t, :, i, :] = row
    return to_numpy(J)


def reference_jacobian_norms(x, h0, W_xh, W_hh, b_h, activation="tanh"):
    """‖∂h_T/∂h_{T-k}‖₂ (spectral norm) for lags k = 0..T and every example: (T+1, N).

    Row k is lag k: row 0 is ‖I‖ = 1, row T is ‖∂h_T/∂h_0‖. Computed with ``torch.autograd`` and
    ``torch.linalg.matrix_norm(ord=2)``, independently of any product of step Jacobians.
    """
    J = reference_jacobians_through_time(x, h0, W_xh, W_hh, b_h, activation)
    norms = to_numpy(torch.linalg.matrix_norm(torch.from_numpy(J), ord=2))
    return norms[::-1].copy()


def reference_eta(W_hh, activation="tanh"):
    """η = γ·λ_h with λ_h the largest singular value of W_hh (``torch.linalg.svdvals``)."""
    _check_activation(activation)
    return GAMMA[activation] * float(torch.linalg.svdvals(to_torch(W_hh))[0])


def reference_clip_by_global_norm(grads, max_norm):
    """Clipping by the global norm as PyTorch does it (``torch.nn.utils.clip_grad_norm_``).

    grads: list of arrays. Returns ``(clipped, total_norm)``: a list of float64 arrays and the
    global norm before clipping (a float). PyTorch scales by max_norm / (total_norm + 1e-6), so
    its result differs from the exact rule by a relative 1e-6 / total_norm at most.
    """
    params = []
    for g in grads:
        p = torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True)
        p.grad = to_torch(g)
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [to_numpy(p.grad) for p in params], float(total)


# ---------------------------------------------------------------------------------------------
# Mistake catalogues (what a wrong answer computes), for utils.check_close(..., mistakes=...)
# ---------------------------------------------------------------------------------------------


def step_jacobian_mistakes(x_t, h_prev, W_xh, W_hh, b_h, activation="tanh"):
    """Common wrong answers of ``step_jacobian`` (each an (N, H, H) array, computed lazily)."""
    x_t, h_prev, W_xh, W_hh, b_h = (np.asarray(v, dtype=np.float64)
                                    for v in (x_t, h_prev, W_xh, W_hh, b_h))
    a = x_t @ W_xh.T + h_prev @ W_hh.T + b_h
    h = activation_function(a, activation)
    gp = activation_derivative(a, activation)
    N = a.shape[0]

    def rows(d):  # diag(d) W_hh for every example
        return d[:, :, None] * W_hh[None, :, :]

    mistakes = {
        "W_hh alone, without diag(g'(a_t)) (the activation's derivative is missing)":
            lambda: np.broadcast_to(W_hh, (N,) + W_hh.shape).copy(),
        "diag(g') on the wrong side: W_hh diag(g') scales the columns; diag(g') W_hh must "
        "scale the rows":
            lambda: W_hh[None, :, :] * gp[:, None, :],
        "the transpose W_hhᵀ diag(g') (what backpropagation multiplies a gradient by), not "
        "∂h_t/∂h_{t-1}":
            lambda: np.swapaxes(rows(gp), 1, 2),
        "g' evaluated at h_{t-1} instead of at the new pre-activation a_t":
            lambda: rows(h_prev * (1.0 - h_prev) if activation == "sigmoid" else 1.0 - h_prev**2),
    }
    if activation == "tanh":
        mistakes.update({
            "tanh' computed from the pre-activation, 1 - a_t², instead of 1 - h_t² with "
            "h_t = tanh(a_t)": lambda: rows(1.0 - a**2),
            "sigmoid' used although the activation is tanh": lambda: rows(
                activation_derivative(a, "sigmoid")),
        })
    else:
        mistakes.update({
            "sigmoid' taken as 1 - σ(a)² (the tanh formula); σ'(a) = σ(a)(1 - σ(a))":
                lambda: rows(1.0 - h**2),
            "sigmoid' taken as σ(a) itself; σ'(a) = σ(a)(1 - σ(a))": lambda: rows(h),
            "sigmoid' computed from the pre-activation, a(1 - a), instead of σ(a)(1 - σ(a))":
                lambda: rows(a * (1.0 - a)),
            "tanh' used although the activation is sigmoid": lambda: rows(
                activation_derivative(a, "tanh")),
        })
    return mistakes


def _jacobian_at(x_t, h_prev, W_xh, W_hh, b_h, activation):
    a = x_t @ np.asarray(W_xh, np.float64).T + h_prev @ W_hh.T + b_h
    return activation_derivative(a, activation)[:, :, None] * W_hh


def _step_jacobians(x, h0, W_xh, W_hh, b_h, activation):
    """[J_1, ..., J_T], J_t = diag(g'(a_t)) W_hh, each (N, H, H)."""
    _, a = rnn_states(x, h0, W_xh, W_hh, b_h, activation)
    W_hh = np.asarray(W_hh, dtype=np.float64)
    return [activation_derivative(a_t, activation)[:, :, None] * W_hh for a_t in a]


def _norms_of_products(jacobians, N, H, wrong_order=False, ord=2):
    P = np.broadcast_to(np.eye(H), (N, H, H)).copy()
    norms = [np.linalg.norm(P, ord=ord, axis=(1, 2))]
    for J in reversed(jacobians):
        P = J @ P if wrong_order else P @ J
        norms.append(np.linalg.norm(P, ord=ord, axis=(1, 2)))
    return np.stack(norms)


def bound_per_lag(W_hh, activation, T):
    """The bound η^k of the notes for the lags k = 0..T, as a column of shape (T+1, 1).

    Dividing ``jacobian_norms`` by it compares norms on the scale of their bound. That is the
    right scale for tests: g'(a) is computed with an absolute rounding error of about 1e-16 (for a
    saturated unit, 1 - tanh(a)² and 1/cosh(a)² agree to 1e-16 but not to 6 digits), so two
    correct ways of computing a norm agree to about T·1e-16·η^k/γ, not to a fixed relative error.
    """
    return reference_eta(W_hh, activation) ** np.arange(T + 1, dtype=np.float64)[:, None]


def jacobian_norms_mistakes(x, h0, W_xh, W_hh, b_h, activation="tanh", scale=None):
    """Common wrong answers of ``jacobian_norms`` (each a (T+1, N) array, computed lazily).

    scale: if given (e.g. :func:`bound_per_lag`), every variant is divided by it.
    """
    x, h0, W_hh = (np.asarray(v, dtype=np.float64) for v in (x, h0, W_hh))
    N, H = h0.shape
    T = x.shape[0]
    Js = _step_jacobians(x, h0, W_xh, W_hh, b_h, activation)
    right = lambda: _norms_of_products(Js, N, H)  # noqa: E731
    h, _ = rnn_states(x, h0, W_xh, W_hh, b_h, activation)

    def at_states(states):  # step Jacobians evaluated at other states than h_{t-1}
        return [_jacobian_at(x_t, h_prev, W_xh, W_hh, b_h, activation)
                for x_t, h_prev in zip(x, states, strict=True)]

    mistakes = {
        "products multiplied in the wrong order: ∂h_T/∂h_t = J_T J_(T-1) ⋯ J_(t+1), so each new "
        "(earlier) Jacobian multiplies on the right":
            lambda: _norms_of_products(Js, N, H, wrong_order=True),
        "Frobenius norm instead of the spectral norm (ord=2, the largest singular value)":
            lambda: _norms_of_products(Js, N, H, ord="fro"),
        "rows in reverse order: row k must be the lag k = T - t (row 0 is ∂h_T/∂h_T = I, "
        "norm 1)": lambda: right()[::-1],
        "step Jacobians without diag(g'(a_t)) (powers of W_hh)":
            lambda: _norms_of_products([np.broadcast_to(W_hh, (N, H, H))] * T, N, H),
        "every step Jacobian evaluated at h0 instead of at h_(t-1): the state must be updated "
        "in the loop": lambda: _norms_of_products(at_states([h0] * T), N, H),
        "J_t evaluated at h_t instead of h_(t-1) (the state was updated before the Jacobian)":
            lambda: _norms_of_products(at_states(list(h)), N, H),
        "the product of the norms ∏‖J_j‖ (that is the bound, not the norm of the product)":
            lambda: np.concatenate([np.ones((1, N)), np.cumprod(
                [np.linalg.norm(J, 2, axis=(1, 2)) for J in reversed(Js)], axis=0)]),
    }
    if scale is None:
        return mistakes
    return {description: (lambda v=variant: v() / scale)
            for description, variant in mistakes.items()}


def eta_mistakes(W_hh, activation="tanh"):
    """Common wrong answers of ``eta`` (each a float, computed lazily)."""
    W_hh = np.asarray(W_hh, dtype=np.float64)
    gamma = GAMMA[activation]
    mistakes = {
        "Frobenius norm of W_hh instead of its largest singular value (np.linalg.norm(W, 2))":
            lambda: gamma * np.linalg.norm(W_hh, "fro"),
        "largest |eigenvalue| (spectral radius) instead of the largest singular value":
            lambda: gamma * np.max(np.abs(np.linalg.eigvals(W_hh))),
        "largest absolute entry of W_hh instead of its largest singular value":
            lambda: gamma * np.max(np.abs(W_hh)),
    }
    if activation == "sigmoid":
        wrong_gamma = "γ = 1 for sigmoid: σ' is at most σ'(0) = 1/4, so γ = 1/4"
        mistakes[wrong_gamma] = lambda: np.linalg.norm(W_hh, 2)
        mistakes["λ_h / γ instead of γ·λ_h"] = lambda: 4.0 * np.linalg.norm(W_hh, 2)
    else:
        wrong_gamma = "γ = 1/4 for tanh: tanh' is at most tanh'(0) = 1, so γ = 1"
        mistakes[wrong_gamma] = lambda: 0.25 * np.linalg.norm(W_hh, 2)
    return mistakes


def clip_mistakes(grads, max_norm):
    """Common wrong answers of ``clip_by_global_norm``'s clipped list, flattened (see
    :func:`flatten`), and of its total norm: returns ``(clipped_mistakes, norm_mistakes)``.

    Some mistakes only show for some inputs (rescaling when below max_norm shows only when the
    norm is below it); a variant that equals the right answer for these inputs is left out.
    """
    grads = [np.asarray(g, dtype=np.float64) for g in grads]
    sq = sum(float(np.sum(g**2)) for g in grads)
    total = np.sqrt(sq)

    def scaled(norm):
        factor = max_norm / norm if norm > max_norm else 1.0
        return flatten([g * factor for g in grads])

    clipped = {
        "each gradient clipped on its own (per-tensor norms) instead of by the one global norm "
        "of all of them": flatten([
            g * (max_norm / np.linalg.norm(g)) if np.linalg.norm(g) > max_norm else g
            for g in grads]),
        "rescaled although the global norm was already below max_norm (clip only when "
        "total_norm > max_norm)":
            flatten([g * (max_norm / total) for g in grads]) if total > 0 else flatten(grads),
        "the norm without the square root (the sum of squares)": scaled(sq),
        "entries clipped to [-max_norm, max_norm] (np.clip) instead of rescaling all gradients "
        "by one factor": flatten([np.clip(g, -max_norm, max_norm) for g in grads]),
        "scaled by total_norm / max_norm (upside down)":
            flatten([g * (total / max_norm) for g in grads]) if total > max_norm
            else flatten(grads),
    }
    norm = {
        "the norm without the square root (the sum of squares)": sq,
        "the sum of the per-tensor norms instead of the norm of all entries together":
            sum(float(np.linalg.norm(g)) for g in grads),
        "the largest per-tensor norm instead of the norm of all entries together":
            max((float(np.linalg.norm(g)) for g in grads), default=0.0),
        "the norm after clipping; return the norm of the gradients as they came in":
            min(total, max_norm),
    }
    right = scaled(total)
    clipped = {k: v for k, v in clipped.items()
               if v.shape != right.shape or not np.allclose(v, right, rtol=1e-9, atol=1e-12)}
    norm = {k: v for k, v in norm.items() if not np.isclose(v, total, rtol=1e-9, atol=1e-12)}
    return clipped, norm


# ------------------------------------------------------------------------------------------------
# fixtures of the visible tests
# ------------------------------------------------------------------------------------------------
def _evaluated(mistakes, expected):
    """{description: array} of lazily computed mistakes, without those that equal the answer."""
    out = {}
    with np.errstate(all="ignore"):
        for description, variant in mistakes.items():
            value = np.asarray(variant() if callable(variant) else variant, dtype=np.float64)
            if value.shape == np.shape(expected) and np.allclose(value, expected, rtol=1e-6, atol=1e-8):
                continue
            out[description] = value
    return out


def hand_jacobian_inputs():
    """x_t = 0, h_{t-1} = (0.5, -0.5), W_hh = [[1, 1], [2, 2]] (W_hh h_{t-1} = 0), b_h = (0, 3)."""
    return dict(x_t=np.zeros((1, 1)), h_prev=np.array([[0.5, -0.5]]), W_xh=np.zeros((2, 1)),
                W_hh=np.array([[1.0, 1.0], [2.0, 2.0]]), b_h=np.array([0.0, 3.0]))


def hand_norms_inputs(activation):
    """One unit whose state stays put: tanh at 0 with w = -1/2; sigmoid at 1/2 with w = 2, b = -1."""
    if activation == "tanh":
        return dict(x=np.zeros((7, 1, 1)), h0=np.zeros((1, 1)), W_xh=np.ones((1, 1)),
                    W_hh=np.array([[-0.5]]), b_h=np.zeros(1))
    return dict(x=np.zeros((7, 1, 1)), h0=np.full((1, 1), 0.5), W_xh=np.ones((1, 1)),
                W_hh=np.array([[2.0]]), b_h=np.array([-1.0]))


def _clip_case(grads, max_norm):
    clipped, norm = reference_clip_by_global_norm(grads, max_norm)
    cm, nm = clip_mistakes(grads, max_norm)
    case = {"inputs": {f"g{i}": g for i, g in enumerate(grads)} | {"max_norm": np.array(max_norm)},
            "expected": {"clipped": flatten(clipped), "total_norm": np.array(norm)},
            "mistakes": {}}
    if cm:
        case["mistakes"]["clipped"] = dict(cm)
    if nm:
        case["mistakes"]["total_norm"] = {d: np.array(v) for d, v in nm.items()}
    return case


def fixture_cases():
    """The visible tests' inputs (the numbers the notebook's tests always drew), the references'
    outputs on them (``torch.autograd``, ``torch.linalg``, ``clip_grad_norm_``) and the outputs of
    every catalogued mistake."""
    from utils import seed_all

    cases = {}
    for act in ("tanh", "sigmoid"):
        hand = hand_jacobian_inputs()
        J = reference_step_jacobian(**hand, activation=act)
        cases[f"jacobian_hand_{act}"] = {"inputs": hand, "expected": {"J": J},
                                         "mistakes": {"J": _evaluated(step_jacobian_mistakes(
                                             **hand, activation=act), J)}}
    net = random_rnn(seed_all(1), T=1, N=3, D=2, H=5, largest_singular_value=2.0)
    step_args = dict(x_t=net["x"][0], h_prev=net["h0"], W_xh=net["W_xh"], W_hh=net["W_hh"], b_h=net["b_h"])
    for act in ("tanh", "sigmoid"):
        J = reference_step_jacobian(**step_args, activation=act)
        cases[f"jacobian_random_{act}"] = {"inputs": step_args, "expected": {"J": J},
                                           "mistakes": {"J": _evaluated(step_jacobian_mistakes(
                                               **step_args, activation=act), J)}}

    for act in ("tanh", "sigmoid"):
        hand = hand_norms_inputs(act)
        norms = reference_jacobian_norms(**hand, activation=act)
        cases[f"norms_hand_{act}"] = {"inputs": hand, "expected": {"norms": norms},
                                      "mistakes": {"norms": _evaluated(jacobian_norms_mistakes(
                                          **hand, activation=act), norms)}}
    net = random_rnn(seed_all(3), T=6, N=2, D=3, H=4, largest_singular_value=1.5)
    for act in ("tanh", "sigmoid"):
        norms = reference_jacobian_norms(**net, activation=act)
        cases[f"norms_random_{act}"] = {"inputs": net, "expected": {"norms": norms},
                                        "mistakes": {"norms": _evaluated(jacobian_norms_mistakes(
                                            **net, activation=act), norms)}}

    W_hand = np.array([[0.0, 2.0], [-3.0, 0.0]])
    W_random = seed_all(4).standard_normal((6, 6))
    for name, W in (("hand", W_hand), ("random", W_random)):
        for act in ("tanh", "sigmoid"):
            value = np.array(reference_eta(W, act))
            cases[f"eta_{name}_{act}"] = {"inputs": {"W_hh": W}, "expected": {"eta": value},
                                          "mistakes": {"eta": _evaluated(eta_mistakes(W, act), value)}}

    hand = [np.array([3.0]), np.array([[4.0]])]
    cases["clip_hand_1"] = _clip_case(hand, 1.0)
    cases["clip_hand_10"] = _clip_case(hand, 10.0)
    rng = seed_all(6)
    grads = [rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((2, 2, 2))]
    cases["clip_random_1"] = _clip_case(grads, 1.0)
    cases["clip_random_100"] = _clip_case(grads, 100.0)
    return cases
