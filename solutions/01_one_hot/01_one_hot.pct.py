# %% [markdown]
# # 01 · Word representation and one-hot encoding (词表示与 one-hot 编码)
#
# A neural network computes with numbers, but language arrives as words. Before any recurrent network
# (循环神经网络) can read a sentence, each word must become a vector. This notebook builds the simplest
# such representation, the **one-hot vector** (独热向量), the way the lecture notes begin, and then
# measures why it is not enough on its own: it motivates everything that follows in the course.
#
# **Learning goals.** After this notebook you can
#
# 1. build a **vocabulary** (词表) with an unknown-word token, a minimum frequency and a deterministic order;
# 2. **encode** tokens as indices, **one-hot encode** index arrays of any shape, and **decode** back;
# 3. encode the notes' **part-of-speech tags** (词性标注) as 9-dimensional one-hot vectors;
# 4. count the parameters of a fully connected layer over $C$ one-hot words, $C\cdot V\cdot H + H$,
#    and see how they grow with the vocabulary size $V$;
# 5. show that multiplying a weight matrix by a one-hot vector **selects a column**, so an embedding
#    (词嵌入) is a table lookup;
# 6. demonstrate the three limits of feed-forward networks the notes list (前馈网络的不足): fixed input
#    length, no memory, inputs treated as independent — the reasons for the RNN of notebook 02.
#
# **How this notebook works.** Cells marked `# YOUR CODE HERE` are yours. Each exercise is followed by
# a test cell: run it to check your work (the messages say what is wrong and where to look). When
# the notebook is graded, the same cells also run **hidden tests** on fresh random inputs, so make your
# function correct in general, not just on the visible example. Use NumPy only: an exercise solved by
# calling a library that already does it (PyTorch, scikit-learn) earns no points.
#
# **术语表 · Glossary.** The Chinese and English terms of the course and the symbol each notebook uses: [GLOSSARY.md](../../GLOSSARY.md).

# %%
from collections import Counter

import numpy as np
import torch

import utils
from utils import check_close, check_equal, check_no_library, check_raises, check_shape
from utils import data, plotting

plotting.use_course_style()
rng = utils.seed_all(0)

# %% [markdown]
# ## 1. From words to indices: the vocabulary (词表)
#
# A **vocabulary** fixes which words the model knows and gives each one an **index** $0, 1, \dots, V-1$,
# where $V$ is the vocabulary size (词表大小). Three decisions make a vocabulary usable:
#
# - **An unknown-word token** `<unk>` (未知词标记; the words it stands for are out-of-vocabulary words, 未登录词). Text at test time contains words never seen in
#   training; they all map to one reserved index instead of crashing the model. By convention here it
#   is index 0.
# - **A minimum frequency** `min_freq`. A word seen once is mostly noise (a typo, a name); words
#   with fewer than `min_freq` occurrences are left out and become `<unk>`.
# - **A deterministic order.** The index of a word must not depend on the order of a `set` or on the
#   Python version, or a saved model would read the wrong rows after a restart. We sort by
#   **decreasing frequency, ties broken alphabetically**.
#
# A worked example, with the counting done by `collections.Counter`:

# %% [markdown]
# **Predict, then run.** The first line prints `counts.most_common()`, which sorts by count. Will it
# already list the five words that occur only once in alphabetical order? Write yes or no with a
# reason, and the order you expect; then compare it with the second line.

# %%
tokens = "the cat sat on the mat the end".split()
counts = Counter(tokens)
print(counts.most_common())
# by decreasing count, ties alphabetically: ('the', 3) first, then 'cat', 'end', 'mat', 'on', 'sat'
print(sorted(counts, key=lambda w: (-counts[w], w)))


# %% [markdown]
# ### Exercise 1 (3 points): `build_vocab`
#
# Write `build_vocab(tokens, min_freq=1, unk="<unk>")` returning the vocabulary as a **list** of
# strings, `vocab[i]` being the token with index `i`:
#
# - `vocab[0]` is `unk`, and `unk` appears nowhere else (even if the text contains it);
# - then every token that occurs **at least** `min_freq` times, by decreasing count, ties broken
#   alphabetically.

# %% nbgrader={"grade": false, "grade_id": "build_vocab", "locked": false, "schema_version": 3, "solution": true}
def build_vocab(tokens, min_freq=1, unk="<unk>"):
    """Vocabulary of a token list: the unknown token first, then frequent tokens.

    tokens: list of str, length L, compared exactly as given ('The' and 'the' are two tokens).
    min_freq: int >= 1, the smallest count a token needs to enter the vocabulary.
    unk: the unknown-word token, always at index 0.
    Returns a list of V distinct str: [unk, most frequent, ...], ties in alphabetical order.
    """
    ### BEGIN SOLUTION
    counts = Counter(t for t in tokens if t != unk)
    kept = [t for t, c in counts.items() if c >= min_freq]
    return [unk] + sorted(kept, key=lambda t: (-counts[t], t))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_build_vocab", "locked": true, "points": 3, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
# Visible tests: a case you can check by hand.
tokens = "the cat sat on the mat the end".split()
vocab = build_vocab(tokens)
check_equal("build_vocab: type", type(vocab), list,
            hint="return a list of strings, vocab[i] being the token with index i")
