"""A part-of-speech tagging corpus (词性标注) generated offline, with words whose tag depends on context.

Notebook 01 showed that a per-word model must give "saw" one tag, although it is a verb in "we saw a
star" and a noun in "the saw is sharp". This module generates as many tagged sentences as wanted,
over the nine tags of the notes (:data:`utils.data.POS_TAGS`), from a small grammar in which some
words are nouns or verbs by context (:data:`AMBIGUOUS`):

- **settled by the word before** (a left-to-right model can tag them):
  ``PRON amb DET NOUN`` ("we saw the cat", a VERB) and ``DET amb VERB ...`` ("the saw is sharp", a NOUN);
- **settled only by the word after** (a left-to-right model must guess): after ``DET NOUN`` an
  ambiguous word heads a noun compound when a verb follows ("the garden light is bright", NOUN) and is
  the verb when a determiner follows ("the children light the fire", VERB).

So a unidirectional tagger can reach at most about half the accuracy on the second kind of
ambiguous word, and a bidirectional one all of it: notebooks 07 and 08 measure exactly that.

>>> corpus = tagging_corpus(3, np.random.default_rng(0))                  # doctest: +SKIP
>>> corpus[0]                                                              # doctest: +SKIP
(['the', 'garden', 'light', 'is', 'bright'], ['DET', 'NOUN', 'NOUN', 'VERB', 'ADJ'])

Every word of the grammar is in :data:`WORDS` (index 0 is ``<pad>``, 1 is ``<unk>``), so ids can be
looked up with :func:`word_ids` without building a vocabulary from data.
"""

import numpy as np

from .data import POS_TAGS

_LEXICON = {
    "DET": ["the", "a", "this", "every"],
    "SUBJ": ["we", "they", "you", "i"],                      # subject pronouns (tag PRON)
    "NOUN": ["cat", "dog", "man", "child", "bird", "river", "door", "star", "garden", "kitchen",
             "teacher", "children", "farmer", "street"],
    "VERB": ["sees", "likes", "found", "took", "opened", "watched", "painted", "cleaned"],
    "COPULA": ["is", "was", "looks", "seems"],               # verbs that follow a noun subject
    "ADJ": ["old", "small", "red", "quiet", "bright", "sharp", "new", "broken"],
    "ADV": ["slowly", "quickly", "often", "happily", "today"],
    "ADP": ["on", "in", "under", "near", "to"],
    "CONJ": ["and", "or", "but"],
    "NUM": ["two", "three", "five", "seven"],
}

#: Words that are a NOUN or a VERB depending on their context.
AMBIGUOUS = ("saw", "watch", "light", "book", "play", "fly", "park", "ring")

#: The vocabulary of the grammar: ``<pad>`` (id 0), ``<unk>`` (id 1), then every word, sorted.
WORDS = ("<pad>", "<unk>") + tuple(sorted({w for ws in _LEXICON.values() for w in ws} | set(AMBIGUOUS)))
_INDEX = {w: i for i, w in enumerate(WORDS)}

#: The kinds of sentence :func:`tagging_corpus` draws, with what decides the ambiguous word's tag.
KINDS = ("plain", "left", "right")


def _pick(rng, group):
    words = _LEXICON[group]
    return words[int(rng.integers(len(words)))]


def _noun_phrase(rng, words, tags):
    words.append(_pick(rng, "DET"))
    tags.append("DET")
    if rng.random() < 0.4:
        words.append(_pick(rng, "ADJ"))
        tags.append("ADJ")
    words.append(_pick(rng, "NOUN"))
    tags.append("NOUN")


def _tail(rng, words, tags, adverb=True):
    """An optional ending: an adverb (after a verb phrase), or a preposition and a noun phrase."""
    r = rng.random()
    if r < 0.3 and adverb:
        words.append(_pick(rng, "ADV"))
        tags.append("ADV")
    elif r < 0.6:
        words.append(_pick(rng, "ADP"))
        tags.append("ADP")
        _noun_phrase(rng, words, tags)


