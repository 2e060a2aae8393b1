# %% [markdown]
# # 08 · 综合应用 — Applications: the four shapes, trained end to end
#
# Notebook 02 built four shapes from one recurrent step: **many-to-one**, **many-to-many**,
# **one-to-many** and **sequence-to-sequence** (序列到序列). Notebooks 03–07 taught how such networks
# learn (BPTT), why plain RNNs forget (梯度消失), and the gated cells that remember (LSTM, GRU), whose
# NumPy versions you checked against `torch.nn.LSTM` and `torch.nn.GRU`. This capstone trains one
# model of each shape end to end with those PyTorch modules, on data generated offline, and
# evaluates each on **held-out** data it never saw.
#
# Real batches bring three practical problems that the earlier notebooks avoided, and the exercises
# are about them:
#
# * sentences have different lengths, so a batch is **padded** (填充) and the loss must be **masked**
#   (掩码) so that padding teaches nothing;
# * words enter as ids through a learned **embedding** (词嵌入), whose gradient has one classic trap;
# * a generator must **decode**: feed its own prediction back until it says "end".
#
# **Learning goals.** After this notebook you can
#
# 1. pad a list of sequences into a time-major batch with a mask, and compute a numerically stable
#    cross-entropy that averages over the real tokens only;
# 2. write the backward pass of an embedding lookup, where repeated ids must accumulate;
# 3. build a bidirectional LSTM tagger (双向 LSTM) on packed sequences, and a GRU encoder–decoder
#    (编码器–解码器) trained with **teacher forcing** (教师强制) and run with **greedy decoding**
#    (贪心解码);
# 4. train a many-to-one classifier, a tagger, a character generator with a **temperature** (温度)
#    and a sequence-to-sequence model, and measure each on held-out data: accuracy, per-tag accuracy
#    and a confusion matrix, perplexity (困惑度), exact match.
#
# | exercise | what you write | points |
# |---|---|---|
# | 1 | `pad_batch` | 2 |
# | 2 | `masked_cross_entropy` | 3 |
# | 3 | `embedding_backward` | 2 |
# | 4 | `BracketClassifier` (GRU on packed sequences, last state of each) | 2 |
# | 4b | your trained bracket classifier, on held-out strings | 1 |
# | 5 | `Tagger` (bidirectional LSTM on packed sequences) | 3 |
# | 5b | your trained tagger, on held-out sentences | 2 |
# | 6 | `sample_next` (sampling with a temperature) | 2 |
# | 6b | your sampling with the trained character model, on held-out text | 1 |
# | 7 | `greedy_decode` | 3 |
# | 8 | `Seq2Seq.encode` and `Seq2Seq.forward` (teacher forcing) | 3 |
# | 8b | your trained encoder–decoder, on held-out strings | 2 |
# | written | teacher forcing versus greedy decoding | 2 (graded by hand) |
# | total | | 28 |
#
# **How to work.** Complete each cell that says `# YOUR CODE HERE` (delete the `raise` line) and run
# the test cell below it. Exercises 1–3, 6 and 7 are NumPy, in float64, without PyTorch; exercises
# 4, 5 and 8 are small `torch.nn.Module`s. No function and no `forward` may change its arguments in
# place: the caller's arrays, lists and tensors are not yours to change. When the notebook is graded,
# hidden tests add fresh random inputs and edge cases, and evaluate your trained models on held-out
# data drawn with a fresh seed. When a result matches a common mistake, the message names it.
#
# **Conventions** (as in the whole course): sequences are **time-major**, ids have shape `(T, N)` and
# features `(T, N, D)`; states are `(N, H)`, all states `(T, N, H)`; `torch.nn` modules are built
# with `batch_first=False`.
#
# **术语表 · Glossary.** The Chinese and English terms of the course and the symbol each notebook uses: [GLOSSARY.md](../../GLOSSARY.md).

# %%
import numpy as np
import torch

import utils
from utils import applications, fixtures, plotting, tagging
from utils.applications import progress
from utils.checks import check_no_library_calls
from utils.data import POS_TAGS, zen_of_python

plotting.use_course_style()
torch.set_num_threads(1)  # the models here are tiny: one thread is faster than several
DEVICE = utils.device()
rng = utils.seed_all(0)
print("grading mode:", utils.grading_mode(), "| device:", DEVICE)


# %% [markdown]
# ## 1. Four shapes, four applications
#
# | shape (notebook 02) | application here | input → output | model | held-out measure |
# |---|---|---|---|---|
# | **many-to-one** | does a bracket string balance? (括号匹配) | `(()())` → yes | embedding → GRU → linear on the last state | accuracy |
# | **many-to-many** | part-of-speech tagging (词性标注), the 9 tags of the notes | *we saw a star* → PRON VERB DET NOUN | embedding → bidirectional LSTM → linear at every step | accuracy per tag, confusion matrix |
# | **one-to-many** | character generation (字符生成) | a start → a text | embedding → GRU → linear, its output fed back | perplexity (困惑度) |
# | **sequence-to-sequence** | reverse a string | `abcd` → `dcba` | GRU encoder, GRU decoder started from the encoder's last state | exact match |
#
# > **Note on the lecture notes.** The notes' application table has two garbled entries. A
# > *one-to-many* model takes **one** input and generates a sequence: image features → a caption, or a
# > seed → a melody (not "image features → speech or music"). The third *sequence-to-sequence* item,
# > "input text, output the answer to a question", is **question answering**, not image understanding.
# > The character generator below is trained on next-character prediction (many-to-many) and used
# > one-to-many: from a single start it writes a text by feeding its outputs back, as in notebook 02.
#
# Everything starts from integer ids. Three things are needed before any model can be trained on
# real batches: padding with a mask, a loss that respects the mask, and embeddings.

# %% [markdown]
# ## 2. Padding and masking (填充与掩码)
#
# A batch is one array, but the sentences in it have different lengths $T_1, \dots, T_N$. The usual
# answer is to **pad**: every sequence is written into column $n$ of a time-major array of
# $T_\text{max} = \max_n T_n$ rows, and the rows after its end hold a padding id (here 0, `<pad>`).
# A boolean **mask** remembers which entries are real:
#
# $$m_{t,n} = \begin{cases}1 & t < T_n \ \text{(a real token)}\\ 0 & t \ge T_n\ \text{(padding)}\end{cases}
# \qquad (t = 0, \dots, T_\text{max}-1 \text{ in code}).$$
#
# Two things must then ignore the padding:
#
# * the **loss**: a padded position has no target, so it must add nothing to the loss and nothing to
#   the gradient;
# * the **recurrence**: an RNN that reads the padding after a sentence changes its final state, and a
#   *backward* RNN (notebook 07) would even start from the padding. PyTorch's
#   `torch.nn.utils.rnn.pack_padded_sequence` (打包) tells the module each length, so that it stops
#   at the end of every sequence (section 5 uses it).
#
# ### Exercise 1 — `pad_batch` (2 points)
#
# Write `pad_batch(sequences, pad_id=0)`: it takes a list of N one-dimensional integer sequences
# (NumPy arrays or Python lists, each of length at least 1) and returns
#
# * `ids` (T_max, N) int64 (whatever integer dtype the sequences have): `ids[t, n]` is token `t` of
#   sequence `n`, or `pad_id` after its end;
# * `mask` (T_max, N) **bool**: True at real tokens, False at padding. It follows from the lengths,
#   as in the formula above, not from the ids: a real token may equal `pad_id` and is still real;
# * `lengths` (N,) int64.
#
# The result is a tuple `(ids, mask, lengths)`. The padding comes **after** each sequence, and the
# inputs must not be modified.

# %% nbgrader={"grade": false, "grade_id": "pad_batch", "locked": false, "schema_version": 3, "solution": true}
def pad_batch(sequences, pad_id=0):
    """Pad N sequences of different lengths into one time-major batch.

    Inputs:
    - sequences: a list of N one-dimensional integer sequences (arrays or lists), lengths >= 1
    - pad_id: the id written after the end of each sequence

    Returns a tuple (ids, mask, lengths):
    - ids: (T_max, N) int64 (for any integer dtype of the sequences),
      ids[t, n] = sequences[n][t] for t < len(sequences[n]), else pad_id
    - mask: (T_max, N) bool, True exactly where ids holds a real token: t < len(sequences[n]),
      even where that token equals pad_id
    - lengths: (N,) int64, the length of each sequence
    """
    ### BEGIN SOLUTION
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    ids = np.full((lengths.max(), len(sequences)), pad_id, dtype=np.int64)
    for n, seq in enumerate(sequences):
        ids[:lengths[n], n] = seq                         # column n, from the top
    mask = np.arange(lengths.max())[:, None] < lengths[None, :]   # (T_max, 1) < (1, N)
    return ids, mask, lengths
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_pad_batch", "locked": true, "points": 2, "schema_version": 3, "solution": false}
_case = fixtures.load("08_applications")["pad_batch"]

# A fixed case with pad_id = 9, compared with the answer and with common mistakes.
_seqs = [_case.inputs[f"seq_{k}"] for k in range(3)]
_ids, _mask, _lengths = pad_batch(_seqs, pad_id=int(_case.inputs["pad_id"]))
for _name in ("ids", "mask"):
    utils.check_close(f"pad_batch(...) {_name}, lengths 3, 1, 4 and pad_id = 9",
                      np.asarray((_ids, _mask)[_name == "mask"], dtype=float),
                      _case.expected[_name].astype(float), atol=0, rtol=0,  # integers: exact
                      mistakes=_case.mistakes(_name))
utils.check_equal("pad_batch(...) lengths", _lengths, _case.expected["lengths"])

# By hand: [5, 6, 7] and [8] give two columns of T_max = 3 rows; 0 pads the short one.
_ids, _mask, _lengths = pad_batch([np.array([5, 6, 7]), np.array([8])])
utils.check_shape("pad_batch(...) ids for lengths 3 and 1 (time-major: T_max rows, N columns)",
                  _ids, (3, 2), hint="time-major: ids[t, n] is token t of sequence n")
utils.check_equal("pad_batch(...) ids by hand", _ids, np.array([[5, 8], [6, 0], [7, 0]]))
utils.check_equal("pad_batch(...) mask by hand", _mask,
                  np.array([[True, True], [True, False], [True, False]]))
utils.check_equal("pad_batch(...) lengths by hand", _lengths, np.array([3, 1]))
utils.check_equal("dtype of ids", _ids.dtype, np.dtype(np.int64))
utils.check_equal("dtype of mask", _mask.dtype, np.dtype(bool), hint="return a bool mask")
utils.check_equal("dtype of lengths", _lengths.dtype, np.dtype(np.int64))
### BEGIN HIDDEN TESTS
from autograder.references import applications as _ref

_rng = utils.seed_all(None)
_cases = [[list(_rng.integers(0, 50, size=_rng.integers(1, 9))) for _ in range(_rng.integers(2, 7))],
          [_rng.integers(0, 5, size=1)],                                 # N = 1, T = 1
          [_rng.integers(1, 5, size=4) for _ in range(3)],               # all of one length
          [_rng.integers(1, 5, size=k) for k in (1, 6, 2, 6)]]           # two longest
for _seqs in _cases:
    _pad = int(_rng.integers(-3, 100))
    _want = _ref.pad_batch(_seqs, _pad)
    _mist = _ref.pad_batch_mistakes(_seqs, _pad)
    # fresh inputs, not copies: the call must leave every sequence (and the list) as it was
    _got = utils.call_unchanged(f"pad_batch(..., pad_id={_pad}) of lengths {[len(s) for s in _seqs]}",
                                pad_batch, _seqs, pad_id=_pad)
    utils.check_type("pad_batch(...) returns", _got, tuple,
                     hint="return ids, mask, lengths: a tuple of three arrays")
    for _k, _name in enumerate(("ids", "mask", "lengths")):
        utils.check_type(f"pad_batch(...) {_name}", _got[_k], np.ndarray, dtype=_want[_k].dtype,
                         hint="ids and lengths are int64 arrays, mask a bool array")
        utils.check_close(f"pad_batch(...) {_name}, lengths {[len(s) for s in _seqs]}, pad_id {_pad}",
                          np.asarray(_got[_k], dtype=float), _want[_k].astype(float),
                          atol=0, rtol=0, mistakes=_mist.get(_name))  # integers: exact
# real tokens equal to pad_id, fixed: the mask follows from the lengths, not from the ids
for _seqs, _pad in [([[4, 0, 7], [2], [0, 0]], 0), ([np.array([7, 1]), np.array([7, 7, 7])], 7)]:
    _want = _ref.pad_batch(_seqs, _pad)
    _ids, _mask, _lengths = pad_batch(_seqs, pad_id=_pad)
    _label = f"pad_batch({[list(map(int, s)) for s in _seqs]}, pad_id={_pad})"
    utils.check_equal(f"{_label} ids", np.asarray(_ids), _want[0])
    utils.check_close(f"{_label} mask, where real tokens equal pad_id", np.asarray(_mask, dtype=float),
                      _want[1].astype(float), atol=0, rtol=0,  # booleans: exact
                      mistakes={"the mask was read off the ids (ids != pad_id), but a real token equal to "
                                "pad_id is still a real token": (_want[0] != _pad).astype(float)},
                      hint="the mask says t < len(sequences[n]): build it from the lengths, not from the ids")
# sequences of other integer dtypes: ids and lengths are int64 all the same
for _dtype in (np.int32, np.uint8, np.int16):
    _label = f"pad_batch of {np.dtype(_dtype)} sequences [3, 1], [2, 5, 4] with pad_id=6"
    _got = utils.call_unchanged(_label, pad_batch,
                                [np.array([3, 1], dtype=_dtype), np.array([2, 5, 4], dtype=_dtype)], pad_id=6)
    for _k, (_name, _dt) in enumerate((("ids", np.int64), ("mask", bool), ("lengths", np.int64))):
        utils.check_type(f"{_label}: {_name}", _got[_k], np.ndarray, dtype=_dt,
                         hint="ids and lengths are int64 whatever the integer dtype of the sequences: "
                              "give the dtype, np.full(..., dtype=np.int64)")
    utils.check_equal(f"{_label}: ids", _got[0], np.array([[3, 2], [1, 5], [6, 4]]))
utils.check_no_library("pad_batch", pad_batch, ["torch", "pad_sequence", "autograder"])
_ = check_no_library_calls("pad_batch", pad_batch, _cases[0], 0)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 — `masked_cross_entropy` (3 points)
#
# A tagger or a generator gives logits $y_{t,n} \in \mathbb R^V$ at every position, and the target
# there is a class $c_{t,n}$. The cross-entropy (交叉熵) of one position is
#
# $$\ell_{t,n} = -\log \operatorname{softmax}(y_{t,n})[c_{t,n}]
# = \log \sum_{v} e^{y_{t,n,v}} - y_{t,n,c_{t,n}},$$
#
# and the masked loss is the **mean over the real tokens**, every token weighing the same:
#
# $$L = \frac{\sum_{t,n} m_{t,n}\,\ell_{t,n}}{\sum_{t,n} m_{t,n}}.$$
#
# This is what `torch.nn.functional.cross_entropy(logits[mask], targets[mask])` computes, and what a
# batch of unpadded sentences laid end to end gives. Two other "means" are wrong here: dividing by
# all $T_\text{max} N$ positions (padding would shrink the loss of short batches), and averaging
# per-sentence means (a word of a short sentence would weigh more than a word of a long one).
#
# **Numerical stability.** With logits in the thousands, $e^{y}$ overflows. Subtract the row's
# largest logit first: $\log\sum_v e^{y_v} = \max_v y_v + \log \sum_v e^{y_v - \max y}$ (the
# log-sum-exp trick, as for the stable softmax of notebook 02). Your function must return the
# right, finite value **without any warning** for logits whose spread is in the thousands.