check_equal("build_vocab(tokens)", vocab, ["<unk>", "the", "cat", "end", "mat", "on", "sat"],
            mistakes={
                "the unknown token is missing": ["the", "cat", "end", "mat", "on", "sat"],
                "the unknown token is last instead of first":
                    ["the", "cat", "end", "mat", "on", "sat", "<unk>"],
                "ties are kept in order of first appearance, not alphabetically":
                    ["<unk>", "the", "cat", "sat", "on", "mat", "end"],
                "sorted alphabetically only; sort by decreasing count first":
                    ["<unk>", "cat", "end", "mat", "on", "sat", "the"],
                "a token needs MORE than min_freq occurrences; it should need AT LEAST min_freq":
                    ["<unk>", "the"],
            },
            hint="unknown token first, then by decreasing count, ties alphabetically")
check_equal("build_vocab(tokens, min_freq=3)", build_vocab(tokens, min_freq=3), ["<unk>", "the"],
            mistakes={"a token needs MORE than min_freq occurrences; it should need AT LEAST "
                      "min_freq": ["<unk>"]},
            hint="keep the tokens that occur at least min_freq times ('the' occurs 3 times)")
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
words = [f"w{i}" for i in range(12)]
toks = list(r.choice(words, size=200, p=r.dirichlet(np.ones(12))))
toks += ["<unk>", "<unk>"]
c = Counter(t for t in toks if t != "<unk>")
c_all = Counter(toks)  # what a vocabulary that forgets to skip '<unk>' in the text counts
for mf in (1, 3, 10):
    want = ["<unk>"] + sorted([t for t in c if c[t] >= mf], key=lambda t: (-c[t], t))
    got = build_vocab(toks, min_freq=mf)
    check_equal(f"build_vocab(random text, min_freq={mf})", got, want, mistakes={
        "'<unk>' from the text appears twice: it must be in the vocabulary only once, at index 0":
            ["<unk>"] + sorted([t for t in c_all if c_all[t] >= mf], key=lambda t: (-c_all[t], t)),
        "a token needs MORE than min_freq occurrences; it should need AT LEAST min_freq":
            ["<unk>"] + sorted([t for t in c if c[t] > mf], key=lambda t: (-c[t], t)),
    }, hint="the text may itself contain the unknown token; it must appear once, at index 0")
check_equal("build_vocab(['a', 'a', 'b'], min_freq=2)", build_vocab(["a", "a", "b"], min_freq=2),
            ["<unk>", "a"], mistakes={"a token needs MORE than min_freq occurrences; it should need "
                                      "AT LEAST min_freq": ["<unk>"]})
check_equal("build_vocab with another unk", build_vocab(["a", "b", "a"], unk="UNK"), ["UNK", "a", "b"])
check_equal("build_vocab of an empty list", build_vocab([]), ["<unk>"])
check_equal("build_vocab(['The', 'the', 'the'])", build_vocab(["The", "the", "the"]),
            ["<unk>", "the", "The"],
            mistakes={"the tokens are lower-cased": ["<unk>", "the"]},
            hint="'The' and 'the' are two tokens: compare them exactly as given, without lower-casing")
check_equal("build_vocab with unk='UNK' that also occurs in the text",
            build_vocab(["UNK", "a", "UNK", "b", "a"], unk="UNK"), ["UNK", "a", "b"],
            mistakes={"the text's unknown token is skipped only when it is called '<unk>'":
                      ["UNK", "UNK", "a", "b"]},
            hint="the unknown token is whatever `unk` says: skip it in the text whatever its name")
shuffled = [str(t) for t in r.permutation(toks)]
got = utils.call_unchanged("build_vocab(random text)", build_vocab, shuffled, 2)
utils.check_type("build_vocab: a list of str", got, list, items=str)
check_equal("build_vocab does not depend on input order", build_vocab(list(reversed(toks))),
            build_vocab(toks), hint="break ties by the token itself, not by where it appears")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 (2 points): `encode`
#
# Write `encode(tokens, vocab)` returning the indices of `tokens` as a NumPy array of integers,
# shape `(L,)`. A token that is not in the vocabulary gets the index of the unknown token, 0.
#
# Searching the list with `vocab.index(t)` costs $O(V)$ per token; build a dictionary
# `{token: index}` once instead (that mapping is often called `stoi`, *string to index*).

# %% nbgrader={"grade": false, "grade_id": "encode", "locked": false, "schema_version": 3, "solution": true}
def encode(tokens, vocab):
    """Indices of tokens in vocab; unknown tokens get index 0 (vocab[0] is the unknown token).

    tokens: list of L str. vocab: list of V str, as build_vocab returns.
    Returns an int64 array of shape (L,).
    """
    ### BEGIN SOLUTION
    stoi = {t: i for i, t in enumerate(vocab)}
    return np.array([stoi.get(t, 0) for t in tokens], dtype=np.int64)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_encode", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
vocab = ["<unk>", "the", "cat", "sat"]
idx = encode("the cat sat on the mat".split(), vocab)
check_equal("encode: returns a NumPy array", isinstance(idx, np.ndarray), True,
            hint="wrap the indices in np.array(..., dtype=np.int64)")
check_equal("encode: integer dtype", np.issubdtype(idx.dtype, np.integer), True,
            hint=f"indices must be integers, got dtype {idx.dtype}")
check_equal("encode('the cat sat on the mat')", idx, np.array([1, 2, 3, 0, 1, 0]),
            hint="'on' and 'mat' are not in the vocabulary, so they get index 0")
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
V = int(r.integers(5, 30))
vocab = ["<unk>"] + [f"t{i}" for i in range(1, V)]
pool = vocab[1:] + ["never", "seen"]
toks = list(r.choice(pool, size=int(r.integers(1, 50))))
stoi = {t: i for i, t in enumerate(vocab)}
check_equal("encode(random tokens)", encode(toks, vocab), np.array([stoi.get(t, 0) for t in toks]),
            hint="look up each token; unknown tokens map to 0")
