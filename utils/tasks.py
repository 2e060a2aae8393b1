"""Long-range dependency tasks (长期依赖), generated offline, and a small trainer for them.

A network solves these tasks only if information survives many time steps, so they measure the
vanishing gradient (梯度消失) directly: notebook 04 trains a vanilla RNN on them for growing T, and
notebooks 05-07 train LSTM and GRU on the same tasks.

- :func:`first_symbol_task`: classify a sequence of random symbols by its FIRST symbol.
- :func:`adding_task`: the adding problem of Hochreiter & Schmidhuber (1997): add the two numbers
  that are marked in a long sequence.
- :class:`SequenceClassifier`, :func:`train_classifier`, :func:`accuracy`: a recurrent core (any of
  ``torch.nn.RNN``, ``LSTM``, ``GRU``) with a linear read-out of its last state, and a plain Adam
  training loop, so that every notebook trains its models the same way.

Sequences are time-major, as everywhere in the course: x has shape (T, N, D).
"""

import numpy as np
import torch


def first_symbol_task(T, N, n_symbols, rng):
    """A batch of the first-symbol task: the label of a sequence is its first symbol.

    Every position holds a symbol drawn uniformly from ``range(n_symbols)``; the later T - 1 symbols
    are distractors, so the network must carry the first one across T - 1 steps. Chance level is
    1 / n_symbols.

    T: sequence length (>= 1), N: batch size, n_symbols: alphabet size (>= 2),
    rng: a NumPy Generator (from ``utils.seed_all``).
    Returns ``(x, labels)``: x (T, N, n_symbols) float64 one-hot, labels (N,) int64 with
    ``labels[n] == x[0, n].argmax()``.
    """
    if T < 1 or N < 1 or n_symbols < 2:
        raise ValueError(f"need T >= 1, N >= 1 and n_symbols >= 2, got {T}, {N}, {n_symbols}")
    symbols = rng.integers(n_symbols, size=(T, N))
    x = np.zeros((T, N, n_symbols))
    np.put_along_axis(x, symbols[:, :, None], 1.0, axis=2)
    return x, symbols[0].astype(np.int64)


def adding_task(T, N, rng):
    """A batch of the adding problem: add the two marked numbers of a sequence.

    Channel 0 holds numbers drawn uniformly from [0, 1); channel 1 marks two positions with 1, one
    in the first half of the sequence and one in the second half (positions ``< T // 2`` and
    ``>= T // 2``). The target is the sum of the two marked numbers; always predicting 1 (the mean)
    gives a mean squared error of about 1/6.

    T: sequence length (>= 2), N: batch size, rng: a NumPy Generator.
    Returns ``(x, targets)``: x (T, N, 2) float64, targets (N,) float64.
    """
    if T < 2 or N < 1:
        raise ValueError(f"need T >= 2 and N >= 1, got {T}, {N}")
    values = rng.random((T, N))
    first = rng.integers(0, T // 2, size=N)
    second = rng.integers(T // 2, T, size=N)
    markers = np.zeros((T, N))
    cols = np.arange(N)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    targets = values[first, cols] + values[second, cols]
    return np.stack([values, markers], axis=2), targets


class SequenceClassifier(torch.nn.Module):
    """A recurrent core followed by a linear read-out of its last hidden state.

    core: a time-major ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (``batch_first=False``).
    n_classes: size of the output. forward(x (T, N, D)) -> logits (N, n_classes).
    """

    def __init__(self, core, n_classes):
        super().__init__()
        if getattr(core, "batch_first", False):
            raise ValueError("the course is time-major: build the core with batch_first=False")
        self.core = core
        width = core.hidden_size * (2 if core.bidirectional else 1)
        self.readout = torch.nn.Linear(width, n_classes, dtype=core.weight_hh_l0.dtype)

    def forward(self, x):
        states, _ = self.core(x)
        return self.readout(states[-1])


def _as_tensor(a, like):
    return torch.as_tensor(np.asarray(a), dtype=like.dtype, device=like.device)


def accuracy(model, x, labels):
    """Fraction of the sequences in x (T, N, D) whose arg-max logit equals ``labels`` (N,)."""
    param = next(model.parameters())
    with torch.no_grad():
        logits = model(_as_tensor(x, param))
    return float((logits.argmax(dim=1).cpu().numpy() == np.asarray(labels)).mean())


def train_classifier(model, make_batch, steps, lr=3e-3, max_norm=None):
    """Train ``model`` with Adam on fresh batches and the cross-entropy loss.

    make_batch: a function of no arguments returning ``(x, labels)`` NumPy arrays, e.g.
        ``lambda: first_symbol_task(T, 64, 4, rng)``. A new batch is drawn at every step.
    steps: number of updates. lr: Adam's learning rate.
    max_norm: if given, gradients are clipped by their global norm (梯度裁剪) before each update.
    Returns the list of the training losses (floats), one per step. The model's parameters must
    already be on the device wanted (``utils.device()``); batches are moved there.
    """
    param = next(model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        x, labels = make_batch()
        logits = model(_as_tensor(x, param))
        target = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=param.device)
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
