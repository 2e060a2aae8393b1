"""Tests of utils.elman: the references agree with independent computations, and every mistake
variant is a real mistake (it differs from the right answer) that diagnose() can name."""

import numpy as np
import pytest
import torch

from autograder.references import elman as ref
from utils import diagnose, elman, seed_all
from utils.torch_ref import elman_rnn_module


def _params(rng, D, H):
    return (rng.standard_normal((H, D)), 0.5 * rng.standard_normal((H, H)),
            rng.standard_normal(H))


def _step(x_t, h_prev, W_xh, W_hh, b_h):
    """The maths one example at a time (column vectors), independent of the row convention."""
    return np.stack([np.tanh(W_xh @ x + W_hh @ h + b_h) for x, h in zip(x_t, h_prev, strict=True)])


def _forward(x, h0, W_xh, W_hh, b_h):
    h_t, out = h0, []
    for x_t in x:
        h_t = _step(x_t, h_t, W_xh, W_hh, b_h)
        out.append(h_t)
    return np.stack(out)


@pytest.mark.parametrize("N,D,H", [(1, 1, 1), (3, 4, 5), (2, 6, 3)])
def test_elman_step_torch_matches_the_maths(N, D, H):
    rng = seed_all(1)
    x_t, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    params = _params(rng, D, H)
    got = elman.elman_step_torch(x_t, h_prev, *params)
    assert got.shape == (N, H)
    np.testing.assert_allclose(got, _step(x_t, h_prev, *params), rtol=1e-12, atol=1e-14)


def test_elman_step_torch_agrees_with_the_sequence_reference():
    rng = seed_all(2)
    x, h0 = rng.standard_normal((1, 3, 4)), rng.standard_normal((3, 5))
    params = _params(rng, 4, 5)
    np.testing.assert_allclose(elman.elman_step_torch(x[0], h0, *params),
                               elman.elman_forward_torch(x, h0, *params)[0], rtol=1e-12)


