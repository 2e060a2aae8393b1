"""Tests of autograder.references.gradients (and utils.gradients): the references agree with
independent computations (finite differences, the formula diag(g') W_hh, NumPy's norms), and every
catalogued mistake differs from the right answer, so that naming it can never flag a correct result."""

import numpy as np
import pytest

from autograder.references import gradients as G  # re-exports utils.gradients' helpers too
from utils import numerical_gradient, seed_all


def _net(rng, N=3, D=2, H=4, T=5, lam=1.5, kind="gaussian"):
    return dict(x=rng.standard_normal((T, N, D)), h0=0.5 * rng.standard_normal((N, H)),
                W_xh=rng.standard_normal((H, D)), W_hh=G.recurrent_matrix(H, lam, rng, kind),
                b_h=0.3 * rng.standard_normal(H))


def _jacobian_formula(x_t, h_prev, W_xh, W_hh, b_h, activation):
    a = x_t @ W_xh.T + h_prev @ W_hh.T + b_h
    return G.activation_derivative(a, activation)[:, :, None] * W_hh


def _norms_formula(x, h0, W_xh, W_hh, b_h, activation):
    _, a = G.rnn_states(x, h0, W_xh, W_hh, b_h, activation)
    N, H = h0.shape
    P = np.broadcast_to(np.eye(H), (N, H, H))
    out = [np.ones(N)]
    for a_t in a[::-1]:
        P = P @ (G.activation_derivative(a_t, activation)[:, :, None] * W_hh)
        out.append(np.linalg.norm(P, 2, axis=(1, 2)))
    return np.array(out)


def test_activation_and_gamma():
    a = np.linspace(-30, 30, 6001)
    for name, gamma in G.GAMMA.items():
        d = G.activation_derivative(a, name)
        assert np.isclose(d.max(), gamma) and d.min() >= 0
    assert np.allclose(G.activation_function(a, "sigmoid"), 1 / (1 + np.exp(-a)))
    assert np.all(np.isfinite(G.activation_function(np.array([-1e4, 1e4]), "sigmoid")))
    with pytest.raises(ValueError):
        G.activation_function(a, "relu")


def test_rnn_states_matches_torch_rnn():
    from utils.torch_ref import elman_forward_torch

    rng = seed_all(0)
    net = _net(rng)
    h, a = G.rnn_states(**net)
    assert h.shape == a.shape == (5, 3, 4)
    assert np.allclose(h, elman_forward_torch(**net), atol=1e-12)
    assert np.allclose(np.tanh(a), h)
    h_empty, _ = G.rnn_states(net["x"][:0], net["h0"], net["W_xh"], net["W_hh"], net["b_h"])
    assert h_empty.shape == (0, 3, 4)


@pytest.mark.parametrize("kind", ["gaussian", "orthogonal"])
def test_recurrent_matrix_has_the_singular_value_asked_for(kind):
    rng = seed_all(1)
    W = G.recurrent_matrix(8, 2.5, rng, kind)
    s = np.linalg.svd(W, compute_uv=False)
    assert np.isclose(s[0], 2.5)
    if kind == "orthogonal":
        assert np.allclose(s, 2.5)
    with pytest.raises(ValueError):
        G.recurrent_matrix(3, 1.0, rng, "uniform")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_reference_step_jacobian(activation):
    rng = seed_all(2)
    net = _net(rng, N=2, D=3, H=4)
    x_t, h_prev = net["x"][0], net["h0"]
    args = (net["W_xh"], net["W_hh"], net["b_h"])
    J = G.reference_step_jacobian(x_t, h_prev, *args, activation)
    assert J.shape == (2, 4, 4)
    assert np.allclose(J, _jacobian_formula(x_t, h_prev, *args, activation), atol=1e-12)
    # and against finite differences, for example 1, column by column
    def f(h):
        return G.activation_function(x_t[1] @ args[0].T + h @ args[1].T + args[2], activation)
    for j in range(4):
        up = np.zeros(4)
        up[j] = 1.0
        row = numerical_gradient(f, h_prev[1].copy(), upstream=up)
        assert np.allclose(J[1, j], row, atol=1e-8)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("T", [1, 6])