check_equal("encode of one token", encode(["t1"], vocab), np.array([1]))
check_shape("encode of no tokens", encode([], vocab), (0,))
got = utils.call_unchanged("encode(random tokens)", encode, toks, vocab)
utils.check_type("encode: an int64 array", got, np.ndarray, dtype=np.int64,
                 hint="the docstring promises int64: np.array(indices, dtype=np.int64)")
utils.check_type("encode of no tokens: still an int64 array", encode([], vocab), np.ndarray,
                 dtype=np.int64,
                 hint="np.array([]) is float64: give the dtype, np.array(indices, dtype=np.int64)")
### END HIDDEN TESTS

# %% [markdown]
# ## 2. One-hot vectors (独热向量)
#
# The **one-hot vector** of index $k$ in a vocabulary of size $V$ is the vector
# $e_k \in \{0,1\}^V$ with a single 1 at position $k$:
#
# $$ e_k[j] = \begin{cases} 1 & j = k \\ 0 & j \neq k \end{cases} \qquad\text{e.g. } V = 5,\; e_2 = (0, 0, 1, 0, 0)^\top. $$
#
# Two properties matter. Every pair of distinct words is equally far apart, $\lVert e_j - e_k\rVert = \sqrt2$,
# and orthogonal, $e_j^\top e_k = 0$: the representation says nothing about which words are similar.
# And the vectors are as long as the vocabulary: tens of thousands of entries, all but one zero.
#
# In this course a batch of sequences is **time-major** (时间维在前), shape `(T, N)` for indices, so its
# one-hot encoding has shape `(T, N, V)`: the one-hot axis is always **last**, the layout
# `torch.nn.RNN` expects. Your function must work for an index array of *any* shape.
#
# ### Exercise 3 (5 points): `one_hot`
#
# Write `one_hot(indices, V)` returning a float64 array of shape `indices.shape + (V,)`.
# Bad input must raise a `ValueError` whose message says what to do:
#
# - indices whose **dtype** is not an integer type, i.e. `np.issubdtype(indices.dtype, np.integer)` is
#   false. The rule is about the dtype, not the values: a float array is refused even when every entry
#   is a whole number (`[1.0, 2.0]`), and so is a boolean array (`[True, False]`: NumPy would read it as
#   a mask, not as the indices 1 and 0). The message should say to convert with `.astype(np.int64)`;
# - an index outside `0 … V-1` (including negative ones, which NumPy indexing would silently wrap
#   around to the end).
#
# An input with **no entries** is not an error: `one_hot([], V)` is the empty float64 array of shape
# `(0, V)`, and in general an empty `indices` gives shape `indices.shape + (V,)`. Careful: NumPy
# reads `[]` as a float64 array, so look at the size before the dtype.

# %% nbgrader={"grade": false, "grade_id": "one_hot", "locked": false, "schema_version": 3, "solution": true}
def one_hot(indices, V):
    """One-hot encoding along a new last axis.

    indices: int array of any shape S (a Python int or list works too), entries in 0..V-1.
    V: int, the vocabulary size.
    Returns a float64 array of shape S + (V,) with out[..., k] = 1 where indices == k; an input
    with no entries (such as []) gives the empty array of shape S + (V,).
    Raises ValueError when the dtype of indices is not an integer type (floats, even whole
    numbers, and booleans) or an index lies outside 0..V-1.
    """
    ### BEGIN SOLUTION
    indices = np.asarray(indices)
    if indices.size == 0:  # nothing to check: np.asarray([]) is float64, yet [] is a valid input
        return np.zeros(indices.shape + (V,), dtype=np.float64)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"one_hot needs integer indices, got dtype {indices.dtype}; "
                         "convert them with .astype(np.int64) if they are whole numbers")
    if indices.size and (indices.min() < 0 or indices.max() >= V):
        raise ValueError(f"indices must lie in 0..{V - 1} for V={V}, got values from "
                         f"{indices.min()} to {indices.max()}; check the vocabulary size")
    out = np.zeros(indices.shape + (V,), dtype=np.float64)
    np.put_along_axis(out, indices[..., None], 1.0, axis=-1)
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_one_hot", "locked": true, "points": 3, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
e = one_hot(np.array([2, 0]), 4)
check_shape("one_hot([2, 0], 4)", e, (2, 4),
            hint="the one-hot axis is added LAST: shape indices.shape + (V,)")
check_equal("one_hot: float64", e.dtype == np.float64, True,
            hint=f"return float64 vectors (np.zeros(..., dtype=np.float64)), got {e.dtype}")
check_close("one_hot([2, 0], 4)", e, [[0, 0, 1, 0], [1, 0, 0, 0]],
            mistakes={"the 1 is one position too far (index + 1)": [[0, 0, 0, 1], [0, 1, 0, 0]]})
r = utils.seed_all(1)
idx = r.integers(0, 7, size=(5, 3))  # time-major (T, N) indices
e = one_hot(idx, 7)
check_shape("one_hot of a (T, N) array", e, (5, 3, 7),
            hint="the one-hot axis is added LAST: shape (T, N, V)")
