# %% [markdown]
# # 02 · RNN 动机与 Elman RNN — why sequences need memory, and the Elman RNN
#
# Notebook 01 turned words into one-hot vectors and fed a fixed number of them to a fully connected
# layer. This notebook follows the lecture notes from **RNN 动机** (the motivation) to the table of
# applications and the comparison with CNNs. It introduces the **recurrent neural network**
# (循环神经网络, RNN) in its classic form, the **Elman RNN** (also called the *vanilla* RNN), and you
# write its forward pass in NumPy.
#
# **Learning goals.** After this notebook you can
#
# 1. say what makes data *sequential* and name the three limits of feed-forward networks the notes list;
# 2. write the Elman recurrence with the shape of every symbol, and implement its forward pass:
#    one step, a whole sequence, the output layer and a numerically stable softmax;
# 3. reproduce `torch.nn.RNN` exactly once its weights are copied in, and explain its two biases;
# 4. build the four shapes — many-to-many, many-to-one, one-to-many, sequence-to-sequence — from the
#    same pieces, and place the applications of the notes on them;
# 5. count parameters and explain **parameter sharing** (参数共享) over time;
# 6. predict from the size of `W_hh` whether the memory of an input fades or saturates: the question
#    notebook 04 answers for gradients.
#
# **How to work.** Complete each cell that says `# YOUR CODE HERE` (delete the `raise` line), then run
# the test cell below it. The visible tests check shapes, a case you can verify by hand and one random
# case; when the notebook is graded, hidden tests add fresh random inputs, edge shapes (`T = 1`,
# `N = 1`, `D ≠ H`) and a comparison with PyTorch. When a result matches a common mistake, the message
# names it.
#
# | exercise | function | points |
# |---|---|---|
# | 1 | `rnn_step_forward` | 3 |
# | 2 | `rnn_forward` | 3 |
# | 3 | `output_layer` | 2 |
# | 4 | `softmax` | 2 |
# | written | RNN versus CNN | 2 (graded by hand) |
#
# Conventions of the course: sequences are **time-major**, `x` has shape `(T, N, D)` (time steps,
# batch, features); hidden states are `(N, H)` and all of them together `(T, N, H)`; weights are laid
# out as in the maths and in PyTorch: `W_xh (H, D)`, `W_hh (H, H)`, `b_h (H,)`, `W_hy (V, H)`, `b_y (V,)`.
# NumPy exercises work in float64.
#
# **术语表 · Glossary.** The Chinese and English terms of the course and the symbol each notebook uses: [GLOSSARY.md](../../GLOSSARY.md).

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import numpy as np
import torch

from utils import check_close, check_equal, check_shape, choose, data, elman, plotting, seed_all
from utils.torch_ref import elman_forward_torch, elman_rnn_module, to_numpy, to_torch

plotting.use_course_style()
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1 · Why sequences need memory (RNN 动机)
#
# **Sequential data** (时间序列, 序列数据) is collected at successive points — in time or along a
# chain — and what happens at one point depends on what came before. The notes list:
#
# | data | one element $x_t$ | what depends on what |
# |---|---|---|
# | video (视频) | a frame | motion continues from frame to frame |
# | music (音乐) | a note or an audio sample | melody, rhythm, harmony |
# | DNA (生物序列) | a base A, C, G or T | genes; codons are read three bases at a time |
# | industrial sensors (工业传感) | a reading | a fault builds up over many readings |
# | language (NLP) | a word or a character | grammar: *the cats that the dog chased **are** …* |
#
# Three things are common to all of them: **order** matters, the **length** varies from one example
# to the next, and **neighbours are related**.
#
# The notes name three limits of feed-forward networks (前馈网络的不足):
#
# 1. connections run only from layer to layer; nothing loops back (无循环), so the network has **no
#    memory** of earlier inputs;
# 2. the sizes of input and output are **fixed**, so sequences of varying length do not fit;
# 3. each input is treated as **independent**: the output depends only on the current input.
#
# Notebook 01 demonstrated each of them; the cell below is the shortest reminder of limits 2 and 3.

# %% [markdown]
# **Predict, then run.** Write down the shape that `fc_layer` returns for 3 words. Then answer yes or
# no: will the per-word network `W_word` give word 2 the same output at $t = 1$ and at $t = 3$? Name
# the limit that explains your answer.

# %%
# Notebook 01's fully connected layer over C one-hot words (V words in the vocabulary, H units).
rng = seed_all(0)
V, C, H = 5, 3, 4
W_fc = rng.standard_normal((H, C * V))     # one weight per (word position, vocabulary entry, unit)


def fc_layer(words):
    "The C one-hot vectors laid end to end (length C·V), then tanh(W_fc x)."
    x = np.eye(V)[words].reshape(-1)
    return np.tanh(W_fc @ x)


print("3 words -> output of shape", fc_layer([0, 1, 2]).shape)
try:
    fc_layer([0, 1, 2, 3])                     # limit 2: a sentence of 4 words does not fit
except ValueError as err:
    print("4 words -> ValueError:", str(err)[:60], "...")

# Limit 3: a network applied to each word on its own gives a word the same output wherever it
# stands, whatever came before it.
W_word = rng.standard_normal((H, V))
outputs = [np.tanh(W_word @ np.eye(V)[w]) for w in [2, 0, 2]]     # word 2, word 0, word 2 again
print("word 2 gets the same output at t = 1 and at t = 3:", np.allclose(outputs[0], outputs[2]))

# %% [markdown]
# ## 2 · The Elman RNN
#
# The notes model a sequence with a **recurrence function**: a **hidden state** (隐状态) $h_t$
# summarises the inputs seen so far, and each step computes the new state from the old state and the
# new input,
#
# $$h_t = \sigma_\theta(h_{t-1}, x_t),$$
#
# with the *same* function and the *same* parameters $\theta$ at every step. An output is read off the
# state. The **Elman RNN** (the classic, or *vanilla*, RNN) chooses an affine map followed by $\tanh$:
#
# $$a_t = W_{xh}\,x_t + W_{hh}\,h_{t-1} + b_h, \qquad h_t = \tanh(a_t), \qquad
# y_t = W_{hy}\,h_t + b_y, \qquad p_t = \operatorname{softmax}(y_t).$$
#
# | symbol | meaning | shape (one example) | shape in code (N examples) |
# |---|---|---|---|
# | $x_t$ | input at step $t$ (a one-hot word, a sensor reading …) | $(D,)$ | `x[t]`: `(N, D)` |
# | $h_{t-1}$, $h_t$ | hidden state before and after step $t$ | $(H,)$ | `(N, H)` |
# | $W_{xh}$ | input-to-hidden weights | $(H, D)$ | `W_xh`: `(H, D)` |
# | $W_{hh}$ | hidden-to-hidden (recurrent) weights | $(H, H)$ | `W_hh`: `(H, H)` |
# | $b_h$ | hidden bias | $(H,)$ | `b_h`: `(H,)` |
# | $W_{hy}$, $b_y$ | output layer | $(V, H)$, $(V,)$ | `W_hy`: `(V, H)`, `b_y`: `(V,)` |
# | $y_t$ | output scores (logits) over $V$ classes | $(V,)$ | `(N, V)`; all steps `(T, N, V)` |
#
# The sequence starts from a given state $h_0$ (often zeros). With $t = 1, \dots, T$ in the maths, the
# code's `h[t]` (for `t = 0, …, T-1`) holds $h_{t+1}$, the state after input `x[t]`; $h_0$ is the
# separate argument `h0`.
#
# > **Note on the lecture notes.** The notes write only $h_t = \sigma_\theta(h_{t-1}, x_t)$. There
# > $\sigma_\theta$ is a *generic* function with parameters $\theta = (W_{xh}, W_{hh}, b_h)$, not the
# > logistic sigmoid. The Elman RNN fixes it to $\tanh$ of an affine map, and adds the output layer
# > $y_t = W_{hy} h_t + b_y$ that the notes' figure (lost in the extracted text) shows. The structure
# > of that figure, one output per input, is the *many-to-many* shape of section 4.

# %%
fig = elman.draw_unrolled(T=4)  # one step, repeated: the same W_xh, W_hh, W_hy at every step

# %% [markdown]
# **Rows, not columns.** The code keeps the N examples of a batch as the rows of `x_t`. For one column
# vector, $W_{xh} x$ is the row `x @ W_xh.T`, so one matrix product computes it for all N rows at once:

# %%
rng = seed_all(1)
N, D, H = 3, 4, 2
W_xh = rng.standard_normal((H, D))
x_t = rng.standard_normal((N, D))
rows = x_t @ W_xh.T                                          # (N, H): all examples at once
one_by_one = np.stack([W_xh @ x_t[n] for n in range(N)])     # the maths, one column vector at a time
print("shape", rows.shape, "| x_t @ W_xh.T equals W_xh x for every row:", np.allclose(rows, one_by_one))

