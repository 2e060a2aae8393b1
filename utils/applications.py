"""Notebook 08 (综合应用, applications): offline data, a training loop, plots and diagrams.

Nothing here solves a graded exercise of the notebook (padding, the masked loss, the embedding
backward, greedy decoding and the two model classes are the student's): this module holds the data
generators of the four applications, a generic Adam loop with a progress bar, and drawing helpers.

- :func:`bracket_task`: many-to-one, does a bracket sequence balance (括号匹配)?
- :func:`reverse_task`, :data:`REVERSE_SYMBOLS`: sequence-to-sequence, reverse a string; a fixed
  rule puts every string either in the training half or in the held-out half, so that the held-out
  strings are never trained on.
- :func:`split_text`: one-to-many, a text cut into a training part and a held-out part by lines.
- :func:`train`, :func:`progress`: Adam on fresh batches with clipping; a tqdm progress bar that is
  silent when grading.
- :func:`draw_seq2seq`: the encoder–decoder with teacher forcing and with greedy decoding.
- :func:`plot_confusion`: a confusion matrix with counts.

Ids are plain int64 arrays; sequences of different lengths are Python lists of 1-D arrays.
"""

import numpy as np
import torch

from . import diagrams
from .env import is_grading

# ---------------------------------------------------------------------------------------------
# many-to-one: balanced brackets
# ---------------------------------------------------------------------------------------------
#: Token ids of the bracket task: 0 is padding.
BRACKETS = {"<pad>": 0, "(": 1, ")": 2}


def _balanced(tokens):
    depth = np.cumsum(np.where(np.asarray(tokens) == 1, 1, -1))
    return bool(depth.size == 0 or (depth.min() >= 0 and depth[-1] == 0))


def bracket_task(n, rng, min_pairs=1, max_pairs=10):
    """``n`` bracket sequences with equal numbers of "(" and ")", half of them balanced.

    Every sequence holds k "(" and k ")" (k uniform in min_pairs..max_pairs), so counting the two
    brackets does not tell the classes apart: a sequence is balanced (label 1) when no prefix closes
    more brackets than it opened, e.g. "(())()", and unbalanced (label 0) otherwise, e.g. "())(()".
    Returns ``(sequences, labels)``: a list of int64 arrays of ids 1 = "(" and 2 = ")", of lengths
    2*min_pairs .. 2*max_pairs, and an int64 array (n,).
    """
    sequences, labels = [], np.zeros(n, dtype=np.int64)
    for i in range(n):
        k = int(rng.integers(min_pairs, max_pairs + 1))
        want = bool(rng.random() < 0.5)
        while True:   # rejection: a random arrangement balances with probability 1/(k+1)
            tokens = rng.permutation(np.repeat(np.array([1, 2], dtype=np.int64), k))
            if _balanced(tokens) == want:
                break
        sequences.append(tokens)
        labels[i] = int(want)
    return sequences, labels


def brackets_text(tokens):
    """The bracket string of ids (1 -> "(", 2 -> ")"), padding dropped."""
    return "".join({1: "(", 2: ")"}.get(int(t), "") for t in tokens)


# ---------------------------------------------------------------------------------------------
# sequence-to-sequence: reverse a string
# ---------------------------------------------------------------------------------------------
#: Ids of the reversal task: 0 padding, 1 start of the output (<s>), 2 its end (</s>), then letters.
REVERSE_SPECIAL = {"<pad>": 0, "<s>": 1, "</s>": 2}
REVERSE_SYMBOLS = "abcdefgh"


def _held_out(letters):
    """The fixed rule that puts a string into the held-out half: a hash of its letters mod 5 == 0."""
    weights = np.arange(1, len(letters) + 1) * 7 + 3
    return int((np.asarray(letters) * weights).sum() + len(letters)) % 5 == 0


def reverse_task(n, rng, split="train", min_len=3, max_len=8):
    """``n`` strings of letters and their reversals, from one half of all strings.

    split: "train" or "test". A fixed rule on the letters (:func:`_held_out`) assigns every string
    to exactly one half (about 1/5 to "test"), so no held-out string is ever trained on.
    Returns ``(sources, targets)``: lists of int64 arrays of letter ids (3 .. 2 + len(symbols)),
    ``targets[i] = sources[i][::-1]``; lengths uniform in min_len..max_len. The start and end tokens
    are not included: the model adds them.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    sources = []
    while len(sources) < n:
        length = int(rng.integers(min_len, max_len + 1))
        letters = rng.integers(len(REVERSE_SYMBOLS), size=length)
        if _held_out(letters) == (split == "test"):
            sources.append((letters + 3).astype(np.int64))
    return sources, [s[::-1].copy() for s in sources]


def reverse_text(ids):
    """Letters of ids (3 -> "a", ...); special tokens are shown as <s>, </s>, and padding dropped."""
    names = {1: "<s>", 2: "</s>"}
    return "".join(names.get(int(i), REVERSE_SYMBOLS[int(i) - 3] if int(i) >= 3 else "")
                   for i in ids)


# ---------------------------------------------------------------------------------------------
# one-to-many: a text with a held-out part
# ---------------------------------------------------------------------------------------------
def split_text(text, held_out_lines=4):
    """``(train, test)``: the text without its last ``held_out_lines`` lines, and those lines."""
    lines = text.strip("\n").split("\n")
    return "\n".join(lines[:-held_out_lines]) + "\n", "\n".join(lines[-held_out_lines:]) + "\n"


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def progress(iterable=None, desc=None, total=None):
    """A tqdm progress bar (``tqdm.auto``), off under nbgrader: a graded cell must write nothing to
    stderr. Use it as ``with progress(total=steps, desc="tagger") as bar:`` and pass ``bar`` to
    :func:`train`, or wrap an iterable."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=is_grading())