# %% nbgrader={"grade": false, "grade_id": "masked_cross_entropy", "locked": false, "schema_version": 3, "solution": true}
def masked_cross_entropy(logits, targets, mask):
    """Mean cross-entropy over the real tokens of a padded batch, computed stably.

    Inputs:
    - logits: (T, N, V) scores of the V classes at every position
    - targets: (T, N) int, the class at every position (any valid class at padded positions)
    - mask: (T, N) bool, True at the real tokens (at least one)

    Returns:
    - loss: a float (a Python float or a NumPy float64 scalar), the sum of
      -log softmax(logits[t, n])[targets[t, n]] over the positions where mask is True, divided
      by the number of those positions. Padded positions change nothing.
    """
    ### BEGIN SOLUTION
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=2, keepdims=True)                  # largest logit of each row becomes 0
    log_probs = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[:, :, None], axis=2)[:, :, 0]   # (T, N)
    return float(-picked[mask].sum() / mask.sum())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_masked_cross_entropy", "locked": true, "points": 3, "schema_version": 3, "solution": false}
_case = fixtures.load("08_applications")["masked_cross_entropy"]

# A fixed padded batch (lengths 4, 2, 3): against the answer and the common mistakes, and against
# torch.nn.functional.cross_entropy on the real tokens only, laid end to end (no padding at all).
_args = (_case.inputs["logits"], _case.inputs["targets"], _case.inputs["mask"])
_got = masked_cross_entropy(*_args)
utils.check_close("masked_cross_entropy on a padded batch", _got, _case.expected["loss"],
                  atol=1e-12, rtol=1e-10, mistakes=_case.mistakes("loss"))  # float64 rounding only
_real = torch.nn.functional.cross_entropy(torch.as_tensor(_args[0][_args[2]]),
                                          torch.as_tensor(_args[1][_args[2]]))
utils.check_close("masked_cross_entropy against torch on the unpadded tokens", _got, _real.item(),
                  atol=1e-12, rtol=1e-10)  # both float64: rounding only

# By hand: equal logits give every class 1/V, so the loss is log V whatever the targets.
_got = masked_cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=np.int64), np.ones((2, 3), bool))
utils.check_equal("masked_cross_entropy returns one number (ndim 0)", np.ndim(_got), 0)
utils.check_close("masked_cross_entropy of equal logits over V = 4 classes", _got, np.log(4.0),
                  atol=1e-12, rtol=1e-12)  # float64 rounding only
# By hand: one real token, logits (0, log 3) and target 1: p = 3/4, loss = log(4/3); the padded
# position (target 0, p = 1/4) must change nothing.
_got = masked_cross_entropy(np.array([[[0.0, np.log(3.0)]], [[0.0, np.log(3.0)]]]),
                            np.array([[1], [0]]), np.array([[True], [False]]))
utils.check_close("masked_cross_entropy with one real token and one padded", _got, np.log(4 / 3),
                  atol=1e-12, rtol=1e-12)  # float64 rounding only
### BEGIN HIDDEN TESTS
import warnings as _warnings
from autograder.references import applications as _ref

_rng = utils.seed_all(None)
for _T, _N, _V in [(1, 1, 2), (5, 1, 3), (1, 4, 7), (6, 5, 5), (3, 3, 3)]:
    _lengths = _rng.integers(1, _T + 1, size=_N)
    _lengths[0] = _T
    _mask = np.arange(_T)[:, None] < _lengths[None, :]
    _logits = 3.0 * _rng.standard_normal((_T, _N, _V))
    _targets = np.where(_mask, _rng.integers(0, _V, size=(_T, _N)), 0)
    _label = f"masked_cross_entropy, T={_T}, N={_N}, V={_V}, lengths {list(_lengths)}"
    # fresh inputs, not copies: the call must leave logits, targets and mask as they were
    _got = utils.call_unchanged(_label, masked_cross_entropy, _logits, _targets, _mask)
    utils.check_type(_label, _got, float,
                     hint="return one number: float(loss) (NumPy's float64 scalar is a float too)")
    utils.check_close(_label, _got,
                      _ref.masked_cross_entropy(_logits, _targets, _mask), atol=1e-12, rtol=1e-10,
                      mistakes=_ref.masked_cross_entropy_mistakes(_logits, _targets, _mask))
    # float32 logits are accepted; the answer is then good to float32 precision
    utils.check_close("masked_cross_entropy with float32 logits",
                      masked_cross_entropy(_logits.astype(np.float32), _targets, _mask),
                      _ref.masked_cross_entropy(_logits, _targets, _mask),
                      atol=1e-5, rtol=1e-5)  # float32 keeps about 7 significant digits
# extreme logits: a spread in the thousands must neither overflow nor warn
_logits = 3000.0 * _rng.standard_normal((4, 3, 6))
_targets = _rng.integers(0, 6, size=(4, 3))
_mask = np.ones((4, 3), bool)
_mask[2:, 1] = False
with _warnings.catch_warnings(record=True) as _caught:
    _warnings.simplefilter("always")
    _got = masked_cross_entropy(_logits, _targets, _mask)
if _caught:
    raise utils.CheckFailure(
        "masked_cross_entropy with logits in the thousands: NumPy warned "
        f"({_caught[0].message}). Subtract each row's largest logit before np.exp (log-sum-exp).")
utils.check_close("masked_cross_entropy with logits in the thousands", _got,
                  _ref.masked_cross_entropy(_logits, _targets, _mask), atol=1e-9, rtol=1e-12,
                  mistakes=_ref.masked_cross_entropy_mistakes(_logits, _targets, _mask))  # exact maths
# fixed rows that span thousands (one near +-1000, one from -3000 to 3000, one all near -2000) and
# targets away from each row's maximum: only each row's own maximum keeps exp and log finite
_logits = np.array([[[-1000.0, 1000.0, -800.0, 800.0], [3000.0, -3000.0, 0.0, 2990.0]],
                    [[-2000.0, -2500.0, -2100.0, -4000.0], [0.5, -0.5, 1000.0, -1000.0]]])
_targets = np.array([[0, 3], [1, 3]])
_mask = np.array([[True, True], [True, False]])
with _warnings.catch_warnings(record=True) as _caught:
    _warnings.simplefilter("always")
    _got = masked_cross_entropy(_logits, _targets, _mask)
if _caught:
    raise utils.CheckFailure(
        "masked_cross_entropy with fixed rows that span thousands: NumPy warned "
        f"({_caught[0].message}). Subtract each row's own largest logit before np.exp (log-sum-exp).")
utils.check_close("masked_cross_entropy with fixed rows that span thousands", _got,
                  _ref.masked_cross_entropy(_logits, _targets, _mask), atol=1e-9, rtol=1e-12,  # exact maths
                  mistakes=_ref.masked_cross_entropy_mistakes(_logits, _targets, _mask),
                  hint="subtract each row's own maximum (axis=2, keepdims=True): the maximum of the "
                       "whole batch, a row's mean or the target's logit leave exponents in the thousands")
# targets of other integer dtypes, fixed (lengths 2 and 1)
_logits = np.array([[[0.0, np.log(3.0)], [np.log(2.0), 0.0]], [[1.0, 1.0], [5.0, -5.0]]])
_mask = np.array([[True, True], [True, False]])
for _dtype in (np.int32, np.uint8, np.int16):
    _targets = np.array([[1, 0], [0, 1]], dtype=_dtype)
    _label = f"masked_cross_entropy with {np.dtype(_dtype)} targets"
    _got = utils.call_unchanged(_label, masked_cross_entropy, _logits, _targets, _mask)
    utils.check_type(_label, _got, float)
    utils.check_close(_label, _got, (np.log(4 / 3) + np.log(1.5) + np.log(2.0)) / 3,
                      atol=1e-12, rtol=1e-12)  # float64 rounding only
utils.check_no_library("masked_cross_entropy", masked_cross_entropy,
                       ["torch", "scipy", "autograder"])
_ = check_no_library_calls("masked_cross_entropy", masked_cross_entropy, _logits, _targets, _mask)
### END HIDDEN TESTS

# %% [markdown]
# **Why the mask matters, in numbers.** A fixed toy "model" predicts each next id of two short
# sentences (lengths 2 and 3) padded into one batch. The masked loss equals the mean over their real
# tokens computed sentence by sentence; the unmasked mean counts the padding and differs. (Padded
# beside a long sentence, the masked loss changes only because the long sentence's own tokens now
# count.) And PyTorch's `pack_padded_sequence` does for the recurrence what the mask does for the
# loss: the final state of a short sentence in a padded batch equals its final state alone, while
# running the GRU over the padding changes it.

# %%
demo_rng = utils.seed_all(2)
V_demo = 5
short = [demo_rng.integers(1, V_demo, size=k) for k in (2, 3)]
long_ = demo_rng.integers(1, V_demo, size=9)
logit_table = demo_rng.standard_normal((V_demo, V_demo))   # a fixed "model": logits = table[previous id]

def demo_loss(sequences, masked=True):
    ids, mask, _ = pad_batch(sequences)
    logits, targets = logit_table[ids[:-1]], ids[1:]     # predict the next id from the current one
    return masked_cross_entropy(logits, targets, mask[1:] if masked else np.ones_like(mask[1:]))

print(f"two short sentences:                masked {demo_loss(short):.4f}")
print(f"the same, padded beside a long one: masked {demo_loss(short + [long_]) :.4f} (the long one adds its own tokens)")
alone = np.mean([demo_loss([s]) * (len(s) - 1) for s in short]) * 2 / sum(len(s) - 1 for s in short)
print(f"the short ones' token mean, by hand: {alone:.4f} (= the first line)")
print(f"unmasked, padding counted as tokens: {demo_loss(short, masked=False):.4f} (not the same: padding is counted)")
assert np.isclose(alone, demo_loss(short))

# The recurrence: a GRU's final state with and without packing
gru = torch.nn.GRU(3, 4).double()
embed = torch.nn.Embedding(V_demo, 3).double()
ids, mask, lengths = pad_batch(short + [long_])
x = embed(torch.as_tensor(ids))
with torch.no_grad():
    _, h_padded = gru(x)                                               # runs over the padding
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.as_tensor(lengths), enforce_sorted=False)
    _, h_packed = gru(packed)                                          # stops at each length
    _, h_alone = gru(embed(torch.as_tensor(short[0][:, None])))       # the first sentence alone
print("first sentence, final state alone  :", h_alone[0, 0].numpy().round(4))
print("                in the batch, packed:", h_packed[0, 0].numpy().round(4))
print("                in the batch, padded:", h_padded[0, 0].numpy().round(4))
assert torch.allclose(h_alone[0, 0], h_packed[0, 0], atol=1e-12)   # float64: the same operations


# %% [markdown]
# ## 3. Embeddings (词嵌入) and their gradient
#
# Notebook 01 fed one-hot vectors $e_v \in \{0,1\}^V$ to a linear layer, and showed that multiplying
# by a one-hot vector only **selects a column**. An embedding layer does that selection directly: it
# holds a matrix $W \in \mathbb R^{V \times E}$ (one row of $E$ learned numbers per word, PyTorch's
# `torch.nn.Embedding(V, E).weight`), and the input at position $(t, n)$ is the row
# $x_{t,n} = W[\text{ids}_{t,n}] = W^\top e_{\text{ids}_{t,n}}$. This is cheaper than a product and
# the rows are trained like any weight.
#
# **Backward.** With $\delta_{t,n} = \partial L / \partial x_{t,n} \in \mathbb R^E$ coming back from
# the RNN, the chain rule through $x_{t,n} = W^\top e_{\text{ids}_{t,n}}$ gives
#
# $$\frac{\partial L}{\partial W} = \sum_{t,n} e_{\text{ids}_{t,n}}\,\delta_{t,n}^\top,
# \qquad\text{that is}\qquad
# \frac{\partial L}{\partial W[v]} = \sum_{(t,n):\ \text{ids}_{t,n} = v} \delta_{t,n}.$$
#
# Row $v$ collects the gradients of **every** position where word $v$ occurs, and rows of words not
# in the batch get zero. A word that occurs twice must receive both contributions: in NumPy,
# `dW[ids] += d_out` does **not** do that (a fancy-indexed `+=` writes each repeated row once, so only
# one contribution survives), while `np.add.at(dW, ids, d_out)` accumulates.
#
# `torch.nn.Embedding(..., padding_idx=p)` keeps the row of the padding id fixed: its gradient is
# zero. Your function does the same when `padding_idx` is given.
#
# ### Exercise 3 — `embedding_backward` (2 points)

# %% nbgrader={"grade": false, "grade_id": "embedding_backward", "locked": false, "schema_version": 3, "solution": true}
def embedding_backward(d_out, ids, V, padding_idx=None):
    """Gradient of the loss with respect to the embedding matrix W (V, E) of out = W[ids].

    Inputs:
    - d_out: upstream gradient dL/d out, shape ids.shape + (E,)  (e.g. (T, N, E))
    - ids: integer array of any shape (e.g. (T, N)), values in 0..V-1
    - V: number of rows of W
    - padding_idx: None, or an id whose row gets zero gradient (as torch.nn.Embedding(padding_idx=))

    Returns:
    - dW: (V, E) float64; dW[v] is the sum of d_out over every position whose id is v
      (repeated ids accumulate), and dW[padding_idx] = 0 when padding_idx is given.
    """
    ### BEGIN SOLUTION
    E = d_out.shape[-1]
    dW = np.zeros((V, E))
    np.add.at(dW, ids.reshape(-1), d_out.reshape(-1, E))   # accumulates repeated ids
    if padding_idx is not None:
        dW[padding_idx] = 0.0                              # the padding row is not trained
    return dW
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_embedding_backward", "locked": true, "points": 2, "schema_version": 3, "solution": false}
_cases = fixtures.load("08_applications")

