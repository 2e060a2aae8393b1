"""autograder.references.bptt (and utils.bptt's PyTorch bridges): the NumPy references agree with
torch.autograd, and the mistake variants
differ from the correct answer (so that the notebooks' tests can name them)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import utils
from autograder.references import bptt as B
from autograder.references import elman as E
from utils import bptt as UB

# the names the notebooks use, mapped to the instructor-only references and the student library's bridges
nr = SimpleNamespace(
    rnn_forward=B.forward, rnn_step_forward=UB.step_forward_torch, rnn_backward=B.backward,
    rnn_step_backward=B.step_backward, rnn_backward_truncated=B.backward, output_layer=E.output_layer,
    softmax=E.softmax, softmax_cross_entropy=B.softmax_cross_entropy,
    torch_rnn_gradients=UB.torch_rnn_gradients, torch_softmax_cross_entropy=UB.torch_softmax_cross_entropy,
    init_params=UB.init_params, sample=UB.sample, step_backward_mistakes=B.step_backward_mistakes,
    sequence_backward_mistakes=B.sequence_backward_mistakes,
    truncated_backward_mistakes=B.truncated_backward_mistakes,
    cross_entropy_mistakes=B.cross_entropy_mistakes, numerical_grads=UB.numerical_grads,
    numerical_truncated_grads=UB.numerical_truncated_grads)
from utils.torch_ref import elman_rnn_module, to_numpy, to_torch  # noqa: E402


def _problem(T=5, N=3, D=4, H=6, seed=0):
    rng = utils.seed_all(seed)
    return (rng.standard_normal((T, N, D)), rng.standard_normal((N, H)),
            rng.standard_normal((H, D)) / 2, rng.standard_normal((H, H)) / 2,
            rng.standard_normal(H), rng.standard_normal((T, N, H)))


def test_forward_matches_torch_rnn():
    x, h0, W_xh, W_hh, b_h, _ = _problem()
    h, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    with torch.no_grad():
        ref, _ = elman_rnn_module(W_xh, W_hh, b_h)(to_torch(x), to_torch(h0)[None])
    np.testing.assert_allclose(h, to_numpy(ref), atol=1e-12)
    assert len(cache) == 5 and np.array_equal(cache[1][1], h[0]) and cache[1][2] is not None


def test_output_layer_and_softmax():
    rng = utils.seed_all(1)
    h, W_hy = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4))
    b_y = rng.standard_normal(5)
    logits = nr.output_layer(h, W_hy, b_y)
    np.testing.assert_allclose(logits, np.einsum("tnh,vh->tnv", h, W_hy) + b_y)
    p = nr.softmax(1000 * logits)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(-1), 1)
    np.testing.assert_allclose(nr.softmax(logits), torch.softmax(torch.tensor(logits), -1).numpy())


@pytest.mark.parametrize("shape", [(5, 3, 4, 6), (1, 1, 3, 2), (4, 1, 1, 1), (3, 2, 7, 3)])
def test_rnn_backward_matches_torch_nn_rnn(shape):
    x, h0, W_xh, W_hh, b_h, dh = _problem(*shape, seed=sum(shape))
    _, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    got = nr.rnn_backward(dh, cache)
    rnn = elman_rnn_module(W_xh, W_hh, b_h)
    xt, h0t = to_torch(x, requires_grad=True), to_torch(h0, requires_grad=True)
    out, _ = rnn(xt, h0t[None])
    (out * to_torch(dh)).sum().backward()
    ref = (xt.grad, h0t.grad, rnn.weight_ih_l0.grad, rnn.weight_hh_l0.grad, rnn.bias_ih_l0.grad)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, to_numpy(r), atol=1e-12)
    np.testing.assert_allclose(got[4], to_numpy(rnn.bias_hh_l0.grad), atol=1e-12)


def test_step_backward_is_one_step_of_sequence_backward():
    x, h0, W_xh, W_hh, b_h, dh = _problem(T=1)
    h, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    step = nr.rnn_step_backward(dh[0], cache[0])
    seq = nr.rnn_backward(dh, cache)
    for s, q in zip(step, (seq[0][0],) + seq[1:], strict=True):
        np.testing.assert_allclose(s, q)


def test_step_backward_numerical_gradient():
    rng = utils.seed_all(3)
    x, hp = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    W_xh, W_hh = rng.standard_normal((4, 3)), rng.standard_normal((4, 4))
    b_h = rng.standard_normal(4)
    dh = rng.standard_normal((2, 4))
    _, cache = nr.rnn_step_forward(x, hp, W_xh, W_hh, b_h)
    got = nr.rnn_step_backward(dh, cache)
    args = [x, hp, W_xh, W_hh, b_h]
    for i, g in enumerate(got):
        def f(v, i=i):
            a = list(args)
            a[i] = v
            return nr.rnn_step_forward(*a)[0]
        num = utils.numerical_gradient(f, args[i].copy(), upstream=dh)
        assert utils.rel_error(g, num) < 1e-7


@pytest.mark.parametrize("T,k", [(7, 1), (7, 2), (7, 3), (6, 3), (7, 7), (7, 10), (1, 1), (1, 3)])
def test_truncated_matches_autograd_with_detach(T, k):
    x, h0, W_xh, W_hh, b_h, dh = _problem(T=T, seed=T * 10 + k)
    _, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    got = nr.rnn_backward_truncated(dh, cache, k)
    ref = nr.torch_rnn_gradients(x, h0, W_xh, W_hh, b_h, dh, k=k)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-12)


def test_truncated_is_full_bptt_for_k_at_least_T_and_differs_below():
    x, h0, W_xh, W_hh, b_h, dh = _problem(T=6)
    _, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    full = nr.rnn_backward(dh, cache)
    ref = nr.torch_rnn_gradients(x, h0, W_xh, W_hh, b_h, dh)
    for k in (6, 7, 100):
        for g, r, q in zip(nr.rnn_backward_truncated(dh, cache, k), full, ref, strict=True):
            np.testing.assert_allclose(g, r)
            np.testing.assert_allclose(g, q, atol=1e-12)
    trunc = nr.rnn_backward_truncated(dh, cache, 2)
    assert not np.allclose(trunc[3], full[3])
    with pytest.raises(ValueError):
        nr.rnn_backward_truncated(dh, cache, 0)


def test_truncated_k1_has_no_flow_between_steps():
    x, h0, W_xh, W_hh, b_h, dh = _problem(T=4)
    _, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    got = nr.rnn_backward_truncated(dh, cache, 1)
    steps = [nr.rnn_step_backward(dh[t], cache[t]) for t in range(4)]
    np.testing.assert_allclose(got[0], np.stack([s[0] for s in steps]))
    np.testing.assert_allclose(got[1], steps[0][1])
    np.testing.assert_allclose(got[3], sum(s[3] for s in steps))


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_softmax_cross_entropy_matches_torch(scale):
    rng = utils.seed_all(4)
    logits = scale * rng.standard_normal((3, 2, 5))
    targets = rng.integers(0, 5, size=(3, 2))
    loss, d = nr.softmax_cross_entropy(logits, targets)
    ref_loss, ref_d = nr.torch_softmax_cross_entropy(logits, targets)
    assert np.isfinite(loss) and abs(loss - ref_loss) < 1e-9 * max(1, abs(ref_loss))
    np.testing.assert_allclose(d, ref_d, atol=1e-12)
    assert isinstance(loss, float)


def test_softmax_cross_entropy_hand_case():
    loss, d = nr.softmax_cross_entropy(np.zeros((2, 1, 4)), np.array([[1], [3]]))
    assert loss == pytest.approx(np.log(4))
    expected = np.full((2, 1, 4), 0.25 / 2)
    expected[0, 0, 1] -= 0.5
    expected[1, 0, 3] -= 0.5
    np.testing.assert_allclose(d, expected)


def test_float32_inputs_stay_float32():
    x, h0, W_xh, W_hh, b_h, dh = (a.astype(np.float32) for a in _problem())
    h, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in nr.rnn_backward(dh, cache))


def test_init_params_and_sample():
    rng = utils.seed_all(6)
    p = nr.init_params(7, 5, 7, rng)
    assert {k: v.shape for k, v in p.items()} == {
        "W_xh": (5, 7), "W_hh": (5, 5), "b_h": (5,), "W_hy": (7, 5), "b_y": (7,)}
    out = nr.sample(p, 0, 20, rng)
    assert len(out) == 20 and all(0 <= c < 7 for c in out)
    assert nr.sample(p, 0, 10, utils.seed_all(1)) == nr.sample(p, 0, 10, utils.seed_all(1))
    # a very low temperature is (almost) greedy: the same sequence for any seed
    greedy = [nr.sample(p, 3, 10, utils.seed_all(seed), temperature=1e-4) for seed in (1, 2)]
    assert greedy[0] == greedy[1]


def _differs(variant, correct):
    return any(np.shape(v) != np.shape(c) or not np.allclose(v, c)
               for v, c in zip(variant, correct, strict=True))


def test_every_mistake_variant_differs_from_the_correct_answer():
    x, h0, W_xh, W_hh, b_h, dh = _problem(T=6, D=3, H=5)
    h, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    step = nr.rnn_step_backward(dh[2], cache[2])
    for name, v in nr.step_backward_mistakes(dh[2], cache[2]).items():
        assert _differs(v, step), name
    full = nr.rnn_backward(dh, cache)
    for name, v in nr.sequence_backward_mistakes(dh, cache).items():
        assert _differs(v, full), name
    for k in (1, 2, 4):
        trunc = nr.rnn_backward_truncated(dh, cache, k)
        for name, v in nr.truncated_backward_mistakes(dh, cache, k).items():
            assert _differs(v, trunc), (k, name)
    logits, targets = 3 * x[..., :3], np.argmax(x, axis=-1) % 3
    ce = nr.softmax_cross_entropy(logits, targets)
    for name, (loss, d) in nr.cross_entropy_mistakes(logits, targets).items():
        assert not np.isclose(loss, ce[0]) or not np.allclose(d, ce[1]), name


def test_numerical_grads_and_truncated_objective():
    x, h0, W_xh, W_hh, b_h, dh = _problem(T=5, N=2, D=3, H=3)
    _, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    num = nr.numerical_grads(nr.rnn_forward, [x, h0, W_xh, W_hh, b_h], dh)
    for g, n in zip(nr.rnn_backward(dh, cache), num, strict=True):
        assert utils.rel_error(g, n) < 1e-7
    for k in (1, 2, 5):
        num = nr.numerical_truncated_grads(x, h0, W_xh, W_hh, b_h, dh, k)
        for g, n in zip(nr.rnn_backward_truncated(dh, cache, k), num, strict=True):
            assert utils.rel_error(g, n) < 1e-7, k


def test_forward_in_time_variant_matches_the_planted_mistake():
    x, h0, W_xh, W_hh, b_h, dh = _problem(T=5)
    _, cache = nr.rnn_forward(x, h0, W_xh, W_hh, b_h)
    dx, dh_next, gs = [None] * 5, np.zeros_like(dh[0]), [0, 0, 0]
    for t in range(5):  # the mistake: BPTT run forward in time
        dx[t], dh_next, *g = nr.rnn_step_backward(dh[t] + dh_next, cache[t])
        gs = [a + b for a, b in zip(gs, g, strict=True)]
    planted = (np.stack(dx), dh_next, *gs)
    variant = nr.sequence_backward_mistakes(dh, cache)[
        "iterated forward in time (BPTT must go from t = T-1 down to 0)"]
    for p, v in zip(planted, variant, strict=True):
        np.testing.assert_allclose(p, v)