check_close("one_hot of a (T, N) array", e, np.eye(7)[idx])
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
for shape in [(), (1,), (int(r.integers(2, 9)),), (int(r.integers(1, 6)), int(r.integers(1, 5)), 2)]:
    V = int(r.integers(1, 12))
    idx = r.integers(0, V, size=shape)
    ref = torch.nn.functional.one_hot(torch.as_tensor(idx), V).double().numpy()
    got = utils.call_unchanged(f"one_hot of shape {shape}, V={V}", one_hot, idx, V)
    utils.check_type(f"one_hot of shape {shape}: float64", got, np.ndarray, dtype=np.float64)
    check_close(f"one_hot of shape {shape}, V={V}", got, ref, mistakes={
        "the one-hot axis is first; it must be last": lambda: np.moveaxis(ref, -1, 0),
    })
check_close("one_hot of a Python int", one_hot(3, 5), [0, 0, 0, 1, 0])
check_close("one_hot of a list", one_hot([0, 4], 5), [[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]])
check_close("one_hot of int32 indices", one_hot(np.array([1, 2], dtype=np.int32), 3),
            [[0, 1, 0], [0, 0, 1]])
check_shape("one_hot of an empty array", one_hot(np.zeros((0,), dtype=np.int64), 4), (0, 4))
for dtype in (np.uint8, np.int8, np.int16, np.uint64):
    idx = np.array([2, 0], dtype=dtype)
    try:
        got = one_hot(idx, 3)
    except ValueError as err:
        raise utils.CheckFailure(f"one_hot of {idx.dtype} indices raised ValueError ({err}): every integer "
                                 "dtype is allowed, signed or unsigned, as np.issubdtype(indices.dtype, "
                                 "np.integer) says") from None
    check_close(f"one_hot of {idx.dtype} indices", got, [[0, 0, 1], [1, 0, 0]])
    utils.check_type(f"one_hot of {idx.dtype} indices: float64", got, np.ndarray, dtype=np.float64)
try:
    empty = one_hot([], 4)
except ValueError as err:
    raise utils.CheckFailure(f"one_hot of an empty list raised ValueError ({err}): an input with no entries "
                             "is not an error. np.asarray([]) is float64, so look at the size before the "
                             "dtype and return the empty array of shape (0, V)") from None
check_shape("one_hot of an empty list", empty, (0, 4),
            hint="an input with no entries gives the empty array of shape indices.shape + (V,)")
check_equal("one_hot of an empty list: float64", empty.dtype == np.float64, True)
check_shape("one_hot of an empty (2, 0) array", one_hot(np.zeros((2, 0), dtype=np.int64), 3), (2, 0, 3))
check_no_library("one_hot", one_hot, ["torch", "sklearn", "tensorflow", "keras", "jax"])
# what it calls while it runs, not only what its source says (an alias cannot hide a call)
_ = utils.checks.check_no_library_calls("one_hot", one_hot, r.integers(0, 5, size=(2, 3)), 5,
                                       forbidden=("torch", "autograder", "sklearn", "tensorflow", "keras", "jax"))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_one_hot_errors", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
check_raises("one_hot with an index equal to V", one_hot, ValueError, np.array([0, 3]), 3,
             hint="indices must be in 0..V-1; raise ValueError otherwise")
check_raises("one_hot with float indices", one_hot, ValueError, np.array([1.0, 2.5]), 4,
             hint="check np.issubdtype(indices.dtype, np.integer) and raise ValueError")
### BEGIN HIDDEN TESTS
check_raises("one_hot with a negative index", one_hot, ValueError, np.array([1, -1]), 4,
             hint="NumPy indexing wraps -1 around to the last column silently; reject it")
check_raises("one_hot with whole-number floats", one_hot, ValueError, np.array([1.0, 2.0]), 4,
             hint="the rule is about the dtype: a float array is refused even when its entries are whole")
check_raises("one_hot with boolean indices", one_hot, ValueError, np.array([True, False]), 2,
             hint="booleans are not indices (NumPy reads a boolean array as a mask): require an integer "
                  "dtype, np.issubdtype(indices.dtype, np.integer)")
check_raises("one_hot with an index far too large", one_hot, ValueError, np.array([[0], [99]]), 5)
for bad in (np.array([0, 3]), np.array([-2])):
    try:
        one_hot(bad, 3)
    except ValueError as err:
        check_equal("the ValueError explains itself (its message is not empty)", len(str(err)) > 10, True,
                    hint="say what was wrong and what to do, e.g. the allowed range of indices")
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 4 (2 points): `decode`
#
# Going back: `decode(vectors, vocab)` takes one-hot (or, later in the course, probability) vectors of
# shape `(L, V)` and returns the list of the `L` tokens they stand for: for each row, the token whose
# entry is largest.

# %% nbgrader={"grade": false, "grade_id": "decode", "locked": false, "schema_version": 3, "solution": true}
def decode(vectors, vocab):
    """Tokens of one-hot (or score) vectors: the arg-max of each row.

    vectors: array (L, V). vocab: list of V str.
    Returns a list of L str.
    """
    ### BEGIN SOLUTION
    return [vocab[k] for k in np.argmax(vectors, axis=-1)]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_decode", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
vocab = ["<unk>", "the", "cat", "sat"]
vectors = one_hot(np.array([1, 2, 3]), 4)  # L=3 tokens, V=4
check_equal("decode(one_hot([1, 2, 3]))", decode(vectors, vocab), ["the", "cat", "sat"], mistakes={
    "arg-max over the first axis (across tokens); take it over the LAST axis (across the vocabulary)":
        [vocab[k] for k in np.argmax(vectors, axis=0)],
})
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
V = int(r.integers(3, 20))
L = V + int(r.integers(1, 10))  # L != V, so a wrong axis shows
vocab = [f"w{i}" for i in range(V)]
idx = r.integers(0, V, size=L)
check_equal("decode(random one-hot vectors)", decode(one_hot(idx, V), vocab), [vocab[i] for i in idx],
            hint="take the arg-max over the LAST axis (one row per token)")