# %% [markdown]
# ### A worked example: a network with one hidden unit
#
# Take $D = H = 1$, $w_x = 1$, $w_h = 0.5$, $b = 0$, $h_0 = 0$ and the inputs $x = (1, 0, 0, 1, 0)$.
# Follow the recurrence by hand, and compare with a feed-forward unit $\tanh(w_x x_t + b)$ that sees
# only the current input:

# %% [markdown]
# **Predict, then run.** Before you run the cell, work out $h_1$ and $h_2$ by hand to two decimals (at
# $t = 2$ the input is 0). Then say whether $h_4$, where the input is 1 again, will be equal to,
# larger or smaller than $h_1$, and why.

# %%
w_x, w_h, b = 1.0, 0.5, 0.0
xs = [1.0, 0.0, 0.0, 1.0, 0.0]
h = 0.0                                                       # h_0
print(" t   x_t   a_t = w_x x_t + w_h h_{t-1} + b   h_t = tanh(a_t)   feed-forward tanh(w_x x_t + b)")
hs = []
for t, x in enumerate(xs, start=1):
    a = w_x * x + w_h * h + b
    h = np.tanh(a)
    hs.append(h)
    print(f"{t:2d}   {x:3.1f}   {a:27.4f}   {h:15.4f}   {np.tanh(w_x * x + b):30.4f}")

# the same numbers by the formula: h_1 = tanh(1), h_2 = tanh(0.5 h_1), h_3 = tanh(0.5 h_2)
assert np.isclose(hs[0], np.tanh(1.0)) and np.isclose(hs[1], np.tanh(0.5 * np.tanh(1.0)))
assert np.isclose(hs[3], np.tanh(1.0 + 0.5 * hs[2]))


# %% [markdown]
# Read the table:
#
# * at $t = 2, 3$ the input is 0, yet $h_t \neq 0$: the state **remembers** $x_1$. Each step multiplies
#   the memory by about $w_h = 0.5$ (for small $a$, $\tanh a \approx a$), so it **fades**;
# * at $t = 4$ the input is $1$ again, as at $t = 1$, but $h_4 = 0.80 \neq h_1 = 0.76$ because the state
#   carried something in. The feed-forward column gives the same $0.76$ both times (limit 3);
# * nothing in the recurrence depends on the length: the same three numbers $w_x, w_h, b$ process a
#   sequence of any length (limit 2).
#
# Section 6 asks how the size of $W_{hh}$ decides between fading and growing.
#
# ---
# ### Exercise 1 · One step: `rnn_step_forward` (3 points)
#
# Implement one step for a batch of N examples:
# $a_t = W_{xh} x_t + W_{hh} h_{t-1} + b_h$, $h_t = \tanh(a_t)$.
#
# * With rows, $W_{xh} x_t$ is `x_t @ W_xh.T` (shape `(N, H)`); likewise for $W_{hh} h_{t-1}$.
# * `b_h` has shape `(H,)` and broadcasts over the N rows; `np.tanh` works entry by entry.
# * No loop is needed, and no PyTorch: this is NumPy.
# * Use `np.tanh`. For large $|a|$, $\tanh a$ is $\pm 1$ (the unit *saturates*), and `np.tanh` says
#   so; the definition $(e^{a} - e^{-a}) / (e^{a} + e^{-a})$ typed in as it stands overflows to
#   $\infty / \infty$ = `nan` once $|a| > 710$ (where $e^{|a|}$ passes float64's largest number).
# * The `cache` line is given: it keeps what the backward pass of notebook 03 will need.

# %% nbgrader={"grade": false, "grade_id": "rnn_step_forward", "locked": false, "schema_version": 3, "solution": true}
def rnn_step_forward(x_t, h_prev, W_xh, W_hh, b_h):
    """One time step of the Elman RNN: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h).

    Inputs (a batch of N examples; each row is one example's vector):
    - x_t:    (N, D) inputs at time t
    - h_prev: (N, H) hidden states h_{t-1}
    - W_xh:   (H, D) input-to-hidden weights
    - W_hh:   (H, H) hidden-to-hidden weights
    - b_h:    (H,)   hidden bias
    Returns (h_t, cache):
    - h_t:    (N, H) new hidden states
    - cache:  (x_t, h_prev, h_t, W_xh, W_hh), what the backward pass needs (notebook 03)
    """
    ### BEGIN SOLUTION
    a_t = x_t @ W_xh.T + h_prev @ W_hh.T + b_h      # (N, H); row n is W_xh x + W_hh h + b
    h_t = np.tanh(a_t)
    ### END SOLUTION
    cache = (x_t, h_prev, h_t, W_xh, W_hh)
    return h_t, cache


# %% nbgrader={"grade": true, "grade_id": "test_rnn_step_forward_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, check_equal, check_shape, fixtures

# A case to check by hand: N = 2 examples, D = 3 inputs, H = 2 hidden units.
x_t = np.array([[1.0, 0.0, -1.0],
                [0.0, 0.0, 0.0]])
h_prev = np.array([[0.5, -0.5],
                   [0.0, 0.0]])
W_xh = np.array([[1.0, 2.0, 0.0],
                 [0.0, 1.0, 1.0]])           # (H, D)
W_hh = np.array([[1.0, 0.0],
                 [2.0, 1.0]])                # (H, H)
b_h = np.array([0.0, -0.5])
# row 0: W_xh x = [1, -1], W_hh h = [0.5, 0.5], plus b_h      ->  a_t = [1.5, -1.0]
# row 1: x = 0 and h = 0, only the bias is left                ->  a_t = [0.0, -0.5]
expected = np.tanh(np.array([[1.5, -1.0],
                             [0.0, -0.5]]))  # [[0.9051, -0.7616], [0, -0.4621]]
h_t, cache = rnn_step_forward(x_t, h_prev, W_xh, W_hh, b_h)
check_shape("h_t", h_t, (2, 2))
# float64 sums of three products: rounding errors ~1e-16, so 1e-12 is generous yet catches any slip
check_close("rnn_step_forward h_t (hand case)", h_t, expected, atol=1e-12, rtol=0,
            mistakes=fixtures.load("02_elman_rnn")["step_hand"].mistakes("h_t"))  # what common mistakes return here
check_equal("len(cache)", len(cache), 5)
for name, got, want in zip(["x_t", "h_prev", "h_t", "W_xh", "W_hh"], cache,
                           [x_t, h_prev, expected, W_xh, W_hh]):
    check_close(f"cache entry {name}", got, want, atol=1e-12, rtol=0)  # same values as above
print("hand case OK")
### BEGIN HIDDEN TESTS
from utils import call_unchanged, check_type, seed_all

rng = seed_all(None)
for N, D, H in [(1, 1, 4), (5, 7, 2), (1, 3, 3), (4, 2, 6)]:
    args = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            rng.standard_normal((H, D)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H),
            rng.standard_normal(H))
    # the function must not change its inputs in place: they stay exactly as they were
    h_t, cache = call_unchanged(f"rnn_step_forward (N={N}, D={D}, H={H})", rnn_step_forward, *args)
    # float64 in, a float64 NumPy array out, as the docstring's shapes promise
    check_type(f"h_t for N={N}, D={D}, H={H}", h_t, np.ndarray, dtype=np.float64,
               hint="keep NumPy's float64: no .astype(np.float32), no lists")
    check_shape(f"h_t for N={N}, D={D}, H={H}", h_t, (N, H))
    check_equal(f"len(cache) for N={N}, D={D}, H={H}", len(cache), 5)
    check_close(f"cache h_t for N={N}, D={D}, H={H}", cache[2], h_t, atol=0, rtol=0)  # same array
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_step_forward_random", "locked": true, "points": 2, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, check_shape, elman, fixtures, seed_all

# Random inputs against torch.nn.RNNCell with your weights copied in (an independent reference).
# N = 4, D = H = 5: with D == H a transposed weight gives wrong numbers, not an error, and is named.
_case = fixtures.load("02_elman_rnn")["step_random"]   # fixed inputs, and what common mistakes return
x_t, h_prev, W_xh, W_hh, b_h = (_case.inputs[k] for k in ("x_t", "h_prev", "W_xh", "W_hh", "b_h"))
N, H = h_prev.shape
h_t, _ = rnn_step_forward(x_t, h_prev, W_xh, W_hh, b_h)
check_shape("h_t", h_t, (N, H))
# both sides compute in float64 but may sum in another order: they agree to ~1e-15, so 1e-10
check_close("rnn_step_forward h_t vs torch.nn.RNNCell", h_t,
            elman.elman_step_torch(x_t, h_prev, W_xh, W_hh, b_h), atol=1e-10, rtol=1e-10,
            mistakes=_case.mistakes("h_t"))