# A random batch with repeated ids, against torch.autograd of torch.nn.functional.embedding and
# against the common mistakes.
for _name in ("embedding_backward", "embedding_backward_padding"):
    _case = _cases[_name]
    _d, _ids, _V = _case.inputs["d_out"], _case.inputs["ids"], int(_case.inputs["V"])
    _pad = int(_case.inputs["padding_idx"]) if "padding_idx" in _case.inputs else None
    _W = torch.zeros(_V, _d.shape[-1], dtype=torch.float64, requires_grad=True)
    (torch.nn.functional.embedding(torch.as_tensor(_ids), _W, padding_idx=_pad)
     * torch.as_tensor(_d)).sum().backward()          # d(sum(out * d_out))/dW = dL/dW
    _got = embedding_backward(_d, _ids, _V, padding_idx=_pad)
    for _want in (_W.grad.numpy(), _case.expected["dW"]):
        utils.check_close(f"embedding_backward, ids {_ids.tolist()}, padding_idx={_pad}", _got, _want,
                          atol=1e-12, rtol=1e-10,  # float64: sums in another order at most
                          mistakes=_case.mistakes("dW"))

# By hand: W has V = 3 rows; ids = [[1], [1], [2]] (T=3, N=1) and d_out rows 1, 10, 100 (E = 1).
# Word 1 occurs twice: dW[1] = 1 + 10 = 11; dW[2] = 100; word 0 is absent: dW[0] = 0.
_dW = embedding_backward(np.array([[[1.0]], [[10.0]], [[100.0]]]), np.array([[1], [1], [2]]), 3)
utils.check_shape("embedding_backward with V=3, E=1", _dW, (3, 1), hint="one row per word: (V, E)")
utils.check_close("embedding_backward by hand (word 1 occurs twice)", _dW, [[0.0], [11.0], [100.0]],
                  atol=1e-12, rtol=1e-12,  # float64 sums of small integers are exact
                  hint="both positions of word 1 add to its row: use np.add.at")
utils.check_close("embedding_backward by hand, padding_idx=2",
                  embedding_backward(np.array([[[1.0]], [[10.0]], [[100.0]]]), np.array([[1], [1], [2]]),
                                     3, padding_idx=2), [[0.0], [11.0], [0.0]], atol=1e-12, rtol=1e-12)
### BEGIN HIDDEN TESTS
from autograder.references import applications as _ref

_rng = utils.seed_all(None)
for _shape, _V, _E, _pad in [((1, 1), 1, 1, None), ((7,), 3, 2, None), ((4, 3), 5, 6, 0),
                             ((5, 2), 4, 3, 3), ((2, 3, 4), 6, 2, None), ((6, 6), 2, 4, 1)]:
    _ids = _rng.integers(0, _V, size=_shape)
    _ids.reshape(-1)[0] = _ids.reshape(-1)[-1]                 # at least one repeated id
    _d = _rng.standard_normal(_shape + (_E,))
    _W = torch.zeros(_V, _E, dtype=torch.float64, requires_grad=True)
    (torch.nn.functional.embedding(torch.as_tensor(_ids), _W, padding_idx=_pad)
     * torch.as_tensor(_d)).sum().backward()
    _label = f"embedding_backward, ids of shape {_shape}, V={_V}, E={_E}, padding_idx={_pad}"
    # fresh inputs, not copies: the call must leave d_out and ids as they were
    _got = utils.call_unchanged(_label, embedding_backward, _d, _ids, _V, padding_idx=_pad)
    utils.check_type(_label, _got, np.ndarray, dtype=np.float64,
                     hint="dW is a float64 array (V, E), as np.zeros((V, E)) gives")
    utils.check_close(_label, _got, _W.grad.numpy(), atol=1e-12, rtol=1e-10,   # float64 rounding only
                      mistakes=_ref.embedding_backward_mistakes(_d, _ids, _V, _pad))
    # float32 gradients are accepted
    utils.check_close("embedding_backward with float32 d_out",
                      embedding_backward(_d.astype(np.float32), _ids, _V, padding_idx=_pad),
                      _W.grad.numpy(), atol=1e-5, rtol=1e-5)  # float32: ~7 significant digits
utils.check_no_library("embedding_backward", embedding_backward, ["torch", "autograder"])
_ = check_no_library_calls("embedding_backward", embedding_backward, _d, _ids, _V)
# padding_idx = 0, an id like any other (and a false value in Python), with ids of several integer
# dtypes, fixed: row 0 gets zero, row 1 gets d_out[2, 0], row 2 gets d_out[0, 1] + d_out[1, 0]
_ids = np.array([[0, 2], [2, 0], [1, 0]])
_d = np.arange(1.0, 13.0).reshape(3, 2, 2)
for _dtype in (np.int64, np.int32, np.uint8, np.int16):
    _label = f"embedding_backward with {np.dtype(_dtype)} ids {_ids.tolist()}, V=3, padding_idx=0"
    _got = utils.call_unchanged(_label, embedding_backward, _d, _ids.astype(_dtype), 3, padding_idx=0)
    utils.check_type(_label, _got, np.ndarray, dtype=np.float64)
    utils.check_close(_label, _got, [[0.0, 0.0], [9.0, 10.0], [3.0 + 5.0, 4.0 + 6.0]],
                      atol=1e-12, rtol=1e-12,  # sums of small integers: exact
                      mistakes=_ref.embedding_backward_mistakes(_d, _ids, 3, 0),
                      hint="padding_idx=0 is an id too: test `padding_idx is not None`, not "
                           "`if padding_idx:` (0 is false)")
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Many-to-one: does a bracket string balance?
#
# **The task.** A string of $k$ opening and $k$ closing brackets is **balanced** when, read from
# left to right, no prefix closes more brackets than it opened: `(()())` is balanced, `())(()` is
# not. Both classes have the same numbers of each bracket, so counting them does not help: the model
# must keep a running depth in its state and remember whether it ever went below zero — one label
# for the whole sequence, read off the last state $h_{T_n}$ (many-to-one). Chance is 50 %.
#
# **The model.** An embedding of the 3 ids (`<pad>`, `(`, `)`), a GRU (notebook 06) run on the packed
# batch so that $h_n$ is each string's state at its own end, and a linear layer on $h_n$. The training
# loss is the mean cross-entropy over the batch; each step draws a fresh batch of strings with 1 to 10
# pairs. The test strings are drawn afterwards with another seed, with 1 to 16 pairs, and are scored
# by length: up to 10 pairs they are new strings of the trained lengths; beyond 10 pairs they are
# also longer than anything seen in training.
#
# ### Exercise 4 — the `BracketClassifier` model (2 points)
#
# Complete `__init__` and `forward`:
#
# * `self.embed`: `torch.nn.Embedding(3, embed_dim, padding_idx=0)` (ids 0 `<pad>`, 1 `(`, 2 `)`);
# * `self.gru`: `torch.nn.GRU(embed_dim, hidden)`, time-major;
# * `self.out`: `torch.nn.Linear(hidden, 2)` (scores of "unbalanced" and "balanced");
# * `forward(ids, lengths)`: embed the padded ids (T, N), run the GRU on the **packed** batch
#   (`torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)`; lengths in any
#   order, as a CPU tensor, a NumPy array as `pad_batch` gives, or a list), and return the
#   **logits** (N, 2) of `self.out` applied to each string's state after its **own** last bracket —
#   not after the padding. No softmax: the loss applies it.
#
# `torch.nn.GRU` returns its final state with a leading layer axis, `(1, N, H)`. Any way that gives
# each string's own last state is right (packing is the usual one). The test compares each string of
# a padded batch, next to longer strings, with the same string run alone.

# %% nbgrader={"grade": false, "grade_id": "BracketClassifier", "locked": false, "schema_version": 3, "solution": true}
class BracketClassifier(torch.nn.Module):
    """Embedding -> GRU on the packed batch -> linear layer on each sequence's last state."""

    def __init__(self, hidden=32, embed_dim=8):
        """Modules: self.embed (3 ids -> embed_dim, padding_idx=0), self.gru (embed_dim -> hidden,
        time-major), self.out (hidden -> 2)."""
        super().__init__()
        ### BEGIN SOLUTION
        self.embed = torch.nn.Embedding(3, embed_dim, padding_idx=0)
        self.gru = torch.nn.GRU(embed_dim, hidden)
        self.out = torch.nn.Linear(hidden, 2)
        ### END SOLUTION

    def forward(self, ids, lengths):
        """ids: (T, N) int64 tensor, padded; lengths: (N,) the real lengths (any order).
        Returns logits (N, 2), from each sequence's state after its own last token."""
        ### BEGIN SOLUTION
        lengths = torch.as_tensor(lengths).cpu()
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, enforce_sorted=False)
        _, h_last = self.gru(packed)           # (1, N, H): the state at each sequence's own end
        return self.out(h_last[0])             # (N, H) -> (N, 2)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_BracketClassifier", "locked": true, "points": 2, "schema_version": 3, "solution": false}
def _bracket_checks(model, sequences, label, tol):
    """Each string of a padded batch must give the logits of the same string run alone."""
    utils.check_equal(f"{label}: model.gru is a torch.nn.GRU", isinstance(model.gru, torch.nn.GRU), True)
    utils.check_equal(f"{label}: model.gru is time-major (batch_first=False)", model.gru.batch_first, False)
    _lengths = [len(s) for s in sequences]
    _T = max(_lengths)
    _ids = torch.zeros(_T, len(sequences), dtype=torch.long)
    for _n, _s in enumerate(sequences):
        _ids[:len(_s), _n] = torch.as_tensor(_s)
    with torch.no_grad():
        _got = model(_ids, torch.as_tensor(_lengths))
        utils.check_shape(f"{label}: logits for ids of shape {tuple(_ids.shape)}", _got, (len(sequences), 2),
                          hint="one row of two scores per string: (N, 2), without the GRU's layer axis")
        _alone = torch.stack([model.out(model.gru(model.embed(torch.as_tensor(_s)[:, None]))[1][0, 0])
                              for _s in sequences])
        _after_padding = model.out(model.gru(model.embed(_ids))[1][0])
        _last_row = model.out(torch.nn.utils.rnn.pad_packed_sequence(model.gru(
            torch.nn.utils.rnn.pack_padded_sequence(model.embed(_ids), torch.as_tensor(_lengths),
                                                    enforce_sorted=False))[0], total_length=_T)[0][-1])
        utils.check_close(
            f"{label}: logits of strings of lengths {_lengths} in one padded batch, against each string alone",
            _got.numpy(), _alone.numpy(), atol=tol, rtol=tol,
            mistakes={"the GRU's state after the padding, not after each string's own last token (pack the "
                      "batch with pack_padded_sequence)": _after_padding.numpy(),
                      "the last row of the padded outputs (zero for the shorter strings), not each "
                      "string's own last state": _last_row.numpy(),
                      "probabilities, not logits (no softmax in forward)": _alone.softmax(-1).numpy()})


utils.seed_all(0)
_model = BracketClassifier(hidden=5, embed_dim=3).double()
utils.check_equal("BracketClassifier: model.embed is a torch.nn.Embedding of the 3 ids",
                  (isinstance(_model.embed, torch.nn.Embedding), _model.embed.num_embeddings), (True, 3))
utils.check_equal("BracketClassifier: model.out maps hidden -> 2",
                  (_model.out.in_features, _model.out.out_features), (5, 2))
# lengths in no particular order: 4, 2, 6, 4; each short string sits beside longer ones
_bracket_checks(_model, [[1, 2, 1, 2], [1, 2], [1, 1, 2, 1, 2, 2], [2, 1, 1, 2]], "BracketClassifier",
                tol=1e-10)  # float64: packing changes only the order of some sums
### BEGIN HIDDEN TESTS
_rng = utils.seed_all(None)
for _H, _E, _lens in [(1, 1, [1]), (4, 2, [6, 6, 6]), (3, 5, [2, 14, 1, 8, 3]), (6, 6, [20, 2])]:
    _model = BracketClassifier(hidden=_H, embed_dim=_E).double()
    _seqs = [_rng.integers(1, 3, size=k).tolist() for k in _lens]
    _bracket_checks(_model, _seqs, f"BracketClassifier(hidden={_H}, embed_dim={_E})", tol=1e-10)
# float32, as trained, with the default sizes
_model = BracketClassifier()
_bracket_checks(_model, [_rng.integers(1, 3, size=k).tolist() for k in (10, 2, 17, 5)],
                "BracketClassifier in float32", tol=1e-5)  # float32: ~7 significant digits
# fixed: a batch padded beyond its longest string (T = 7, lengths 3, 1, 5), the lengths as a NumPy
# array (as pad_batch gives), a tensor and a list; forward leaves ids and lengths as they were (the
# tensors share the arrays' memory, so a change in place shows in the arrays)
_model = BracketClassifier(hidden=3, embed_dim=2).double()
_seqs = [[1, 2, 1], [2], [1, 1, 2, 2, 1]]
_ids = np.zeros((7, 3), dtype=np.int64)
for _n, _s in enumerate(_seqs):
    _ids[:len(_s), _n] = _s
with torch.no_grad():
    _alone = torch.stack([_model.out(_model.gru(_model.embed(torch.as_tensor(_s)[:, None]))[1][0, 0])
                          for _s in _seqs]).numpy()
    for _kind, _as in [("a NumPy array", np.asarray), ("a tensor", torch.from_numpy),
                        ("a list", np.ndarray.tolist)]:
        _label = f"BracketClassifier: forward(ids of shape (7, 3), lengths [3, 1, 5] as {_kind})"
        _got = utils.call_unchanged(_label, lambda ids, lengths: _model(torch.from_numpy(ids), _as(lengths)),
                                    _ids, np.array([3, 1, 5]))
        utils.check_type(_label, _got, torch.Tensor, hint="return the logits as a tensor (N, 2)")
        utils.check_shape(_label, _got, (3, 2))
        utils.check_close(f"{_label}, against each string alone", _got.numpy(), _alone,
                          atol=1e-10, rtol=1e-10)  # float64: packing changes only the order of some sums
### END HIDDEN TESTS

# %% [markdown]
# **Training.** Each step draws 64 fresh strings with 1 to 10 pairs, pads them with your `pad_batch`,
# and takes one step of Adam (learning rate 0.01, clipping at norm 1) on the mean cross-entropy; 150
# steps per seed in full mode, 80 when the notebook is graded.

# %%
def bracket_batch(sequences):
    ids, _, lengths = pad_batch(sequences)
    return torch.as_tensor(ids, device=DEVICE), lengths


def train_brackets(seed, steps, bar=None):
    task_rng = utils.seed_all(seed)
    model = BracketClassifier().to(DEVICE)

    def make_batch():
        sequences, labels = applications.bracket_task(64, task_rng, max_pairs=TRAIN_PAIRS)
        return bracket_batch(sequences), torch.as_tensor(labels, device=DEVICE)

    def loss_fn(model, batch):
        (ids, lengths), labels = batch
        return torch.nn.functional.cross_entropy(model(ids, lengths), labels)

    losses = applications.train(model, make_batch, loss_fn, steps, lr=1e-2, bar=bar)
    return model, losses


TRAIN_PAIRS, TEST_PAIRS = 10, 16