def test_reference_jacobian_norms(activation, T):
    rng = seed_all(3)
    net = _net(rng, T=T)
    norms = G.reference_jacobian_norms(**net, activation=activation)
    assert norms.shape == (T + 1, 3)
    assert np.allclose(norms[0], 1.0)
    assert np.allclose(norms, _norms_formula(**net, activation=activation), rtol=1e-9)
    J = G.reference_jacobians_through_time(**net, activation=activation)
    assert J.shape == (T + 1, 3, 4, 4) and np.allclose(J[-1], np.eye(4))


def test_bound_holds_for_the_reference():
    rng = seed_all(4)
    for activation in ["tanh", "sigmoid"]:
        for lam in [0.5, 2.0, 6.0]:
            net = _net(rng, T=12, lam=lam)
            norms = G.reference_jacobian_norms(**net, activation=activation)
            eta = G.reference_eta(net["W_hh"], activation)
            assert np.all(norms <= eta ** np.arange(13)[:, None] * (1 + 1e-9))


def test_reference_eta():
    W = np.diag([3.0, -2.0])
    assert np.isclose(G.reference_eta(W, "tanh"), 3.0)
    assert np.isclose(G.reference_eta(W, "sigmoid"), 0.75)
    rng = seed_all(5)
    W = rng.standard_normal((5, 5))
    assert np.isclose(G.reference_eta(W), np.linalg.norm(W, 2))


def _exact_clip(grads, max_norm):
    total = np.sqrt(sum(np.sum(g**2) for g in grads))
    factor = max_norm / total if total > max_norm else 1.0
    return [g * factor for g in grads], total


def test_reference_clip_by_global_norm():
    grads = [np.array([3.0]), np.array([[4.0]])]
    clipped, total = G.reference_clip_by_global_norm(grads, 1.0)
    assert np.isclose(total, 5.0)
    assert np.allclose(clipped[0], [0.6]) and np.allclose(clipped[1], [[0.8]])
    assert clipped[1].shape == (1, 1) and grads[0][0] == 3.0  # inputs untouched
    rng = seed_all(6)
    grads = [rng.standard_normal(s) for s in [(3, 4), (4,), (2, 2, 2)]]
    for max_norm in [0.5, 100.0]:
        got, total = G.reference_clip_by_global_norm(grads, max_norm)
        want, want_total = _exact_clip(grads, max_norm)
        assert np.isclose(total, want_total)
        assert np.allclose(G.flatten(got), G.flatten(want), rtol=1e-5)


def _differs(mistakes, right):
    for description, variant in mistakes.items():
        value = np.asarray(variant() if callable(variant) else variant, dtype=float)
        assert value.shape != np.shape(right) or not np.allclose(value, right, rtol=1e-4), \
            description


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_mistakes_differ_from_the_right_answers(activation):
    rng = seed_all(7)
    net = _net(rng, N=2, D=3, H=4, T=6)
    x_t, h_prev = net["x"][0], net["h0"]
    args = (net["W_xh"], net["W_hh"], net["b_h"])
    _differs(G.step_jacobian_mistakes(x_t, h_prev, *args, activation),
             _jacobian_formula(x_t, h_prev, *args, activation))
    _differs(G.jacobian_norms_mistakes(**net, activation=activation),
             _norms_formula(**net, activation=activation))
    _differs(G.eta_mistakes(net["W_hh"], activation), G.reference_eta(net["W_hh"], activation))
    grads = [rng.standard_normal(s) for s in [(3, 4), (4,)]]
    for max_norm in [0.3, 100.0]:
        clipped, norm = G.clip_mistakes(grads, max_norm)
        want, total = _exact_clip(grads, max_norm)
        _differs(clipped, G.flatten(want))
        _differs(norm, total)
        if max_norm == 0.3:  # below the norm of these gradients: rescaling always happens
            assert not any("below max_norm" in k for k in clipped)


def test_mistakes_are_named_by_check_close():
    from utils import CheckFailure, check_close

    rng = seed_all(8)
    W = G.recurrent_matrix(4, 2.0, rng)
    with pytest.raises(CheckFailure, match="Frobenius"):
        check_close("eta", 2.0 * np.linalg.norm(W, "fro") / 2.0, G.reference_eta(W),
                    mistakes=G.eta_mistakes(W))