print("random case OK")
### BEGIN HIDDEN TESTS
from autograder.references import elman as _ref
from utils import check_no_library

rng = seed_all(None)
for N, D, H in [(1, 1, 1), (3, 6, 4), (2, 3, 7), (5, 4, 4), (1, 9, 3), (6, 5, 5)]:
    args = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            rng.standard_normal((H, D)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H),
            rng.standard_normal(H))
    h_t, _ = rnn_step_forward(*args)
    # float64 on both sides, different summation order: ~1e-15 apart, so 1e-10
    check_close(f"rnn_step_forward h_t (N={N}, D={D}, H={H}) vs torch.nn.RNNCell", h_t,
                elman.elman_step_torch(*args), atol=1e-10, rtol=1e-10,
                mistakes=_ref.step_mistakes(*args))
# float32 inputs are accepted: float32 keeps ~7 significant digits, so compare to 1e-5
args32 = tuple(a.astype(np.float32) for a in args)
h_t, _ = rnn_step_forward(*args32)
check_close("rnn_step_forward with float32 inputs", h_t, elman.elman_step_torch(*args32),
            atol=1e-5, rtol=1e-5, mistakes=_ref.step_mistakes(*args32))
# pre-activations near +-1000 and +-800 whatever the draw (the bias decides): tanh saturates at
# +-1 and stays finite
for N, D, H in [(3, 4, 4), (1, 1, 1)]:
    args = (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((H, D)),
            rng.standard_normal((H, H)), np.array([-1000.0, 1000.0, -800.0, 800.0])[:H])
    with np.errstate(over="ignore", invalid="ignore"):   # a correct formula may overflow inside
        h_t, _ = rnn_step_forward(*args)
    check_close(f"rnn_step_forward with pre-activations near +-1000 (N={N}, D={D}, H={H})", h_t,
                elman.elman_step_torch(*args), atol=1e-12, rtol=0,
                hint="tanh saturates at +-1 for large |a|: np.tanh(a) is right there, while "
                     "(e^a - e^-a) / (e^a + e^-a) overflows to inf / inf = nan once |a| > 710")
check_no_library("rnn_step_forward", rnn_step_forward,
                 ["torch", "torch_ref", "elman", "numpy_rnn", "scipy"])
# what it calls while it runs, not only what its source says (an alias cannot hide a call)
from utils.checks import check_no_library_calls

_ = check_no_library_calls("rnn_step_forward", rnn_step_forward, *args, forbidden=("torch", "autograder", "scipy"))
### END HIDDEN TESTS

# %% [markdown]
# ---
# ### Exercise 2 · The whole sequence: `rnn_forward` (3 points)
#
# Run the step over the sequence, carrying the state from one step to the next:
#
# $$h_1 = \tanh(W_{xh} x_1 + W_{hh} h_0 + b_h), \quad h_2 = \tanh(W_{xh} x_2 + W_{hh} h_1 + b_h), \quad \dots$$
#
# * `x` is time-major: `x[t]` (shape `(N, D)`) holds step `t` of all N sequences; loop over axis 0.
# * Start from the given `h0`, and feed each step the state the previous step returned.
# * Collect every new state (not the previous one) and stack them into `h` of shape `(T, N, H)`
#   (`np.stack`), and collect the step caches, in time order, in the list `cache`.
# * Call your `rnn_step_forward`; the weights are the same at every step.

# %% nbgrader={"grade": false, "grade_id": "rnn_forward", "locked": false, "schema_version": 3, "solution": true}
def rnn_forward(x, h0, W_xh, W_hh, b_h):
    """Run the Elman RNN over a whole sequence, starting from the state h0.

    Inputs:
    - x:    (T, N, D) the sequences, time-major: x[t] holds step t of all N sequences
    - h0:   (N, H)    initial hidden state
    - W_xh: (H, D), W_hh: (H, H), b_h: (H,)  the same weights at every step
    Returns (h, cache):
    - h:     (T, N, H) all hidden states; h[t] is the state after input x[t] (h[0] is h_1, not h0)
    - cache: list of the T step caches returned by rnn_step_forward, in time order
    """
    ### BEGIN SOLUTION
    h_t, states, cache = h0, [], []
    for x_t in x:                                     # iterates over axis 0, the time steps
        h_t, step_cache = rnn_step_forward(x_t, h_t, W_xh, W_hh, b_h)
        states.append(h_t)
        cache.append(step_cache)
    h = np.stack(states)                              # (T, N, H)
    ### END SOLUTION
    return h, cache


# %% nbgrader={"grade": true, "grade_id": "test_rnn_forward_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, check_equal, check_shape, elman, fixtures, seed_all

# The worked example of section 2 as a sequence: D = H = 1, N = 1 sequence, T = 3 steps,
# inputs (1, 0, 0), h0 = 0, W_xh = 1, W_hh = 0.5, b_h = 0.
x = np.array([1.0, 0.0, 0.0]).reshape(3, 1, 1)
h0 = np.zeros((1, 1))
W_xh, W_hh, b_h = np.array([[1.0]]), np.array([[0.5]]), np.array([0.0])
h1 = np.tanh(1.0)
h2 = np.tanh(0.5 * h1)
h3 = np.tanh(0.5 * h2)
expected = np.array([h1, h2, h3]).reshape(3, 1, 1)      # 0.7616, 0.3634, 0.1797
h, cache = rnn_forward(x, h0, W_xh, W_hh, b_h)
# three float64 steps of one product each: rounding ~1e-16, so 1e-12
check_close("rnn_forward h (hand case)", h, expected, atol=1e-12, rtol=0,
            mistakes=fixtures.load("02_elman_rnn")["forward_hand"].mistakes("h"))

# Shapes and the cache on a batch: T = 4 steps, N = 3 sequences, D = 5 inputs, H = 6 hidden units.
rng = seed_all(1)
T, N, D, H = 4, 3, 5, 6
x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
W_xh, W_hh, b_h = rng.standard_normal((H, D)), rng.standard_normal((H, H)), rng.standard_normal(H)
h, cache = rnn_forward(x, h0, W_xh, W_hh, b_h)
check_shape("h", h, (T, N, H))
check_equal("len(cache): one step cache per time step", len(cache), T)
for t in range(T):
    # the cache holds the very arrays of the computation, so they are equal exactly
    check_equal(f"len(cache[{t}])", len(cache[t]), 5)
    check_close(f"cache[{t}][0], the input of step {t}", cache[t][0], x[t], atol=0, rtol=0)
    check_close(f"cache[{t}][1], the state before step {t}", cache[t][1],
                h0 if t == 0 else h[t - 1], atol=0, rtol=0,
                hint="step 0 starts from the given h0; step t from the state step t-1 returned")
    check_close(f"cache[{t}][2], the state after step {t}: it must equal h[{t}]", cache[t][2],
                h[t], atol=0, rtol=0)
print("hand case, shapes and cache OK")
### BEGIN HIDDEN TESTS
from autograder.references import elman as _ref
from utils import call_unchanged, check_type

rng = seed_all(None)
for T, N, D, H in [(1, 2, 3, 4), (1, 1, 1, 1), (5, 1, 2, 3)]:
    x, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    W_xh, W_hh, b_h = rng.standard_normal((H, D)), rng.standard_normal((H, H)), rng.standard_normal(H)
    h, cache = call_unchanged(f"rnn_forward (T={T}, N={N}, D={D}, H={H})", rnn_forward,
                              x, h0, W_xh, W_hh, b_h)
    check_type(f"h for T={T}", h, np.ndarray, dtype=np.float64,
               hint="np.stack of float64 states is a float64 array")
    check_type(f"cache for T={T}", cache, list,
               hint="the docstring promises a list of the step caches, in time order")
    check_close(f"rnn_forward h (T={T}, N={N}, D={D}, H={H}) vs torch.nn.RNN", h,
                elman.elman_forward_torch(x, h0, W_xh, W_hh, b_h), atol=1e-10, rtol=1e-10,
                mistakes=_ref.forward_mistakes(x, h0, W_xh, W_hh, b_h))  # float64: ~1e-15 apart
    check_equal(f"len(cache) for T={T}", len(cache), T)
    check_close(f"cache[0][1] for T={T}: the first step starts from h0", cache[0][1], h0,
                atol=0, rtol=0)
    check_close(f"cache[-1][2] for T={T}: the last state", cache[-1][2], h[-1], atol=0, rtol=0)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_forward_random", "locked": true, "points": 2, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, check_shape, elman, fixtures, seed_all

