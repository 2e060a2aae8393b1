"""The instructor-only references of notebook 08 (autograder/references/applications.py) agree with
PyTorch, and every mistake variant differs from the reference on the visible tests' inputs."""

import numpy as np
import pytest
import torch

from autograder.references import applications as ref
from utils import applications


def _random_batch(rng, T, N, V):
    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T
    mask = np.arange(T)[:, None] < lengths[None, :]
    logits = 3.0 * rng.standard_normal((T, N, V))
    targets = np.where(mask, rng.integers(0, V, size=(T, N)), 0)
    return logits, targets, mask, lengths


@pytest.mark.parametrize("T,N,V", [(1, 1, 2), (4, 3, 5), (7, 2, 9)])
def test_masked_cross_entropy_equals_torch_on_the_real_tokens(T, N, V):
    logits, targets, mask, _ = _random_batch(np.random.default_rng(T * 100 + N), T, N, V)
    want = torch.nn.functional.cross_entropy(torch.as_tensor(logits[mask]), torch.as_tensor(targets[mask]))
    assert np.isclose(ref.masked_cross_entropy(logits, targets, mask), want.item(), rtol=1e-12)


def test_masked_cross_entropy_is_stable_for_huge_logits():
    rng = np.random.default_rng(3)
    logits, targets, mask, _ = _random_batch(rng, 5, 4, 6)
    logits = 1000.0 * logits
    want = torch.nn.functional.cross_entropy(torch.as_tensor(logits[mask]), torch.as_tensor(targets[mask]))
    assert np.isclose(ref.masked_cross_entropy(logits, targets, mask), want.item(), rtol=1e-12)


@pytest.mark.parametrize("shape,V,E,pad", [((3, 2), 4, 3, None), ((5, 4), 3, 2, 0), ((6,), 5, 1, 2),
                                           ((2, 3, 2), 7, 4, None)])
def test_embedding_backward_equals_autograd(shape, V, E, pad):
    rng = np.random.default_rng(V * 10 + E)
    ids = rng.integers(0, V, size=shape)
    d_out = rng.standard_normal(shape + (E,))
    W = torch.zeros(V, E, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.embedding(torch.as_tensor(ids), W, padding_idx=pad)
    (out * torch.as_tensor(d_out)).sum().backward()
    np.testing.assert_allclose(ref.embedding_backward(d_out, ids, V, pad), W.grad.numpy(),
                               rtol=1e-12, atol=1e-12)


def test_pad_batch_agrees_with_torch_pad_sequence():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 9, size=k) for k in (3, 1, 5, 5, 2)]
    ids, mask, lengths = ref.pad_batch(seqs, pad_id=-1)
    want = torch.nn.utils.rnn.pad_sequence([torch.as_tensor(s) for s in seqs], padding_value=-1)
    np.testing.assert_array_equal(ids, want.numpy())
    np.testing.assert_array_equal(mask, want.numpy() != -1)
    np.testing.assert_array_equal(lengths, [3, 1, 5, 5, 2])
    assert ids.dtype == np.int64 and mask.dtype == bool and lengths.dtype == np.int64


def test_greedy_decode_equals_a_batched_torch_gru_decoder():
    """The reference loop on a torch GRU decoder equals arg-max decoding written with torch."""
    torch.manual_seed(0)
    V, H = 6, 8
    embed, gru, out = torch.nn.Embedding(V, 4), torch.nn.GRUCell(4, H), torch.nn.Linear(H, V)

    def step_fn(token, h):
        with torch.no_grad():
            h_new = gru(embed(torch.tensor([token])), h)
            return out(h_new)[0].numpy(), h_new

    for _ in range(20):
        h0 = torch.randn(1, H)
        got = ref.greedy_decode(step_fn, h0, 0, 1, 10)
        want, token, h = [], 0, h0
        with torch.no_grad():
            for _ in range(10):
                h = gru(embed(torch.tensor([token])), h)
                token = int(out(h).argmax())
                if token == 1:
                    break
                want.append(token)
        assert got == want


def test_every_mistake_differs_on_the_visible_inputs():
    cases = ref.fixture_cases()
    for name, case in cases.items():
        for output, variants in case["mistakes"].items():
            want = np.asarray(case["expected"][output], dtype=float)
            for description, value in variants.items():
                value = np.asarray(value, dtype=float)
                same = value.shape == want.shape and np.allclose(value, want)
                assert not same, f"{name}/{output}: '{description}' equals the right answer"


def test_the_decoder_cases_cover_every_greedy_mistake():
    cases = ref.fixture_cases()
    named = (set(cases["greedy_decode"]["mistakes"]["ids"])
             | set(cases["greedy_decode_max_len"]["mistakes"]["ids"]))
    step = ref.rnn_decoder(*ref.random_decoder(np.random.default_rng(0), 5, 3))
    assert named == set(ref.greedy_decode_mistakes(step, np.zeros(3), 0, 1, 5))


def test_reverse_task_keeps_the_halves_apart():
    rng = np.random.default_rng(0)
    train, _ = applications.reverse_task(500, rng, "train")
    test, targets = applications.reverse_task(200, rng, "test")
    assert not {tuple(s) for s in train} & {tuple(s) for s in test}
    assert all(np.array_equal(t, s[::-1]) for s, t in zip(test, targets, strict=True))


def test_bracket_task_labels():
    seqs, labels = applications.bracket_task(200, np.random.default_rng(1))
    for s, y in zip(seqs, labels, strict=True):
        assert (s == 1).sum() == (s == 2).sum()
        depth = np.cumsum(np.where(s == 1, 1, -1))
        assert bool(depth.min() >= 0) == bool(y)
    assert 0.3 < labels.mean() < 0.7


@pytest.mark.parametrize("tau", [0.3, 1.0, 2.5])
def test_tempered_probabilities_equal_torch_softmax(tau):
    logits = np.random.default_rng(int(tau * 10)).normal(scale=3.0, size=7)
    want = torch.softmax(torch.as_tensor(logits) / tau, dim=0).numpy()
    assert np.allclose(ref.tempered_probabilities(logits, tau), want, rtol=1e-12, atol=1e-15)
    huge = ref.tempered_probabilities(np.array([1000.0, 2000.0, -3000.0]), 1e-3)
    assert np.array_equal(huge, [0.0, 1.0, 0.0])


def test_reference_sample_next_frequencies_and_generator():
    logits = np.log([1.0, 2.0, 5.0])
    rng = np.random.default_rng(0)
    counts = np.bincount([ref.sample_next(logits, 0.5, rng) for _ in range(20000)], minlength=3)
    assert np.allclose(counts / 20000, np.array([1, 4, 25]) / 30, atol=0.015)
    a = [ref.sample_next(logits, 1.0, r) for r in [np.random.default_rng(4)] for _ in range(20)]
    b = [ref.sample_next(logits, 1.0, r) for r in [np.random.default_rng(4)] for _ in range(20)]
    assert a == b


def test_sample_next_mistakes_differ_on_the_visible_case():
    case = ref.fixture_cases()["sample_next"]
    for description, p in case["mistakes"]["p"].items():
        # every mistake's distribution differs from the right one by more than the test's tolerance
        assert np.max(np.abs(p - case["expected"]["p"])[1:]) > 0.1, description