def bracket_accuracy_by_pairs(model, seed, n):
    '''Held-out accuracy for k = 1 .. TEST_PAIRS pairs: longer strings than any trained on, too.'''
    test_sequences, test_labels = applications.bracket_task(n, utils.seed_all(seed), max_pairs=TEST_PAIRS)
    with torch.no_grad():
        predicted = model(*bracket_batch(test_sequences)).argmax(1).cpu().numpy()
    pairs = np.array([len(s) // 2 for s in test_sequences])
    return np.array([(predicted == test_labels)[pairs == k].mean() for k in range(1, TEST_PAIRS + 1)])


def bracket_accuracy(model, sequences, labels):
    '''Held-out accuracy of a list of bracket strings.'''
    with torch.no_grad():
        predicted = model(*bracket_batch(sequences)).argmax(1).cpu().numpy()
    return float((predicted == labels).mean())


bracket_steps = utils.choose(full=150, fast=80)
bracket_seeds = utils.choose(full=[0, 1, 2, 3, 4], fast=[0])
with progress(total=len(bracket_seeds) * bracket_steps, desc="brackets") as bar:
    bracket_runs = [train_brackets(seed, bracket_steps, bar) for seed in bracket_seeds]
bracket_acc = np.array([bracket_accuracy_by_pairs(m, 1000 + s, utils.choose(full=4000, fast=800))
                        for (m, _), s in zip(bracket_runs, bracket_seeds)])      # (seeds, TEST_PAIRS)
bracket_model = bracket_runs[0][0]                       # the model the tests evaluate

fig, axes = plotting.subplots(2, width=11)
for (_, losses), color in zip(bracket_runs, [plotting.COLORS["gru"]] * len(bracket_runs)):
    axes[0].plot(applications.smooth(losses), color=color, alpha=0.6)
axes[0].set(xlabel="training step", ylabel="cross-entropy (running mean of 20)",
            title=f"training loss, {len(bracket_seeds)} seeds")
pairs = np.arange(1, TEST_PAIRS + 1)
axes[1].axvspan(TRAIN_PAIRS + 0.5, TEST_PAIRS + 0.5, color=plotting.COLORS["reference"], alpha=0.12,
                label="longer than in training")
for row in bracket_acc:
    axes[1].plot(pairs, row, "o", color=plotting.COLORS["gru"], alpha=0.3, ms=4)
axes[1].plot(pairs, bracket_acc.mean(0), "-", color=plotting.COLORS["gru"], label="GRU, mean of seeds")
axes[1].axhline(0.5, color=plotting.COLORS["reference"], ls="--", label="chance")
axes[1].set(xlabel="pairs of brackets k (length 2k)", ylabel="held-out accuracy", ylim=(0.4, 1.02),
            title="held-out strings, by length")
axes[1].legend()
plotting.finish(fig, "Many-to-one: is the bracket string balanced?")
print(f"held-out accuracy, mean over seeds, by pairs 1..{TEST_PAIRS}:", np.round(bracket_acc.mean(0), 3))
print(f"per seed, mean over 1..{TRAIN_PAIRS} pairs:", np.round(bracket_acc[:, :TRAIN_PAIRS].mean(1), 3),
      f"| over {TRAIN_PAIRS + 1}..{TEST_PAIRS} pairs:", np.round(bracket_acc[:, TRAIN_PAIRS:].mean(1), 3))

# %% [markdown]
# **What the plot shows.** In all five runs the training loss falls close to zero within about 80 of the 150 steps. On new strings of the trained lengths (1 to 10 pairs) the held-out accuracy is 99.8–100 % per seed. On strings longer than any seen in training (11 to 16 pairs, shaded) it stays high but falls with the length: 96–99 % per seed over those lengths, 95 % on average at 16 pairs. The GRU has learned a rule that carries over to somewhat longer strings, but not an exact one: its errors grow with the length.

# %% [markdown]
# ### Exercise 4b — your trained bracket classifier on held-out strings (1 point)
#
# The test evaluates `bracket_model` (seed 0 above) on new strings of the trained lengths (1 to 10
# pairs): at least **90 %** must be classified right (chance is 50 %). When the notebook is graded,
# the model is trained for 80 steps and the strings are drawn with a fresh seed. At 80 steps a
# correct `BracketClassifier` reached between 99.4 % and 100 % on 1000 held-out strings in each of
# 12 training seeds (at 40 steps, 94–99.5 %), so 90 % leaves a margin of about 9 points.

# %% nbgrader={"grade": true, "grade_id": "test_bracket_trained", "locked": true, "points": 1, "schema_version": 3, "solution": false}
utils.check_defined(globals(), ["bracket_model"],
                    "the training cell above has not run to its end. Write BracketClassifier first (until "
                    "then it raises NotImplementedError), then run the training cell again.")
_sequences, _labels = applications.bracket_task(500, utils.seed_all(7), max_pairs=TRAIN_PAIRS)
_acc = bracket_accuracy(bracket_model, _sequences, _labels)
if _acc < 0.9:
    raise utils.CheckFailure(f"bracket_model: held-out accuracy {_acc:.3f}, expected at least 0.90. "
                             "Check the BracketClassifier test above first, then the training cell.")
### BEGIN HIDDEN TESTS
_sequences, _labels = applications.bracket_task(1000, utils.seed_all(None), max_pairs=TRAIN_PAIRS)
_acc = bracket_accuracy(bracket_model, _sequences, _labels)
if _acc < 0.9:
    raise utils.CheckFailure(f"bracket_model on held-out strings drawn with a fresh seed: accuracy "
                             f"{_acc:.3f}, expected at least 0.90.")
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Many-to-many: a part-of-speech tagger (词性标注)
#
# **The task.** The notes' example: give each word one of 9 tags (名词 NOUN, 动词 VERB, …). Notebook
# 01 showed that a per-word model must give *saw* one tag, although it is a verb in *we saw a star*
# and a noun in *the saw is sharp*. `utils.tagging` generates as many tagged sentences as wanted from
# a small grammar in which eight words (*saw, watch, light, book, …*) are nouns or verbs by context;
# for some of them only the **next** word decides (*the garden light is bright* / *the children light
# the fire*). A bidirectional RNN (notebook 07) reads both sides, so it can tag all of them.
#
# **The model.** Ids → `torch.nn.Embedding(V, E, padding_idx=0)` → a **bidirectional** LSTM →
# a linear layer on the concatenated states $[\overrightarrow{h}_t; \overleftarrow{h}_t]$ at every
# step → 9 logits per word. The loss is the masked cross-entropy of exercise 2. With padding, the
# backward LSTM would start from the padding and carry it into every word of a short sentence:
# **packing** is not optional here.
#
# ### Exercise 5 — the `Tagger` model (3 points)
#
# Complete `__init__` and `forward`:
#
# * `self.embed`: `torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)`;
# * `self.lstm`: a bidirectional `torch.nn.LSTM(embed_dim, hidden, bidirectional=True)`,
#   time-major;
# * `self.out`: `torch.nn.Linear(2 * hidden, n_tags)`;
# * `forward(ids, lengths)`: embed the ids (T, N), pack them with
#   `torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)` (the lengths may come
#   in any order, as a CPU tensor, a NumPy array or a list), run the LSTM, unpack with
#   `torch.nn.utils.rnn.pad_packed_sequence(..., total_length=ids.shape[0])`, and return the
#   **logits** (T, N, n_tags) of the output layer at every position (no softmax: the loss applies it).
#   T is `ids.shape[0]` also when the batch is padded beyond its longest sentence.
#
# The test compares each sentence of a padded batch with the same sentence run alone.

# %% nbgrader={"grade": false, "grade_id": "Tagger", "locked": false, "schema_version": 3, "solution": true}
class Tagger(torch.nn.Module):
    """A bidirectional LSTM tagger: ids (T, N) -> tag logits (T, N, n_tags) at every position."""

    def __init__(self, vocab_size, n_tags, embed_dim=32, hidden=32):
        """Modules: self.embed (vocab_size -> embed_dim, padding_idx=0), self.lstm (bidirectional,
        time-major, hidden units per direction), self.out (2 * hidden -> n_tags)."""
        super().__init__()
        ### BEGIN SOLUTION
        self.embed = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = torch.nn.LSTM(embed_dim, hidden, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden, n_tags)
        ### END SOLUTION

    def forward(self, ids, lengths):
        """ids: (T, N) int64 tensor, padded; lengths: (N,) the real lengths (any order).
        Returns logits (T, N, n_tags), T = ids.shape[0] even when every sentence is shorter;
        rows at padded positions may hold anything."""
        ### BEGIN SOLUTION
        lengths = torch.as_tensor(lengths).cpu()
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, enforce_sorted=False)
        states, _ = self.lstm(packed)
        states, _ = torch.nn.utils.rnn.pad_packed_sequence(states, total_length=ids.shape[0])
        return self.out(states)                # (T, N, 2H) -> (T, N, n_tags)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_Tagger", "locked": true, "points": 3, "schema_version": 3, "solution": false}
def _tagger_checks(model, sentences, label, tol):
    """Each sentence of a padded batch must give the logits of the same sentence run alone."""
    utils.check_equal(f"{label}: model.lstm is a torch.nn.LSTM", isinstance(model.lstm, torch.nn.LSTM), True)
    utils.check_equal(f"{label}: the LSTM is bidirectional (model.lstm.bidirectional)",
                      model.lstm.bidirectional, True,
                      hint="torch.nn.LSTM(embed_dim, hidden, bidirectional=True): the tag of a word "
                           "may depend on the next word; otherwise the LSTM is not bidirectional")
    utils.check_equal(f"{label}: model.lstm is time-major (batch_first=False)", model.lstm.batch_first, False)
    _lengths = [len(s) for s in sentences]
    _T = max(_lengths)
    _ids = torch.zeros(_T, len(sentences), dtype=torch.long)
    for _n, _s in enumerate(sentences):
        _ids[:len(_s), _n] = torch.as_tensor(_s)
    with torch.no_grad():
        _got = model(_ids, torch.as_tensor(_lengths))
        utils.check_shape(f"{label}: logits for ids of shape {tuple(_ids.shape)}", _got,
                          (_T, len(sentences), model.out.out_features),
                          hint="one row of tag scores per token: (T, N, n_tags), not one per sentence")
        for _n, _s in enumerate(sentences):
            _alone = model.out(model.lstm(model.embed(torch.as_tensor(_s)[:, None]))[0])[:, 0]
            _unpacked = model.out(model.lstm(model.embed(_ids))[0])[:len(_s), _n]
            utils.check_close(
                f"{label}: logits of sentence {_n} (length {len(_s)}) in a padded batch of lengths "
                f"{_lengths}, against the same sentence alone", _got[:len(_s), _n].numpy(), _alone.numpy(),
                atol=tol, rtol=tol,
                mistakes={"the outputs depend on the padding: the LSTM ran over it (pack the batch with "
                          "pack_padded_sequence)": _unpacked.numpy(),
                          "probabilities, not logits (no softmax in forward)": _alone.softmax(-1).numpy()})


_torch_rng = utils.seed_all(0)
_model = Tagger(vocab_size=12, n_tags=5, embed_dim=6, hidden=7).double()
utils.check_equal("Tagger: model.embed is a torch.nn.Embedding", isinstance(_model.embed, torch.nn.Embedding), True)
utils.check_equal("Tagger: model.embed has vocab_size rows", _model.embed.num_embeddings, 12)
utils.check_equal("Tagger: model.out maps 2*hidden -> n_tags",
                  (_model.out.in_features, _model.out.out_features), (14, 5))
# lengths in no particular order: 4, 2, 5, 1
_tagger_checks(_model, [[3, 1, 4, 1], [5, 9], [2, 6, 5, 3, 5], [8]], "Tagger",
               tol=1e-10)  # float64: packing changes only the order of some sums
### BEGIN HIDDEN TESTS
_rng = utils.seed_all(None)
for _V, _tags, _E, _H, _lens in [(3, 2, 1, 1, [1]), (20, 9, 5, 3, [6, 6, 6]), (15, 4, 8, 2, [1, 7, 3, 2, 7])]:
    _model = Tagger(vocab_size=_V, n_tags=_tags, embed_dim=_E, hidden=_H).double()
    _sentences = [_rng.integers(1, _V, size=k).tolist() for k in _lens]
    _tagger_checks(_model, _sentences, f"Tagger(V={_V}, tags={_tags}, E={_E}, H={_H})", tol=1e-10)
# float32, as trained: the same comparison at float32 precision
_model = Tagger(vocab_size=10, n_tags=9)
_tagger_checks(_model, [_rng.integers(1, 10, size=k).tolist() for k in (5, 2, 8)], "Tagger in float32",
               tol=1e-5)  # float32: ~7 significant digits
# fixed: a batch padded beyond its longest sentence (T = 6, lengths 3 and 2) still gives T rows of
# logits; the lengths as a NumPy array, a tensor and a list; forward leaves ids and lengths as they were
_model = Tagger(vocab_size=8, n_tags=4, embed_dim=3, hidden=2).double()
_sentences = [[5, 1, 7], [2, 6]]
_ids = np.zeros((6, 2), dtype=np.int64)
for _n, _s in enumerate(_sentences):
    _ids[:len(_s), _n] = _s
with torch.no_grad():
    for _kind, _as in [("a NumPy array", np.asarray), ("a tensor", torch.from_numpy),
                        ("a list", np.ndarray.tolist)]:
        _label = f"Tagger: forward(ids of shape (6, 2), lengths [3, 2] as {_kind})"
        _got = utils.call_unchanged(_label, lambda ids, lengths: _model(torch.from_numpy(ids), _as(lengths)),
                                    _ids, np.array([3, 2]))
        utils.check_type(_label, _got, torch.Tensor, hint="return the logits as a tensor (T, N, n_tags)")
        utils.check_shape(f"{_label}: logits of a batch padded beyond its longest sentence", _got, (6, 2, 4),
                          hint="one row per row of ids, T = ids.shape[0], even when every sentence is "
                               "shorter: pad_packed_sequence(..., total_length=ids.shape[0])")
        for _n, _s in enumerate(_sentences):
            _alone = _model.out(_model.lstm(_model.embed(torch.as_tensor(_s)[:, None]))[0])[:, 0]
            utils.check_close(f"{_label}: sentence {_n} against the same sentence alone",
                              _got[:len(_s), _n].numpy(), _alone.numpy(),
                              atol=1e-10, rtol=1e-10)  # float64: packing changes only the order of some sums
### END HIDDEN TESTS

# %% [markdown]
# **Training.** Sentences are drawn from `utils.tagging.tagging_corpus` (3000 for training), batches
# of 32 are padded with your `pad_batch`, and the loss is `cross_entropy(logits[mask], tags[mask])`:
# exactly your `masked_cross_entropy`, as the cell checks on the first batch. The held-out sentences
# are drawn with another seed, and those that also occur in the training set are removed. Every run
# takes `TAGGER_STEPS = 120` steps of Adam (learning rate 0.01, clipping at norm 1), in full mode and
# when graded alike.

# %%
TAGGER_STEPS = 120
WORD_V, N_TAGS = len(tagging.WORDS), len(POS_TAGS)


def tag_batch(corpus):
    '''Padded ids, mask, lengths and padded tag ids of a list of (words, tags).'''
    ids, mask, lengths = pad_batch([tagging.word_ids(words) for words, _ in corpus])
    tags, _, _ = pad_batch([tagging.tag_ids(tags) for _, tags in corpus])
    return ids, mask, lengths, tags


def tagger_loss(model, batch):
    ids, mask, lengths, tags = batch
    logits = model(torch.as_tensor(ids, device=DEVICE), lengths)
    real = torch.as_tensor(mask, device=DEVICE)
    return torch.nn.functional.cross_entropy(logits[real], torch.as_tensor(tags, device=DEVICE)[real])


def held_out_sentences(train_corpus, n, seed):
    seen = {tuple(words) for words, _ in train_corpus}
    return [s for s in tagging.tagging_corpus(n, utils.seed_all(seed)) if tuple(s[0]) not in seen]


def predict_tags(model, corpus):
    '''Predicted tag ids (T, N), the true tag ids (T, N) and the mask of a corpus.'''
    ids, mask, lengths, tags = tag_batch(corpus)
    with torch.no_grad():
        logits = model(torch.as_tensor(ids, device=DEVICE), lengths)
    return logits.argmax(-1).cpu().numpy(), tags, mask


def tag_accuracy(model, corpus):
    predicted, tags, mask = predict_tags(model, corpus)
    return float((predicted == tags)[mask].mean())


def train_tagger(seed, steps=TAGGER_STEPS, bar=None):
    data_rng = utils.seed_all(seed)
    corpus = tagging.tagging_corpus(3000, data_rng)
    model = Tagger(WORD_V, N_TAGS).to(DEVICE)
    make_batch = lambda: tag_batch([corpus[i] for i in data_rng.integers(len(corpus), size=32)])
    losses = applications.train(model, make_batch, tagger_loss, steps, lr=1e-2, bar=bar)
    return model, corpus, losses


# the torch loss used for training is your masked cross-entropy (seeded first, so that the model's
# weights, and the loss printed, are the same on every run)
check_batch = tag_batch(tagging.tagging_corpus(8, utils.seed_all(5)))
check_model = Tagger(WORD_V, N_TAGS).double()
with torch.no_grad():
    check_logits = check_model(torch.as_tensor(check_batch[0]), check_batch[2]).numpy()
    torch_loss = torch.nn.functional.cross_entropy(
        torch.as_tensor(check_logits[check_batch[1]]), torch.as_tensor(check_batch[3][check_batch[1]])).item()
print(f"torch loss {torch_loss:.10f} | masked_cross_entropy {masked_cross_entropy(check_logits, check_batch[3], check_batch[1]):.10f}")
assert np.isclose(torch_loss, masked_cross_entropy(check_logits, check_batch[3], check_batch[1]), rtol=1e-10)

tagger_seeds = utils.choose(full=[0, 1, 2, 3, 4], fast=[0])
with progress(total=len(tagger_seeds) * TAGGER_STEPS, desc="tagger") as bar:
    tagger_runs = [train_tagger(seed, bar=bar) for seed in tagger_seeds]
tagger_model, tagger_corpus, _ = tagger_runs[0]             # the model the tests evaluate
tagger_test = [held_out_sentences(corpus, 1000, 100 + seed) for (_, corpus, _), seed in zip(tagger_runs, tagger_seeds)]
tagger_acc = [tag_accuracy(model, test) for (model, _, _), test in zip(tagger_runs, tagger_test)]
print(f"held-out token accuracy after {TAGGER_STEPS} steps, per seed:", np.round(tagger_acc, 4))

# %%
# Per-tag accuracy and the confusion matrix (all seeds' held-out sentences), and the words whose tag
# only the next word settles.
counts = np.zeros((N_TAGS, N_TAGS), dtype=int)
per_tag = np.zeros((len(tagger_runs), N_TAGS))
right_context = []
for k, ((model, _, _), test) in enumerate(zip(tagger_runs, tagger_test)):
    predicted, tags, mask = predict_tags(model, test)
    np.add.at(counts, (tags[mask], predicted[mask]), 1)
    per_tag[k] = [(predicted == tags)[mask & (tags == c)].mean() for c in range(N_TAGS)]
    kinds, _, _ = pad_batch([np.array([a == "right" for a in tagging.ambiguity(w, t)]) for w, t in test])
    right_context.append((predicted == tags)[kinds.astype(bool) & mask].mean())

fig, axes = plotting.subplots(2, width=11.5, height=4.2)
for row in per_tag:
    axes[0].plot(range(N_TAGS), row, "o", color=plotting.COLORS["lstm"], alpha=0.35, ms=5)
axes[0].bar(range(N_TAGS), per_tag.mean(0), color=plotting.COLORS["lstm"], alpha=0.4, label="mean of seeds")
axes[0].set_xticks(range(N_TAGS), POS_TAGS, rotation=60, fontsize=8)
axes[0].set(ylim=(min(0.8, per_tag.min() - 0.02), 1.005), ylabel="held-out accuracy",
            title=f"per tag, {len(tagger_runs)} seeds (points)")
applications.plot_confusion(axes[1], counts, POS_TAGS, title="confusion matrix (counts, all seeds)")
plotting.finish(fig, f"Many-to-many: bidirectional LSTM tagger after {TAGGER_STEPS} steps")
print("per-tag accuracy (mean of seeds):", dict(zip(POS_TAGS, np.round(per_tag.mean(0), 4))))
print("accuracy on ambiguous words that only the next word settles, per seed:", np.round(right_context, 4))

# Notebook 01's two sentences
for sentence in ["we saw a star", "the saw is sharp"]:
    words = sentence.split()
    ids, _, lengths = pad_batch([tagging.word_ids(words)])
    with torch.no_grad():
        tags = tagger_model(torch.as_tensor(ids, device=DEVICE), lengths).argmax(-1)[:, 0].cpu().numpy()
    print(f"{sentence!r:>20} -> {' '.join(POS_TAGS[t] for t in tags)}")

# %% [markdown]
# **What the plots show.** After 120 steps all five seeds tag every held-out token right: accuracy 1.000 per seed and per tag, a diagonal confusion matrix, and also every ambiguous word that only the next word settles; *saw* is a VERB in *we saw a star* and a NOUN in *the saw is sharp*. The generated grammar is small, so this shows that the model and the handling of padding are right, not that tagging real text is this easy. A left-to-right model could only guess the words settled by the next word (`utils.tagging` explains the grammar).

# %% [markdown]
# ### Exercise 5b — your trained tagger on held-out sentences (2 points)
#
# The test below evaluates `tagger_model` (seed 0 above, `TAGGER_STEPS` steps) on held-out sentences:
# at least **95 %** of the tokens must be tagged right, and *saw* must be a VERB in *we saw a star* and
# a NOUN in *the saw is sharp*. When the notebook is graded, the held-out sentences are drawn with a
# fresh seed. A correct `Tagger` reached 100 % on held-out sentences in each of 12 training seeds at
# these settings, so the threshold leaves a margin of 5 points. This test checks that training works;
# that the tagger reads both directions and ignores the padding is the job of exercise 5's test (a
# left-to-right tagger must guess the words that only the next word settles, 4.7 % of the tokens,
# would get about half of them wrong, and would still reach about 97 %).

# %% nbgrader={"grade": true, "grade_id": "test_tagger_trained", "locked": true, "points": 2, "schema_version": 3, "solution": false}
utils.check_defined(globals(), ["tagger_model", "tagger_corpus"],
                    "the training cell above has not run to its end. Write pad_batch and Tagger first (until "
                    "then they raise NotImplementedError), then run the training cell again.")
_test = held_out_sentences(tagger_corpus, 300, 7)
_acc = tag_accuracy(tagger_model, _test)
if _acc < 0.95:
    raise utils.CheckFailure(f"tagger_model: held-out token accuracy {_acc:.3f}, expected at least 0.95. "
                             "Check the Tagger test above first (bidirectional, packed), then the training cell.")
for _sentence, _want in [("we saw a star", "VERB"), ("the saw is sharp", "NOUN")]:
    _ids, _, _lengths = pad_batch([tagging.word_ids(_sentence.split())])
    with torch.no_grad():
        _tags = tagger_model(torch.as_tensor(_ids, device=DEVICE), _lengths).argmax(-1)[:, 0].cpu().numpy()
    utils.check_equal(f"the tag of 'saw' in {_sentence!r}", POS_TAGS[_tags[1]], _want)
### BEGIN HIDDEN TESTS
_seed = int(utils.seed_all(None).integers(10**6, 10**9))
_test = held_out_sentences(tagger_corpus, 500, _seed)
_acc = tag_accuracy(tagger_model, _test)
if _acc < 0.95:
    raise utils.CheckFailure(f"tagger_model on held-out sentences drawn with a fresh seed: token accuracy "
                             f"{_acc:.3f}, expected at least 0.95.")
### END HIDDEN TESTS

# %% [markdown]
# ## 6. One-to-many: generating characters, with a temperature (温度)
#
# **The task.** A character-level language model (notebook 03) predicts the next character
# $p(x_{t+1} \mid x_1 \dots x_t)$. It is trained many-to-many, on every position of a text; it is
# *used* one-to-many: from a single start it writes a text, each sampled character fed back as the
# next input. The text is the Zen of Python (`utils.data.zen_of_python()`, shipped with Python); its
# last 4 lines are **held out** and never trained on.
#
# **Perplexity** (困惑度) measures a language model on held-out text: the exponential of the mean
# cross-entropy per character,
#
# $$\mathrm{PPL} = \exp\Big(-\frac1{T}\sum_{t=1}^{T} \log p(x_{t} \mid x_{<t})\Big).$$
#
# A model that knows nothing and spreads its probability evenly over the $V$ characters has
# $\mathrm{PPL} = V$; perplexity $k$ means the model is as unsure as a fair choice among $k$
# characters. Your `masked_cross_entropy` computes the exponent (here every position is real).
#
# **Temperature.** Sampling draws $x_{t+1}$ from $\operatorname{softmax}(y_t / \tau)$. $\tau = 1$ is
# the model's own distribution; $\tau < 1$ sharpens it towards the most likely character (as
# $\tau \to 0$: greedy decoding, which tends to repeat itself), $\tau > 1$ flattens it towards uniform
# (more surprising, more mistakes). The held-out perplexity of the tempered distribution shows the
# price of each choice.
#
# **Early stopping (提前停止).** 619 training characters are very little: a GRU soon learns them by
# heart, and then the training perplexity falls towards 1 while the held-out perplexity rises again.
# Every 20 steps both are measured, and each run keeps the weights of the checkpoint with the lowest
# held-out perplexity. Since the held-out lines choose that step (and the temperature plot is measured
# on them too), they act as a validation set here, and the best held-out number is slightly optimistic.

# %%
import copy

zen_train, zen_test = applications.split_text(zen_of_python(), held_out_lines=4)
chars = sorted(set(zen_of_python()))
char_index = {c: i for i, c in enumerate(chars)}
encode = lambda text: np.array([char_index[c] for c in text], dtype=np.int64)
train_codes, test_codes = encode(zen_train), encode(zen_test)
V_CHARS = len(chars)
print(f"{V_CHARS} characters; {len(train_codes)} for training, {len(test_codes)} held out (last 4 lines):")
print(zen_test)


class CharGRU(torch.nn.Module):
    '''Embedding -> GRU -> linear: next-character logits at every step; one step at a time with h.'''

    def __init__(self, V, embed_dim=16, hidden=64):
        super().__init__()
        self.embed = torch.nn.Embedding(V, embed_dim)
        self.gru = torch.nn.GRU(embed_dim, hidden)
        self.out = torch.nn.Linear(hidden, V)

    def forward(self, ids, h=None):
        states, h = self.gru(self.embed(ids), h)
        return self.out(states), h


def char_windows(codes, T, N, rng):
    starts = rng.integers(0, len(codes) - T - 1, size=N)
    window = np.stack([codes[s:s + T + 1] for s in starts], axis=1)      # (T+1, N)
    return torch.as_tensor(window[:-1], device=DEVICE), torch.as_tensor(window[1:], device=DEVICE)


def char_loss(model, batch):
    inputs, targets = batch
    logits, _ = model(inputs)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V_CHARS), targets.reshape(-1))