# Random sequences against torch.nn.RNN with your weights copied in (see section 3): T = 5, N = 3, D = H = 4.
_case = fixtures.load("02_elman_rnn")["forward_random"]   # fixed inputs, and what common mistakes return
x, h0, W_xh, W_hh, b_h = (_case.inputs[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h"))
T, N, H = x.shape[0], x.shape[1], h0.shape[1]
h, _ = rnn_forward(x, h0, W_xh, W_hh, b_h)
check_shape("h", h, (T, N, H))
# float64 on both sides; rounding errors grow a little with each step but stay ~1e-15: 1e-10 is safe
check_close("rnn_forward h vs torch.nn.RNN", h, elman.elman_forward_torch(x, h0, W_xh, W_hh, b_h),
            atol=1e-10, rtol=1e-10, mistakes=_case.mistakes("h"))
print("random case OK")
### BEGIN HIDDEN TESTS
from autograder.references import elman as _ref
from utils import check_no_library

rng = seed_all(None)
for T, N, D, H in [(1, 3, 2, 5), (6, 1, 4, 3), (3, 3, 3, 3), (4, 2, 7, 2), (40, 2, 5, 8)]:
    args = (rng.standard_normal((T, N, D)), rng.standard_normal((N, H)),
            rng.standard_normal((H, D)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H),
            rng.standard_normal(H))
    before = [a.copy() for a in args]
    h, _ = rnn_forward(*args)
    # float64 on both sides: ~1e-15 apart even after 40 steps (tanh does not amplify errors here)
    check_close(f"rnn_forward h (T={T}, N={N}, D={D}, H={H}) vs torch.nn.RNN", h,
                elman.elman_forward_torch(*args), atol=1e-10, rtol=1e-10,
                mistakes=_ref.forward_mistakes(*args))
    for name, a, b in zip(["x", "h0", "W_xh", "W_hh", "b_h"], args, before):
        check_close(f"input {name} after the call (do not change inputs in place)", a, b,
                    atol=0, rtol=0)  # must be untouched, exactly
# float32 inputs are accepted: ~7 significant digits, a few rounding steps per time step: 1e-5
T, N, D, H = 6, 3, 4, 5
args32 = tuple(a.astype(np.float32) for a in (
    rng.standard_normal((T, N, D)), rng.standard_normal((N, H)),
    rng.standard_normal((H, D)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H),
    rng.standard_normal(H)))
h, _ = rnn_forward(*args32)
check_close("rnn_forward with float32 inputs", h, elman.elman_forward_torch(*args32),
            atol=1e-5, rtol=1e-5)
check_no_library("rnn_forward", rnn_forward, ["torch", "torch_ref", "elman", "numpy_rnn", "scipy"])
from utils.checks import check_no_library_calls

_ = check_no_library_calls("rnn_forward", rnn_forward, *args32, forbidden=("torch", "autograder", "scipy"))
### END HIDDEN TESTS

# %% [markdown]
# ## 3 · The same network in PyTorch: `torch.nn.RNN` and its two biases
#
# PyTorch's documentation writes the Elman layer as
#
# $$h_t = \tanh\big(x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}\big),$$
#
# the row convention of our code, with the weights stored as `weight_ih_l0` $(H, D)$ and `weight_hh_l0`
# $(H, H)$, laid out exactly as our `W_xh` and `W_hh`. The difference is the **two biases**
# `bias_ih_l0` and `bias_hh_l0`. They are always added together, so only their sum matters:
#
# $$b_h = b_{ih} + b_{hh}.$$
#
# To copy our weights into PyTorch, set `bias_ih_l0 = b_h` and `bias_hh_l0 = 0` (that is what
# `utils.torch_ref.elman_rnn_module` does, and what the tests compared you with). To read a PyTorch
# layer, add its two biases. The cell below takes a `torch.nn.RNN` with its own random initialisation
# (both biases non-zero) and reproduces it with your `rnn_forward`.

# %% [markdown]
# **Predict, then run.** The cell builds a `torch.nn.RNN` with $D = 3$ inputs and $H = 4$ hidden
# units. How many parameters will PyTorch count, and how many does the maths
# $h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$ need? Write down both numbers.

# %%
rng = seed_all(0)
T, N, D, H = 6, 2, 3, 4
torch_rnn = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=False, dtype=torch.float64)
x = rng.standard_normal((T, N, D))
h0 = rng.standard_normal((N, H))
with torch.no_grad():
    out, h_n = torch_rnn(to_torch(x), to_torch(h0)[None])    # PyTorch wants h0 as (layers, N, H)

W_xh = to_numpy(torch_rnn.weight_ih_l0)
W_hh = to_numpy(torch_rnn.weight_hh_l0)
b_h = to_numpy(torch_rnn.bias_ih_l0 + torch_rnn.bias_hh_l0)  # the two biases add up to ours
h, _ = rnn_forward(x, h0, W_xh, W_hh, b_h)
print("largest |your h - torch.nn.RNN's output|:", np.abs(h - to_numpy(out)).max())
print("torch's h_n is the last state h[-1]:     ", np.allclose(to_numpy(h_n)[0], h[-1]))

# only the sum counts: split b_h differently between the two biases and nothing changes
with torch.no_grad():
    torch_rnn.bias_ih_l0.copy_(to_torch(0.3 * b_h))
    torch_rnn.bias_hh_l0.copy_(to_torch(0.7 * b_h))
    out_split, _ = torch_rnn(to_torch(x), to_torch(h0)[None])
print("b_ih = 0.3 b_h, b_hh = 0.7 b_h gives the same output:", np.allclose(to_numpy(out_split), h))

n_torch = sum(p.numel() for p in torch_rnn.parameters())
print(f"parameters: torch.nn.RNN {n_torch}, the maths H·D + H·H + H = {elman.elman_param_count(D, H)}"
      f" (PyTorch's second bias adds H = {H} redundant ones)")
assert np.allclose(h, to_numpy(out), atol=1e-12) and n_torch == elman.elman_param_count(D, H) + H


# %% [markdown]
# ---
# ### Exercise 3 · The output layer: `output_layer` (2 points)
#
# The output at every step is an affine map of the state, $y_t = W_{hy} h_t + b_y$: $V$ scores, one
# per class (a word of the vocabulary, a tag, a category). These unnormalised scores are called
# **logits**. Compute them for all $T$ steps and $N$ sequences at once: `h` has shape `(T, N, H)`,
# and `@` multiplies over the last axis while broadcasting over the others.

# %% nbgrader={"grade": false, "grade_id": "output_layer", "locked": false, "schema_version": 3, "solution": true}
def output_layer(h, W_hy, b_y):
    """The output layer y_t = W_hy h_t + b_y, at every time step at once.

    Inputs:
    - h:    (T, N, H) hidden states
    - W_hy: (V, H)    hidden-to-output weights
    - b_y:  (V,)      output bias
    Returns logits: (T, N, V), the unnormalised scores y_t (softmax turns them into probabilities)
    """
    ### BEGIN SOLUTION
    logits = h @ W_hy.T + b_y         # @ acts on the last axis and broadcasts over (T, N)
    ### END SOLUTION
    return logits


# %% nbgrader={"grade": true, "grade_id": "test_output_layer_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, check_shape, fixtures, seed_all

# By hand: T = 2 steps, N = 1 sequence, H = 2 hidden units, V = 3 classes.
h = np.array([[[1.0, 0.0]],
              [[0.5, -1.0]]])                              # (2, 1, 2)
W_hy = np.array([[1.0, 2.0],
                 [0.0, -1.0],
                 [3.0, 0.0]])                              # (V, H) = (3, 2)
b_y = np.array([0.0, 1.0, -1.0])
# t = 0: W_hy h = [1, 0, 3],      plus b_y -> [1.0, 1.0, 2.0]
# t = 1: W_hy h = [-1.5, 1, 1.5], plus b_y -> [-1.5, 2.0, 0.5]
expected = np.array([[[1.0, 1.0, 2.0]],
                     [[-1.5, 2.0, 0.5]]])
logits = output_layer(h, W_hy, b_y)
# a few float64 products of small numbers: exact up to ~1e-16, so 1e-12
check_close("output_layer logits (hand case)", logits, expected, atol=1e-12, rtol=0,
            mistakes=fixtures.load("02_elman_rnn")["output_hand"].mistakes("logits"))

# Shapes: T = 4, N = 3, H = 5, V = 7
rng = seed_all(5)
h = rng.standard_normal((4, 3, 5))
logits = output_layer(h, rng.standard_normal((7, 5)), rng.standard_normal(7))
check_shape("logits", logits, (4, 3, 7))
print("hand case and shapes OK")
### BEGIN HIDDEN TESTS
from utils import call_unchanged, check_type

rng = seed_all(None)
for T, N, H, V in [(1, 1, 3, 2), (1, 4, 2, 1), (3, 1, 1, 5)]:
    args = (rng.standard_normal((T, N, H)), rng.standard_normal((V, H)), rng.standard_normal(V))
    logits = call_unchanged(f"output_layer (T={T}, N={N}, H={H}, V={V})", output_layer, *args)
    check_type(f"logits for T={T}, N={N}, H={H}, V={V}", logits, np.ndarray, dtype=np.float64)
    check_shape(f"logits for T={T}, N={N}, H={H}, V={V}", logits, (T, N, V))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_output_layer_random", "locked": true, "points": 1, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, elman, fixtures, seed_all

# Random states against torch.nn.Linear with your weights copied in: T = 3, N = 2, H = V = 4
# (V == H: a transposed W_hy gives wrong numbers and is named).
_case = fixtures.load("02_elman_rnn")["output_random"]   # fixed inputs, and what common mistakes return
h, W_hy, b_y = (_case.inputs[k] for k in ("h", "W_hy", "b_y"))
# float64 on both sides, different summation order: ~1e-15 apart, so 1e-10
check_close("output_layer logits vs torch.nn.Linear", output_layer(h, W_hy, b_y),
            elman.output_layer_torch(h, W_hy, b_y), atol=1e-10, rtol=1e-10,
            mistakes=_case.mistakes("logits"))
print("random case OK")
### BEGIN HIDDEN TESTS
from autograder.references import elman as _ref
from utils import check_no_library

rng = seed_all(None)
for T, N, H, V in [(5, 3, 4, 9), (1, 2, 6, 6), (7, 1, 3, 2), (2, 4, 8, 8)]:
    args = (rng.standard_normal((T, N, H)), rng.standard_normal((V, H)), rng.standard_normal(V))
    check_close(f"output_layer logits (T={T}, N={N}, H={H}, V={V}) vs torch.nn.Linear",
                output_layer(*args), elman.output_layer_torch(*args), atol=1e-10, rtol=1e-10,
                mistakes=_ref.output_mistakes(*args))  # float64: ~1e-15 apart
# float32 inputs are accepted: ~7 significant digits in sums of 8 products, so 1e-5
args32 = tuple(a.astype(np.float32) for a in args)
check_close("output_layer with float32 inputs", output_layer(*args32),
            elman.output_layer_torch(*args32), atol=1e-5, rtol=1e-5)
check_no_library("output_layer", output_layer, ["torch", "torch_ref", "elman", "numpy_rnn"])
from utils.checks import check_no_library_calls

_ = check_no_library_calls("output_layer", output_layer, *args, forbidden=("torch", "autograder", "scipy"))
### END HIDDEN TESTS

# %% [markdown]
# ---
# ### Exercise 4 · A numerically stable `softmax` (2 points)
#
# The softmax turns the logits of each step into probabilities over the $V$ classes:
#
# $$p_t[k] = \frac{e^{y_t[k]}}{\sum_{j=1}^{V} e^{y_t[j]}}.$$
#
# Written as it stands, it breaks on large logits: `float64` holds numbers up to about
# $1.8 \cdot 10^{308} \approx e^{709.8}$, so $e^{1000}$ overflows to `inf`, and `inf / inf` is `nan`.
# The cure is an identity: for any constant $c$,
#
# $$\frac{e^{y[k] - c}}{\sum_j e^{y[j] - c}} = \frac{e^{-c}\,e^{y[k]}}{e^{-c}\sum_j e^{y[j]}} = \frac{e^{y[k]}}{\sum_j e^{y[j]}},$$
#
# so subtracting $c = \max_j y[j]$ changes nothing in exact arithmetic. Afterwards every exponent is
# $\le 0$ (no overflow) and the largest term is $e^0 = 1$ (the sum is at least 1: no division by 0).
# The constant must be the maximum of *each* row: one maximum for a whole array of rows would push the
# small rows' exponentials to 0.

# %%
z = np.array([1000.0, 1001.0, 1002.0])
with np.errstate(over="ignore", invalid="ignore"):          # silence the overflow warnings
    print("np.exp(709) =", np.exp(709.0), "  np.exp(710) =", np.exp(710.0))
    print("textbook formula on [1000, 1001, 1002]:", np.exp(z) / np.sum(np.exp(z)))
stable = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
small = np.exp([0.0, 1.0, 2.0]) / np.sum(np.exp([0.0, 1.0, 2.0]))
print("after subtracting the max:             ", stable, "= softmax of [0, 1, 2]:", small)
assert np.allclose(stable, small) and np.allclose(stable, elman.softmax_torch(z))


# %% [markdown]
# Implement `softmax` over the **last** axis, for logits of any shape `(..., V)` (use `axis=-1` and
# `keepdims=True` so that the row maxima and sums broadcast back). NumPy only.

# %% nbgrader={"grade": false, "grade_id": "softmax", "locked": false, "schema_version": 3, "solution": true}
def softmax(logits):
    """Probabilities over the last axis: p[..., k] = exp(z[..., k]) / sum_j exp(z[..., j]).

    Numerically stable: correct for logits of any size (1000 as well as -1000), and for rows whose
    logits span thousands.
    Input:  logits of shape (..., V), e.g. (T, N, V), (N, V) or (V,)
    Returns probs of the same shape: each slice probs[..., :] is >= 0 and sums to 1
    """
    ### BEGIN SOLUTION
    m = np.max(logits, axis=-1, keepdims=True)      # largest logit of each row, shape (..., 1)
    e = np.exp(logits - m)                          # every exponent <= 0: no overflow
    probs = e / np.sum(e, axis=-1, keepdims=True)
    ### END SOLUTION
    return probs


# %% nbgrader={"grade": true, "grade_id": "test_softmax_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, check_shape, elman, fixtures, seed_all

# By hand: the logits log 1, log 2, log 3 exponentiate to 1, 2, 3, so the probabilities are 1/6, 2/6, 3/6.
z = np.log(np.array([1.0, 2.0, 3.0]))
# a sum of three float64 numbers and one division: ~1e-16 rounding, so 1e-12
check_close("softmax(log([1, 2, 3]))", softmax(z), np.array([1.0, 2.0, 3.0]) / 6, atol=1e-12,
            rtol=0, mistakes=fixtures.load("02_elman_rnn")["softmax_hand"].mistakes("probs"))
check_close("softmax(z + 100): adding a constant changes nothing", softmax(z + 100.0),
            np.array([1.0, 2.0, 3.0]) / 6, atol=1e-12, rtol=0)

# Time-major logits (T, N, V): one distribution over the V classes at every (t, n).
logits = fixtures.load("02_elman_rnn")["softmax_time_major"].inputs["logits"]   # standard normal (4, 3, 5)
probs = softmax(logits)
check_shape("softmax(logits)", probs, (4, 3, 5))
# small logits: the textbook formula is safe here and serves as the reference; float64, so 1e-12
reference = np.exp(logits) / np.sum(np.exp(logits), axis=-1, keepdims=True)
check_close("softmax(logits) for logits of shape (4, 3, 5)", probs, reference, atol=1e-12,
            rtol=1e-12, mistakes=fixtures.load("02_elman_rnn")["softmax_time_major"].mistakes("probs"))
print("hand case, shift and shapes OK")
### BEGIN HIDDEN TESTS
from autograder.references import elman as _ref
from utils import call_unchanged, check_type

rng = seed_all(None)
for shape in [(7,), (3, 4), (1, 1, 6), (2, 5, 3)]:
    logits = 2 * rng.standard_normal(shape)
    probs = call_unchanged(f"softmax (logits of shape {shape})", softmax, logits)
    check_type(f"softmax for logits of shape {shape}", probs, np.ndarray, dtype=np.float64)
    check_close(f"softmax for logits of shape {shape}", probs, elman.softmax_torch(logits),
                atol=1e-12, rtol=1e-10, mistakes=_ref.softmax_mistakes(logits))  # float64
# a single class: its probability is 1, whatever the logit
check_close("softmax with V = 1", softmax(rng.standard_normal((3, 2, 1))), np.ones((3, 2, 1)),
            atol=1e-12, rtol=0)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_softmax_stable", "locked": true, "points": 1, "schema_version": 3, "solution": false}
import numpy as np
from utils import check_close, elman, fixtures, seed_all

# Random logits against torch.softmax.
_case = fixtures.load("02_elman_rnn")["softmax_random"]   # fixed inputs, and what common mistakes return
logits = _case.inputs["logits"]                           # 3 x standard normal, (5, 2, 6)
# float64 on both sides: ~1e-16 apart, so 1e-12
check_close("softmax vs torch.softmax", softmax(logits), elman.softmax_torch(logits),
            atol=1e-12, rtol=1e-10, mistakes=_case.mistakes("probs"))
print("random case OK")
### BEGIN HIDDEN TESTS
from autograder.references import elman as _ref
from utils import check_no_library

HINT = ("subtract the largest logit of each row (np.max over the last axis, keepdims=True) "
        "before np.exp: softmax(z) = softmax(z - max z), and then exp cannot overflow")
rng = seed_all(None)
big = 1000 + rng.standard_normal((3, 2, 6))          # e^1000 overflows float64 (limit ~e^709.8)
with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
    probs = softmax(big)
# the stable formula loses nothing here: float64, ~1e-16 apart, so 1e-12
check_close("softmax of logits near 1000", probs, elman.softmax_torch(big), atol=1e-12,
            rtol=1e-10, hint=HINT, mistakes=_ref.softmax_mistakes(big))
# rows of very different sizes: each row needs its own maximum
mixed = np.stack([1000 + rng.standard_normal(5), -1000 + rng.standard_normal(5),
                  rng.standard_normal(5)])
with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
    probs = softmax(mixed)
check_close("softmax of rows near 1000, -1000 and 0", probs, elman.softmax_torch(mixed),
            atol=1e-12, rtol=1e-10, hint=HINT)
# rows whose logits span thousands: only the row's maximum leaves every exponent <= 0
spread = rng.uniform(-3000, 3000, (4, 6))
with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
    probs = softmax(spread)
check_close("softmax of rows whose logits span thousands", probs, elman.softmax_torch(spread),
            atol=1e-12, rtol=1e-10,
            hint="subtract each row's maximum: shifted by its mean or its minimum, a row that spans "
                 "thousands still has exponents in the thousands, and exp overflows to inf (inf / inf "
                 "is nan)")
# float32 logits are accepted: ~7 significant digits, so 1e-5
logits32 = (5 * rng.standard_normal((4, 3, 7))).astype(np.float32)
check_close("softmax with float32 logits", softmax(logits32), elman.softmax_torch(logits32),
            atol=1e-5, rtol=1e-5)
check_no_library("softmax", softmax, ["torch", "torch_ref", "elman", "numpy_rnn", "scipy"])
from utils.checks import check_no_library_calls

_ = check_no_library_calls("softmax", softmax, logits32, forbidden=("torch", "autograder", "scipy"))
### END HIDDEN TESTS

# %% [markdown]
# ## 4 · Four shapes from the same pieces
#
# The network of section 2 gives an output at every step: the notes call it **many to many**
# (上述均为 many to many 结构). With the same three functions — a step, an output layer, a softmax —
# one builds the other shapes the notes list. The applications of the notes' table sit on them:
#
# | shape | input → output | how it is built | applications (the notes' table, corrected) |
# |---|---|---|---|
# | **many-to-many** (多对多; tagging) | $x_1 \dots x_T \to y_1 \dots y_T$ | an output at every step | part-of-speech tagging (词性标注, the notes' 9-tag example); a label for every video frame |
# | **many-to-one** (多对一) | $x_1 \dots x_T \to y$ | the output layer on the last state $h_T$ only | the class of a text (文本分类); the sentiment of a sentence (情感倾向); the news category of a video |
# | **one-to-many** (一对多) | $x \to y_1 \dots y_K$ | one input, then each output is fed back as the next input | image captioning (图像描述; input: the features of an image, output: a sentence); music generation (音乐生成; input: a style or a first note, output: a melody) |
# | **sequence-to-sequence** (序列到序列; encoder–decoder, 编码器–解码器) | $x_1 \dots x_T \to y_1 \dots y_K$, $K \ne T$ in general | an *encoder* RNN reads the input; its last state $h_T$ is the initial state of a *decoder* RNN that generates | machine translation (机器翻译); text summarisation (文本摘要); question answering (问答; text in, an answer out); speech recognition (语音识别; audio frames in, text out) |

# %%
fig = elman.draw_shapes()  # which steps read an input and which give an output


# %% [markdown]
# > **Note on the lecture notes.** Two entries of the notes' application table are garbled.
# > Under *1 to Many*, item 2 reads "input image features, output speech or music": a one-to-many
# > model takes **one** input and generates a sequence, as in captioning (image features → sentence)
# > or music generation (a seed → a melody). Under *Sequence to Sequence*, item 3 is labelled
# > "image understanding" but describes "input text, output the answer to a question": that is
# > **question answering**, text in and text out.
#
# The cell below writes each shape as a small function on top of your exercises.

# %%
def many_to_many(x, h0, p):
    """Tagging: a distribution over the V classes at every step. x (T, N, D) -> probs (T, N, V)."""
    h, _ = rnn_forward(x, h0, p["W_xh"], p["W_hh"], p["b_h"])
    return softmax(output_layer(h, p["W_hy"], p["b_y"]))


def many_to_one(x, h0, p):
    """Classification from the last state h_T only. x (T, N, D) -> probs (N, V)."""
    h, _ = rnn_forward(x, h0, p["W_xh"], p["W_hh"], p["b_h"])
    return softmax(output_layer(h[-1:], p["W_hy"], p["b_y"]))[0]


def one_to_many(x1, h0, p, steps, temperature=None, rng=None):
    """Generation: one input x1 (N, D), then each output token is fed back, one-hot, as the next
    input (so D == V). temperature=None takes the most likely token (greedy); a temperature
    tau > 0 samples from softmax(y_t / tau). Returns the tokens (steps, N) and the last state."""
    V = p["W_hy"].shape[0]
    x_t, h_t, tokens = x1, h0, []
    for _ in range(steps):
        h_t, _ = rnn_step_forward(x_t, h_t, p["W_xh"], p["W_hh"], p["b_h"])
        y_t = output_layer(h_t[None], p["W_hy"], p["b_y"])[0]            # (N, V)
        if temperature is None:
            k = np.argmax(y_t, axis=-1)
        else:
            k = np.array([rng.choice(V, p=row) for row in softmax(y_t / temperature)])
        tokens.append(k)
        x_t = np.eye(V)[k]                                               # feed the output back
    return np.stack(tokens), h_t


def seq2seq(x, h0, encoder, decoder, start, steps):
    """Encoder-decoder: the encoder reads x (T, N, D); its last state h_T becomes the decoder's
    initial state; the decoder generates `steps` tokens greedily from the input `start` (N, V).
    The input length T and the output length `steps` are independent. Returns tokens (steps, N)."""
    h, _ = rnn_forward(x, h0, encoder["W_xh"], encoder["W_hh"], encoder["b_h"])
    tokens, _ = one_to_many(start, h[-1], decoder, steps)
    return tokens


# %% [markdown]
# **Many-to-many and many-to-one.** An untrained tagger on a sentence of the course's tagged corpus
# (`utils.data`), with one-hot words as inputs and the 9 tags of the notes as classes: its tags are
# random until it is trained (training comes in notebook 03), but the shapes are those of the task, and
# the same weights take sentences of any length.

# %%
def random_params(rng, D, H, V, scale=0.5):
    "Small random weights of an Elman RNN with an output layer."
    return dict(W_xh=scale * rng.standard_normal((H, D)), W_hh=scale * rng.standard_normal((H, H)),
                b_h=np.zeros(H), W_hy=scale * rng.standard_normal((V, H)), b_y=np.zeros(V))


rng = seed_all(0)
corpus = data.tagged_corpus()
vocab = sorted({w for words, _ in corpus for w in words})
index = {w: i for i, w in enumerate(vocab)}
H = 16
tagger = random_params(rng, len(vocab), H, len(data.POS_TAGS))


def one_hot_sentence(words):
    "A sentence as one-hot vectors, time-major with one sequence: (T, 1, len(vocab))."
    return np.eye(len(vocab))[[index[w] for w in words]][:, None, :]


for words, tags in corpus[:2]:
    probs = many_to_many(one_hot_sentence(words), np.zeros((1, H)), tagger)
    guess = [data.POS_TAGS[k] for k in probs.argmax(axis=-1)[:, 0]]
    print(f"many-to-many  T={len(words)}: x {one_hot_sentence(words).shape} -> probs {probs.shape}")
    print("   words:", words, "\n   true :", tags, "\n   guess:", guess, "(untrained)")

sentiment = random_params(rng, len(vocab), H, 2)             # 2 classes: negative, positive
for words, _ in corpus[2:4]:
    probs = many_to_one(one_hot_sentence(words), np.zeros((1, H)), sentiment)
    print(f"many-to-one   T={len(words)}: x {one_hot_sentence(words).shape} -> probs {probs.shape}, "
          f"sums to {probs.sum():.3f}")

# %% [markdown]
# **One-to-many.** To see the feedback loop at work, build a generator by hand. With $V = H = 6$
# tokens, $W_{xh} = 4I$ and $W_{hh} = 0$, the state after token $k$ is $h \approx 0.9993\,e_k$;
# with $W_{hy} = 4P$, where $P$ maps unit $k$ to class $k+1 \pmod 6$, the logits are $\approx 4$ for
# the successor of $k$ and 0 elsewhere. Fed back greedily, the model counts: 1, 2, 3, 4, 5, 0, 1, …
#
# Sampling with a **temperature** $\tau$ draws the next token from $\operatorname{softmax}(y_t/\tau)$.
# With the logits $4 \cdot 0.9993$ and five zeros, the successor has probability
#
# $$p_\text{succ}(\tau) = \frac{e^{3.997/\tau}}{e^{3.997/\tau} + 5}:$$
#
# $\tau \to 0$ gives the greedy choice, $\tau = 1$ the model's own distribution, and a large $\tau$ a
# uniform draw. The plot checks the formula against the tokens actually sampled.

# %%
V = 6
counter = dict(W_xh=4 * np.eye(V), W_hh=np.zeros((V, V)), b_h=np.zeros(V),
               W_hy=4 * np.roll(np.eye(V), 1, axis=0), b_y=np.zeros(V))  # W_hy[k+1, k] = 4
start = np.eye(V)[[0]]                                                  # one input: token 0, N = 1
tokens, _ = one_to_many(start, np.zeros((1, V)), counter, steps=10)
print("greedy:", tokens[:, 0])
rng = seed_all(1)
for tau in [0.5, 1.0, 3.0]:
    tokens, _ = one_to_many(start, np.zeros((1, V)), counter, steps=10, temperature=tau, rng=rng)
    print(f"tau = {tau}:", tokens[:, 0])

# Sample many sequences in parallel and count how often a token is its predecessor's successor.
n_seq, steps = choose(full=200, fast=20), 15
taus = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0]
starts = np.eye(V)[rng.integers(V, size=n_seq)]
seen = []
for tau in taus:
    tokens, _ = one_to_many(starts, np.zeros((n_seq, V)), counter, steps, temperature=tau, rng=rng)
    previous = np.vstack([starts.argmax(-1)[None], tokens[:-1]])
    seen.append(np.mean(tokens == (previous + 1) % V))