def train(model, make_batch, loss_fn, steps, lr=3e-3, max_norm=1.0, bar=None):
    """Adam on fresh batches, with clipping by the global norm (梯度裁剪); returns the losses.

    make_batch: a function of no arguments returning what ``loss_fn`` takes;
    loss_fn(model, batch) -> a scalar torch loss. The model must already be on its device.
    bar: a progress bar (:func:`progress`) advanced by one per step, or None.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        loss = loss_fn(model, make_batch())
        optimizer.zero_grad()
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
    model.eval()
    return losses


def smooth(values, width=20):
    """Running mean over ``width`` values (for plotting noisy training losses)."""
    values = np.asarray(values, dtype=float)
    width = max(1, min(width, len(values)))
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="valid")


# ---------------------------------------------------------------------------------------------
# pictures
# ---------------------------------------------------------------------------------------------
def plot_confusion(ax, counts, names, title=None):
    """A confusion matrix (rows: true class, columns: predicted), coloured by row share, with counts."""
    counts = np.asarray(counts)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=60, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted tag")
    ax.set_ylabel("true tag")
    ax.grid(False)
    for i in range(len(names)):
        for j in range(len(names)):
            if counts[i, j]:
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.6 else "black")
    if title:
        ax.set_title(title)
    return ax


def _seq2seq_row(ax, y0, source, outputs, dec_inputs, mode):
    """One encoder–decoder, unrolled, with its bottom at height y0."""
    enc_x = [1.0 + 1.3 * i for i in range(len(source))]
    dec_x = [enc_x[-1] + 2.0 + 1.45 * j for j in range(len(outputs))]
    ys = y0 + 1.5
    for i, (x, s) in enumerate(zip(enc_x, source, strict=True)):
        diagrams.box(ax, (x, y0 + 0.35), s, width=0.7, height=0.45, kind="input")
        diagrams.box(ax, (x, ys), "GRU", width=0.8, height=0.55, kind="layer")
        diagrams.arrow(ax, (x, y0 + 0.58), (x, ys - 0.28))
        if i:
            diagrams.arrow(ax, (enc_x[i - 1] + 0.4, ys), (x - 0.4, ys))
    diagrams.label(ax, ((enc_x[0] + enc_x[-1]) / 2, ys + 0.62), "encoder", fontsize=9)
    diagrams.arrow(ax, (enc_x[-1] + 0.4, ys), (dec_x[0] - 0.4, ys), text="$h_T$", color="#9467bd")
    for j, (x, y, inp) in enumerate(zip(dec_x, outputs, dec_inputs, strict=True)):
        diagrams.box(ax, (x, ys), "GRU", width=0.8, height=0.55, kind="state")
        diagrams.box(ax, (x, y0 + 0.35), inp, width=0.85, height=0.45, kind="input", fontsize=9)
        diagrams.arrow(ax, (x, y0 + 0.58), (x, ys - 0.28))
        diagrams.box(ax, (x, ys + 1.1), y, width=0.85, height=0.45, kind="input", fontsize=9)
        diagrams.arrow(ax, (x, ys + 0.28), (x, ys + 0.87))
        if j:
            diagrams.arrow(ax, (dec_x[j - 1] + 0.4, ys), (x - 0.4, ys))
        if mode == "greedy" and j + 1 < len(dec_x):
            # the prediction at step j is the input at step j + 1
            diagrams.path(ax, [(x + 0.43, ys + 1.1), (x + 0.72, ys + 1.1), (x + 0.72, y0 + 0.35),
                               (dec_x[j + 1] - 0.43, y0 + 0.35)], color="#ff7f0e")
    diagrams.label(ax, ((dec_x[0] + dec_x[-1]) / 2, ys + 1.62),
                   "decoder: " + ("teacher forcing (training)" if mode == "teacher"
                                        else "greedy decoding (inference)"), fontsize=9)
    return dec_x


def draw_seq2seq(source="abc"):
    """The encoder–decoder reversing ``source``, twice: trained with teacher forcing (the decoder
    reads the true previous letter) and decoding greedily (it reads its own previous prediction).
    Returns the matplotlib Figure."""
    target = source[::-1]
    outputs = list(target) + ["</s>"]
    width = 1.0 + 1.3 * len(source) + 2.0 + 1.45 * len(outputs) + 1.2
    fig, ax = diagrams.canvas(width, 6.6, size=0.8)
    teacher_inputs = ["<s>"] + list(target)
    _seq2seq_row(ax, 3.45, list(source), outputs, teacher_inputs, "teacher")
    dec_x = _seq2seq_row(ax, 0.1, list(source), [f"$\\hat{{{c}}}$" if c != "</s>" else "</s>"
                                                  for c in outputs],
                         ["<s>"] + [f"$\\hat{{{c}}}$" for c in target], "greedy")
    diagrams.label(ax, (dec_x[-1] + 0.5, 2.7), "stop", fontsize=8, color="#ff7f0e", ha="left")
    ax.plot([0.2, width - 0.2], [3.3, 3.3], color="#bbbbbb", lw=0.8, ls="--")
    return fig


__all__ = ["BRACKETS", "REVERSE_SPECIAL", "REVERSE_SYMBOLS", "bracket_task", "brackets_text",
           "draw_seq2seq", "plot_confusion", "progress", "reverse_task", "reverse_text", "smooth",
           "split_text", "train"]
