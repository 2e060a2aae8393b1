"""Notebook 07's instructor-only references (autograder/references/deep.py) and its PyTorch bridges
(utils/deep.py) agree with torch.nn.RNN/LSTM/GRU and torch.autograd-free cell modules; every mistake
variant differs from the reference on the visible inputs. Fast: no nbgrader."""

import numpy as np
import pytest
import torch

from autograder.references import deep as ref
from utils import deep, fixtures

KINDS = ("rnn", "lstm", "gru")
ATOL, RTOL = 1e-10, 1e-8  # float64: PyTorch's fused kernels only round in another order


def _case(kind, T, N, D, H, L, bidirectional, rng):
    K = 2 if bidirectional else 1
    params = deep.random_params(kind, D, H, L, bidirectional, rng)
    x = rng.standard_normal((T, N, D))
    hx = tuple(rng.standard_normal((L * K, N, H)) for _ in range(deep.STATE_SIZE[kind]))
    return params, x, hx


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (5, 2, 3, 4, 2), (4, 3, 4, 2, 3), (3, 2, 6, 3, 2)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_deep_reference_equals_torch(kind, shape, bidirectional):
    rng = np.random.default_rng(hash((kind, shape, bidirectional)) % 2**32)
    T, N, D, H, L = shape
    params, x, hx = _case(kind, T, N, D, H, L, bidirectional, rng)
    out_t, hn_t = deep.torch_forward(kind, x, hx, params, L, bidirectional)
    out, hn = ref.deep(x, hx, params, ref.NUMPY_STEPS[kind], L, bidirectional)
    np.testing.assert_allclose(out, out_t, atol=ATOL, rtol=RTOL)
    for a, b in zip(hn, hn_t, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=RTOL)
    # the torch bridges give the same through the reference
    out_b, _ = ref.deep(x, hx, params, deep.STEPS[kind], L, bidirectional)
    np.testing.assert_allclose(out_b, out_t, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("kind", KINDS)
def test_stacked_and_bidirectional_references_equal_torch(kind):
    rng = np.random.default_rng(11)
    params, x, hx = _case(kind, 5, 2, 3, 4, 3, False, rng)
    layers = [tuple(params[f"{n}_l{k}"] for n in deep.WEIGHT_NAMES) for k in range(3)]
    out, finals = ref.stacked(x, [tuple(s[k] for s in hx) for k in range(3)], layers, ref.NUMPY_STEPS[kind])
    out_t, hn_t = deep.torch_forward(kind, x, hx, params, 3, False)
    np.testing.assert_allclose(out, out_t, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(np.array([f[0] for f in finals]), hn_t[0], atol=ATOL, rtol=RTOL)
    params, x, hx = _case(kind, 6, 3, 2, 5, 1, True, rng)
    wf = tuple(params[f"{n}_l0"] for n in deep.WEIGHT_NAMES)
    wb = tuple(params[f"{n}_l0_reverse"] for n in deep.WEIGHT_NAMES)
    out, last_f, last_b = ref.bidirectional(x, tuple(s[0] for s in hx), tuple(s[1] for s in hx), wf, wb,
                                            ref.NUMPY_STEPS[kind])
    out_t, hn_t = deep.torch_forward(kind, x, hx, params, 1, True)
    np.testing.assert_allclose(out, out_t, atol=ATOL, rtol=RTOL)
    for i in range(deep.STATE_SIZE[kind]):
        np.testing.assert_allclose(np.stack([last_f[i], last_b[i]]), hn_t[i], atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("kind", KINDS)
def test_step_bridges_equal_torch_cells_and_numpy_steps(kind):
    rng = np.random.default_rng(3)
    G, H, D, N = deep.GATE_BLOCKS[kind], 4, 3, 2
    w = (rng.standard_normal((G * H, D)), rng.standard_normal((G * H, H)), rng.standard_normal(G * H),
         rng.standard_normal(G * H))
    state = tuple(rng.standard_normal((N, H)) for _ in range(deep.STATE_SIZE[kind]))
    x_t = 20 * rng.standard_normal((N, D))          # large pre-activations: saturated, no overflow
    got = deep.STEPS[kind](x_t, state, *w)
    want = ref.NUMPY_STEPS[kind](x_t, state, *w)
    assert isinstance(got, tuple) and len(got) == len(state)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, atol=1e-12, rtol=1e-10)


def test_step_bridge_names_a_wrong_state():
    w = (np.ones((1, 1)), np.ones((1, 1)), np.zeros(1), np.zeros(1))
    with pytest.raises(TypeError, match=r"tuple \(h,\)"):
        deep.rnn_step(np.ones((1, 1)), np.zeros((1, 1)), *w)
    with pytest.raises(TypeError, match=r"\(h, c\)"):
        deep.lstm_step(np.ones((1, 1)), (np.zeros((1, 1)),), np.ones((4, 1)), np.ones((4, 1)),
                       np.zeros(4), np.zeros(4))


def test_param_names_and_random_params_match_torch():
    for kind, module in [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)]:
        m = module(5, 3, num_layers=3, bidirectional=True)
        params = deep.random_params(kind, 5, 3, 3, True, np.random.default_rng(0))
        assert deep.param_names(3, True) == list(m.state_dict()) == list(params)
        want = {k: tuple(v.shape) for k, v in m.state_dict().items()}
        assert {k: v.shape for k, v in params.items()} == want


def test_every_mistake_differs_on_the_visible_inputs():
    cases = ref.fixture_cases()
    for name, case in cases.items():
        for output, variants in case["mistakes"].items():
            right = case["expected"][output]
            for description, value in variants.items():
                assert value.shape != right.shape or not np.allclose(value, right, rtol=1e-6, atol=1e-8), \
                    f"{name}/{output}: {description!r} equals the right answer"
    # every catalogued description is shown by some visible case
    shown = {d for case in cases.values() for v in case["mistakes"].values() for d in v}
    for table in (ref.STACKED, ref.BIDIRECTIONAL, ref.DEEP):
        assert set(table.values()) <= shown, set(table.values()) - shown


def test_committed_fixtures_load():
    cases = fixtures.load(ref.ASSIGNMENT)
    assert {"stacked_by_hand", "bidirectional_by_hand", "deep_lstm"} <= set(cases)


def test_diagrams_draw():
    import matplotlib.pyplot as plt

    for fig in (deep.draw_stacked(2, 3), deep.draw_bidirectional(3)):
        assert fig.axes
        plt.close(fig)


def test_tagging_helpers_group_by_length_and_measure():
    from utils import tagging

    corpus = tagging.tagging_corpus(60, np.random.default_rng(0))
    groups = deep.by_length(corpus)
    assert sum(g[0].shape[1] for g in groups.values()) == 60
    for T, (words, tags, kinds) in groups.items():
        assert words.shape == tags.shape == kinds.shape and words.shape[0] == T
    result = deep.tagging_run("rnn", 1, True, groups, groups, steps=3, seed=0)
    assert set(result) == {"all", "left", "right", "params", "seconds"}
    assert 0.0 <= result["all"] <= 1.0