def perplexity(model, codes, temperature=1.0):
    '''exp of your masked cross-entropy over every next character of `codes`, from a fresh state.'''
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(codes[:-1, None], device=DEVICE))
    logits = logits.double().cpu().numpy() / temperature
    targets = codes[1:, None]
    return float(np.exp(masked_cross_entropy(logits, targets, np.ones(targets.shape, bool))))


def train_char_model(seed, steps, checkpoints, bar=None):
    '''Train, measure both perplexities every `checkpoints` steps, and keep the weights of the
    checkpoint with the lowest held-out perplexity (early stopping, 提前停止).'''
    data_rng = utils.seed_all(seed)
    model = CharGRU(V_CHARS).to(DEVICE)
    curve, best = [], (np.inf, None)
    for done in range(0, steps, checkpoints):
        applications.train(model, lambda: char_windows(train_codes, 32, 16, data_rng), char_loss,
                           checkpoints, lr=5e-3, bar=bar)
        curve.append((done + checkpoints, perplexity(model, train_codes), perplexity(model, test_codes)))
        if curve[-1][2] < best[0]:
            best = (curve[-1][2], copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[1])
    return model, np.array(curve)


char_steps, char_every = utils.choose(full=(300, 20), fast=(40, 20))
char_seeds = utils.choose(full=[0, 1, 2, 3, 4], fast=[0])
with progress(total=len(char_seeds) * char_steps, desc="characters") as bar:
    char_runs = [train_char_model(seed, char_steps, char_every, bar) for seed in char_seeds]
unigram = np.bincount(train_codes, minlength=V_CHARS) + 1.0          # add-one counts
unigram_ppl = float(np.exp(-np.mean(np.log(unigram[test_codes[1:]] / unigram.sum()))))
temperatures = np.array([0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0])
tempered = np.array([[perplexity(m, test_codes, tau) for tau in temperatures] for m, _ in char_runs])

fig, axes = plotting.subplots(2, width=11)
for _, curve in char_runs:
    axes[0].plot(curve[:, 0], curve[:, 1], color=plotting.COLORS["reference"], alpha=0.5)
    axes[0].plot(curve[:, 0], curve[:, 2], color=plotting.COLORS["gru"], alpha=0.6)
axes[0].plot([], [], color=plotting.COLORS["reference"], label="training text")
axes[0].plot([], [], color=plotting.COLORS["gru"], label="held-out lines")
axes[0].axhline(V_CHARS, color="k", ls=":", lw=1, label=f"uniform: V = {V_CHARS}")
axes[0].axhline(unigram_ppl, color=plotting.COLORS["bound"], ls="--", lw=1, label="character frequencies")
axes[0].set(xlabel="training step", ylabel="perplexity", yscale="log", title=f"{len(char_runs)} seeds")
axes[0].legend(fontsize=8)
for row in tempered:
    axes[1].plot(temperatures, row, "o-", color=plotting.COLORS["gru"], alpha=0.3, ms=4)