scores = r.random((L, V))
check_equal("decode(score vectors)", decode(scores, vocab), [vocab[i] for i in scores.argmax(-1)],
            hint="for score vectors, the largest entry of each row names the token")
check_equal("decode of one vector", decode(one_hot(np.array([V - 1]), V), vocab), [vocab[V - 1]])
got = utils.call_unchanged("decode(score vectors)", decode, r.random((L, V)), vocab)
utils.check_type("decode: a list of str", got, list, items=str,
                 hint="return a Python list, [vocab[k] for k in ...]: an array of strings is not a list")
### END HIDDEN TESTS

# %% [markdown]
# The round trip `tokens → indices → one-hot → tokens` gives back the text, except for the words
# the vocabulary does not know:

# %% [markdown]
# **Predict, then run.** `sentence` has 7 words, and some of them may be missing from a vocabulary
# built with `min_freq=2`. Write down the shape of `vectors`, using $V$ for the vocabulary size, and
# how many tokens `decode` returns: does a word the vocabulary lacks drop out, or keep its place?

# %%
text = data.tiny_corpus().split()
vocab = build_vocab(text, min_freq=2)
sentence = "the cat sat on the old mat".split()
vectors = one_hot(encode(sentence, vocab), len(vocab))
print(f"V = {len(vocab)}: {len(vocab) - 1} words kept from {len(set(text))} distinct ones (min_freq=2), "
      "plus <unk>")
print("one-hot batch:", vectors.shape)
print("decoded:", decode(vectors, vocab))

# %% [markdown]
# ## 3. Part-of-speech tags as 9-dimensional one-hot vectors (词性标注)
#
# The notes' first task is **part-of-speech tagging** (词性标注): label each word as a noun, a verb …
# With nine tags each label is a 9-dimensional one-hot vector, the target a network must output for
# every word. The course uses these nine tags, in this order (`utils.data.POS_TAGS`):

# %% [markdown]
# **Predict, then run.** The first sentence of the tagged corpus is "the cat sat on the mat". How many
# *different* tags do its six words use, i.e. how many distinct one-hot target vectors does it need?
# Write down the number and the word class you expect for each word (noun, verb …).

# %%
print(data.POS_TAGS)
words, tags = data.tagged_corpus()[0]
print(list(zip(words, tags)))


# %% [markdown]
# ### Exercise 5 (2 points): `pos_one_hot`
#
# Write `pos_one_hot(tags)` returning the `(L, 9)` float64 matrix of one-hot tag vectors, in the order
# of `data.POS_TAGS`. A tag that is not one of the nine raises a `ValueError` that lists the allowed
# tags (there is no "unknown" tag: a wrong label is a bug in the data). Reuse your `one_hot`.

# %% nbgrader={"grade": false, "grade_id": "pos_one_hot", "locked": false, "schema_version": 3, "solution": true}
def pos_one_hot(tags):
    """One-hot vectors of part-of-speech tags, in the order of data.POS_TAGS.

    tags: list of L str, each one of data.POS_TAGS, exactly ('noun' is not a tag).
    Returns a float64 array (L, 9). Raises ValueError on an unknown tag.
    """
    ### BEGIN SOLUTION
    index = {t: k for k, t in enumerate(data.POS_TAGS)}
    unknown = sorted({t for t in tags if t not in index})
    if unknown:
        raise ValueError(f"unknown tags {unknown}; allowed: {', '.join(data.POS_TAGS)}")
    return one_hot(np.array([index[t] for t in tags], dtype=np.int64), len(data.POS_TAGS))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pos_one_hot", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
got = pos_one_hot(["DET", "NOUN", "VERB"])
check_shape("pos_one_hot(['DET', 'NOUN', 'VERB'])", got, (3, 9))
check_close("pos_one_hot(['DET', 'NOUN', 'VERB'])", got, np.eye(9)[[5, 0, 1]],
            hint="the position of a tag is its index in data.POS_TAGS")
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
tags = list(r.choice(data.POS_TAGS, size=int(r.integers(1, 30))))
check_close("pos_one_hot(random tags)", pos_one_hot(tags),
            np.eye(9)[[data.POS_TAGS.index(t) for t in tags]])
check_raises("pos_one_hot with an unknown tag", pos_one_hot, ValueError, ["NOUN", "ADJECTIVE"],
             hint="raise ValueError for a tag that is not one of data.POS_TAGS")
check_shape("pos_one_hot of no tags", pos_one_hot([]), (0, 9))
check_raises("pos_one_hot with a lower-case tag", pos_one_hot, ValueError, ["DET", "noun"],
             hint="tags are compared exactly: 'noun' is not one of data.POS_TAGS")
got = utils.call_unchanged("pos_one_hot(random tags)", pos_one_hot,
                           [str(t) for t in r.choice(data.POS_TAGS, 6)])
utils.check_type("pos_one_hot: float64", got, np.ndarray, dtype=np.float64,
                 hint="the docstring promises float64 vectors, as one_hot returns")
