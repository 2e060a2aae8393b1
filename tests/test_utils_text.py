"""utils.text: the character table, and time-major training windows."""

import numpy as np
import pytest

import utils
from utils import text
from utils.data import zen_of_python


def test_vocab_round_trip_on_the_zen():
    zen = zen_of_python()
    vocab = text.Vocab(zen)
    assert vocab.chars == sorted(set(zen)) and len(vocab) == len(set(zen))
    codes = vocab.codes(zen)
    assert codes.dtype == np.int64 and codes.shape == (len(zen),)
    assert vocab.text(codes) == zen
    assert vocab.text(np.array([[vocab.index["B"]], [vocab.index["e"]]])) == "Be"


def test_vocab_errors():
    with pytest.raises(ValueError):
        text.Vocab("")
    with pytest.raises(KeyError, match="'z'"):
        text.Vocab("abc").codes("abz")
    assert "3 characters" in repr(text.Vocab("cab"))


def test_no_one_hot_and_no_word_encoder():
    # notebook 01's one_hot, encode and decode are exercises: the student library must not solve them
    assert not hasattr(text, "one_hot")
    assert not hasattr(text.Vocab, "encode") and not hasattr(text.Vocab, "decode")


def test_random_windows_are_time_major_and_shifted():
    codes = np.arange(100)
    inputs, targets = text.random_windows(codes, 25, 8, utils.seed_all(0))
    assert inputs.shape == targets.shape == (25, 8)
    np.testing.assert_array_equal(targets, inputs + 1)          # the next character
    np.testing.assert_array_equal(np.diff(inputs, axis=0), 1)   # consecutive in time (axis 0)
    assert inputs.max() <= 98 and targets.max() <= 99
    again = text.random_windows(codes, 25, 8, utils.seed_all(0))
    np.testing.assert_array_equal(again[0], inputs)
    with pytest.raises(ValueError):
        text.random_windows(np.arange(10), 10, 2, utils.seed_all(0))


def test_random_windows_reach_both_ends():
    codes = np.arange(12)
    starts = np.concatenate([text.random_windows(codes, 5, 50, utils.seed_all(s))[0][0]
                             for s in range(5)])
    assert starts.min() == 0 and starts.max() == 12 - 5 - 1


def test_all_windows():
    inputs, targets = text.all_windows(np.arange(20), 5, stride=3)
    assert inputs.shape == (5, 5)       # starts 0, 3, 6, 9, 12 (a start needs 5 + 1 characters)
    np.testing.assert_array_equal(inputs[0], [0, 3, 6, 9, 12])
    np.testing.assert_array_equal(targets, inputs + 1)
    assert text.all_windows(np.arange(20), 5)[0].shape == (5, 3)


def test_stream_windows_continue_each_other():
    codes = np.arange(41)
    windows = list(text.stream_windows(codes, 4, 2))  # 2 streams of 20
    assert [w[0].shape for w in windows] == [(4, 2)] * 5
    inputs = np.concatenate([w[0] for w in windows])   # (20, 2)
    targets = np.concatenate([w[1] for w in windows])
    np.testing.assert_array_equal(inputs[:, 0], np.arange(20))
    np.testing.assert_array_equal(inputs[:, 1], np.arange(20, 40))
    np.testing.assert_array_equal(targets, inputs + 1)
    last = list(text.stream_windows(np.arange(23), 4, 2))[-1][0]
    assert last.shape == (3, 2)                         # 11 steps per stream: 4 + 4 + 3
