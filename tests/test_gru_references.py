"""The instructor-only references of notebook 06 (autograder/references/gru.py) agree with
torch.nn.GRU / GRUCell and torch.autograd, and every mistake variant differs from them."""

import numpy as np
import pytest
import torch

from autograder.references import gru as ref
from utils.gru import random_gru

SHAPES = [(1, 1, 1, 1), (1, 3, 2, 4), (6, 2, 5, 3), (4, 3, 4, 4)]   # (T, N, D, H)


def _torch_gru(inputs, dh_all=None, dh_T=None):
    T, N, D = inputs["x"].shape
    H = inputs["h0"].shape[1]
    gru = torch.nn.GRU(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name, key in [("weight_ih_l0", "W_ih"), ("weight_hh_l0", "W_hh"), ("bias_ih_l0", "b_ih"),
                          ("bias_hh_l0", "b_hh")]:
            getattr(gru, name).copy_(torch.from_numpy(inputs[key]))
    x = torch.tensor(inputs["x"], requires_grad=True)
    h0 = torch.tensor(inputs["h0"][None], requires_grad=True)
    out, h_n = gru(x, h0)
    grads = None
    if dh_all is not None:
        loss = (out * torch.from_numpy(dh_all)).sum() + (h_n[0] * torch.from_numpy(dh_T)).sum()
        loss.backward()
        grads = {"dx": x.grad.numpy(), "dh0": h0.grad[0].numpy(),
                 "dW_ih": gru.weight_ih_l0.grad.numpy(), "dW_hh": gru.weight_hh_l0.grad.numpy(),
                 "db_ih": gru.bias_ih_l0.grad.numpy(), "db_hh": gru.bias_hh_l0.grad.numpy()}
    return out.detach().numpy(), h_n[0].detach().numpy(), grads


@pytest.mark.parametrize("T,N,D,H", SHAPES)
def test_sequence_forward_and_backward_match_torch(T, N, D, H):
    rng = np.random.default_rng(None)
    inputs = random_gru(rng, N, D, H, T=T, scale=2.0)
    dh_all, dh_T = rng.standard_normal((T, N, H)), rng.standard_normal((N, H))
    h_all, h_T, cache = ref.gru_forward(**inputs)
    want_all, want_T, want_grads = _torch_gru(inputs, dh_all, dh_T)
    np.testing.assert_allclose(h_all, want_all, rtol=1e-10, atol=1e-12)  # float64 rounding only
    np.testing.assert_allclose(h_T, want_T, rtol=1e-10, atol=1e-12)
    grads = ref.gru_backward(dh_all, cache, dh_T=dh_T)
    assert set(grads) == set(want_grads)
    for name, value in grads.items():
        np.testing.assert_allclose(value, want_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_backward_without_dh_T_is_the_gradient_of_the_outputs_alone():
    rng = np.random.default_rng(1)
    inputs = random_gru(rng, 3, 2, 4, T=5)
    dh_all = rng.standard_normal((5, 3, 4))
    _, _, cache = ref.gru_forward(**inputs)
    _, _, want = _torch_gru(inputs, dh_all, np.zeros((3, 4)))
    got = ref.gru_backward(dh_all, cache)
    for name in got:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("N,D,H", [(1, 1, 1), (3, 4, 5), (2, 5, 5)])
def test_step_references_match_torch_cell_and_autograd(N, D, H):
    rng = np.random.default_rng(None)
    args = random_gru(rng, N, D, H, scale=2.0)
    h_t, cache = ref.gru_step_forward(**args)
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name, key in [("weight_ih", "W_ih"), ("weight_hh", "W_hh"), ("bias_ih", "b_ih"),
                          ("bias_hh", "b_hh")]:
            getattr(cell, name).copy_(torch.from_numpy(args[key]))
    x = torch.tensor(args["x_t"], requires_grad=True)
    h = torch.tensor(args["h_prev"], requires_grad=True)
    out = cell(x, h)
    np.testing.assert_allclose(h_t, out.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert [np.shape(c) for c in cache[4:]] == [(N, H)] * 4
    dh = rng.standard_normal((N, H))
    (out * torch.from_numpy(dh)).sum().backward()
    want = (x.grad, h.grad, cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad, cell.bias_hh.grad)
    for name, got, w in zip(ref.GRAD_NAMES, ref.gru_step_backward(dh, cache), want, strict=True):
        np.testing.assert_allclose(got, w.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_reference_sigmoid_is_silent_and_saturates():
    with np.errstate(all="raise"):
        s = ref._sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("D,H", [(1, 1), (4, 32), (7, 3)])
def test_param_count_matches_torch(D, H):
    for kind, module in [("rnn", torch.nn.RNN), ("gru", torch.nn.GRU), ("lstm", torch.nn.LSTM)]:
        assert ref.rnn_param_count(kind, D, H) == sum(p.numel() for p in module(D, H).parameters())
        for description, variant in ref.rnn_param_count_mistakes(kind, D, H).items():
            assert variant() != ref.rnn_param_count(kind, D, H), description


def test_every_mistake_differs_on_the_visible_inputs():
    cases = ref.fixture_cases()
    step = cases["step_random"]
    for description, value in step["mistakes"]["h_t"].items():
        assert not np.allclose(value, step["expected"]["h_t"], rtol=1e-6, atol=1e-8), description
    assert len(step["mistakes"]["h_t"]) == len(ref.STEP_FORWARD_MISTAKES)
    seq = cases["forward"]
    for description in ref.FORWARD_MISTAKES.values():
        outputs = [out for out in ("h", "h_T") if description in seq["mistakes"][out]]
        assert outputs, f"'{description}' changes no output on the visible inputs"
        for out in outputs:
            value = seq["mistakes"][out][description]
            assert value.shape != seq["expected"][out].shape or not np.allclose(value, seq["expected"][out])
    back = cases["backward_random"]
    for description in ref.STEP_BACKWARD_MISTAKES.values():
        differs = [name for name in ref.GRAD_NAMES if description in back["mistakes"].get(name, {})]
        assert differs, f"'{description}' changes no gradient on the visible inputs"
        for name in differs:
            assert not np.allclose(back["mistakes"][name][description], back["expected"][name])
    counts = cases["param_count"]
    named = {d for kind in ("rnn", "gru", "lstm") for d in counts["mistakes"].get(kind, {})}
    assert named == set(ref.PARAM_COUNT_MISTAKES.values())


def test_hand_cases_are_what_the_notebook_says():
    cases = ref.fixture_cases()
    np.testing.assert_allclose(cases["step_hand"]["expected"]["h_t"], [[0.25 * np.tanh(2.0) + 0.375]])
    grads = cases["backward_hand"]["expected"]
    np.testing.assert_allclose(grads["dh_prev"], [[0.75]])
    np.testing.assert_allclose(grads["dW_hh"], [[0.0], [3 / 64], [1 / 16]])
    np.testing.assert_allclose(grads["db_hh"], [0.0, 3 / 32, 0.125])


def test_mistake_callables_for_the_hidden_tests():
    rng = np.random.default_rng(3)
    args = random_gru(rng, 2, 3, 4)
    right = ref.gru_step_forward(**args)[0]
    for description, variant in ref.gru_step_forward_mistakes(**args).items():
        assert not np.allclose(variant(), right), description
    seq = random_gru(rng, 2, 3, 4, T=5)
    h_all, h_T, _ = ref.gru_forward(**seq)
    for description, variant in ref.gru_forward_mistakes(**seq)["h"].items():
        assert variant().shape == h_all.shape, description
    _, cache = ref.gru_step_forward(**args)
    found = ref.gru_step_backward_mistakes(rng.standard_normal((2, 4)), cache)
    assert set(found) == set(ref.GRAD_NAMES)
    assert set().union(*[set(v) for v in found.values()]) == set(ref.STEP_BACKWARD_MISTAKES.values())
