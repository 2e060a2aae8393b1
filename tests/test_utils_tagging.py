"""The generated tagging corpus: valid tags, reproducible, and ambiguity as documented."""

import collections

import numpy as np

from utils import tagging
from utils.data import POS_TAGS


def test_corpus_is_valid_and_reproducible():
    a = tagging.tagging_corpus(200, np.random.default_rng(3))
    b = tagging.tagging_corpus(200, np.random.default_rng(3))
    assert a == b
    for words, tags in a:
        assert len(words) == len(tags) >= 3 and set(tags) <= set(POS_TAGS)
        assert (tagging.word_ids(words) >= 2).all()  # every generated word is in WORDS
    assert tagging.word_ids(["zebra"]).tolist() == [1] and tagging.tag_ids(["NUM"]).tolist() == [8]


def test_right_ambiguous_words_are_not_settled_by_the_left_context():
    """For a word settled by its right neighbour, the words before it say nothing about its tag:
    both tags occur about equally often after every left context."""
    corpus = tagging.tagging_corpus(4000, np.random.default_rng(0))
    by_left = collections.defaultdict(collections.Counter)
    left_kinds = collections.Counter()
    for words, tags in corpus:
        for t, kind in enumerate(tagging.ambiguity(words, tags)):
            if kind == "right":
                by_left[tags[t - 1]][tags[t]] += 1
            elif kind == "left":
                left_kinds[(tags[t - 1], tags[t])] += 1
    nouns, verbs = by_left["NOUN"]["NOUN"], by_left["NOUN"]["VERB"]
    assert set(by_left) == {"NOUN"} and nouns > 200 and verbs > 200
    assert abs(nouns - verbs) / (nouns + verbs) < 0.1
    # the left-settled ones: PRON before means VERB, DET before means NOUN, always
    assert set(left_kinds) == {("PRON", "VERB"), ("DET", "NOUN")}