axes[1].plot(temperatures, tempered.mean(0), "o-", color=plotting.COLORS["gru"], label="mean of seeds")
axes[1].set(xlabel="temperature τ", ylabel="held-out perplexity of softmax(y/τ)", title="held-out perplexity and τ")
axes[1].legend()
plotting.finish(fig, "One-to-many: a character GRU on the Zen of Python")
best_rows = [c[np.argmin(c[:, 2])] for _, c in char_runs]
print("best held-out perplexity per seed:", np.round([r[2] for r in best_rows], 2),
      "at steps", [int(r[0]) for r in best_rows], "| training-text perplexity there:", np.round([r[1] for r in best_rows], 2))
print(f"at the last step: held-out {np.round([c[-1, 2] for _, c in char_runs], 1)}, training text "
      f"{np.round([c[-1, 1] for _, c in char_runs], 2)} | unigram {unigram_ppl:.2f}, uniform {V_CHARS}")
print("held-out perplexity by temperature (mean of seeds):", dict(zip(temperatures, np.round(tempered.mean(0), 2))))


# %% [markdown]
# ### Exercise 6 — `sample_next`: sampling with a temperature (2 points)
#
# Write `sample_next(logits, temperature, rng)`: it takes the logits $y$ (V,) of one step (a NumPy
# array, any float dtype), a temperature $\tau$ and a NumPy generator `rng`, and returns one id
# $k \in \{0, \dots, V-1\}$ (a Python `int`) drawn with probability
#
# $$p_k = \operatorname{softmax}(y/\tau)_k = \frac{\exp(y_k/\tau)}{\sum_j \exp(y_j/\tau)}.$$
#
# * Draw with `rng` only (e.g. `rng.choice(V, p=p)` or `rng.random()`), never with `np.random.*`: the
#   same generator state must give the same draw.
# * It must be stable: logits with a spread in the thousands and $\tau$ as small as $10^{-8}$ must
#   neither overflow nor warn (subtract the maximum of $y/\tau$ before `np.exp`; it cancels in the
#   ratio). As $\tau \to 0$ all the probability goes to the largest logit: sampling becomes the
#   greedy argmax.
# * $\tau \le 0$ is not a temperature: raise a `ValueError` whose message mentions the temperature.
# * The input must not be modified; NumPy only.
#
# By hand: for $y = (0, \log 2, \log 5)$, $\tau = 1$ gives $p = (1, 2, 5)/8$ and $\tau = 1/2$ squares
# the ratios, $p = (1, 4, 25)/30$. The test checks the frequencies of many draws against such cases.

# %% nbgrader={"grade": false, "grade_id": "sample_next", "locked": false, "schema_version": 3, "solution": true}
def sample_next(logits, temperature, rng):
    """One draw from softmax(logits / temperature).

    logits: (V,) array of float scores; temperature: a number > 0 (ValueError otherwise);
    rng: a np.random.Generator, the only source of randomness.
    Returns a Python int in 0 .. V-1.
    """
    ### BEGIN SOLUTION
    if not temperature > 0:
        raise ValueError(f"the temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    p = np.exp(z - z.max())                # the max cancels in the ratio; no overflow
    p /= p.sum()
    return int(rng.choice(len(p), p=p))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sample_next", "locked": true, "points": 2, "schema_version": 3, "solution": false}
import warnings

_case = fixtures.load("08_applications")["sample_next"]


def _frequencies(logits, tau, rng, n, label):
    # frequencies of n draws; warnings count as failures (they would go to stderr)
    counts = np.zeros(len(logits))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            for draw in utils.repeat_calls(sample_next, n, logits, tau, rng):  # n calls, one rng
                counts[draw] += 1
        except (RuntimeWarning, FloatingPointError, OverflowError) as err:
            raise utils.CheckFailure(f"{label}: sample_next warned or overflowed ({type(err).__name__}: {err}). "
                                     "Subtract the maximum of logits / temperature before np.exp "
                                     "(overflow of a naive softmax).") from None
    return counts / n


def _check_distribution(logits, tau, rng, n, label, want, mistakes, tol):
    got = _frequencies(logits, tau, rng, n, label)
    if np.max(np.abs(got - want)) <= tol:
        return
    lines = [f"{label}: frequencies of {n} draws {np.round(got, 3)}, expected softmax(logits / tau) = "
             f"{np.round(want, 3)} (tolerance {tol})."]
    for _name, _p in mistakes.items():
        if not np.allclose(_p, want, atol=tol) and np.max(np.abs(got - _p)) <= tol:
            lines.append(f"This matches a common mistake: {_name}.")
    raise utils.CheckFailure(" ".join(lines))


# frequencies of draws against the hand-computed cases: (1, 2, 5)/8 at tau = 1, (1, 4, 25)/30 at
# tau = 0.5, and tau = 2; the mistakes' distributions come from the fixture file
_logits = _case.inputs["logits"]
for _k, _tau in enumerate(_case.inputs["taus"]):
    _check_distribution(_logits, float(_tau), np.random.default_rng(_k + 1), 8000,
                        f"sample_next(log(1, 2, 5), tau={_tau:g})", _case.expected["p"][_k],
                        {_d: _p[_k] for _d, _p in _case.mistakes("p").items()},
                        tol=0.03)  # sd of a frequency <= 0.0056 at n = 8000: more than 5 sd
utils.check_type("sample_next(log(1, 2, 5), tau=1) returns",
                 sample_next(_logits, 1.0, np.random.default_rng(0)), int,
                 hint="a Python int: convert with int(...) (np.argmax and np.searchsorted give NumPy's int64)")
# the generator: the same state gives the same draws, other seeds other draws
_a = utils.repeat_calls(sample_next, 40, np.zeros(4), 1.0, np.random.default_rng(11))
_b = utils.repeat_calls(sample_next, 40, np.zeros(4), 1.0, np.random.default_rng(11))
_c = utils.repeat_calls(sample_next, 40, np.zeros(4), 1.0, np.random.default_rng(12))
utils.check_equal("40 draws from two generators in the same state (np.random.default_rng(11))", _b, _a,
                  hint="draw with the generator rng that is passed in (rng.choice or rng.random), "
                       "not with np.random.* functions")
utils.check_equal("40 draws from generators with seeds 11 and 12 differ", _a != _c, True,
                  hint="draw with the generator rng that is passed in")
# tau -> 0: the argmax; large logits must not overflow or warn
_check_distribution(np.array([1000.0, 2000.0, -3000.0]), 1.0, np.random.default_rng(4), 50,
                    "sample_next(logits (1000, 2000, -3000), tau=1)", np.array([0.0, 1.0, 0.0]), {}, tol=0.0)
_check_distribution(np.array([0.3, 0.5, 0.1]), 1e-8, np.random.default_rng(5), 50,
                    "sample_next(logits (0.3, 0.5, 0.1), tau=1e-8): the argmax", np.array([0.0, 1.0, 0.0]), {},
                    tol=0.0)
for _tau in [0.0, -1.0]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        utils.check_raises(f"sample_next(..., temperature={_tau})", sample_next, ValueError, _logits, _tau,
                           np.random.default_rng(0), match="temperature",
                           hint="raise ValueError('the temperature must be > 0, ...') before dividing")
### BEGIN HIDDEN TESTS
from autograder.references import applications as _ref

_rng = utils.seed_all(None)
for _V in [1, 2, 7]:
    _l = _rng.normal(scale=2.0, size=_V)
    _tau = float(_rng.uniform(0.3, 3.0))
    _check_distribution(_l, _tau, np.random.default_rng(_rng.integers(2**32)), 8000,
                        f"sample_next of random logits (V={_V}), tau={_tau:.3f}",
                        _ref.tempered_probabilities(_l, _tau),
                        {_d: _f() for _d, _f in _ref.sample_next_mistakes(_l, _tau).items()},
                        tol=0.03)  # > 5 sd at n = 8000
# float32 logits, a spread in the thousands at small tau, and the input left unchanged
_l = (_rng.normal(size=6) * 1000).astype(np.float32)
_copy = _l.copy()
_check_distribution(_l, 0.01, np.random.default_rng(_rng.integers(2**32)), 30,
                    "sample_next of float32 logits with a spread in the thousands, tau=0.01",
                    np.eye(6)[np.argmax(_l)], {}, tol=0.0)
utils.check_equal("sample_next leaves the logits unchanged", np.array_equal(_l, _copy), True)
_l = _rng.normal(size=5)
_check_distribution(_l, 1e-8, np.random.default_rng(_rng.integers(2**32)), 30,
                    "sample_next(random logits, tau=1e-8): the argmax", np.eye(5)[np.argmax(_l)], {}, tol=0.0)
_seed = int(_rng.integers(2**32))
_a = utils.repeat_calls(sample_next, 30, _l, 1.3, np.random.default_rng(_seed))
_b = utils.repeat_calls(sample_next, 30, _l, 1.3, np.random.default_rng(_seed))
utils.check_equal("30 draws from two generators in the same state", _b, _a,
                  hint="draw with the generator rng that is passed in")
for _tau in [0.0, -1e-3, -2.5]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        utils.check_raises(f"sample_next(..., temperature={_tau})", sample_next, ValueError, _l, _tau,
                           np.random.default_rng(0), match="temperature")
# fixed float64 logits that span thousands, at three temperatures: the draw is then certain (the
# largest logit), an int, and the caller's logits are left as they were (fresh for every call)
for _tau in [1.0, 0.3, 1e-8]:
    _label = f"sample_next(logits (-1000, 1000, -800, 800), tau={_tau:g})"
    with warnings.catch_warnings(record=True) as _caught:
        warnings.simplefilter("always")
        _k = utils.call_unchanged(_label, lambda logits: sample_next(logits, _tau, np.random.default_rng(3)),
                                  np.array([-1000.0, 1000.0, -800.0, 800.0]))
    if _caught:
        raise utils.CheckFailure(f"{_label}: NumPy warned ({_caught[0].message}). Subtract the maximum of "
                                 "logits / temperature before np.exp (overflow of a naive softmax).")
    utils.check_type(_label, _k, int, hint="a Python int: convert with int(...)")
    utils.check_equal(f"{_label}: the id of the largest logit", _k, 1)
utils.check_no_library("sample_next", sample_next, ["torch", "autograder"])
_ = check_no_library_calls("sample_next", sample_next, _l, 1.0, np.random.default_rng(0))
### END HIDDEN TESTS

# %% [markdown]
# **Sampling a text.** `sample_text` feeds a start, then each character drawn with your `sample_next`
# back into the GRU, one step at a time (the one-to-many shape).

# %%
def sample_text(model, start, n_chars, temperature, seed):
    '''One-to-many: feed `start`, then each sampled character back, n_chars times.'''
    sample_rng = utils.seed_all(seed)
    with torch.no_grad():
        logits, h = model(torch.as_tensor(encode(start)[:, None], device=DEVICE))
        text = start
        for _ in range(n_chars):
            code = sample_next(logits[-1, 0].double().cpu().numpy(), temperature, sample_rng)
            text += chars[code]
            logits, h = model(torch.as_tensor([[code]], device=DEVICE), h)
    return text


char_model = char_runs[0][0]
for tau in [0.3, 1.0, 1.5]:
    print(f"--- τ = {tau} ---")
    print(sample_text(char_model, "Beautiful", utils.choose(full=160, fast=40), tau, seed=1))


# %% [markdown]
# **What the plots and samples show.** In every seed the training perplexity falls towards 1: the 619 characters are learned by heart. The held-out perplexity is lowest after 40 to 60 steps (14.1 to 16.4 per seed), below the 22.6 of a model that knows only the character frequencies and far below the 45 of uniform guessing, and then rises to 88–130 by step 300, worse than uniform guessing: overfitting, which early stopping avoids. With the kept weights, the held-out perplexity is lowest near τ = 1.2 (14.5, against 15.2 at τ = 1, mean of seeds): flattening a little helps a model trained on so little text, whose held-out mistakes are over-confident; τ = 0.5 costs a factor of about 2.7 (40.3). The samples show the other side of the trade: at τ = 0.3 the generator repeats "than than than", at τ = 1 it writes word-like pieces, at τ = 1.5 more random letters.

# %% [markdown]
# ### Exercise 6b — your sampling with the trained character model (1 point)
#
# The test evaluates `char_model` (seed 0 above, with the weights kept by early stopping): its
# perplexity on the held-out lines must be below **20** (the character frequencies alone give 22.6,
# uniform guessing 45). When the notebook is graded the model is trained for 40 steps; at 40 steps a
# correct solution reached between 14.6 and 17.2 in each of 12 training seeds, so 20 leaves a margin
# of about 3. The held-out text is fixed, so the fresh seed at grading time goes to the sampling:
# texts generated with your `sample_next` from a fresh seed must have the requested length and
# characters of the vocabulary only, and at $\tau = 10^{-8}$ they must equal greedy decoding (the
# argmax at every step).

# %% nbgrader={"grade": true, "grade_id": "test_char_trained", "locked": true, "points": 1, "schema_version": 3, "solution": false}
def _greedy_text(model, start, n_chars):
    with torch.no_grad():
        logits, h = model(torch.as_tensor(encode(start)[:, None], device=DEVICE))
        text = start
        for _ in range(n_chars):
            code = int(logits[-1, 0].argmax())
            text += chars[code]
            logits, h = model(torch.as_tensor([[code]], device=DEVICE), h)
    return text


def _char_checks(seed):
    _text = sample_text(char_model, "Now", 60, 1.0, seed)
    utils.check_equal(f"length of a text of 60 sampled characters after 'Now' (seed {seed})", len(_text), 63)
    utils.check_equal(f"characters outside the vocabulary in a sampled text (seed {seed})",
                      sorted(set(_text) - set(chars)), [])
    utils.check_equal(f"sampling at tau = 1e-8 (seed {seed}) against greedy decoding",
                      sample_text(char_model, "Now", 60, 1e-8, seed), _greedy_text(char_model, "Now", 60),
                      hint="as tau -> 0, softmax(logits / tau) puts all its mass on the argmax")


utils.check_defined(globals(), ["char_model"],
                    "the cells of section 6 have not run to their end. Write masked_cross_entropy and "
                    "sample_next first (until then they raise NotImplementedError), then run those cells again.")
_ppl = perplexity(char_model, test_codes)
if _ppl >= 20:
    raise utils.CheckFailure(f"char_model: held-out perplexity {_ppl:.2f}, expected below 20. "
                             "Check the training cell of section 6.")
_char_checks(3)
### BEGIN HIDDEN TESTS
_ppl = perplexity(char_model, test_codes)
if _ppl >= 20:
    raise utils.CheckFailure(f"char_model: held-out perplexity {_ppl:.2f}, expected below 20.")
_char_checks(int(utils.seed_all(None).integers(10**6, 10**9)))
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Sequence-to-sequence: an encoder–decoder (编码器–解码器)
#
# **The shape.** Input and output are both sequences, of lengths that need not match (machine
# translation, summarisation, question answering in the notes' table). An **encoder** RNN reads the
# whole input $x_1 \dots x_T$; its last state $h_T$ — a fixed-size summary — is the initial state of a
# **decoder** RNN, which writes the output one token at a time, each step reading the previous output
# token, starting from a start token `<s>`, until it writes the end token `</s>`:
#
# $$h^\text{enc}_t = \mathrm{GRU}_\text{enc}(h^\text{enc}_{t-1}, x_t), \qquad
# s_0 = h^\text{enc}_{T}, \qquad s_k = \mathrm{GRU}_\text{dec}(s_{k-1}, y_{k-1}), \qquad
# p(y_k \mid y_{<k}, x) = \operatorname{softmax}(W s_k + b),$$
#
# with $y_0 = $ `<s>`. The task here is to **reverse** a string of 3 to 8 letters from `a…h`: the
# output depends on the whole input, and its first letter on the *last* input letter.
#
# **Teacher forcing (教师强制) in training.** During training the true output is known, so the
# decoder reads the **true** previous token $y_{k-1}$ at every step, not its own guess; all steps then
# run in one call of the GRU on the shifted target `<s> y_1 … y_K` (the *decoder inputs*), and the
# loss compares the logits with `y_1 … y_K </s>` (the *decoder targets*): for an output of K letters
# the decoder runs K + 1 steps.
#
# **Greedy decoding (贪心解码) at inference.** No true output is known, so the decoder reads its
# **own** previous prediction, the arg-max of its logits, and stops at `</s>` or after a maximum
# length. The two differ: in training the decoder never sees its own mistakes (the written question
# asks what follows). The diagram shows both.

# %%
fig = applications.draw_seq2seq("abc")
plotting.finish(fig)


# %% [markdown]
# ### Exercise 7 — `greedy_decode` (3 points)
#
# Write the decoding loop for **any** decoder, given as a function `step_fn(token, h) -> (logits, h_new)`
# that runs one step: `token` is an int, `h` is the decoder's state (whatever `step_fn` uses: an array,
# a tensor), `logits` is a one-dimensional array of $V$ scores. Starting from `h0` and `start_id`:
#
# 1. call `step_fn` with the current token and state; keep the new state;
# 2. the next token is the arg-max of the logits (`np.argmax`: on a tie, the smallest id);
# 3. if it is `end_id`, stop (the end token is **not** part of the output); otherwise append it and
#    feed it back as the next token;
# 4. call `step_fn` at most `max_len` times (so at most `max_len` tokens come back; `max_len = 0`
#    gives an empty list).
#
# Return the generated ids as a Python `list` of `int`. Use NumPy only (no PyTorch inside the
# function: `step_fn` may use whatever it likes).

# %% nbgrader={"grade": false, "grade_id": "greedy_decode", "locked": false, "schema_version": 3, "solution": true}
def greedy_decode(step_fn, h0, start_id, end_id, max_len):
    """Greedy decoding: feed each arg-max prediction back until end_id or max_len steps.

    Inputs:
    - step_fn: function (token: int, h) -> (logits (V,), h_new), one step of the decoder
    - h0: the decoder's initial state (e.g. the encoder's last state)
    - start_id: the token fed at the first step (<s>)
    - end_id: the token that ends the output (</s>); it is not returned
    - max_len: the largest number of calls of step_fn

    Returns:
    - ids: a list of Python ints, the predicted tokens before end_id (at most max_len of them)
    """
    ### BEGIN SOLUTION
    ids, token, h = [], start_id, h0
    for _ in range(max_len):
        logits, h = step_fn(token, h)
        token = int(np.argmax(logits))
        if token == end_id:
            break
        ids.append(token)
    return ids
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_greedy_decode", "locked": true, "points": 3, "schema_version": 3, "solution": false}
_cases = fixtures.load("08_applications")


def _decoder(E, W_hh, W_out):
    """A tiny NumPy decoder: h' = tanh(E[token] + W_hh h), logits = W_out h'."""
    def step_fn(token, h):
        h_new = np.tanh(E[int(token)] + W_hh @ h)
        return W_out @ h_new, h_new
    return step_fn


# Random decoders (fixed weights), against the answer and against the common mistakes: one that
# stops at the end token, one that runs to max_len.
for _name in ("greedy_decode", "greedy_decode_max_len"):
    _case = _cases[_name]
    _in = _case.inputs
    _got = greedy_decode(_decoder(_in["E"], _in["W_hh"], _in["W_out"]), _in["h0"], int(_in["start_id"]),
                         int(_in["end_id"]), int(_in["max_len"]))
    utils.check_equal(f"{_name}: type of the result", type(_got), list, hint="return a Python list of ints")
    utils.check_equal(f"{_name}: ids (start 0, end 1, max_len 8) of a random decoder", [int(i) for i in _got],
                      _case.expected["ids"].tolist(),
                      mistakes={d: v.tolist() for d, v in _case.mistakes("ids").items()})

# By hand: a counting decoder whose state counts the calls; it predicts token + 1 while the count is
# below 4, then the end token 9. From start 0: 1, 2, 3, then 9 -> [1, 2, 3].
def _counter(token, h):
    logits = np.zeros(10)
    logits[token + 1 if h + 1 < 4 else 9] = 1.0
    return logits, h + 1

utils.check_equal("greedy_decode of the counting decoder", greedy_decode(_counter, 0, 0, 9, 20), [1, 2, 3])
utils.check_equal("greedy_decode of the counting decoder with max_len=2", greedy_decode(_counter, 0, 0, 9, 2), [1, 2])
utils.check_equal("greedy_decode with max_len=0", greedy_decode(_counter, 0, 0, 9, 0), [])
### BEGIN HIDDEN TESTS
from autograder.references import applications as _ref

_rng = utils.seed_all(None)
for _trial in range(40):
    _V, _H = int(_rng.integers(3, 9)), int(_rng.integers(1, 6))
    _E, _W, _Wo = _ref.random_decoder(_rng, _V, _H, scale=float(_rng.uniform(0.5, 3.0)))
    _h0 = _rng.standard_normal(_H)
    _start, _end = (int(v) for v in _rng.choice(_V, size=2, replace=False))
    _max = int(_rng.integers(0, 12))
    _step = _decoder(_E, _W, _Wo)
    _label = f"greedy_decode of a random decoder (V={_V}, H={_H}, max_len={_max})"
    _got = utils.call_unchanged(_label, greedy_decode, _step, _h0, _start, _end, _max)   # h0 left as it was
    utils.check_type(_label, _got, list, items=int,
                     hint="a Python list of Python ints: append int(np.argmax(logits))")
    utils.check_equal(_label, _got, _ref.greedy_decode(_step, _h0, _start, _end, _max),
                      mistakes=_ref.greedy_decode_mistakes(_step, _h0, _start, _end, _max))
# the end token at the first step gives an empty list; one call when max_len = 1
_first_end = lambda token, h: (np.eye(4)[2], h)
utils.check_equal("greedy_decode when the first prediction is the end token", greedy_decode(_first_end, 0, 0, 2, 5), [])
utils.check_equal("greedy_decode with max_len=1", greedy_decode(_counter, 0, 0, 9, 1), [1])
# a decoder whose state is a torch tensor: the loop must only pass it along
_tstep = lambda token, h: ((np.arange(5) == (token + 1) % 5).astype(float), h + 1)
utils.check_equal("greedy_decode with a tensor state", greedy_decode(_tstep, torch.zeros(2), 0, 4, 9), [1, 2, 3])
# step_fn is called at most max_len times: a decoder that never predicts the end token counts its calls
def _never_ends(token, h):
    _calls.append(token)
    return np.eye(5)[(token + 1) % 4], h + 1     # predicts 1, 2, 3, 0, 1, ... from 0: never 4, the end


for _max, _want in [(0, []), (1, [1]), (3, [1, 2, 3]), (6, [1, 2, 3, 0, 1, 2])]:
    _calls = []
    _label = f"greedy_decode(..., end_id=4, max_len={_max}) of a decoder that never predicts the end token"
    _got = greedy_decode(_never_ends, 0, 0, 4, _max)
    if len(_calls) > _max:
        raise utils.CheckFailure(
            f"{_label}:\n  {len(_calls)} calls of step_fn, expected at most max_len = {_max} calls of "
            "step_fn.\n"
            "  Hint: call step_fn at the top of each of the max_len rounds, where its logits are needed, not "
            "once more before the loop or after the last token")
    utils.check_equal(_label, _got, _want)
# a tie for the largest logit: the smallest of the tied ids, as np.argmax gives
def _tied(token, h):
    return (np.array([0.0, 2.0, 2.0, -1.0, 2.0]) if h == 0 else np.eye(5)[3]), h + 1


utils.check_equal("greedy_decode when ids 1, 2 and 4 tie for the largest logit (end_id = 3)",
                  greedy_decode(_tied, 0, 0, 3, 5), [1],
                  mistakes={"on a tie, the largest id was taken (np.argmax takes the smallest)": [4],
                            "on a tie, an id other than the smallest was taken": [2]},
                  hint="on a tie, the smallest id wins, as np.argmax(logits) gives")
utils.check_no_library("greedy_decode", greedy_decode, ["torch", "autograder"])
_ = check_no_library_calls("greedy_decode", greedy_decode, _counter, 0, 0, 9, 20)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 8 — the encoder–decoder `Seq2Seq` (3 points)
#
# The class below holds the modules and one decoder step (`step`, used for greedy decoding). Write
#
# * `encode(src, lengths)`: embed the padded source ids (T, N) with `self.src_embed`, run
#   `self.encoder` on the **packed** batch, and return its final state, shape (N, H): for each string,
#   the state after its own last letter (not after the padding);
# * `forward(src, lengths, tgt_in)`: teacher forcing. Encode the source, then run `self.decoder` once
#   over all the decoder inputs `tgt_in` (K, N) — the shifted target `<s> y_1 … y_{K-1}`, embedded with
#   `self.tgt_embed` — starting from the encoder's state, and return the logits of `self.out` at every
#   step, shape (K, N, V). (Here K counts decoder steps: one more than the letters of the output.)
#
# `torch.nn.GRU` takes and returns its state with a leading layer axis, `(1, N, H)`. The test checks
# `encode` against each string encoded alone, and `forward` against `step` called K times with the
# true previous tokens: teacher forcing is exactly that loop, in one call.

# %% nbgrader={"grade": false, "grade_id": "Seq2Seq", "locked": false, "schema_version": 3, "solution": true}
class Seq2Seq(torch.nn.Module):
    """A GRU encoder-decoder: source ids (T, N) -> logits (K, N, V) of the target tokens."""

    def __init__(self, vocab_size, embed_dim=32, hidden=64):
        super().__init__()
        self.src_embed = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.tgt_embed = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.encoder = torch.nn.GRU(embed_dim, hidden)
        self.decoder = torch.nn.GRU(embed_dim, hidden)
        self.out = torch.nn.Linear(hidden, vocab_size)

    def step(self, tokens, h):
        """One decoder step: tokens (N,) int64, h (N, H) -> logits (N, V), new state (N, H)."""
        states, h_new = self.decoder(self.tgt_embed(tokens)[None], h[None])
        return self.out(states[0]), h_new[0]

    def encode(self, src, lengths):
        """src: (T, N) padded ids, lengths: (N,) in any order. Returns the final states (N, H)."""
        ### BEGIN SOLUTION
        lengths = torch.as_tensor(lengths).cpu()
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths, enforce_sorted=False)
        _, h_last = self.encoder(packed)         # (1, N, H): the state at each string's own end
        return h_last[0]
        ### END SOLUTION

    def forward(self, src, lengths, tgt_in):
        """Teacher forcing: tgt_in (K, N) = <s> y_1 ... y_{K-1}. Returns logits (K, N, V)."""
        ### BEGIN SOLUTION
        h = self.encode(src, lengths)
        states, _ = self.decoder(self.tgt_embed(tgt_in), h[None])   # all K steps in one call
        return self.out(states)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_Seq2Seq", "locked": true, "points": 3, "schema_version": 3, "solution": false}