logit = 4 * np.tanh(4.0)                                                # the successor's logit
tau_grid = np.linspace(0.2, 5.5, 100)
p_succ = np.exp(logit / tau_grid) / (np.exp(logit / tau_grid) + V - 1)

fig, (ax1, ax2) = plotting.subplots(ncols=2)
y = logit * np.eye(V)[1]                                                # the logits after token 0
for i, tau in enumerate([0.5, 1.0, 3.0]):
    ax1.bar(np.arange(V) + (i - 1) * 0.27, softmax(y / tau), width=0.27, label=f"τ = {tau}")
ax1.set(xlabel="next token", ylabel="probability", title="softmax(y / τ) after token 0")
ax1.legend()
ax2.plot(tau_grid, p_succ, color=plotting.COLORS["reference"], label="formula $p_{succ}(τ)$")
ax2.plot(taus, seen, "o", color=plotting.COLORS["student"], label="sampled")
ax2.axhline(1 / V, ls=":", color="k", lw=1, label="uniform 1/V")
ax2.set(xlabel="temperature τ", ylabel="fraction of successors", ylim=(0, 1.05),
        title="one-to-many: sampling with a temperature")
ax2.legend()
plotting.finish(fig)

# %% [markdown]
# **Sequence-to-sequence.** The encoder and the decoder are two RNNs with their own weights; the only
# link between them is the encoder's last state, which starts the decoder. A hand-made pair shows it:
# the encoder ($W_{xh} = 4I$, $W_{hh} = 0$) keeps the last token it read in its state, and the decoder
# ($W_{hh} = 4P$, $W_{xh} = 0$, $W_{hy} = 4I$) counts on from there, whatever the length of the input.
# The whole input has to pass through the one vector $h_T$: a bottleneck for long inputs, which the
# attention mechanism (a later development, beyond the notes) was invented to remove.