utils.check_type("pos_one_hot of no tags: float64", pos_one_hot([]), np.ndarray, dtype=np.float64)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Why one-hot input is expensive: counting parameters
#
# The notes feed a fully connected layer (全连接层) with a **window of $C$ words**, each a one-hot vector
# of size $V \times 1$, concatenated into one input of size $C\cdot V$. A layer of $H$ hidden units then
# has a weight matrix $W \in \mathbb{R}^{H \times CV}$ and a bias $b \in \mathbb{R}^H$:
#
# $$ \#\text{params} = C\cdot V\cdot H + H. $$
#
# The notes' verdict, 参数过多 (too many parameters), follows: the count grows linearly in the vocabulary
# size *and* in the window length. With $V = 50\,000$, $C = 5$ and $H = 256$ that is 64 million weights
# for one layer, almost all of which multiply zeros.
#
# ### Exercise 6 (2 points): `fc_param_count`

# %% nbgrader={"grade": false, "grade_id": "fc_param_count", "locked": false, "schema_version": 3, "solution": true}
def fc_param_count(C, V, H):
    """Number of parameters of a fully connected layer from C concatenated one-hot words of
    size V to H hidden units (weights and biases). Returns an int.
    """
    ### BEGIN SOLUTION
    return C * V * H + H
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fc_param_count", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
check_equal("fc_param_count(C=1, V=3, H=2)", fc_param_count(1, 3, 2), 8,
            mistakes={"the bias is missing": 6, "one bias per input instead of per hidden unit": 9},
            hint="W has H rows and C*V columns; the bias has one entry per hidden unit")
check_equal("fc_param_count(C=5, V=50000, H=256)", fc_param_count(5, 50_000, 256), 64_000_256,
            mistakes={"the window length C is not counted": 50_000 * 256 + 256,
                      "the bias is missing": 64_000_000})
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
for _ in range(5):
    C, V, H = (int(v) for v in r.integers(1, 1000, size=3))
    # an independent count: PyTorch's own parameters ('meta' tensors have shapes but no memory)
    layer = torch.nn.Linear(C * V, H, device="meta")
    want = sum(p.numel() for p in layer.parameters())
    check_equal(f"fc_param_count(C={C}, V={V}, H={H})", int(fc_param_count(C, V, H)), want, mistakes={
        "the bias is missing": C * V * H,
        "one bias per input instead of per hidden unit": C * V * H + C * V,
        "the window length C is not counted": V * H + H,
    })
big = fc_param_count(1000, 100_000, 10_000)
utils.check_type("fc_param_count: an integer", big, (int, np.integer))
check_equal("fc_param_count(C=1000, V=100000, H=10000)", big, 1_000_000_010_000,
            hint="10^12 parameters: 32-bit integers overflow past 2^31; count with Python ints")
### END HIDDEN TESTS

# %% [markdown]
# The count, plotted against the vocabulary size for a few window lengths (log-log axes: a straight
# line of slope 1 means linear growth). The check below the plot builds the actual `torch.nn.Linear`
# layers and counts their parameters, so the formula is verified, not assumed.

# %% [markdown]
# **Predict, then run.** With $H = 256$, write down the order of magnitude (a power of 10) of the
# highest point on the plot, $C = 9$ words at $V = 100\,000$. Does any point lie below the dashed line
# of a single 256 × 256 layer? If yes, which one?

# %%
Vs = np.array([100, 1_000, 10_000, 50_000, 100_000])
H = 256
fig, ax = plotting.subplots(width=6, height=3.6)
for C in (1, 3, 5, 9):
    ax.loglog(Vs, [fc_param_count(C, V, H) for V in Vs], "o-", label=f"C = {C} words")
ax.axhline(H * H + H, color=plotting.COLORS["reference"], ls="--",
           label="one 256 x 256 layer, for scale")
ax.set_xlabel("vocabulary size V")
ax.set_ylabel("parameters")
ax.legend()
plotting.finish(fig, f"Fully connected layer over C one-hot words, H = {H}")

for C, V in [(1, 100), (3, 1000), (5, 2000)]:
    n_torch = sum(p.numel() for p in torch.nn.Linear(C * V, H).parameters())
    assert n_torch == fc_param_count(C, V, H), (C, V)
print("the formula C*V*H + H matches torch.nn.Linear's parameter count")


# %% [markdown]
# ## 5. A one-hot vector selects a column: embeddings are lookups (词嵌入)
#
# Multiply a weight matrix $W \in \mathbb{R}^{H \times V}$ by the one-hot vector $e_k$:
#
# $$ (W e_k)_i = \sum_j W_{ij}\, e_k[j] = W_{ik}, \qquad\text{so}\qquad W e_k = W_{:,k}, $$
#
# the $k$-th **column** of $W$. A layer that multiplies one-hot inputs spends $H\cdot V$ multiplications
# to copy $H$ numbers. Real models skip the multiplication and index the column directly: that is
# what an **embedding** layer (`torch.nn.Embedding`) does, and why one-hot inputs cost no more than a
# table lookup. In the course's row-batched layout, a batch of one-hot rows `E (L, V)` is multiplied as
# `E @ W.T`, giving `(L, H)`: row $l$ is column `indices[l]` of $W$.
#
# ### Exercise 7 (2 points): `embedding_lookup`
#
# Write `embedding_lookup(indices, W)` returning `one_hot(indices, V) @ W.T` **without** building the
# one-hot matrix: index the columns of `W`. Shape: indices of any shape `S`, `W (H, V)`, result
# `S + (H,)`.