def _seq2seq_checks(model, sources, tgt_in, label, tol):
    _lengths = [len(s) for s in sources]
    _src = torch.zeros(max(_lengths), len(sources), dtype=torch.long)
    for _n, _s in enumerate(sources):
        _src[:len(_s), _n] = torch.as_tensor(_s)
    _tgt = torch.as_tensor(tgt_in)
    with torch.no_grad():
        # encode: each string's state at its own end, as if it were encoded alone
        _h = model.encode(_src, torch.as_tensor(_lengths))
        utils.check_shape(f"{label}: encode(...) for N={len(sources)}", _h, (len(sources), model.encoder.hidden_size),
                          hint="return the final state without the layer axis: (N, H)")
        _alone = torch.stack([model.encoder(model.src_embed(torch.as_tensor(_s)[:, None]))[1][0, 0]
                              for _s in sources])
        _padded = model.encoder(model.src_embed(_src))[1][0]
        _outputs = torch.nn.utils.rnn.pad_packed_sequence(model.encoder(
            torch.nn.utils.rnn.pack_padded_sequence(model.src_embed(_src), torch.as_tensor(_lengths),
                                                    enforce_sorted=False))[0])[0][-1]
        utils.check_close(f"{label}: encode(...) of strings of lengths {_lengths}, against each string alone",
                          _h.numpy(), _alone.numpy(), atol=tol, rtol=tol,
                          mistakes={"the encoder's state after the padding (pack the batch)": _padded.numpy(),
                                    "the last row of the padded outputs (zero for the shorter strings), not "
                                    "the final state": _outputs.numpy()})
        # forward: teacher forcing equals step() called with the true previous tokens
        _got = model(_src, torch.as_tensor(_lengths), _tgt)
        utils.check_shape(f"{label}: forward(...) logits for tgt_in of shape {tuple(_tgt.shape)}", _got,
                          (_tgt.shape[0], len(sources), model.out.out_features))
        _s, _loop = _alone, []
        for _k in range(_tgt.shape[0]):
            _logits, _s = model.step(_tgt[_k], _s)
            _loop.append(_logits)
        _loop = torch.stack(_loop)
        _zero = model.out(model.decoder(model.tgt_embed(_tgt))[0])
        _src_emb = model.out(model.decoder(model.src_embed(_tgt), _alone[None])[0])
        utils.check_close(f"{label}: forward(...) against step() called with the true previous tokens",
                          _got.numpy(), _loop.numpy(), atol=tol, rtol=tol,
                          mistakes={"the decoder does not start from the encoder's final state": _zero.numpy(),
                                    "the decoder inputs are embedded with the source embedding "
                                    "(use tgt_embed)": _src_emb.numpy(),
                                    "probabilities, not logits (no softmax in forward)": _loop.softmax(-1).numpy()})


