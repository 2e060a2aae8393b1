"""Offline data for the course. Nothing is downloaded: every text is shipped or generated here."""

import codecs
import contextlib
import io


def zen_of_python():
    """The Zen of Python (PEP 20), which ships with Python itself in ``this.s`` as ROT13 text.

    Returns a str of about 850 characters and 19 lines, a small corpus for character models.
    """
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the poem
        import this
    return codecs.decode(this.s, "rot13")


#: The nine part-of-speech tags of the notes' tagging example (词性标注, a 9-dimensional one-hot).
POS_TAGS = ("NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "CONJ", "NUM")

#: A small hand-tagged corpus: (tokens, tags) pairs, tags drawn from POS_TAGS.
TAGGED_SENTENCES = [
    ("the cat sat on the mat", "DET NOUN VERB ADP DET NOUN"),
    ("a dog barked loudly", "DET NOUN VERB ADV"),
    ("she reads two books", "PRON VERB NUM NOUN"),
    ("the old man walks slowly", "DET ADJ NOUN VERB ADV"),
    ("they run and we walk", "PRON VERB CONJ PRON VERB"),
    ("three birds sing in the tree", "NUM NOUN VERB ADP DET NOUN"),
    ("he quickly opened the red door", "PRON ADV VERB DET ADJ NOUN"),
    ("the river flows to the sea", "DET NOUN VERB ADP DET NOUN"),
    ("my sister plays the piano", "PRON NOUN VERB DET NOUN"),
    ("small dogs and big cats sleep", "ADJ NOUN CONJ ADJ NOUN VERB"),
    ("we saw one bright star", "PRON VERB NUM ADJ NOUN"),
    ("the children laughed happily", "DET NOUN VERB ADV"),
    ("rain fell on the quiet town", "NOUN VERB ADP DET ADJ NOUN"),
    ("you can read or write", "PRON VERB VERB CONJ VERB"),
    ("the cat watched the bird", "DET NOUN VERB DET NOUN"),
    ("a green leaf fell slowly", "DET ADJ NOUN VERB ADV"),
]


def tagged_corpus():
    """The tagged corpus as lists: ``[(["the", "cat", ...], ["DET", "NOUN", ...]), ...]``."""
    corpus = [(words.split(), tags.split()) for words, tags in TAGGED_SENTENCES]
    for words, tags in corpus:
        assert len(words) == len(tags) and set(tags) <= set(POS_TAGS)
    return corpus


def tiny_corpus():
    """A few short English sentences as one string, for vocabulary exercises."""
    return " ".join(" ".join(words) for words, _ in tagged_corpus())
