"""utils/lstm.py: the diagrams draw, the experiment helpers measure what they claim to measure."""

import matplotlib
import numpy as np
import pytest
import torch

from utils import lstm

matplotlib.use("Agg")


@pytest.mark.parametrize("peephole", [False, True])
def test_cell_diagram_draws(peephole):
    fig = lstm.draw_lstm_cell(peephole=peephole)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "$c_{t-1}$" in texts and "$h_t$" in texts and "forget" in texts
    assert ("w_{co}" in texts) == peephole
    matplotlib.pyplot.close(fig)


def test_make_core_sets_the_forget_bias_only():
    core = lstm.make_core("lstm", 3, 4, forget_bias=2.5, seed=1)
    b = (core.bias_ih_l0 + core.bias_hh_l0).detach().numpy()
    np.testing.assert_array_equal(b, [0] * 4 + [2.5] * 4 + [0] * 8)
    again = lstm.make_core("lstm", 3, 4, forget_bias=2.5, seed=1)
    assert torch.equal(core.weight_hh_l0, again.weight_hh_l0)      # seeded


def test_jacobian_norms_of_an_rnn_equal_the_product_of_step_jacobians():
    rng = np.random.default_rng(0)
    T, S, D, H = 5, 2, 3, 4
    core = lstm.make_core("rnn", D, H, seed=2)
    x = rng.standard_normal((T, S, D))
    norms = lstm.state_jacobian_norms(core, x)["h"]
    W_ih, W_hh = core.weight_ih_l0.detach().numpy(), core.weight_hh_l0.detach().numpy()
    b = (core.bias_ih_l0 + core.bias_hh_l0).detach().numpy()
    for s in range(S):
        h, jacobians = np.zeros(H), []
        for t in range(T):
            h = np.tanh(W_ih @ x[t, s] + W_hh @ h + b)
            jacobians.append(np.diag(1 - h ** 2) @ W_hh)
        product = np.eye(H)
        for k in range(T):                    # lag k: J_T ... J_{T-k+1}
            np.testing.assert_allclose(norms[k, s], np.linalg.norm(product, 2), rtol=1e-8)
            product = product @ jacobians[T - 1 - k]


def test_lstm_cell_path_norm_is_the_product_of_forget_gates():
    core = lstm.make_core("lstm", 2, 3, forget_bias=1.0, seed=3)
    x = np.random.default_rng(1).standard_normal((6, 1, 2))
    out = lstm.state_jacobian_norms(core, x)
    assert set(out) == {"h", "c", "f"} and out["c"].shape == (6, 1)
    W_ih, W_hh = core.weight_ih_l0.detach().double().numpy(), core.weight_hh_l0.detach().double().numpy()
    b = (core.bias_ih_l0 + core.bias_hh_l0).detach().double().numpy()
    h, c, fs = np.zeros(3), np.zeros(3), []
    for t in range(6):
        a = W_ih @ x[t, 0] + W_hh @ h + b
        sig = 1 / (1 + np.exp(-a))
        i, f, g, o = sig[:3], sig[3:6], np.tanh(a[6:9]), sig[9:]
        c = f * c + i * g
        h = o * np.tanh(c)
        fs.append(f)
    expected = [1.0] + [np.prod(fs[6 - k:], axis=0).max() for k in range(1, 6)]
    np.testing.assert_allclose(out["f"][:, 0], expected, rtol=1e-6)


def test_first_symbol_run_returns_losses_and_held_out_accuracy():
    losses, acc, model = lstm.first_symbol_run(lstm.make_core("lstm", 4, 8, forget_bias=1.0), T=3, steps=3,
                                               seed=0, test_size=50)
    assert losses.shape == (3,) and 0.0 <= acc <= 1.0
    assert isinstance(model, torch.nn.Module)