utils.seed_all(0)
_model = Seq2Seq(vocab_size=7, embed_dim=5, hidden=6).double()
# three strings of lengths 4, 2, 3 (in no order), decoder inputs of K = 5 steps (1 = <s>)
_seq2seq_checks(_model, [[3, 4, 5, 6], [6, 3], [4, 4, 5]],
                [[1, 1, 1], [6, 3, 5], [5, 6, 4], [4, 2, 4], [3, 0, 2]], "Seq2Seq",
                tol=1e-10)  # float64: the same operations in another grouping
### BEGIN HIDDEN TESTS
_rng = utils.seed_all(None)
for _V, _E, _H, _lens, _K in [(4, 1, 1, [1], 1), (9, 3, 5, [5, 5], 3), (12, 4, 3, [2, 7, 1, 4], 6)]:
    _model = Seq2Seq(vocab_size=_V, embed_dim=_E, hidden=_H).double()
    _sources = [_rng.integers(1, _V, size=k).tolist() for k in _lens]
    _tgt_in = _rng.integers(0, _V, size=(_K, len(_lens)))
    _tgt_in[0] = 1
    _seq2seq_checks(_model, _sources, _tgt_in, f"Seq2Seq(V={_V}, E={_E}, H={_H})", tol=1e-10)
_model = Seq2Seq(vocab_size=11)
_seq2seq_checks(_model, [_rng.integers(3, 11, size=k).tolist() for k in (3, 8, 5)],
                _rng.integers(1, 11, size=(9, 3)), "Seq2Seq in float32", tol=1e-5)  # float32 precision
# fixed: a source batch padded beyond its longest string (T = 5, lengths 2 and 3), the lengths as a
# NumPy array; encode and forward leave src, lengths and tgt_in as they were (the tensors share the
# arrays' memory, so a change in place shows in the arrays)
_model = Seq2Seq(vocab_size=6, embed_dim=3, hidden=4).double()
_src = np.array([[3, 4], [5, 4], [0, 2], [0, 0], [0, 0]])
_src_lengths = np.array([2, 3])
_tgt = np.array([[1, 1], [4, 3], [5, 2]])
with torch.no_grad():
    _alone = torch.stack([_model.encoder(_model.src_embed(torch.as_tensor(_src[:_k, _n])[:, None]))[1][0, 0]
                          for _n, _k in enumerate(_src_lengths)])
    _label = "Seq2Seq: encode(src of shape (5, 2), lengths [2, 3] as a NumPy array)"
    _h = utils.call_unchanged(_label, lambda src, lengths: _model.encode(torch.from_numpy(src), lengths),
                              _src, _src_lengths)
    utils.check_type(_label, _h, torch.Tensor, hint="return the final states as a tensor (N, H)")
    utils.check_shape(_label, _h, (2, 4), hint="return the final state without the layer axis: (N, H)")
    utils.check_close(f"{_label}, against each string alone", _h.numpy(), _alone.numpy(),
                      atol=1e-10, rtol=1e-10)  # float64: packing changes only the order of some sums
    _label = "Seq2Seq: forward(src of shape (5, 2), lengths [2, 3], tgt_in of shape (3, 2))"
    _got = utils.call_unchanged(
        _label, lambda src, lengths, tgt_in: _model(torch.from_numpy(src), torch.from_numpy(lengths),
                                                    torch.from_numpy(tgt_in)), _src, _src_lengths, _tgt)
    utils.check_type(_label, _got, torch.Tensor, hint="return the logits as a tensor (K, N, V)")
    utils.check_shape(_label, _got, (3, 2, 6))
    _s, _loop = _alone, []
    for _k in range(3):
        _logits, _s = _model.step(torch.from_numpy(_tgt[_k]), _s)
        _loop.append(_logits)
    utils.check_close(f"{_label} against step() called with the true previous tokens", _got.numpy(),
                      torch.stack(_loop).numpy(), atol=1e-10, rtol=1e-10)  # float64: another grouping
### END HIDDEN TESTS

# %% [markdown]
# **Training and evaluation.** Each batch holds 64 fresh strings from the training half of all
# strings (`applications.reverse_task`: a fixed rule sends about one string in five to the held-out
# half, so no held-out string is ever trained on). The decoder inputs are `<s>` followed by the
# reversed string, the targets the reversed string followed by `</s>`, and the loss is the masked
# cross-entropy over the real target tokens. Evaluation reverses 200 held-out strings with your
# `greedy_decode` and `Seq2Seq.step`, and counts a string as right only when every letter and the
# length are right (**exact match**).

# %%
SEQ2SEQ_STEPS = utils.choose(full=300, fast=250)
PAD, START, END = 0, 1, 2
V_REV = 3 + len(applications.REVERSE_SYMBOLS)


def seq2seq_batch(sources, targets):
    src, _, src_lengths = pad_batch(sources)
    tgt_in, _, _ = pad_batch([np.r_[START, t] for t in targets])        # <s> y_1 ... y_K
    tgt_out, mask, _ = pad_batch([np.r_[t, END] for t in targets])      # y_1 ... y_K </s>
    as_t = lambda a: torch.as_tensor(a, device=DEVICE)
    return as_t(src), src_lengths, as_t(tgt_in), as_t(tgt_out), as_t(mask)


def seq2seq_loss(model, batch):
    src, src_lengths, tgt_in, tgt_out, mask = batch
    logits = model(src, src_lengths, tgt_in)
    return torch.nn.functional.cross_entropy(logits[mask], tgt_out[mask])


def reverse_with(model, source, decode=None, max_len=12):
    '''Greedy decoding of one source string (an id array) with `decode` (your greedy_decode).'''
    decode = decode or greedy_decode
    with torch.no_grad():
        h0 = model.encode(torch.as_tensor(np.asarray(source)[:, None], device=DEVICE), np.array([len(source)]))

        def step_fn(token, h):
            logits, h_new = model.step(torch.tensor([token], device=DEVICE), h)
            return logits[0].cpu().numpy(), h_new
        return decode(step_fn, h0, START, END, max_len)


def exact_match(model, sources, targets, decode=None):
    '''Per-string exact match (bool array) of greedy decoding.'''
    return np.array([reverse_with(model, s, decode) == list(t) for s, t in zip(sources, targets)])


def train_seq2seq(seed, steps=SEQ2SEQ_STEPS, bar=None):
    data_rng = utils.seed_all(seed)
    model = Seq2Seq(V_REV).to(DEVICE)
    losses = applications.train(model, lambda: seq2seq_batch(*applications.reverse_task(64, data_rng)),
                                seq2seq_loss, steps, lr=1e-2, bar=bar)
    return model, losses


seq2seq_seeds = utils.choose(full=[0, 1, 2, 3, 4], fast=[0])
with progress(total=len(seq2seq_seeds) * SEQ2SEQ_STEPS, desc="seq2seq") as bar:
    seq2seq_runs = [train_seq2seq(seed, bar=bar) for seed in seq2seq_seeds]
seq2seq_model = seq2seq_runs[0][0]                          # the model the tests evaluate
test_sources, test_targets = applications.reverse_task(200, utils.seed_all(77), split="test")
test_lengths = np.array([len(s) for s in test_sources])
matches = np.array([exact_match(m, test_sources, test_targets) for m, _ in seq2seq_runs])   # (seeds, 200)

fig, axes = plotting.subplots(2, width=11)
for _, losses in seq2seq_runs:
    axes[0].plot(applications.smooth(losses), color=plotting.COLORS["gru"], alpha=0.6)
axes[0].set(xlabel="training step", ylabel="masked cross-entropy (running mean)", yscale="log",
            title=f"teacher-forced training loss, {len(seq2seq_runs)} seeds")
by_length = np.array([[row[test_lengths == L].mean() for L in range(3, 9)] for row in matches])
for row in by_length:
    axes[1].plot(range(3, 9), row, "o", color=plotting.COLORS["gru"], alpha=0.3, ms=5)
axes[1].plot(range(3, 9), by_length.mean(0), "-", color=plotting.COLORS["gru"], label="mean of seeds")
axes[1].set(xlabel="string length", ylabel="held-out exact match", ylim=(-0.02, 1.02),
            title="greedy decoding of held-out strings")
axes[1].legend()
plotting.finish(fig, f"Sequence-to-sequence: reversing strings after {SEQ2SEQ_STEPS} steps")
print("held-out exact match per seed:", np.round(matches.mean(1), 3))
print("by length 3..8 (mean of seeds):", np.round(by_length.mean(0), 3))
for s, t in list(zip(test_sources, test_targets))[:6]:
    got = reverse_with(seq2seq_model, s)
    print(f"{applications.reverse_text(s):>9} -> {applications.reverse_text(got):<9} "
          f"({'right' if got == list(t) else 'wrong, want ' + applications.reverse_text(t)})")

# %% [markdown]
# **What the plots show.** The teacher-forced loss falls steadily in all five runs and is still falling at step 300. Greedy decoding reverses 66–80 % of the held-out strings exactly (per seed; 73 % on average). The exact match falls with the length: 3- and 4-letter strings are nearly always right (100 % and 99 %), 8-letter strings about one time in five (21 % on average, single seeds between about 5 % and 30 %). The wrong outputs in the examples have the right letters with two neighbours swapped: one slip is enough to miss an exact match. More training steps or a larger model raise these numbers; why the longest strings suffer most is the subject of the written question.

# %% [markdown]
# ### Exercise 8b — your trained encoder–decoder on held-out strings (2 points)
#
# The test evaluates `seq2seq_model` (seed 0 above) with greedy decoding on held-out strings: at
# least **40 %** must come back exactly reversed. When the notebook is graded the model is trained
# for 250 steps, and the held-out strings are drawn with a fresh seed. At 250 steps a correct solution
# reached between 60 % and 70 % exact match in each of 12 training seeds, so 40 % leaves a margin
# of 20 points. (A decoder that does not start from the encoder's state knows nothing of the input
# and cannot pass.)

# %% nbgrader={"grade": true, "grade_id": "test_seq2seq_trained", "locked": true, "points": 2, "schema_version": 3, "solution": false}
utils.check_defined(globals(), ["seq2seq_model"],
                    "the training cell above has not run to its end. Write greedy_decode and Seq2Seq first "
                    "(until then they raise NotImplementedError), then run the training cell again.")
_sources, _targets = applications.reverse_task(200, utils.seed_all(78), split="test")
_acc = exact_match(seq2seq_model, _sources, _targets).mean()
if _acc < 0.4:
    raise utils.CheckFailure(f"seq2seq_model: held-out exact match {_acc:.3f} with your greedy_decode, expected at "
                             "least 0.40. Check the tests of greedy_decode and Seq2Seq above first.")
### BEGIN HIDDEN TESTS
from autograder.references import applications as _ref

_sources, _targets = applications.reverse_task(300, utils.seed_all(None), split="test")
_acc = exact_match(seq2seq_model, _sources, _targets, decode=_ref.greedy_decode).mean()
if _acc < 0.4:
    raise utils.CheckFailure(f"seq2seq_model on held-out strings drawn with a fresh seed: exact match "
                             f"{_acc:.3f}, expected at least 0.40.")
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Written question (2 points)
#
# The encoder–decoder was trained with teacher forcing and evaluated with greedy decoding. Explain
# (in about 5 to 8 sentences):
#
# 1. what the decoder reads at step $k$ in each of the two modes, and why teacher forcing makes
#    training faster and easier;
# 2. what can go wrong at inference because of the difference (what happens after the first wrong
#    letter), and how the plot of exact match against string length fits that picture;
# 3. one remedy, and how you would check with this notebook's code that it helps.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_teacher_forcing", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# **Model answer.**
# With teacher forcing the decoder reads the **true** previous token $y_{k-1}$ (from the shifted
# target `<s> y_1 … y_{K-1}`), so every step is a supervised next-token problem with the right
# context, all K steps run in one call of the GRU, and the gradient is not disturbed by the model's
# early mistakes; learning is fast and stable. With greedy decoding the decoder reads its **own**
# previous prediction $\hat y_{k-1} = \arg\max$ of the previous logits, because no true output exists
# at inference.
#
# The decoder was therefore never trained on histories that contain its own errors (*exposure
# bias*): after a first wrong letter it is in a state it never saw in training, and the later letters
# are conditioned on the mistake, so errors compound; exact match also requires every letter and
# the length to be right. Longer strings need more steps to be right and carry more information through
# the fixed-size encoder state $h_T$, so exact match falls with the length, as in the plot (per-seed
# points and their mean).
#
# Remedies: **scheduled sampling** (feed the model's own prediction instead of the true token with a
# probability that grows during training), **beam search** instead of greedy decoding (keep the k best
# prefixes), or more capacity / **attention** so that the decoder does not depend on one state. To check
# one: train with and without it for the same number of steps on several seeds, and compare held-out
# exact match by length with `exact_match`.
#
# **Rubric** (2 points).
# * 1 point: both modes described correctly (true previous token vs own previous prediction) **and**
#   why teacher forcing helps (correct context, parallel over steps, stable gradients); half a point if
#   only the modes are right.
# * 1 point: exposure bias / compounding errors after the first mistake, linked to the fall of exact
#   match with length, **and** one valid remedy with a sensible check (same steps, several seeds,
#   held-out exact match); half a point for only one of these two parts.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * The four shapes of notebook 02 are four kinds of application: many-to-one (classify a bracket
#   string from the last state), many-to-many (a tag per word), one-to-many (generate from one
#   start, feeding outputs back), sequence-to-sequence (an encoder's last state starts a decoder).
# * Variable lengths: pad into a time-major batch with a mask (填充与掩码); average the loss over the
#   real tokens only, $L = \sum m\,\ell / \sum m$; compute it with log-sum-exp so that large logits do
#   not overflow; let the RNN stop at each length (`pack_padded_sequence`), which matters most for a
#   bidirectional or an encoder RNN.
# * An embedding (词嵌入) is a row lookup $W[\text{ids}]$, the same as a one-hot product; its gradient
#   adds $\delta_{t,n}$ into row $\text{ids}_{t,n}$, so repeated ids accumulate (`np.add.at`, not
#   `dW[ids] += d_out`).
# * A bidirectional LSTM tagger on packed batches tags held-out sentences almost perfectly, including
#   the words that only the next word settles; perplexity measures a character model on held-out
#   text, and the temperature trades likelihood for variety.
# * An encoder–decoder is trained with teacher forcing and decoded greedily until `</s>`; in the
#   mismatch between the two (exposure bias) one early mistake can spoil the rest of an output, and
#   exact match falls with the length of the string.
#
# **References.** Sutskever, Vinyals & Le, *Sequence to sequence learning with neural networks*,
# NeurIPS 2014. Cho et al., *Learning phrase representations using RNN encoder–decoder for statistical
# machine translation*, EMNLP 2014. Graves, *Supervised sequence labelling with recurrent neural
# networks*, 2012 (bidirectional LSTM tagging). Bengio et al., *Scheduled sampling for sequence
# prediction with recurrent neural networks*, NeurIPS 2015. Williams & Zipser, *A learning algorithm
# for continually running fully recurrent neural networks*, 1989 (teacher forcing). Zhang, Lipton,
# Li & Smola, *Dive into Deep Learning*, chapters 9–10 (sequence models, encoder–decoder).