# %% nbgrader={"grade": false, "grade_id": "embedding_lookup", "locked": false, "schema_version": 3, "solution": true}
def embedding_lookup(indices, W):
    """Rows of one_hot(indices, V) @ W.T, computed by indexing W's columns.

    indices: int array of any shape S, entries in 0..V-1.
    W: array (H, V).
    Returns an array of shape S + (H,).
    """
    ### BEGIN SOLUTION
    return W.T[np.asarray(indices)]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_embedding_lookup", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import check_close, check_equal, check_no_library, check_raises, check_shape  # the course's checks
W = np.arange(6.0).reshape(2, 3)  # H=2, V=3: columns (0,3), (1,4), (2,5)
got = embedding_lookup(np.array([2, 0]), W)
check_shape("embedding_lookup([2, 0], W with H=2, V=3)", got, (2, 2),
            hint="the result has one row of H numbers per index")
check_close("embedding_lookup([2, 0], W)", got, [[2.0, 5.0], [0.0, 3.0]],
            hint="the embedding of index k is COLUMN k of W (W has shape (H, V))")
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
H, V = int(r.integers(2, 8)), int(r.integers(9, 20))  # H != V, so rows and columns differ
W = r.standard_normal((H, V))
idx = r.integers(0, V, size=(int(r.integers(1, 5)), int(r.integers(1, 4))))
emb = torch.nn.Embedding(V, H, dtype=torch.float64)
with torch.no_grad():
    emb.weight.copy_(torch.as_tensor(W.T))  # nn.Embedding stores one row per word: W.T
    ref = emb(torch.as_tensor(idx)).numpy()
got = utils.call_unchanged("embedding_lookup(random)", embedding_lookup, idx, W)
check_close("embedding_lookup(random, H != V)", got, ref, atol=1e-12,
            hint="index the columns of W, i.e. W.T[indices] or W[:, indices] moved to the end")
check_close("embedding_lookup of one index", embedding_lookup(np.array(3), W), W[:, 3], atol=1e-12)
check_no_library("embedding_lookup", embedding_lookup, ["torch", "one_hot"])
_ = utils.checks.check_no_library_calls("embedding_lookup", embedding_lookup, idx, W)  # what it calls while it runs
### END HIDDEN TESTS

# %% [markdown]
# The two computations agree, and the lookup is much cheaper. The timing below uses a vocabulary of
# 20 000 words (a smaller one under the grader, which only needs the check, not the speed-up):

# %% [markdown]
# **Predict, then run.** Per index, the product `one_hot(idx, V) @ W.T` does $V\cdot H$ multiplications,
# while the lookup copies $H$ numbers. Write down that ratio of work for $V = 20\,000$, then predict
# whether the printed speed-up (`… x faster`) will be about that large or much smaller, with a reason.

# %%
import time

V, H, L = utils.choose(full=20_000, fast=2_000), 64, 256
W = rng.standard_normal((H, V))
idx = rng.integers(0, V, size=L)

start = time.perf_counter()
by_matmul = one_hot(idx, V) @ W.T
t_matmul = time.perf_counter() - start
start = time.perf_counter()
by_lookup = embedding_lookup(idx, W)
t_lookup = time.perf_counter() - start

assert np.allclose(by_matmul, by_lookup)  # the same numbers: W e_k = W[:, k]
print(f"one-hot @ W.T: {t_matmul * 1e3:7.2f} ms   lookup: {t_lookup * 1e3:6.3f} ms   "
      f"({t_matmul / max(t_lookup, 1e-9):.0f}x faster)")

# %% [markdown]
# ## 6. Three limits of feed-forward networks (前馈网络的不足)
#
# The notes list three reasons why a feed-forward network over one-hot words cannot model sequences,
# numbered as below (notebook 02 keeps the same numbers). Each one is demonstrated with the smallest
# possible example.
#
# **(1) No recurrence** (无循环): connections run only from one layer to the next, and the nodes of a
# layer are not connected to each other, so nothing carries information from one word to the next.
# To see a whole sentence at once, such a network must either take a fixed window (limit 2) or pool
# the words, for instance sum their one-hot vectors (a *bag of words*). Pooling throws the **order**
# away: "dog bites man" and "man bites dog" become the same vector, so no network on top can tell who
# bit whom. A recurrent network reads the words one at a time and keeps what it has read, in order.

# %%
vocab_d = build_vocab("dog bites man".split())
bag = lambda words: one_hot(encode(words, vocab_d), len(vocab_d)).sum(axis=0)
a, b = bag("dog bites man".split()), bag("man bites dog".split())
print("bag('dog bites man') =", a)
print("bag('man bites dog') =", b)
print("identical:", np.array_equal(a, b))

# Concatenation keeps the order - but only for a fixed length, which is limit (2).
print("concatenated one-hots identical:",
      np.array_equal(one_hot(encode("dog bites man".split(), vocab_d), len(vocab_d)).ravel(),
                     one_hot(encode("man bites dog".split(), vocab_d), len(vocab_d)).ravel()))

# %% [markdown]
# **(2) The input and output sizes are fixed** (输入输出维数固定). A fully connected layer built for a
# window of $C = 3$ words has a weight matrix with $3V$ columns. A sentence of four words does not fit:
# padding or cutting it changes the input, and a different length needs a different network.

# %%
vocab = build_vocab(data.tiny_corpus().split())
V, H = len(vocab), 8
layer = torch.nn.Linear(3 * V, H, dtype=torch.float64)   # built for exactly C = 3 words

def window_input(words):
    # concatenate the one-hot vectors of the words: shape (C * V,)
    return torch.as_tensor(one_hot(encode(words, vocab), V).reshape(-1))