# %% [markdown]
# **Predict, then run.** The cell gives this encoder–decoder (编码器–解码器) pair the input $[2, 4]$, then
# the 7-token input $[5, 1, 0, 3, 3, 1, 2]$, and lets the decoder generate 5 tokens greedily. Write
# down both output sequences.

# %%
encoder = dict(W_xh=4 * np.eye(V), W_hh=np.zeros((V, V)), b_h=np.zeros(V))
decoder = dict(W_xh=np.zeros((V, V)), W_hh=4 * np.roll(np.eye(V), 1, axis=0), b_h=np.zeros(V),
               W_hy=4 * np.eye(V), b_y=np.zeros(V))
for source in ([2, 4], [5, 1, 0, 3, 3, 1, 2]):
    x = np.eye(V)[source][:, None, :]                        # (T, 1, V)
    out = seq2seq(x, np.zeros((1, V)), encoder, decoder, start=np.eye(V)[[0]], steps=5)
    print(f"input (T = {len(source)}): {source} -> output (5 steps): {out[:, 0].tolist()}")

# %% [markdown]
# ## 5 · Parameter sharing (参数共享)
#
# An RNN applies the **same** $W_{xh}, W_{hh}, b_h$ at every step, so its size does not depend on the
# length of the sequence: with one-hot inputs over a vocabulary of $V$ words ($D = V$),
#
# $$\#\text{RNN} = H\cdot V + H\cdot H + H \qquad \text{for any } T.$$
#
# Notebook 01's fully connected layer over $C$ one-hot words lays them end to end and gives each
# position its own weights:
#
# $$\#\text{FC} = C\cdot V\cdot H + H,$$
#
# which grows with $C$ — and a model trained for one $C$ cannot read any other length. The notes' point
# "参数过多" (too many parameters) is this growth. (An output layer adds $V_\text{out}\cdot H +
# V_\text{out}$ to either model, also independent of $T$.) The cell checks both formulas against
# PyTorch modules and plots them for the vocabulary of the tagged corpus.