def _sentence(rng, kind):
    words, tags = [], []
    amb = AMBIGUOUS[int(rng.integers(len(AMBIGUOUS)))]
    if kind == "plain":  # no ambiguous word
        r = rng.random()
        if r < 0.35:
            words, tags = [_pick(rng, "SUBJ")], ["PRON"]
        elif r < 0.55:
            words, tags = [_pick(rng, "NUM")], ["NUM"]
            words.append(_pick(rng, "NOUN"))
            tags.append("NOUN")
        else:
            _noun_phrase(rng, words, tags)
        words.append(_pick(rng, "VERB"))
        tags.append("VERB")
        _noun_phrase(rng, words, tags)
        if rng.random() < 0.3:
            words.append(_pick(rng, "CONJ"))
            tags.append("CONJ")
            _noun_phrase(rng, words, tags)
        _tail(rng, words, tags)
    elif kind == "left":  # the word before settles the tag
        if rng.random() < 0.5:  # "we saw the cat": VERB after a subject pronoun
            words, tags = [_pick(rng, "SUBJ"), amb], ["PRON", "VERB"]
            _noun_phrase(rng, words, tags)
            _tail(rng, words, tags)
        else:                   # "the saw is sharp": NOUN after a determiner
            words, tags = [_pick(rng, "DET"), amb, _pick(rng, "COPULA"), _pick(rng, "ADJ")], \
                ["DET", "NOUN", "VERB", "ADJ"]
            _tail(rng, words, tags, adverb=False)
    elif kind == "right":  # only the word after settles the tag
        _noun_phrase(rng, words, tags)
        if rng.random() < 0.5:  # "the garden light is bright": a noun compound
            words += [amb, _pick(rng, "COPULA"), _pick(rng, "ADJ")]
            tags += ["NOUN", "VERB", "ADJ"]
            _tail(rng, words, tags, adverb=False)
        else:                   # "the children light the fire": the verb
            words.append(amb)
            tags.append("VERB")
            _noun_phrase(rng, words, tags)
            _tail(rng, words, tags)
    else:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return words, tags


def tagging_corpus(n_sentences, rng, kinds=KINDS, weights=None):
    """``n_sentences`` generated tagged sentences: a list of ``(words, tags)`` pairs of equal length.

    rng: a NumPy Generator (``utils.seed_all``); the same seed gives the same corpus.
    kinds: which kinds of sentence to draw (see :data:`KINDS`), by default all three;
    weights: their probabilities (default: equal).
    Sentences are 3 to 13 words long; tags are drawn from :data:`utils.data.POS_TAGS`.
    """
    kinds = tuple(kinds)
    p = None if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    corpus = []
    for _ in range(n_sentences):
        kind = kinds[int(rng.choice(len(kinds), p=p))]
        words, tags = _sentence(rng, kind)
        assert len(words) == len(tags) and set(tags) <= set(POS_TAGS)
        corpus.append((words, tags))
    return corpus


def word_ids(words):
    """Ids of ``words`` in :data:`WORDS` (unknown words get ``<unk>``'s id 1): an int64 array."""
    return np.array([_INDEX.get(w, 1) for w in words], dtype=np.int64)


def tag_ids(tags):
    """Ids of ``tags`` in :data:`utils.data.POS_TAGS`: an int64 array."""
    return np.array([POS_TAGS.index(t) for t in tags], dtype=np.int64)


def ambiguity(words, tags):
    """For each position: ``"left"``, ``"right"`` or ``""`` — whether the word is ambiguous, and which
    neighbour settles its tag (``"right"``: only the next word does), as a list of str."""
    kinds = []
    for t, w in enumerate(words):
        if w not in AMBIGUOUS:
            kinds.append("")
        elif t >= 1 and tags[t - 1] == "NOUN":  # after a noun phrase: a compound or the verb
            kinds.append("right")
        else:
            kinds.append("left")
    return kinds


__all__ = ["AMBIGUOUS", "KINDS", "WORDS", "ambiguity", "tag_ids", "tagging_corpus", "word_ids"]
