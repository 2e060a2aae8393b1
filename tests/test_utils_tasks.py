"""Tests of utils.tasks: the long-range tasks have the documented shapes and answers, and the
trainer learns an easy case."""

import numpy as np
import pytest
import torch

from utils import seed_all, tasks


def test_first_symbol_task():
    rng = seed_all(0)
    x, labels = tasks.first_symbol_task(7, 50, 4, rng)
    assert x.shape == (7, 50, 4) and x.dtype == np.float64
    assert labels.shape == (50,) and labels.dtype == np.int64
    assert np.all(x.sum(axis=2) == 1.0) and set(np.unique(x)) == {0.0, 1.0}
    assert np.array_equal(labels, x[0].argmax(axis=1))
    assert set(labels) == {0, 1, 2, 3}
    x1, _ = tasks.first_symbol_task(1, 1, 2, rng)
    assert x1.shape == (1, 1, 2)
    for bad in [(0, 5, 3), (3, 0, 3), (3, 5, 1)]:
        with pytest.raises(ValueError):
            tasks.first_symbol_task(*bad, rng)


def test_first_symbol_task_is_reproducible():
    a = tasks.first_symbol_task(5, 3, 4, seed_all(1))
    b = tasks.first_symbol_task(5, 3, 4, seed_all(1))
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("T", [2, 3, 10])
def test_adding_task(T):
    rng = seed_all(2)
    x, y = tasks.adding_task(T, 200, rng)
    assert x.shape == (T, 200, 2) and y.shape == (200,)
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=0) == 2)
    assert np.all(markers[: T // 2].sum(axis=0) == 1)
    assert np.allclose(y, (x[:, :, 0] * markers).sum(axis=0))
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] < 1))
    with pytest.raises(ValueError):
        tasks.adding_task(1, 3, rng)


@pytest.mark.parametrize("cell", [torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU])
def test_sequence_classifier_shapes(cell):
    seed_all(3)
    model = tasks.SequenceClassifier(cell(4, 8), n_classes=3)
    logits = model(torch.zeros(6, 5, 4))
    assert logits.shape == (5, 3)
    with pytest.raises(ValueError):
        tasks.SequenceClassifier(cell(4, 8, batch_first=True), 3)


def test_trainer_learns_a_short_first_symbol_task():
    rng = seed_all(4)
    model = tasks.SequenceClassifier(torch.nn.RNN(3, 16), n_classes=3)
    losses = tasks.train_classifier(model, lambda: tasks.first_symbol_task(3, 32, 3, rng),
                                    steps=150, lr=1e-2, max_norm=1.0)
    assert len(losses) == 150 and losses[-1] < losses[0]
    x, labels = tasks.first_symbol_task(3, 500, 3, rng)
    assert tasks.accuracy(model, x, labels) > 0.9