# %% [markdown]
# **Predict, then run.** The cell takes the corpus vocabulary, $V = 65$ words (the one-hot length
# printed in section 4), and $H = 32$. Write down the Elman RNN's parameter count and the fully
# connected layer's count for $C = 50$ words. Which of the two is larger for a single word ($C = 1$)?

# %%
V, H = len(vocab), 32
lengths = np.arange(1, 51)
fc_counts = [C * V * H + H for C in lengths]              # notebook 01's count
rnn_count = elman.elman_param_count(V, H)

# check the formulas with PyTorch's own modules
for C in (1, 5, 20):
    assert sum(p.numel() for p in torch.nn.Linear(C * V, H).parameters()) == fc_counts[C - 1]
assert sum(p.numel() for p in torch.nn.RNN(V, H).parameters()) == rnn_count + H  # + the 2nd bias

print(f"V = {V} words, H = {H} hidden units")
print(" C or T   fully connected   Elman RNN")
for C in (1, 5, 10, 20, 50):
    print(f"{C:7d} {fc_counts[C - 1]:17,d} {rnn_count:11,d}")

fig, ax = plotting.subplots()
ax.plot(lengths, fc_counts, color=plotting.COLORS["reference"], label="fully connected: C·V·H + H")
ax.plot(lengths, [rnn_count] * len(lengths), color=plotting.COLORS["rnn"],
        label="Elman RNN: H·V + H·H + H")
ax.set(xlabel="words per input (C), or sequence length (T)", ylabel="parameters",
       title="Parameter sharing: the RNN's size does not grow with the length")
ax.legend()
plotting.finish(fig)

# %% [markdown]
# ## 6 · Experiment: how long does the network remember?
#
# Give the network a single input — an **impulse** at the first step, $x_1 = e_1$, and $x_t = 0$
# afterwards — with $h_0 = 0$ and $b_h = 0$, and watch $\|h_t\|$. Everything after the first step is
# the recurrence alone, $h_t = \tanh(W_{hh} h_{t-1})$, so the size of $W_{hh}$ decides.
#
# To control that size exactly, take $W_{hh} = \lambda Q$ with $Q$ a random orthogonal matrix: then
# every singular value of $W_{hh}$ is $\lambda$ and $\|W_{hh} v\| = \lambda \|v\|$ for every $v$.
#
# * **Without an activation** (a linear RNN, $h_t = W_{hh} h_{t-1}$): $\|h_t\| = \lambda^{t-1}\|h_1\|$
#   exactly. The memory fades geometrically for $\lambda < 1$ and blows up for $\lambda > 1$.
# * **With tanh**: $|\tanh a| \le |a|$ entry by entry, so $\|h_t\| \le \lambda \|h_{t-1}\|$ and
#   $\|h_t\| \le \lambda^{t-1}\|h_1\|$: for $\lambda < 1$ the memory fades at least as fast. For
#   $\lambda > 1$ it grows, but $|\tanh| < 1$ caps every unit, so $\|h_t\| < \sqrt{H}$: the state
#   **saturates** instead of blowing up.
#
# The cell runs your `rnn_forward` with $H = 64$ and checks both inequalities.

