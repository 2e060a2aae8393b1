"""Numerical gradients, offline data, plotting and the PyTorch bridge."""

import numpy as np
import pytest
import torch

from utils import CheckFailure, check_gradient, data, numerical_gradient, plotting, rel_error, torch_ref


def test_numerical_gradient_of_a_scalar_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    grad = numerical_gradient(lambda v: np.sum(np.sin(v) * v), x.copy())
    assert rel_error(grad, np.sin(x) + x * np.cos(x)) < 1e-8


def test_numerical_gradient_with_upstream_and_restores_input():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    up = rng.standard_normal(3)
    x0 = x.copy()
    grad = numerical_gradient(lambda v: np.tanh(W @ v), x, upstream=up)
    np.testing.assert_array_equal(x, x0)
    assert rel_error(grad, W.T @ (up * (1 - np.tanh(W @ x) ** 2))) < 1e-8


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: v.sum(), np.zeros(3, dtype=np.float32))


def test_rel_error_and_check_gradient():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([0.0], [0.0]) == 0.0
    assert abs(rel_error([1.0], [1.1]) - 0.1 / 2.1) < 1e-12
    check_gradient("dW", np.ones(3), np.ones(3) + 1e-10)
    with pytest.raises(CheckFailure, match="relative error"):
        check_gradient("dW", np.ones(3), np.array([1.0, 2.0, 1.0]))
    with pytest.raises(CheckFailure, match="shape"):
        check_gradient("dW", np.ones(3), np.ones((3, 1)))


def test_check_gradient_is_not_fooled_by_tiny_entries_nor_by_nan():
    # a correct gradient whose smallest entry is 1e-7: central differences leave ~1e-11 on it
    check_gradient("dw", np.array([0.1, -2e-7]), np.array([0.1, -2e-7 + 2e-11]))
    # ... but a wrong entry is caught however small the others are
    with pytest.raises(CheckFailure, match=r"index \(1,\)"):
        check_gradient("dw", np.array([0.1, -2e-4]), np.array([0.1, 2e-4]))
    # nan compares false with everything: it must not pass for agreement
    for bad in (np.nan, np.inf):
        with pytest.raises(CheckFailure, match="nan or inf"):
            check_gradient("dw", np.array([1.0, bad]), np.array([1.0, 2.0]))
        with pytest.raises(CheckFailure, match="nan or inf"):
            check_gradient("dw", np.array([1.0, 2.0]), np.array([bad, 2.0]))
    check_gradient("empty", np.zeros(0), np.zeros(0))


def test_zen_of_python_is_offline_and_silent(capsys):
    text = data.zen_of_python()
    assert text.startswith("The Zen of Python") and "Beautiful is better than ugly." in text
    assert capsys.readouterr().out == ""


def test_tagged_corpus_uses_the_nine_tags():
    corpus = data.tagged_corpus()
    assert len(data.POS_TAGS) == 9
    assert all(len(w) == len(t) for w, t in corpus)
    assert {t for _, tags in corpus for t in tags} <= set(data.POS_TAGS)
    assert "cat" in data.tiny_corpus().split()


def test_elman_reference_matches_the_formula():
    rng = np.random.default_rng(1)
    T, N, D, H = 4, 2, 3, 5
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    W_xh, W_hh, b_h = rng.standard_normal((H, D)), rng.standard_normal((H, H)), rng.standard_normal(H)
    states = torch_ref.elman_forward_torch(x, h0, W_xh, W_hh, b_h)
    h = h0
    for t in range(T):
        h = np.tanh(x[t] @ W_xh.T + h @ W_hh.T + b_h)
        np.testing.assert_allclose(states[t], h, atol=1e-12)
    rnn = torch_ref.elman_rnn_module(W_xh, W_hh, b_h)
    assert torch.count_nonzero(rnn.bias_hh_l0) == 0


def test_plotting_style_and_subplots():
    plotting.use_course_style()
    fig, axes = plotting.subplots(2)
    assert len(axes) == 2
    plotting.finish(fig, "title")