def test_output_layer_torch_and_softmax_torch():
    rng = seed_all(3)
    h = rng.standard_normal((4, 2, 5))
    W_hy, b_y = rng.standard_normal((7, 5)), rng.standard_normal(7)
    logits = elman.output_layer_torch(h, W_hy, b_y)
    assert logits.shape == (4, 2, 7)
    np.testing.assert_allclose(logits, np.einsum("tnh,vh->tnv", h, W_hy) + b_y, rtol=1e-12)
    probs = elman.softmax_torch(logits)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True),
                               rtol=1e-12)
    big = elman.softmax_torch(np.array([1000.0, 1001.0]))
    np.testing.assert_allclose(big, [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-12)


def _check_catalogue(mistakes, right):
    """Every computable variant differs from the right answer and is named by diagnose()."""
    named = 0
    for desc, variant in mistakes.items():
        try:
            value = np.asarray(variant(), dtype=np.float64)
        except Exception:  # not computable for these shapes (a transposed weight with D != H)
            continue
        if value.shape == right.shape:
            assert np.max(np.abs(value - right)) > 1e-3, f"variant equals the right answer: {desc}"
        assert diagnose(value, {desc: variant}) == desc
        named += 1
    return named


def test_step_mistakes_are_mistakes():
    rng = seed_all(4)
    N, D, H = 3, 4, 4  # D == H so that the transposition variants can be computed
    x_t, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    params = _params(rng, D, H)
    mistakes = ref.step_mistakes(x_t, h_prev, *params)
    assert _check_catalogue(mistakes, _step(x_t, h_prev, *params)) == len(mistakes)
    # with D != H the variants that need square weights are skipped, not errors
    x_t = rng.standard_normal((N, 6))
    params = _params(rng, 6, H)
    mistakes = ref.step_mistakes(x_t, h_prev, *params)
    assert 0 < _check_catalogue(mistakes, _step(x_t, h_prev, *params)) < len(mistakes)


def test_diagnose_names_the_right_step_mistake():
    rng = seed_all(5)
    x_t, h_prev = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    W_xh, W_hh, b_h = _params(rng, 3, 3)
    wrong = np.tanh(x_t @ W_xh.T + h_prev @ W_hh + b_h)
    assert "W_hh transposed" in diagnose(wrong, ref.step_mistakes(x_t, h_prev, W_xh, W_hh, b_h))
    assert diagnose(_step(x_t, h_prev, W_xh, W_hh, b_h),
                    ref.step_mistakes(x_t, h_prev, W_xh, W_hh, b_h)) is None


def test_forward_mistakes_are_mistakes():
    rng = seed_all(6)
    T, N, D, H = 3, 3, 3, 3  # all equal: every variant is computable
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    params = _params(rng, D, H)
    right = _forward(x, h0, *params)
    np.testing.assert_allclose(right, elman.elman_forward_torch(x, h0, *params), rtol=1e-12)
    mistakes = ref.forward_mistakes(x, h0, *params)
    assert _check_catalogue(mistakes, right) == len(mistakes)


def test_forward_mistakes_batch_major_with_one_sequence():
    """With N = 1 a loop over axis 1 runs once, on all T inputs: shape (1, T, H); it is named."""
    rng = seed_all(7)
    x, h0 = rng.standard_normal((5, 1, 2)), rng.standard_normal((1, 3))
    params = _params(rng, 2, 3)
    wrong = np.stack([np.tanh(x[:, 0] @ params[0].T + h0 @ params[1].T + params[2])])
    assert wrong.shape == (1, 5, 3)
    assert "axis 1" in diagnose(wrong, ref.forward_mistakes(x, h0, *params))


def test_output_mistakes_are_mistakes():
    rng = seed_all(8)
    h = rng.standard_normal((3, 2, 4))
    W_hy, b_y = rng.standard_normal((4, 4)), rng.standard_normal(4)
    right = h @ W_hy.T + b_y
    mistakes = ref.output_mistakes(h, W_hy, b_y)
    assert _check_catalogue(mistakes, right) == len(mistakes)


def test_softmax_mistakes_are_mistakes():
    rng = seed_all(9)
    z = rng.standard_normal((3, 2, 5))
    right = elman.softmax_torch(z)
    mistakes = ref.softmax_mistakes(z)
    assert _check_catalogue(mistakes, right) == len(mistakes)
    assert "axis 1" in " ".join(mistakes)
    assert "axis 1" not in " ".join(ref.softmax_mistakes(z[0, 0]))


def test_variants_accept_float32_and_lists():
    x_t = [[1.0, 0.0]]
    mistakes = ref.step_mistakes(np.float32(x_t), [[0.5, 0.5]], np.eye(2, dtype=np.float32),
                                   np.eye(2), [0.0, 1.0])
    for variant in mistakes.values():
        assert variant().dtype == np.float64


def test_parameter_counts_match_torch_modules():
    V, H, D = 11, 6, 5
    rnn = torch.nn.RNN(D, H)
    # PyTorch keeps two biases (b_ih and b_hh): H more parameters than the maths' single b_h
    assert elman.elman_param_count(D, H) == sum(p.numel() for p in rnn.parameters()) - H
    out = torch.nn.Linear(H, V)
    assert elman.elman_param_count(D, H, V) == elman.elman_param_count(D, H) + sum(
        p.numel() for p in out.parameters())


def test_two_biases_only_their_sum_matters():
    rng = seed_all(10)
    x, h0 = rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 5))
    W_xh, W_hh, b_h = _params(rng, 4, 5)
    rnn = elman_rnn_module(W_xh, W_hh, b_h)
    with torch.no_grad():
        rnn.bias_ih_l0.copy_(torch.tensor(b_h / 2))
        rnn.bias_hh_l0.copy_(torch.tensor(b_h / 2))
        out, _ = rnn(torch.tensor(x), torch.tensor(h0)[None])
    np.testing.assert_allclose(out.numpy(), _forward(x, h0, W_xh, W_hh, b_h), rtol=1e-12)


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_scaled_orthogonal(scale):
    rng = seed_all(11)
    W = elman.scaled_orthogonal(6, scale, rng)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), scale, rtol=1e-12)
    np.testing.assert_allclose(W @ W.T, scale**2 * np.eye(6), atol=1e-12)


@pytest.mark.parametrize("draw", ["elman.draw_unrolled", "elman.draw_shapes", "bptt.draw_gradient_paths",
                                  "bptt.draw_gradient_paths_k", "gradients.draw_jacobian_chain"])
def test_the_diagrams_of_02_to_04_draw_without_a_missing_glyph(draw):
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt

    import utils.bptt
    import utils.elman
    import utils.gradients

    matplotlib.use("Agg")
    module, name = draw.split(".")
    func = getattr(getattr(utils, module), name.removesuffix("_k"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph the font lacks (CJK) warns: it must not happen
        fig = func(6, k=2) if name.endswith("_k") else func()
        fig.canvas.draw()
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes[0].get_title()
    plt.close(fig)