# %% [markdown]
# **Predict, then run.** Here $\|h_1\| = \tanh 1 \approx 0.76$ and $T = 80$. Write down the order of
# magnitude of $\|h_T\|$ for $\lambda = 0.5$. Then say whether, for $\lambda = 1$, the state keeps its
# size $0.76$ to the last step or loses some, and why.

# %%
H = 64
T = choose(full=80, fast=30)
scales = [0.5, 0.9, 1.0, 1.1, 1.5, 3.0]
rng = seed_all(0)
Q = elman.scaled_orthogonal(H, 1.0, rng)       # one random orthogonal matrix for every scale
x = np.zeros((T, 1, H))
x[0, 0, 0] = 1.0                               # the impulse x_1 = e_1, then silence
h0, W_xh, b_h = np.zeros((1, H)), np.eye(H), np.zeros(H)

norms_tanh, norms_linear = {}, {}
for lam in scales:
    h, _ = rnn_forward(x, h0, W_xh, lam * Q, b_h)
    norms_tanh[lam] = np.linalg.norm(h[:, 0], axis=-1)
    h_lin = W_xh @ x[0, 0]                      # the same recurrence without tanh: h_1 = e_1
    linear = [np.linalg.norm(h_lin)]
    for t in range(1, T):
        h_lin = W_xh @ x[t, 0] + lam * Q @ h_lin
        linear.append(np.linalg.norm(h_lin))
    norms_linear[lam] = np.array(linear)

steps = np.arange(1, T + 1)
for lam in scales:
    bound = lam ** (steps - 1) * norms_tanh[lam][0]
    assert np.all(norms_tanh[lam] <= bound * (1 + 1e-12))        # ||h_t|| <= lam^(t-1) ||h_1||
    assert np.all(norms_tanh[lam] < np.sqrt(H))                   # tanh caps every unit
    assert np.allclose(norms_linear[lam], lam ** (steps - 1))     # linear: exactly lam^(t-1)
print("checked: ||h_t|| <= lam^(t-1) ||h_1||, ||h_t|| < sqrt(H), and the linear RNN's lam^(t-1)")
print("||h_t|| at the last step:", {lam: float(f"{norms_tanh[lam][-1]:.3g}") for lam in scales})

colors = plotting.plt.cm.viridis(np.linspace(0, 0.9, len(scales)))
fig, (ax1, ax2) = plotting.subplots(ncols=2)
for lam, c in zip(scales, colors):
    ax1.semilogy(steps, norms_tanh[lam], color=c, label=f"λ = {lam}")
    ax2.semilogy(steps, norms_linear[lam], color=c, label=f"λ = {lam}")
ax1.axhline(np.sqrt(H), ls=":", color="k", lw=1, label="√H (tanh's cap)")
ax1.set(xlabel="step t", ylabel="‖h_t‖", title="tanh RNN (your rnn_forward)", ylim=(1e-12, 1e2))
ax2.set(xlabel="step t", ylabel="‖h_t‖", title="linear RNN (no activation)")
ax1.legend(ncol=2, fontsize=8)
plotting.finish(fig, "The memory of one impulse, for W_hh = λ·Q (Q orthogonal)")

# %% [markdown]
# **What the plot shows.**
#
# * $\lambda < 1$: the memory of the impulse **fades** geometrically — at $\lambda = 0.5$ it is below
#   $10^{-6}$ of its start after 20 steps. An input 20 steps back cannot influence anything.
# * $\lambda > 1$: the linear network **blows up** as $\lambda^{t}$; the tanh network grows until its
#   units approach $\pm 1$ and **saturates** below $\sqrt{H}$. A saturated state no longer says how big
#   the input was, and there $\tanh' \approx 0$.
# * Only near $\lambda = 1$ does the state keep the input for long, and even there tanh slowly wears it
#   down.
#
# The same product of $W_{hh}$'s (times $\operatorname{diag}(\tanh')$) carries the **gradient** back
# in time during training: the notes' vanishing and exploding gradients (梯度消失, 梯度爆炸), bounded
# by the largest singular value $\lambda_h$ of $W_{hh}$. Notebook 03 derives it (BPTT, 时间反向传播)
# and notebook 04 measures it and repairs it with gradient clipping (梯度裁剪).

# %% [markdown]
# ## 7 · Written question: RNN versus CNN (2 points, graded by hand)
#
# The notes compare recurrent and convolutional networks (RNN 与 CNN 比较):
#
# | | the notes' points |
# |---|---|
# | common (相同点) | 1. both extend the traditional neural network. 2. a forward computation produces the result, a backward computation updates the model. 3. within a layer, weights are shared across many neurons (横向共享); vertically, several layers can be stacked (纵向多层). ~~4. speech recognition: input a speech sequence, output a text sequence.~~ |
# | different (不同点) | 1. a CNN extends in space: its neurons convolve with features. 2. an RNN describes outputs of states that continue in time and has memory; a CNN is for static outputs. |
#
# > **A note on the lecture notes.** Common point 4 is a slip of the notes: "speech recognition" is an
# > *application* (the sequence-to-sequence row of the table in section 4), repeated here by mistake,
# > not a property the two networks share. The common points are 1–3.
#
# Answer in a few sentences:
#
# 1. Explain common point 3 for **both** networks: exactly what is shared, and across what? Use the
#    parameter count of section 5 for the RNN.
# 2. Name one task that suits an RNN better than a CNN, and the property from the table (and from this
#    notebook) that makes it so.

# %% [markdown] nbgrader={"grade": true, "grade_id": "rnn_vs_cnn", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# **Model answer.**
#
# 1. Both networks reuse one set of weights many times. A CNN slides the *same kernel* over every
#    position of the input, so its weights are shared **across space**; an RNN applies the *same*
#    $W_{xh}, W_{hh}, b_h$ at every time step, so its weights are shared **across time**: it has
#    $H\cdot D + H\cdot H + H$ parameters whatever the length $T$, whereas a fully connected layer over
#    $C$ positions needs $C\cdot V\cdot H + H$. In both, layers can also be stacked in depth (deep CNNs,
#    multi-layer RNNs).
# 2. For example, tagging the words of a sentence, language modelling, or recognising speech of any
#    duration: the input is a sequence of varying length whose elements depend on earlier ones.
#    The RNN's hidden state $h_t$ carries a memory of $x_1 \dots x_t$ (difference 2), and the shared
#    weights take any $T$; a CNN sees a fixed window of a static input and has no state that
#    carries information forward in time.
#
# **Rubric** (2 points; accept any correct equivalent).
#
# - 1 point for question 1: what is shared in each network (the kernel across positions; the same
#   $W_{xh}, W_{hh}, b_h$ across time steps) *and* a parameter count that does not grow with $T$.
#   Half a point if only one network is explained or the count is missing.
# - 1 point for question 2: a sequence task *and* the property that makes an RNN fit it (a state
#   that carries the past forward, or weights shared over any length). A task alone earns nothing.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * Sequential data — video, music, DNA, sensor readings, language — has an order, a varying length and
#   related neighbours; a feed-forward network has no memory, a fixed size and treats inputs as
#   independent.
# * The Elman RNN keeps a hidden state: $h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$, and reads its
#   output off it, $y_t = W_{hy} h_t + b_y$, $p_t = \operatorname{softmax}(y_t)$. In code, with rows,
#   `x_t @ W_xh.T`; sequences are time-major `(T, N, D)`.
# * `torch.nn.RNN` computes the same thing with two biases, of which only the sum $b_{ih} + b_{hh} = b_h$
#   matters.
# * The softmax is stable once each row's largest logit is subtracted, which changes nothing in exact
#   arithmetic.
# * Many-to-many, many-to-one, one-to-many (generation by feeding outputs back, greedy or sampled with a
#   temperature) and sequence-to-sequence (an encoder's last state starts a decoder) are built from the
#   same step.
# * The weights are shared over time (参数共享): the parameter count does not depend on $T$.
# * With $W_{hh} = \lambda Q$ ($Q$ orthogonal, so every singular value is $\lambda$) an impulse fades
#   geometrically when $\lambda < 1$ and grows into saturation when $\lambda > 1$: the state remembers
#   for long only near the edge. That is what section 6 showed, for that family of matrices; notebook 04
#   shows that for a general $W_{hh}$ the largest singular value alone does not decide. Notebook 03 trains the network with
#   backpropagation through time; notebook 04 asks the same question of the gradients.