print("3 words ->", tuple(layer(window_input("the cat sat".split())).shape))
try:
    layer(window_input("the cat sat down".split()))
except RuntimeError as err:
    print("4 words -> RuntimeError:", str(err).splitlines()[0])

# %% [markdown]
# **(3) Each input is treated as independent** (输入相互独立): the output depends only on the current
# input. A network applied to one word at a time computes $y_t = f(x_t)$, so the same word gives the
# same output wherever it appears. In the corpus below "saw" is a verb ("we saw a star") and a noun
# ("the saw is sharp"); any per-word model must give both the same tag, so it gets one of them wrong.
# Only a model that also sees the previous words, $h_t = f(h_{t-1}, x_t)$, can tell them apart.

# %% [markdown]
# **Predict, then run.** The two sentences have 8 words in all. Write down, as a fraction, the
# highest accuracy any per-word model can reach on them, and whether you expect this small trained
# layer to reach it.

# %%
sentences = [("we saw a star".split(), "PRON VERB DET NOUN".split()),
             ("the saw is sharp".split(), "DET NOUN VERB ADJ".split())]
vocab_s = build_vocab([w for s, _ in sentences for w in s])
V_s = len(vocab_s)

# The best any per-word model can do: a lookup table from each word to ONE tag.
torch.manual_seed(0)
per_word = torch.nn.Linear(V_s, len(data.POS_TAGS), dtype=torch.float64)
X = torch.as_tensor(np.concatenate([one_hot(encode(s, vocab_s), V_s) for s, _ in sentences]))
Y = torch.as_tensor(np.concatenate([pos_one_hot(t) for _, t in sentences]).argmax(1))
opt = torch.optim.Adam(per_word.parameters(), lr=0.1)
for _ in range(200):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(per_word(X), Y)
    loss.backward()
    opt.step()
pred = per_word(X).argmax(1).numpy()
for (words, tags), chunk in zip(sentences, np.split(pred, [len(sentences[0][0])])):
    print(" ".join(f"{w}/{data.POS_TAGS[p]}" for w, p in zip(words, chunk)),
          "  (true:", " ".join(tags) + ")")
print("\naccuracy:", (pred == Y.numpy()).mean(), "- 'saw' gets the same tag in both sentences")

# %% [markdown]
# The recurrent network of notebook 02 removes all three limits at once: it reads one word per time
# step, carries a **hidden state** (隐状态) $h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$ from step to
# step, and uses the **same weights at every step**, so it accepts any length and its parameter count
# does not depend on $T$.
#
# ## 7. Written question (3 points, graded by hand)
#
# Your `fc_param_count` and the demonstrations above both argue against one-hot vectors fed to a fully
# connected layer. In a few sentences: (a) give **two** distinct problems of the one-hot + fully
# connected design, each backed by a number or an output from this notebook, and (b) say which
# property of a recurrent network addresses each problem.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_one_hot_limits", "locked": false, "points": 3, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# **Model answer.** (a) *Size:* the layer has $C\cdot V\cdot H + H$ parameters, linear in the
# vocabulary and in the window: 64 million for $V = 50\,000$, $C = 5$, $H = 256$, and most of those
# weights multiply zeros (a one-hot product only selects a column, as `embedding_lookup` showed).
# *Fixed length and no context:* the layer built for $C = 3$ words rejects 4 words (the RuntimeError),
# and any per-word model tags "saw" identically in both sentences (accuracy 0.875), while a bag of
# words cannot tell "dog bites man" from "man bites dog". One-hot vectors also carry no similarity:
# all words are $\sqrt2$ apart.
# (b) An RNN shares one set of weights across time (参数共享), so its parameter count does not grow
# with the sequence length, and it accepts any $T$; its hidden state $h_t$ carries the preceding words,
# so the same word can get different outputs in different contexts and order matters. (A learned
# embedding — the column lookup — replaces the $V$-dimensional one-hot with a dense vector and gives
# words a notion of similarity.)
#
# **Rubric** (3 points; accept any correct equivalent).
#
# - 1 point for each of two *distinct* problems, each backed by a number or an output of this notebook
#   (at most 2). A problem stated without evidence earns half a point; the same problem twice
#   (e.g. "too many parameters" and "the matrix is large") counts once.
# - 1 point for matching each problem to the property of a recurrent network that addresses it:
#   weights shared over time for the size and the fixed length, the hidden state for context and order.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# - A **vocabulary** maps tokens to indices $0..V-1$: `<unk>` first, frequent tokens by decreasing
#   count, ties alphabetically, so the mapping is the same on every machine.
# - A **one-hot vector** $e_k \in \{0,1\}^V$ has a single 1; the course puts the one-hot axis last,
#   `(T, N, V)`, as PyTorch does. All one-hot vectors are orthogonal: they encode identity, not meaning.
# - A fully connected layer over $C$ one-hot words has $C\cdot V\cdot H + H$ parameters; multiplying by
#   a one-hot vector **selects a column**, so embeddings are lookups.
# - Feed-forward networks (1) have no recurrence, so pooling a sentence loses its order, (2) fix the
#   input length and (3) treat each input as independent (the same word, the same output). The
#   **Elman RNN** of notebook 02 ($h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$) removes all three.
#
# **Note on the lecture notes.** The notes' count "(字典长 × 1) per word, 参数过多" is right; this
# notebook makes it exact ($C\cdot V\cdot H + H$, checked against `torch.nn.Linear`) and shows the growth.
