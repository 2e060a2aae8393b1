"""Notebook 05's instructor-only references (autograder/references/lstm.py) against torch.nn.LSTM,
torch.nn.LSTMCell and torch.autograd, the peephole step against numerical gradients, and every
mistake variant against the reference on the visible inputs. Fast: no nbgrader."""

import numpy as np
import pytest
import torch

from autograder.references import lstm as ref
from utils import fixtures, gradcheck
from utils import lstm as bridge

SHAPES = [(1, 1, 1, 1), (1, 2, 3, 2), (5, 3, 2, 4), (7, 1, 6, 3)]   # T, N, D, H


def _params(rng, N, D, H, scale=1.0):
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H)),
            scale * rng.standard_normal((4 * H, D)), scale * rng.standard_normal((4 * H, H)),
            rng.standard_normal(4 * H))


@pytest.mark.parametrize("T,N,D,H", SHAPES)
def test_sequence_forward_equals_torch_lstm(T, N, D, H):
    rng = np.random.default_rng(T * 100 + H)
    x = rng.standard_normal((T, N, D))
    _, h0, c0, W_ih, W_hh, b = _params(rng, N, D, H)
    h_all, h_T, c_T, _ = ref.lstm_forward(x, h0, c0, W_ih, W_hh, b)
    want = bridge.lstm_forward_torch(x, h0, c0, W_ih, W_hh, b)
    for got, expected in zip((h_all, h_T, c_T), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12)   # float64 both sides


@pytest.mark.parametrize("T,N,D,H", SHAPES)
def test_sequence_backward_equals_autograd(T, N, D, H):
    rng = np.random.default_rng(T * 10 + N)
    x = rng.standard_normal((T, N, D))
    _, h0, c0, W_ih, W_hh, b = _params(rng, N, D, H)
    dh_all = rng.standard_normal((T, N, H))
    *_, cache = ref.lstm_forward(x, h0, c0, W_ih, W_hh, b)
    got = ref.lstm_backward(dh_all, cache)
    want = bridge.lstm_sequence_grads_torch(x, h0, c0, W_ih, W_hh, b, dh_all)
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-11, err_msg=k)


def test_sequence_backward_last_state_gradients():
    """dh_T and dc_T: the gradient of a loss on the final states (h_T, c_T) as torch computes it."""
    rng = np.random.default_rng(7)
    T, N, D, H = 4, 2, 3, 5
    x = rng.standard_normal((T, N, D))
    _, h0, c0, W_ih, W_hh, b = _params(rng, N, D, H)
    dh_T, dc_T = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    *_, cache = ref.lstm_forward(x, h0, c0, W_ih, W_hh, b)
    got = ref.lstm_backward(np.zeros((T, N, H)), cache, dh_T=dh_T, dc_T=dc_T)
    lstm = bridge.lstm_module(W_ih, W_hh, b)
    xs = torch.tensor(x, requires_grad=True)
    _, (hT, cT) = lstm(xs, (torch.tensor(h0)[None], torch.tensor(c0)[None]))
    ((hT[0] * torch.tensor(dh_T)).sum() + (cT[0] * torch.tensor(dc_T)).sum()).backward()
    np.testing.assert_allclose(got["dx"], xs.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(got["dW_hh"], lstm.weight_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("N,D,H", [(1, 1, 1), (3, 2, 4), (2, 5, 3)])
def test_step_functions_equal_torch_cell(N, D, H):
    rng = np.random.default_rng(N + 10 * D + 100 * H)
    args = _params(rng, N, D, H)
    h_t, c_t, cache = ref.lstm_step_forward(*args)
    want_h, want_c = bridge.lstm_step_torch(*args)
    np.testing.assert_allclose(h_t, want_h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_t, want_c, rtol=1e-12, atol=1e-13)
    assert len(cache) == 10 and cache[7] is not None
    dh_t, dc_t = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    got = ref.lstm_step_backward(dh_t, dc_t, cache)
    want = bridge.lstm_step_grads_torch(*args, dh_t, dc_t)
    for name, g, w in zip(ref.STEP_GRADS, got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, err_msg=name)


def test_extreme_preactivations_give_no_warning():
    rng = np.random.default_rng(3)
    args = list(_params(rng, 2, 3, 4, scale=300.0))
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        h_t, c_t, cache = ref.lstm_step_forward(*args)
        ref.lstm_step_backward(np.ones_like(h_t), np.ones_like(c_t), cache)
    want_h, want_c = bridge.lstm_step_torch(*args)
    np.testing.assert_allclose(h_t, want_h, rtol=1e-12, atol=1e-13)


def test_float32_stays_float32():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 3)).astype(np.float32)
    _, h0, c0, W_ih, W_hh, b = (a.astype(np.float32) for a in _params(rng, 2, 3, 4))
    h_all, _, _, cache = ref.lstm_forward(x, h0, c0, W_ih, W_hh, b)
    assert h_all.dtype == np.float32
    assert ref.lstm_backward(np.ones_like(h_all), cache)["dW_hh"].dtype == np.float32


