"""Character-level text data: a vocabulary, encoding and decoding, and time-major training windows.

>>> vocab = Vocab("hello")
>>> vocab.chars
['e', 'h', 'l', 'o']
>>> vocab.codes("hole")
array([1, 3, 2, 0])
>>> vocab.text([1, 0, 2, 2, 3])
'hello'

This is the character table of the language-model experiments (notebooks 03 and 07), not notebook
01's word vocabulary (an exercise there: ``<unk>``, minimum frequency, one-hot vectors), which the
course library does not provide.

Training windows are time-major, as everything in the course: ``inputs`` and ``targets`` have
the shape ``(T, N)`` (time steps, batch), and ``targets[t] = inputs[t + 1]`` along each column:
the model predicts the next character.
"""

import numpy as np


class Vocab:
    """The characters of a text, sorted, each with an integer code ``0 .. len(vocab) - 1``."""

    def __init__(self, text):
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def __repr__(self):
        return f"Vocab({len(self)} characters: {''.join(self.chars)!r})"

    def codes(self, text):
        """Codes of the characters of ``text``: an int64 array of shape ``(len(text),)``.

        Raises ``KeyError`` naming a character that is not in the vocabulary.
        """
        try:
            return np.array([self.index[c] for c in text], dtype=np.int64)
        except KeyError as err:
            raise KeyError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def text(self, codes):
        """The text of a sequence of codes (any iterable of ints)."""
        return "".join(self.chars[int(i)] for i in np.asarray(codes).reshape(-1))


def random_windows(codes, seq_len, batch_size, rng):
    """A batch of windows of the encoded text at random positions.

    codes: int array (L,), seq_len: T, batch_size: N, rng: a NumPy Generator.
    Returns (inputs, targets), int64 arrays of shape (T, N): column n is ``codes[s : s + T]`` and
    ``codes[s + 1 : s + T + 1]`` for a start ``s`` drawn uniformly from ``0 .. L - T - 1``.
    """
    codes = np.asarray(codes)
    L = len(codes)
    if L < seq_len + 1:
        raise ValueError(f"a text of {L} codes has no window of {seq_len} + 1 characters")
    starts = rng.integers(0, L - seq_len, size=batch_size)
    idx = starts[None, :] + np.arange(seq_len)[:, None]  # (T, N)
    return codes[idx].astype(np.int64), codes[idx + 1].astype(np.int64)


def all_windows(codes, seq_len, stride=None):
    """Every window of the text, ``stride`` characters apart (default ``seq_len``), as one batch.

    Returns (inputs, targets) of shape (T, N) with N = number of windows: for evaluating a model on
    the whole text.
    """
    codes = np.asarray(codes)
    stride = stride or seq_len
    starts = np.arange(0, len(codes) - seq_len, stride)
    idx = starts[None, :] + np.arange(seq_len)[:, None]
    return codes[idx].astype(np.int64), codes[idx + 1].astype(np.int64)


def stream_windows(codes, seq_len, batch_size):
    """Consecutive windows of ``batch_size`` parallel streams, for carrying the hidden state.

    The text is cut into ``batch_size`` equal streams (the rest is dropped), laid side by side, and
    read ``seq_len`` steps at a time: window ``i + 1`` of each column continues window ``i``, so the
    last hidden state of one window is the right initial state of the next.
    Yields (inputs, targets) of shape (T, N) (the last window may be shorter).
    """
    codes = np.asarray(codes)
    L = (len(codes) - 1) // batch_size
    if L < 1:
        raise ValueError(f"a text of {len(codes)} codes is too short for {batch_size} streams")
    inputs = codes[: L * batch_size].reshape(batch_size, L).T
    targets = codes[1: L * batch_size + 1].reshape(batch_size, L).T
    for start in range(0, L, seq_len):
        yield (inputs[start:start + seq_len].astype(np.int64),
               targets[start:start + seq_len].astype(np.int64))
