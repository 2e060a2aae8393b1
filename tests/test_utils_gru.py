"""utils/gru.py: the PyTorch bridges of notebook 06, its diagram and its experiment helpers."""

import matplotlib
import numpy as np
import torch

from utils import gru
from utils.gradcheck import numerical_gradient


def test_bridges_agree_with_each_other_and_with_a_numerical_gradient():
    rng = np.random.default_rng(0)
    seq = gru.random_gru(rng, 2, 3, 4, T=5)
    out, h_n = gru.gru_forward_torch(**seq)
    assert out.shape == (5, 2, 4) and h_n.shape == (2, 4)
    np.testing.assert_array_equal(out[-1], h_n)
    weights = {k: seq[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}
    np.testing.assert_allclose(gru.gru_step_torch(seq["x"][0], seq["h0"], **weights), out[0], rtol=1e-12)
    step = gru.random_gru(rng, 2, 3, 4)
    dh = rng.standard_normal((2, 4))
    grads = gru.gru_step_grads_torch(dh, **step)
    numeric = numerical_gradient(lambda w: gru.gru_step_torch(**{**step, "W_hh": w}), step["W_hh"].copy(),
                                 upstream=dh)
    np.testing.assert_allclose(grads[3], numeric, rtol=1e-6, atol=1e-8)
    assert [g.shape for g in grads] == [(2, 3), (2, 4), (12, 3), (12, 4), (12,), (12,)]


def test_random_gru_shapes_and_weights_of_a_module():
    inputs = gru.random_gru(np.random.default_rng(1), 3, 2, 5)
    assert {k: v.shape for k, v in inputs.items()} == {
        "x_t": (3, 2), "h_prev": (3, 5), "W_ih": (15, 2), "W_hh": (15, 5), "b_ih": (15,), "b_hh": (15,)}
    core = torch.nn.GRU(2, 5)
    weights = gru.gru_weights(core)
    assert weights["W_hh"].dtype == np.float64 and weights["W_ih"].shape == (15, 2)


def test_make_core_sets_the_keep_gate_bias():
    for kind in ("gru", "lstm"):
        core = gru.make_core(kind, 4, 6, keep_bias=3.0)
        total = (core.bias_ih_l0 + core.bias_hh_l0).detach()
        assert torch.allclose(total[6:12], torch.full((6,), 3.0))
    assert isinstance(gru.make_core("rnn", 4, 6, keep_bias=3.0), torch.nn.RNN)


def test_training_and_timing_helpers_run():
    run = gru.train_on_first_symbol("gru", T=5, seed=0, steps=3, H=8)
    assert len(run["losses"]) == 3 and 0.0 <= run["accuracy"] <= 1.0 and run["seconds_per_step"] > 0
    times = gru.time_forward_backward(["gru", "lstm"], T=3, N=2, D=4, H=8, repeats=1)
    assert set(times) == {"gru", "lstm"} and min(times.values()) > 0


def test_the_diagram_is_a_figure():
    fig = gru.draw_gru_cell()
    assert isinstance(fig, matplotlib.figure.Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("r_t" in t for t in texts) and any("z_t" in t for t in texts) and "$h_t$" in texts
    matplotlib.pyplot.close(fig)


def test_operator_counts():
    calls = {kind: gru.count_operator_calls(kind, T=4, N=2, D=3, H=5) for kind in ("rnn", "gru", "lstm")}
    assert all(isinstance(n, int) and n > 0 for n, _ in calls.values())
    assert calls["gru"][0] > calls["rnn"][0]         # the GRU runs more small operators per step
    assert calls["gru"][1] == []