@pytest.mark.parametrize("N,D,H", [(1, 1, 1), (2, 3, 4)])
def test_peephole_reference(N, D, H):
    rng = np.random.default_rng(11 + H)
    args = list(_params(rng, N, D, H)) + [rng.standard_normal(H) for _ in range(3)]
    # with zero peephole weights it is the LSTM
    h0, c0 = ref.peephole_step_forward(*args[:6], *(np.zeros(H),) * 3)
    want_h, want_c = bridge.lstm_step_torch(*args[:6])
    np.testing.assert_allclose(h0, want_h, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c0, want_c, rtol=1e-12, atol=1e-13)
    # its backward against central differences of L = sum(dh h_t) + sum(dc c_t), every argument
    dh_t, dc_t = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    grads = ref.peephole_step_backward(dh_t, dc_t, *args)
    names = ["dx_t", "dh_prev", "dc_prev", "dW_ih", "dW_hh", "db", "dw_ci", "dw_cf", "dw_co"]
    for k, name in enumerate(names):
        def loss(v, k=k):
            a = list(args)
            a[k] = v
            h_t, c_t = ref.peephole_step_forward(*a)
            return np.sum(dh_t * h_t) + np.sum(dc_t * c_t)
        numeric = gradcheck.numerical_gradient(loss, args[k].copy())
        assert gradcheck.rel_error(grads[name], numeric) < 1e-7, name   # central differences ~1e-9


def test_peephole_uses_the_new_cell_state_for_o():
    """o_t sees c_t: changing w_co changes h_t but not c_t; changing w_ci changes both."""
    rng = np.random.default_rng(12)
    args = list(_params(rng, 2, 3, 4)) + [rng.standard_normal(4) for _ in range(3)]
    h1, c1 = ref.peephole_step_forward(*args)
    h2, c2 = ref.peephole_step_forward(*args[:8], args[8] + 1.0)
    np.testing.assert_array_equal(c1, c2)
    assert not np.allclose(h1, h2)


def test_init_bias():
    np.testing.assert_array_equal(ref.init_lstm_bias(2, 1.5), [0, 0, 1.5, 1.5, 0, 0, 0, 0])


MISTAKE_SETS = [
    ("step", "h_t", lambda a: ref.step_forward_mistakes(**a, output="h_t")),
    ("step", "c_t", lambda a: ref.step_forward_mistakes(**a, output="c_t")),
    ("sequence", "h_all", lambda a: ref.sequence_mistakes(**a, output="h_all")),
    ("peephole", "h_t", lambda a: ref.peephole_mistakes(
        **{k: a[k] for k in a if k not in ("dh_t", "dc_t")}, output="h_t")),
]


@pytest.mark.parametrize("case,output,make", MISTAKE_SETS, ids=[f"{c}-{o}" for c, o, _ in MISTAKE_SETS])
def test_every_mistake_differs_on_the_visible_inputs(case, output, make):
    data = ref.fixture_cases()[case]
    inputs, expected = data["inputs"], data["expected"][output]
    mistakes = make(inputs)
    assert len(mistakes) >= 5
    differ = {d for d, f in mistakes.items()
              if f().shape != expected.shape or not np.allclose(f(), expected, rtol=1e-6, atol=1e-8)}
    # every forward mistake shows in h (the tanh/c mistakes of c_t also show in h_t)
    if output in ("h_t", "h_all"):
        assert differ == set(mistakes), set(mistakes) - differ


def test_every_backward_mistake_shows_in_some_gradient():
    data = ref.fixture_cases()["backward"]
    a = data["inputs"]
    cache = (a["x_t"], a["h_prev"], a["c_prev"], a["i"], a["f"], a["g"], a["o"], a["c_t"],
             a["W_ih"], a["W_hh"])
    shown = set()
    for out in ref.STEP_GRADS:
        for d, f in ref.step_backward_mistakes(a["dh_t"], a["dc_t"], cache, out).items():
            if not np.allclose(f(), data["expected"][out], rtol=1e-6, atol=1e-8):
                shown.add(d)
    assert shown == set(ref.BACKWARD_MISTAKES.values())


def test_fixture_cases_are_consistent():
    cases = ref.fixture_cases()
    assert {"step", "step_by_hand", "sequence", "backward", "backward_by_hand", "peephole",
            "init"} <= set(cases)
    hand = cases["step_by_hand"]["expected"]
    np.testing.assert_allclose([hand[k][0, 0] for k in "ifgo"], [0.5, 0.75, 0.6, 0.8], rtol=1e-12)
    np.testing.assert_allclose(hand["c_t"], [[1.8]], rtol=1e-12)
    back = cases["backward_by_hand"]["expected"]
    np.testing.assert_allclose(back["dc_prev"], [[0.75]], rtol=1e-12)     # the cell path: f_t
    np.testing.assert_allclose(back["db"], [0.15, 0.375, 0.32, 0.0], rtol=1e-12, atol=1e-15)
    # the peephole gradients stored for the notebook's numerical check
    p = cases["peephole"]["inputs"]
    args = [p[k] for k in ("x_t", "h_prev", "c_prev", "W_ih", "W_hh", "b", "w_ci", "w_cf", "w_co")]

    def loss(w):
        h_t, c_t = ref.peephole_step_forward(*args[:8], w)
        return np.sum(p["dh_t"] * h_t) + np.sum(p["dc_t"] * c_t)
    numeric = gradcheck.numerical_gradient(loss, args[8].copy())
    assert gradcheck.rel_error(cases["peephole"]["expected"]["dw_co"], numeric) < 1e-7


def test_committed_fixture_file_loads():
    if not fixtures.path(ref.ASSIGNMENT).exists():
        pytest.skip("fixtures not generated yet")
    case = fixtures.load(ref.ASSIGNMENT)["step"]
    assert set(case.mistakes("h_t")) == set(ref.STEP_MISTAKES.values())
