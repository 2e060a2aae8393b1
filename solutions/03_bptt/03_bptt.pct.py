# %% [markdown]
# # 03 · Backpropagation through time (基于时间的反向传播, BPTT)
#
# Notebook 02 built the forward pass of the Elman **recurrent neural network** (循环神经网络):
# $h_t = \tanh(W_{xh}x_t + W_{hh}h_{t-1} + b_h)$, $y_t = W_{hy}h_t + b_y$. To *train* it we need the
# gradient of the loss with respect to every weight. Two things make this different from a
# feed-forward network: the **same weights are used at every time step** (参数共享 parameter sharing),
# and every **hidden state** (隐状态) $h_t$ influences all later states and outputs. **Backpropagation
# through time** (时间反向传播, BPTT) is ordinary backpropagation applied to the network *unrolled* over
# time: one copy of the cell per step, all copies sharing one set of weights.
#
# **Learning goals.** After this notebook you can
#
# 1. derive $\partial E/\partial h_{t-1}$ with its two paths (through $h_t$ and through $y_{t-1}$), and
#    explain why the weight gradients are **sums over time** (the lecture notes' formulas, corrected);
# 2. implement the backward pass of **one step** (`rnn_step_backward`) and of a **whole sequence**
#    (`rnn_backward`), and the **softmax cross-entropy** loss with its gradient;
# 3. check a gradient **numerically** (central differences, relative error) and say why that needs
#    float64, and check it against **`torch.autograd`**;
# 4. define **truncated BPTT** precisely, implement it, and say what it saves and what it gives up;
# 5. write the loss and gradient of a whole **character-level language model** and one **Adagrad**
#    update, train it with *your own* backward pass, measure it on text it never saw (held-out loss,
#    perplexity), and compare full and truncated BPTT over several seeds.
#
# **How to work.** Run the cells from top to bottom. Each exercise has a cell with
# `# YOUR CODE HERE`; the cell after it runs visible tests (more tests run when the notebook is
# graded). Points: `rnn_step_backward` 4, `rnn_backward` 4, `softmax_cross_entropy` 3,
# `model_loss_and_gradients` 3, `rnn_backward_truncated` 3, `adagrad_step` 2, written question 2.
#
# **术语表 · Glossary.** The Chinese and English terms of the course and the symbol each notebook uses: [GLOSSARY.md](../../GLOSSARY.md).

# %%
import numpy as np
import torch

import utils
from utils import check_close, check_equal, check_shape, plotting
# The forward pass of notebook 02, computed by PyTorch with the same signatures and caches as yours
# (the course library does not ship answers; paste your own functions here instead if you like).
from utils.bptt import forward_torch as rnn_forward, step_forward_torch as rnn_step_forward
from utils.elman import output_layer_torch as output_layer, softmax_torch as softmax

plotting.use_course_style()
torch.set_num_threads(1)  # the models here are tiny: one thread is faster than several
rng = utils.seed_all(0)
np.set_printoptions(precision=5, suppress=True)

# %% [markdown]
# ## 1. Recap: the forward pass you wrote in notebook 02
#
# The forward functions of notebook 02 are given here with the same signatures and caches as yours:
# `utils.bptt.forward_torch` and `step_forward_torch` run `torch.nn.RNN` with the weights copied in and
# return NumPy arrays, and `utils.elman.output_layer_torch` is `torch.nn.Linear` (the course library
# holds no answer of an exercise, so it computes them with PyTorch; you may paste your own functions of
# notebook 02 into the first cell instead). Time is counted $t = 1, \dots, T$ in the maths, as in the notes,
# with $h_0$ the initial state; Python counts from 0, so `x[t-1]` and `h[t-1]` hold $x_t$ and $h_t$,
# and `h0` is $h_0$. Shapes are time-major: `x (T, N, D)`, `h (T, N, H)`; weights `W_xh (H, D)`,
# `W_hh (H, H)`, `b_h (H,)`, and a batch of $N$ row vectors is multiplied as `x_t @ W_xh.T`.
#
# $$a_t = W_{xh}x_t + W_{hh}h_{t-1} + b_h, \qquad h_t = \tanh(a_t), \qquad y_t = W_{hy}h_t + b_y .$$
#
# Each step returns a **cache** (缓存): everything its backward step will need. It holds $h_t$ but not
# the pre-activation $a_t$, because the derivative of $g = \tanh$ can be written with the output alone:
# $g'(a_t) = 1 - \tanh^2(a_t) = 1 - h_t^2$.

# %% [markdown]
# **Predict, then run.** The cell runs `rnn_forward` with $T = 4$, $N = 2$, $D = 3$, $H = 5$. Write
# down the shape of `h`, how many step caches the list holds, and the shape of each of the five arrays
# in one step cache.

# %%
T, N, D, H = 4, 2, 3, 5
x = rng.standard_normal((T, N, D))
h0 = rng.standard_normal((N, H))
W_xh = rng.standard_normal((H, D)) / np.sqrt(D)
W_hh = rng.standard_normal((H, H)) / np.sqrt(H)
b_h = 0.1 * rng.standard_normal(H)

h, cache = rnn_forward(x, h0, W_xh, W_hh, b_h)
print("h:", h.shape, "  cache: a list of", len(cache), "step caches, each a tuple of")
for name, a in zip(["x_t", "h_prev", "h_t", "W_xh", "W_hh"], cache[1]):
    print(f"    {name:7s}{a.shape}")
print("cache[1] holds h_prev = h[0] and h_t = h[1]:",
      np.array_equal(cache[1][1], h[0]) and np.array_equal(cache[1][2], h[1]))

# tanh'(a) = 1 - tanh(a)^2, checked by central differences at a few points
a = np.linspace(-3, 3, 7)
numeric = (np.tanh(a + 1e-6) - np.tanh(a - 1e-6)) / 2e-6
print("max |numerical tanh' - (1 - tanh^2)| =", np.abs(numeric - (1 - np.tanh(a) ** 2)).max())

# %% [markdown]
# ## 2. The chain rule through time (the notes' derivation, corrected)
#
# Let the loss be a sum over time, $E = \sum_{t=1}^{T} E_t$, where $E_t$ depends on the output $y_t$
# and so on $h_t$ (the course's code takes the *mean* over the $T\cdot N$ positions: a constant factor).
# Unroll the network. The state $h_{t-1}$ reaches the loss along **two paths**:
#
# * **directly**, through its own output: $h_{t-1} \to y_{t-1} \to E_{t-1}$;
# * **through the next state**: $h_{t-1} \to h_t \to$ everything after $t$.
#
# The chain rule adds the two (column vectors; $\partial E/\partial h$ is a gradient of the shape of $h$):
#
# $$\frac{\partial E}{\partial h_{t-1}} = \left(\frac{\partial h_t}{\partial h_{t-1}}\right)^{\!\top}
# \frac{\partial E}{\partial h_t} + \frac{\partial E_{t-1}}{\partial h_{t-1}},
# \qquad \frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}\big(g'(a_t)\big)\,W_{hh},$$
#
# where the direct term is $\partial E_{t-1}/\partial h_{t-1} = W_{hy}^\top\,\partial E_{t-1}/\partial y_{t-1}$.
# Start at the last step ($\partial E/\partial h_T = \partial E_T/\partial h_T$, nothing comes after it) and
# apply the rule for $t = T, T-1, \dots, 1$: that is BPTT, a single backward sweep in time.

# %% [markdown]
# **Predict, then run.** The next cell draws the network unrolled over $T = 6$ steps with the paths
# of the gradient. Before you run it: from which two places does the gradient with respect to $h_3$
# arrive? Does the loss $E_1$ send any gradient to $h_3$? Which of $h_1, \dots, h_6$ receives its
# gradient along one path only?

# %%
fig = utils.bptt.draw_gradient_paths(T=6)  # every state: its own loss, and the next state

# %% [markdown]
# **The weights are shared, so their gradients are sums over time.** $W_{hh}$ acts at every step. Write
# $\delta_t = \partial E/\partial a_t = g'(a_t) \odot \partial E/\partial h_t$ (with the *total*
# $\partial E/\partial h_t$, both paths); each step contributes its local term and the contributions add:
#
# $$\frac{\partial E}{\partial W_{hh}} = \sum_{t=1}^{T} \delta_t\, h_{t-1}^\top, \qquad
# \frac{\partial E}{\partial W_{xh}} = \sum_{t=1}^{T} \delta_t\, x_t^\top, \qquad
# \frac{\partial E}{\partial b_h} = \sum_{t=1}^{T} \delta_t .$$
#
# Unrolling the recursion for $\partial E/\partial h_t$ gives the formula of the notes, corrected:
#
# $$\frac{\partial E}{\partial W_{hh}} = \sum_{t=1}^{T}\sum_{k=t}^{T}
# \frac{\partial E_k}{\partial h_k}\left(\prod_{j=t+1}^{k}\operatorname{diag}\big(g'(a_j)\big)W_{hh}\right)
# \frac{\partial^+ h_t}{\partial W_{hh}},$$
#
# where $\partial E_k/\partial h_k$ is a row vector, the product $\prod_{j=t+1}^{k}$ is the Jacobian
# $\partial h_k/\partial h_t = J_k J_{k-1}\cdots J_{t+1}$ (later steps on the left; the empty product for
# $k = t$ is the identity), and $\partial^+ h_t/\partial W_{hh}$ is the *immediate* derivative, with
# $h_{t-1}$ held fixed: it turns a row vector $v$ into the matrix $(g'(a_t)\odot v^\top)\,h_{t-1}^\top$.
# The loss at step $k$ reaches $W_{hh}$ at every earlier step $t \le k$, through $k - t$ Jacobians.
#
# > **A note on the lecture notes.** Two formulas of the BPTT slide are garbled. (1) It writes
# > "$\partial E/\partial h_{t-1} = \partial E/\partial h_{t-1} = \sum_i \dots$": the correct rule is the
# > one above, the transposed step Jacobian times $\partial E/\partial h_t$ **plus the direct term** from
# > $y_{t-1}$. (2) In the $W_h$ formula the product runs "to $p$", but $p$ is the *hidden size* (the
# > notes use it two lines earlier to index the entries $h_t[1..p]$); the product runs over **time
# > steps** $j = t+1, \dots, k$, and the inner sum over the later losses $k \ge t$. The matrix written
# > $W_{hj}$ is one and the same $W_{hh}$ at every step: that repeated product is where vanishing and
# > exploding gradients (梯度消失 / 梯度爆炸) come from (notebook 04). (3) The two factors around the
# > product are the wrong derivatives. The notes' $\frac{\partial E}{\partial y_k}\frac{\partial y_k}{\partial h_t}$
# > would differentiate the output $y_k$ with respect to an *earlier* state $h_t$, which is exactly what
# > the product already does; the factor on the left is the gradient of the step-$k$ loss with respect to
# > **its own** state, $\partial E_k/\partial h_k$ (through $y_k$: $W_{hy}^\top\,\partial E_k/\partial y_k$).
# > And the notes' $\partial h_k/\partial W_h$ on the right would count again every path through the
# > earlier states; the factor is the **immediate** derivative of $h_t$, $\partial^+ h_t/\partial W_{hh}$,
# > with $h_{t-1}$ held fixed, at the step $t$ where this term enters (not at $k$).
#
# The cell below checks all three formulas on a small sequence ($N = 1$, so every state is a vector as
# in the maths) against `torch.autograd`. The per-step losses are $E_t = c_t^\top h_t$, so the direct
# term is simply $\partial E_t/\partial h_t = c_t$.

# %%
T, D, H = 5, 3, 4
r = utils.seed_all(1)
x = r.standard_normal((T, 1, D))
h0 = r.standard_normal((1, H))
W_xh = r.standard_normal((H, D)) / np.sqrt(D)
W_hh = r.standard_normal((H, H)) / np.sqrt(H)
b_h = 0.1 * r.standard_normal(H)
c = r.standard_normal((T, H))                  # E = sum_t c_t . h_t, so dE_t/dh_t = c_t

h, _ = rnn_forward(x, h0, W_xh, W_hh, b_h)
hs = np.concatenate([h0, h[:, 0]])             # hs[t] = h_t for t = 0..T (maths indexing)
gp = 1 - hs ** 2                               # gp[t] = g'(a_t) = 1 - h_t^2 for t >= 1
J = {t: np.diag(gp[t]) @ W_hh for t in range(1, T + 1)}   # J_t = dh_t/dh_{t-1}
direct = {t: c[t - 1] for t in range(1, T + 1)}           # dE_t/dh_t

# (1) the recursion: dE/dh_{t-1} = J_t^T dE/dh_t + direct term   (h_0 has no output)
dE_dh = {T: direct[T]}
for t in range(T, 1, -1):
    dE_dh[t - 1] = J[t].T @ dE_dh[t] + direct[t - 1]
dE_dh0 = J[1].T @ dE_dh[1]

# (2) weight gradient as a sum over time of local terms: sum_t delta_t h_{t-1}^T
dW_hh_sum = sum(np.outer(gp[t] * dE_dh[t], hs[t - 1]) for t in range(1, T + 1))

# (3) the unrolled double sum with explicit products of Jacobians (the corrected notes formula)
dW_hh_double = np.zeros((H, H))
for t in range(1, T + 1):
    for k in range(t, T + 1):
        P = np.eye(H)
        for j in range(k, t, -1):              # J_k J_{k-1} ... J_{t+1}
            P = P @ J[j]
        row = direct[k] @ P                    # dE_k/dh_k times dh_k/dh_t: a row vector
        dW_hh_double += np.outer(gp[t] * row, hs[t - 1])   # the immediate derivative d+h_t/dW_hh

# torch.autograd on the same computation
Wt = torch.tensor(W_hh, requires_grad=True)
h0t = torch.tensor(h0[0], requires_grad=True)
ht, E = h0t, 0
for t in range(T):
    ht = torch.tanh(torch.tensor(W_xh @ x[t, 0] + b_h) + Wt @ ht)
    E = E + torch.tensor(c[t]) @ ht
E.backward()
print("dE/dh_0  recursion vs autograd:      rel. error", utils.rel_error(dE_dh0, h0t.grad.numpy()))
print("dE/dW_hh sum over time vs autograd:  rel. error", utils.rel_error(dW_hh_sum, Wt.grad.numpy()))
print("dE/dW_hh double sum vs autograd:     rel. error", utils.rel_error(dW_hh_double, Wt.grad.numpy()))

# %% [markdown]
# All three agree to rounding error. The double sum costs $O(T^2)$ Jacobian products; the recursion
# gets the same numbers in one backward sweep of $O(T)$ steps, which is why BPTT is implemented as the
# recursion, one step at a time, from $t = T$ down to $1$.
#
# **From vectors to batched code.** The code stores a batch as $N$ *row* vectors, so every formula is
# transposed: a column-vector product $W^\top\delta$ becomes the row-vector product `delta @ W`, and an
# outer product $\delta\,x^\top$ summed over the batch becomes a matrix product of shape
# `(H, N) @ (N, D)`. A reliable guide: **a gradient has the shape of the variable it is taken with
# respect to** (`dW_xh` has the shape `(H, D)` of `W_xh`), and parameters shared by the $N$ examples of
# a batch collect the sum of the $N$ contributions, as they collect the sum over time.
#
# ### Worked example: two steps by hand
#
# A scalar RNN ($N = D = H = 1$) with $w_x = 1$, $w_h = 0.5$, $b = 0$, $h_0 = 0$, inputs $x_1 = 0.5$,
# $x_2 = -0.5$, and the loss $E = 0.3\,h_1 + 1\cdot h_2$ (so $\partial E_1/\partial h_1 = 0.3$,
# $\partial E_2/\partial h_2 = 1$).
#
# | forward | backward |
# |---|---|
# | $h_1 = \tanh(0.5) = 0.46212$ | $\partial E/\partial h_2 = 1$, $\ \delta_2 = 1\cdot(1 - h_2^2) = 0.93102$ |
# | $a_2 = -0.5 + 0.5\cdot 0.46212 = -0.26894$ | $\partial E/\partial h_1 = \underbrace{w_h\delta_2}_{\text{through }h_2} + \underbrace{0.3}_{\text{direct}} = 0.46551 + 0.3 = 0.76551$ |
# | $h_2 = \tanh(-0.26894) = -0.26264$ | $\delta_1 = 0.76551\cdot(1 - h_1^2) = 0.60203$ |
#
# Then $\partial E/\partial w_h = \delta_2 h_1 + \delta_1 h_0 = 0.43024$,
# $\partial E/\partial w_x = \delta_2 x_2 + \delta_1 x_1 = -0.16449$,
# $\partial E/\partial b = \delta_1 + \delta_2 = 1.53305$ and $\partial E/\partial h_0 = w_h\delta_1 = 0.30102$.
# Autograd agrees:

# %%
wx, wh, b = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.0, 0.5, 0.0))
h0s = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
h1 = torch.tanh(wx * 0.5 + wh * h0s + b)
h2 = torch.tanh(wx * -0.5 + wh * h1 + b)
(0.3 * h1 + 1.0 * h2).backward()
print(f"h1 = {h1.item():.5f}   h2 = {h2.item():.5f}")
print(f"dE/dw_h = {wh.grad.item():.5f}   dE/dw_x = {wx.grad.item():.5f}   "
      f"dE/db = {b.grad.item():.5f}   dE/dh_0 = {h0s.grad.item():.5f}")


# %% [markdown]
# ## 3. Exercises: the backward pass
#
# ### Exercise 1 (4 points): `rnn_step_backward`
#
# The backward pass of **one step** receives `dh_t` $= \partial E/\partial h_t$ of shape `(N, H)` — *all*
# the gradient that reaches $h_t$, from $y_t$ and from $h_{t+1}$ — and the cache of the forward step.
# It returns the gradient with respect to each input of the step. For one example, in column vectors:
#
# $$\delta_t = (1 - h_t^2)\odot\frac{\partial E}{\partial h_t}, \quad
# \frac{\partial E}{\partial x_t} = W_{xh}^\top\delta_t, \quad
# \frac{\partial E}{\partial h_{t-1}}\Big|_{\text{this step}} = W_{hh}^\top\delta_t, \quad
# \frac{\partial E}{\partial W_{xh}} = \delta_t x_t^\top, \quad
# \frac{\partial E}{\partial W_{hh}} = \delta_t h_{t-1}^\top, \quad
# \frac{\partial E}{\partial b_h} = \delta_t .$$
#
# Write it for a batch of $N$ row vectors, without a loop over the batch: the weight and bias
# gradients are the **sums** of the $N$ examples' contributions. Use NumPy only (no `torch`, and not
# the course library's own `rnn_step_backward`).

# %% nbgrader={"grade": false, "grade_id": "rnn_step_backward", "locked": false, "schema_version": 3, "solution": true}
def rnn_step_backward(dh_t, cache):
    """Backward pass of one step of the Elman RNN.

    dh_t: (N, H), the gradient of the loss with respect to h_t (from y_t and from h_{t+1}).
    cache: (x_t, h_prev, h_t, W_xh, W_hh) from rnn_step_forward, with
           x_t (N, D), h_prev (N, H), h_t (N, H), W_xh (H, D), W_hh (H, H).
    Returns (dx_t, dh_prev, dW_xh, dW_hh, db_h) of shapes (N, D), (N, H), (H, D), (H, H), (H,).
    """
    x_t, h_prev, h_t, W_xh, W_hh = cache
    ### BEGIN SOLUTION
    da = dh_t * (1 - h_t**2)      # delta_t = dE/da_t, with tanh'(a_t) = 1 - h_t^2
    dx_t = da @ W_xh              # (N, H) @ (H, D)
    dh_prev = da @ W_hh           # (N, H) @ (H, H)
    dW_xh = da.T @ x_t            # (H, N) @ (N, D): summed over the batch
    dW_hh = da.T @ h_prev         # (H, N) @ (N, H)
    db_h = da.sum(axis=0)         # (H,)
    ### END SOLUTION
    return dx_t, dh_prev, dW_xh, dW_hh, db_h


# %% nbgrader={"grade": true, "grade_id": "test_rnn_step_backward_shapes", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, step_forward_torch

# Shapes, with D != H so that a transposed weight shows: N = 3 examples, D = 4, H = 5.
# (The caches come from notebook 02's forward step, computed here by PyTorch: utils.bptt.)
r = utils.seed_all(10)
_, cache = step_forward_torch(r.standard_normal((3, 4)), r.standard_normal((3, 5)),
                              r.standard_normal((5, 4)), r.standard_normal((5, 5)), r.standard_normal(5))
grads = rnn_step_backward(r.standard_normal((3, 5)), cache)
check_equal("rnn_step_backward: number of values returned", len(grads), 5,
            hint="return dx_t, dh_prev, dW_xh, dW_hh, db_h")
for name, g, shape in zip(["dx_t", "dh_prev", "dW_xh", "dW_hh", "db_h"], grads,
                          [(3, 4), (3, 5), (5, 4), (5, 5), (5,)]):
    check_shape(f"rnn_step_backward: {name}", g, shape,
                hint="a gradient has the shape of the variable it is taken with respect to")

# A case you can check by hand: step 2 of the worked example (N = D = H = 1, dE/dh_2 = 1).
case = fixtures.load("03_bptt")["step_hand"]     # these inputs, and what common mistakes return
one = lambda v: np.array([[v]])
_, cache = step_forward_torch(one(-0.5), one(np.tanh(0.5)), one(1.0), one(0.5), np.zeros(1))
h_2 = cache[2][0, 0]
delta = 1.0 * (1 - h_2**2)                    # 0.93102
expected = (one(1.0 * delta), one(0.5 * delta), one(-0.5 * delta), one(np.tanh(0.5) * delta),
            np.array([delta]))
# exact arithmetic on 1x1 arrays: only rounding differs, so the tolerance is tight
check_grads("rnn_step_backward (worked example, step 2)", rnn_step_backward(one(1.0), cache),
            expected, mistakes=fixture_mistakes(case))
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
for N, D, H in [(1, 1, 1), (1, 6, 2), (4, 2, 7)]:
    _, cache = step_forward_torch(r.standard_normal((N, D)), r.standard_normal((N, H)),
                                r.standard_normal((H, D)), r.standard_normal((H, H)),
                                r.standard_normal(H))
    grads = rnn_step_backward(r.standard_normal((N, H)), cache)
    check_equal("rnn_step_backward: number of values returned", len(grads), 5)
    for name, g, shape in zip(["dx_t", "dh_prev", "dW_xh", "dW_hh", "db_h"], grads,
                              [(N, D), (N, H), (H, D), (H, H), (H,)]):
        check_shape(f"rnn_step_backward (N={N}, D={D}, H={H}): {name}", g, shape)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_step_backward_numerical", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, numerical_grads, step_forward_torch

# A random comparison with the numerical gradient (central differences, float64) of
# L = sum(dh_t * h_t), whose gradient with respect to h_t is dh_t: N = 2, D = 3, H = 4.
case = fixtures.load("03_bptt")["step_numerical"]   # fixed inputs, and what common mistakes return
x_t, h_prev, W_xh, W_hh, b_h, dh_t = (case.inputs[k] for k in ("x_t", "h_prev", "W_xh", "W_hh", "b_h", "dh_t"))
inputs = [x_t, h_prev, W_xh, W_hh, b_h]
_, cache = step_forward_torch(*inputs)
# central differences (h = 1e-5) are accurate to about 1e-9 here; a mistake is off by > 1e-2
check_grads("rnn_step_backward vs numerical gradient", rnn_step_backward(dh_t.copy(), cache),
            numerical_grads(step_forward_torch, inputs, dh_t),
            mistakes=fixture_mistakes(case), atol=1e-7, rtol=1e-5)
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
N, D, H = (int(v) for v in r.integers(1, 6, size=3))
inputs = [r.standard_normal((N, D)), r.standard_normal((N, H)), r.standard_normal((H, D)),
          r.standard_normal((H, H)), r.standard_normal(H)]
dh_t = r.standard_normal((N, H))
_, cache = step_forward_torch(*inputs)
check_grads(f"rnn_step_backward vs numerical gradient (N={N}, D={D}, H={H})",
            rnn_step_backward(dh_t.copy(), cache), numerical_grads(step_forward_torch, inputs, dh_t),
            mistakes=_ref.step_backward_mistakes(dh_t, cache), atol=1e-7, rtol=1e-5)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_step_backward_autograd", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, step_forward_torch, torch_rnn_gradients

# Comparison with torch.autograd on the same step (a sequence of length T = 1): N = 3, D = H = 4.
case = fixtures.load("03_bptt")["step_autograd"]   # fixed inputs, and what common mistakes return
x_t, h_prev, W_xh, W_hh, b_h, dh_t = (case.inputs[k] for k in ("x_t", "h_prev", "W_xh", "W_hh", "b_h", "dh_t"))
_, cache = step_forward_torch(x_t, h_prev, W_xh, W_hh, b_h)
dx, dh0, dWx, dWh, db = torch_rnn_gradients(x_t[None], h_prev, W_xh, W_hh, b_h, dh_t[None])
# float64 on both sides: the results differ by rounding only (~1e-15)
check_grads("rnn_step_backward vs torch.autograd", rnn_step_backward(dh_t.copy(), cache),
            (dx[0], dh0, dWx, dWh, db), mistakes=fixture_mistakes(case))
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
for N, D, H in [(1, 3, 5), (5, 7, 2), (2, 1, 1), tuple(int(v) for v in r.integers(1, 8, size=3))]:
    x_t, h_prev = r.standard_normal((N, D)), r.standard_normal((N, H))
    W_xh, W_hh = r.standard_normal((H, D)) / np.sqrt(D), r.standard_normal((H, H)) / np.sqrt(H)
    b_h, dh_t = r.standard_normal(H), r.standard_normal((N, H))
    _, cache = step_forward_torch(x_t, h_prev, W_xh, W_hh, b_h)
    dx, dh0, dWx, dWh, db = torch_rnn_gradients(x_t[None], h_prev, W_xh, W_hh, b_h, dh_t[None])
    check_grads(f"rnn_step_backward vs torch.autograd (N={N}, D={D}, H={H})",
                rnn_step_backward(dh_t.copy(), cache), (dx[0], dh0, dWx, dWh, db),
                mistakes=_ref.step_backward_mistakes(dh_t, cache))
# float32 inputs are accepted; float32 keeps ~7 significant digits, so the tolerance is 1e-4
args32 = [a.astype(np.float32) for a in (x_t, h_prev, W_xh, W_hh, b_h)]
_, cache32 = step_forward_torch(*args32)
dx, dh0, dWx, dWh, db = torch_rnn_gradients(args32[0][None], *args32[1:],
                                            dh_t.astype(np.float32)[None])
check_grads("rnn_step_backward with float32 inputs",
            rnn_step_backward(dh_t.astype(np.float32), cache32),
            (dx[0], dh0, dWx, dWh, db), atol=1e-4, rtol=1e-4)
# neither dh_t nor the cache may change: rnn_backward and the gradient checks reuse both
for _N, _D, _H in [(3, 2, 4), (1, 1, 1)]:
    _, _fresh_cache = step_forward_torch(r.standard_normal((_N, _D)), r.standard_normal((_N, _H)),
                                         r.standard_normal((_H, _D)), r.standard_normal((_H, _H)),
                                         r.standard_normal(_H))
    _grads = utils.call_unchanged(f"rnn_step_backward (N={_N}, D={_D}, H={_H})", rnn_step_backward,
                                  r.standard_normal((_N, _H)), _fresh_cache)
    for _name, _g in zip(["dx_t", "dh_prev", "dW_xh", "dW_hh", "db_h"], _grads):
        utils.check_type(f"rnn_step_backward: {_name}", _g, np.ndarray, dtype=np.float64)
utils.check_no_library("rnn_step_backward", rnn_step_backward, ["torch", "numpy_rnn"])
# what it calls while it runs, not only what its source says (an alias cannot hide a call)
_ = utils.checks.check_no_library_calls("rnn_step_backward", rnn_step_backward, dh_t.copy(), cache)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 (4 points): `rnn_backward`
#
# Now the whole sequence. `dh` of shape `(T, N, H)` holds the gradient that the **outputs** send to each
# hidden state, `dh[t-1]` $= \partial E_t/\partial h_t$ (the direct terms). Walk backwards in time,
# $t = T, \dots, 1$, and at each step
#
# * add the gradient flowing back from the step after it to the direct term: the step receives
#   $\partial E/\partial h_t = $ `dh[t-1]` $+$ `dh_next` (with `dh_next` $= 0$ after the last step);
# * call your `rnn_step_backward`; its `dh_prev` is the `dh_next` of the step before;
# * store `dx[t-1]`, and **add** this step's weight and bias gradients to running sums.
#
# After step 1, `dh_next` is $\partial E/\partial h_0$: return it as `dh0`.
#
# Leave `dh` as it was given: do not write into it. The habit `dh[t-1] += dh_next` changes the
# caller's array, and callers reuse it (the gradient check of section 5 passes the same `dh` to your
# function and then to the numerical gradient, which would then measure a different loss). Add into a
# new array instead, e.g. `dh[t-1] + dh_next`.

# %% nbgrader={"grade": false, "grade_id": "rnn_backward", "locked": false, "schema_version": 3, "solution": true}
def rnn_backward(dh, cache):
    """Backpropagation through time over a whole sequence.

    dh: (T, N, H), the upstream gradient on every hidden state (from the outputs y_t).
    cache: list of T step caches from rnn_forward.
    Returns (dx, dh0, dW_xh, dW_hh, db_h) of shapes (T, N, D), (N, H), (H, D), (H, H), (H,);
    the weight and bias gradients are summed over time.
    """
    ### BEGIN SOLUTION
    T = len(cache)
    N, D = cache[0][0].shape
    H = dh.shape[2]
    dx = np.zeros((T, N, D))
    dW_xh, dW_hh, db_h = np.zeros((H, D)), np.zeros((H, H)), np.zeros(H)
    dh_next = np.zeros((N, H))     # gradient flowing into h_t from step t+1 (none after the last)
    for t in reversed(range(T)):
        dx[t], dh_next, dW_xh_t, dW_hh_t, db_h_t = rnn_step_backward(dh[t] + dh_next, cache[t])
        dW_xh += dW_xh_t
        dW_hh += dW_hh_t
        db_h += db_h_t
    dh0 = dh_next
    ### END SOLUTION
    return dx, dh0, dW_xh, dW_hh, db_h


# %% nbgrader={"grade": true, "grade_id": "test_rnn_backward_shapes", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, forward_torch

# Shapes: T = 5 steps, N = 3, D = 4, H = 6.
r = utils.seed_all(20)
_, cache = forward_torch(r.standard_normal((5, 3, 4)), r.standard_normal((3, 6)),
                         r.standard_normal((6, 4)), r.standard_normal((6, 6)), r.standard_normal(6))
grads = rnn_backward(r.standard_normal((5, 3, 6)), cache)
check_equal("rnn_backward: number of values returned", len(grads), 5,
            hint="return dx, dh0, dW_xh, dW_hh, db_h")
for name, g, shape in zip(["dx", "dh0", "dW_xh", "dW_hh", "db_h"], grads,
                          [(5, 3, 4), (3, 6), (6, 4), (6, 6), (6,)]):
    check_shape(f"rnn_backward: {name}", g, shape,
                hint="dx has one (N, D) gradient per step; the weight gradients are summed over time")

# The worked example by hand: two scalar steps, dE/dh_1 = 0.3 (direct) and dE/dh_2 = 1.
case = fixtures.load("03_bptt")["sequence_hand"]   # these inputs, and what common mistakes return
one = lambda v: np.array([[v]])
x = np.array([[[0.5]], [[-0.5]]])
h, cache = forward_torch(x, one(0.0), one(1.0), one(0.5), np.zeros(1))
h_1, h_2 = h[0, 0, 0], h[1, 0, 0]
delta_2 = 1.0 * (1 - h_2**2)                         # 0.93102
delta_1 = (0.5 * delta_2 + 0.3) * (1 - h_1**2)       # both paths into h_1: 0.60203
expected = (np.array([[[delta_1]], [[delta_2]]]), one(0.5 * delta_1), one(0.5 * delta_1 - 0.5 * delta_2),
            one(delta_2 * h_1 + delta_1 * 0.0), np.array([delta_1 + delta_2]))
dh = np.array([[[0.3]], [[1.0]]])
check_grads("rnn_backward (worked example)", rnn_backward(dh.copy(), cache), expected,
            mistakes=fixture_mistakes(case))
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
for T, N, D, H in [(1, 1, 1, 1), (1, 2, 5, 3), (4, 1, 2, 6), (3, 5, 6, 2)]:
    _, cache = forward_torch(r.standard_normal((T, N, D)), r.standard_normal((N, H)),
                           r.standard_normal((H, D)), r.standard_normal((H, H)), r.standard_normal(H))
    grads = rnn_backward(r.standard_normal((T, N, H)), cache)
    check_equal("rnn_backward: number of values returned", len(grads), 5)
    for name, g, shape in zip(["dx", "dh0", "dW_xh", "dW_hh", "db_h"], grads,
                              [(T, N, D), (N, H), (H, D), (H, H), (H,)]):
        check_shape(f"rnn_backward (T={T}, N={N}, D={D}, H={H}): {name}", g, shape)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_backward_numerical", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, forward_torch, numerical_grads

# A random comparison with the numerical gradient of L = sum(dh * h) over the whole sequence:
# T = 4, N = 2, D = 3, H = 4.
case = fixtures.load("03_bptt")["sequence_numerical"]   # fixed inputs, what common mistakes return
x, h0, W_xh, W_hh, b_h, dh = (case.inputs[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h", "dh"))
inputs = [x, h0, W_xh, W_hh, b_h]
_, cache = forward_torch(*inputs)
# central differences (h = 1e-5) are accurate to about 1e-9 here; a mistake is off by > 1e-2
check_grads("rnn_backward vs numerical gradient", rnn_backward(dh.copy(), cache),
            numerical_grads(forward_torch, inputs, dh),
            mistakes=fixture_mistakes(case), atol=1e-7, rtol=1e-5)
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
T, N, D, H = (int(v) for v in r.integers(2, 6, size=4))
inputs = [r.standard_normal((T, N, D)), r.standard_normal((N, H)), r.standard_normal((H, D)) / 2,
          r.standard_normal((H, H)) / 2, r.standard_normal(H)]
dh = r.standard_normal((T, N, H))
_, cache = forward_torch(*inputs)
check_grads(f"rnn_backward vs numerical gradient (T={T}, N={N}, D={D}, H={H})",
            rnn_backward(dh.copy(), cache), numerical_grads(forward_torch, inputs, dh),
            mistakes=_ref.sequence_backward_mistakes(dh, cache), atol=1e-7, rtol=1e-5)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_backward_autograd", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, forward_torch, torch_rnn_backward

# Comparison with torch.nn.RNN (weights copied in) and torch.autograd: T = 6, N = 3, D = 4, H = 5.
case = fixtures.load("03_bptt")["sequence_autograd"]   # fixed inputs, what common mistakes return
x, h0, W_xh, W_hh, b_h, dh = (case.inputs[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h", "dh"))
inputs = [x, h0, W_xh, W_hh, b_h]
_, cache = forward_torch(*inputs)
# float64 on both sides: the results differ by rounding only (~1e-15)
check_grads("rnn_backward vs torch.nn.RNN + autograd", rnn_backward(dh.copy(), cache),
            torch_rnn_backward(*inputs, dh), mistakes=fixture_mistakes(case))
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
shapes = [(1, 1, 1, 1), (1, 3, 2, 5), (7, 1, 3, 2), (5, 4, 6, 3),
          tuple(int(v) for v in r.integers(1, 8, size=4))]
for T, N, D, H in shapes:
    inputs = [r.standard_normal((T, N, D)), r.standard_normal((N, H)),
              r.standard_normal((H, D)) / np.sqrt(D), r.standard_normal((H, H)) / np.sqrt(H),
              r.standard_normal(H)]
    dh = r.standard_normal((T, N, H))
    _, cache = forward_torch(*inputs)
    check_grads(f"rnn_backward vs torch.nn.RNN (T={T}, N={N}, D={D}, H={H})",
                rnn_backward(dh.copy(), cache), torch_rnn_backward(*inputs, dh),
                mistakes=_ref.sequence_backward_mistakes(dh, cache))
# a gradient entering only at the LAST step must reach dh0 (it flows through all T steps)
dh_last = np.zeros_like(dh)
dh_last[-1] = r.standard_normal(dh.shape[1:])
check_grads("rnn_backward with a gradient at the last step only", rnn_backward(dh_last.copy(), cache),
            torch_rnn_backward(*inputs, dh_last),
            mistakes=_ref.sequence_backward_mistakes(dh_last, cache))
# float32 inputs are accepted; float32 keeps ~7 significant digits, so the tolerance is 1e-4
inputs32 = [a.astype(np.float32) for a in inputs]
_, cache32 = forward_torch(*inputs32)
check_grads("rnn_backward with float32 inputs", rnn_backward(dh.astype(np.float32), cache32),
            torch_rnn_backward(*inputs32, dh.astype(np.float32)), atol=1e-4, rtol=1e-4)
# the upstream gradient must come back unchanged: callers reuse it (the gradient check of section 5).
# On the fixed case (T = 6), not on the random shapes above: with T = 1 nothing flows from a later
# step, and dh[t] += dh_next would add zeros and go unseen.
_, cache = forward_torch(*(case.inputs[n] for n in ("x", "h0", "W_xh", "W_hh", "b_h")))
dh = case.inputs["dh"].copy()
_dh_before = dh.copy()
rnn_backward(dh, cache)
check_close("dh after rnn_backward (do not modify the upstream gradient in place)", dh, _dh_before,
            atol=0, rtol=0, hint="dh[t] += dh_next writes into the caller's array; add into a new one, "
                                 "dh[t] + dh_next")
utils.check_no_library("rnn_backward", rnn_backward, ["torch", "numpy_rnn"])
_ = utils.checks.check_no_library_calls("rnn_backward", rnn_backward, dh.copy(), cache)  # what it calls while it runs
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3 (3 points): `softmax_cross_entropy`
#
# The gradient `dh` that enters BPTT comes from the loss. For a language model the outputs are
# **logits** $y_t \in \mathbb{R}^V$, one score per symbol, the probabilities are
# $p_t = \operatorname{softmax}(y_t)$, and the loss is the **cross-entropy** (交叉熵) of the correct
# symbol $c_t$, averaged over the $T\cdot N$ positions:
#
# $$E = -\frac{1}{TN}\sum_{t,n}\log p_{t,n}[c_{t,n}], \qquad
# \frac{\partial E}{\partial y_{t,n}} = \frac{1}{TN}\big(p_{t,n} - \operatorname{onehot}(c_{t,n})\big).$$
#
# The gradient is remarkably simple: the predicted distribution minus the true one. Compute the
# log-probabilities **stably** with the *log-sum-exp trick*: with $z = y - \max_v y[v]$,
#
# $$\log p[v] = z[v] - \log\sum_{u} e^{z[u]} .$$
#
# Subtracting the maximum changes nothing mathematically but keeps `exp` from overflowing (`exp(1000)`
# is `inf` in float64), and taking the logarithm *before* exponentiating keeps $\log p$ finite even when
# $p$ underflows to 0 (`np.log(softmax(y))` gives $\log 0 = -\infty$ for a very unlikely target).
# Return the loss as a number and `dlogits` with the shape of `logits`.

# %% nbgrader={"grade": false, "grade_id": "softmax_cross_entropy", "locked": false, "schema_version": 3, "solution": true}
def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of softmax(logits) against integer targets, and its gradient.

    logits: (T, N, V) scores; targets: (T, N) integers in 0..V-1.
    Returns (loss, dlogits): loss, a float, the mean over the T*N positions of
    -log softmax(logits)[target]; dlogits (T, N, V), its gradient with respect to logits.
    Stable for logits of any size (log-sum-exp trick).
    """
    ### BEGIN SOLUTION
    T, N, V = logits.shape
    z = logits - logits.max(axis=-1, keepdims=True)          # the largest logit becomes 0
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    Y = np.eye(V)[targets]                                     # one-hot targets (T, N, V)
    loss = -np.sum(Y * log_probs) / (T * N)
    dlogits = (np.exp(log_probs) - Y) / (T * N)
    ### END SOLUTION
    return float(loss), dlogits


# %% nbgrader={"grade": true, "grade_id": "test_softmax_cross_entropy_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import CROSS_ENTROPY_OUTPUTS, check_grads, fixture_mistakes

# By hand: equal logits give p = 1/V everywhere, so the loss is log V for any targets, and
# dlogits = (1/V - onehot) / (T*N). Here T = 2, N = 1, V = 4: loss = log 4 = 1.38629.
logits = np.zeros((2, 1, 4))
targets = np.array([[1], [3]])
got = softmax_cross_entropy(logits.copy(), targets)
check_equal("softmax_cross_entropy: number of values returned", len(got), 2,
            hint="return (loss, dlogits)")
check_shape("softmax_cross_entropy: dlogits", got[1], (2, 1, 4),
            hint="dlogits has the shape of logits")
expected_d = np.full((2, 1, 4), 0.25 / 2)
expected_d[0, 0, 1] -= 1 / 2
expected_d[1, 0, 3] -= 1 / 2
# exact arithmetic up to rounding: a tight tolerance
check_grads("softmax_cross_entropy (equal logits)", got, (np.log(4), expected_d),
            mistakes=fixture_mistakes(fixtures.load("03_bptt")["ce_hand"], CROSS_ENTROPY_OUTPUTS),
            names=("loss", "dlogits"))
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
T, N, V = (int(v) for v in r.integers(1, 6, size=3))
V += 1
logits = np.full((T, N, V), float(r.standard_normal()))
targets = r.integers(0, V, size=(T, N))
Y = np.eye(V)[targets]
check_grads(f"softmax_cross_entropy (equal logits, T={T}, N={N}, V={V})",
            softmax_cross_entropy(logits.copy(), targets),
            (np.log(V), (1 / V - Y) / (T * N)),
            mistakes=_ref.cross_entropy_mistakes(logits, targets), names=("loss", "dlogits"))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_softmax_cross_entropy_torch", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import CROSS_ENTROPY_OUTPUTS, check_grads, fixture_mistakes, torch_softmax_cross_entropy

# A random comparison with torch.nn.functional.cross_entropy and autograd: T = 4, N = 3, V = 6.
case = fixtures.load("03_bptt")["ce_torch"]   # fixed inputs, and what common mistakes return
logits, targets = case.inputs["logits"], case.inputs["targets"]
# float64 on both sides: the results differ by rounding only
check_grads("softmax_cross_entropy vs torch", softmax_cross_entropy(logits.copy(), targets),
            torch_softmax_cross_entropy(logits, targets),
            mistakes=fixture_mistakes(case, CROSS_ENTROPY_OUTPUTS), names=("loss", "dlogits"))
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
for T, N, V in [(1, 1, 2), (1, 4, 7), (6, 1, 3), tuple(int(v) + 1 for v in r.integers(1, 9, size=3))]:
    logits = 3 * r.standard_normal((T, N, V))
    targets = r.integers(0, V, size=(T, N))
    check_grads(f"softmax_cross_entropy vs torch (T={T}, N={N}, V={V})",
                softmax_cross_entropy(logits.copy(), targets),
                torch_softmax_cross_entropy(logits, targets),
                mistakes=_ref.cross_entropy_mistakes(logits, targets), names=("loss", "dlogits"))
    # int32 targets work as well as int64
    check_grads("softmax_cross_entropy with int32 targets",
                softmax_cross_entropy(logits.copy(), targets.astype(np.int32)),
                torch_softmax_cross_entropy(logits, targets), names=("loss", "dlogits"))
# logits and targets come back as they were (model_loss_and_gradients and its callers reuse them);
# targets of any integer dtype, unsigned included, are integers in 0..V-1
for dtype in (np.int64, np.uint8, np.int16):
    logits, targets = 3 * r.standard_normal((4, 2, 5)), r.integers(0, 5, size=(4, 2)).astype(dtype)
    got = utils.call_unchanged(f"softmax_cross_entropy (targets of dtype {np.dtype(dtype)})",
                               softmax_cross_entropy, logits, targets)
    check_grads(f"softmax_cross_entropy with {np.dtype(dtype)} targets", got,
                torch_softmax_cross_entropy(logits, targets.astype(np.int64)), names=("loss", "dlogits"))
    utils.check_type("softmax_cross_entropy: loss", got[0], float, hint="return the loss as a float")
    utils.check_type("softmax_cross_entropy: dlogits", got[1], np.ndarray, dtype=np.float64)
# the gradient is the gradient of the loss: numerical check (central differences, float64)
logits = r.standard_normal((3, 2, 5))
targets = r.integers(0, 5, size=(3, 2))
numeric = utils.numerical_gradient(lambda z: softmax_cross_entropy(z, targets)[0], logits.copy())
check_close("softmax_cross_entropy: dlogits vs numerical gradient",
            softmax_cross_entropy(logits.copy(), targets)[1], numeric, atol=1e-8, rtol=1e-5)
# float32 logits are accepted (float32 keeps ~7 significant digits: tolerance 1e-5)
check_grads("softmax_cross_entropy with float32 logits",
            softmax_cross_entropy(logits.astype(np.float32), targets),
            torch_softmax_cross_entropy(logits.astype(np.float32), targets),
            atol=1e-5, rtol=1e-5, names=("loss", "dlogits"))
utils.check_no_library("softmax_cross_entropy", softmax_cross_entropy,
                       ["torch", "numpy_rnn", "scipy"])
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_softmax_cross_entropy_stable", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils.bptt import check_grads

# Very large logits must not overflow. By hand: logits (1000, 0, -1000) with target 2 give
# log p[2] = -2000 - log(1 + e^-1000 + e^-2000) = -2000 (to float64 precision), so the loss is
# 2000, and p = (1, 0, 0), so dlogits = p - onehot = (1, 0, -1).
logits = np.array([[[1000.0, 0.0, -1000.0]]])
hint = ("compute log-probabilities with the log-sum-exp trick: z = logits - max, "
        "log_probs = z - log(sum(exp(z))). Without subtracting the max, exp overflows; and "
        "log(softmax(...)) gives log(0) = -inf when a target's probability underflows to 0.")
check_grads("softmax_cross_entropy with logits of size 1000",
            softmax_cross_entropy(logits.copy(), np.array([[2]])),
            (2000.0, np.array([[[1.0, 0.0, -1.0]]])), names=("loss", "dlogits"), hint=hint)
### BEGIN HIDDEN TESTS
from utils.bptt import torch_softmax_cross_entropy

r = utils.seed_all(None)
T, N, V = (int(v) + 1 for v in r.integers(1, 6, size=3))
logits = 1000 * r.standard_normal((T, N, V))
targets = r.integers(0, V, size=(T, N))
# loss values reach ~1e3: a relative tolerance of 1e-9 is still far below any real mistake
check_grads(f"softmax_cross_entropy with large random logits (T={T}, N={N}, V={V})",
            softmax_cross_entropy(logits.copy(), targets),
            torch_softmax_cross_entropy(logits, targets), names=("loss", "dlogits"),
            atol=1e-9, rtol=1e-9, hint=hint)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Checking gradients (梯度检验)
#
# A backward pass can be wrong and still *seem* to train, so every gradient is checked in two
# independent ways before it is trusted.
#
# **Numerically.** The **central difference** (中心差分)
#
# $$\frac{\partial f}{\partial \theta_i} \approx \frac{f(\theta + h e_i) - f(\theta - h e_i)}{2h}$$
#
# has an error of order $h^2$ (the one-sided difference $(f(\theta + h e_i) - f(\theta))/h$ only $h$),
# at the price of two evaluations of $f$ per parameter: fine for checking, far too slow for training.
# `utils.numerical_gradient(f, theta)` computes it entry by entry. Gradients are compared with the
# **relative error** `utils.rel_error(a, b)` $= \max_i |a_i - b_i| / \max(|a_i| + |b_i|, 10^{-8})$, which
# does not depend on the scale of the gradient: about $10^{-7}$ or less means agreement in float64,
# $10^{-2}$ or more a bug.
#
# Below, the whole model — your `rnn_backward` and `softmax_cross_entropy`, with the output layer —
# is checked against numerical gradients of the loss. First you assemble it.

# %% [markdown]
# ### Exercise 4 (3 points): `model_loss_and_gradients`
#
# The model of section 6 is the RNN with an **output layer** (输出层) and the cross-entropy loss:
#
# $$y_t = W_{hy}h_t + b_y, \qquad E = -\frac{1}{TN}\sum_{t,n}\log\operatorname{softmax}(y_{t,n})[c_{t,n}].$$
#
# Write $g_t = \partial E/\partial y_t$, of shape $(N, V)$ at each step: your `softmax_cross_entropy`
# returns all of them as `dlogits`, already divided by $TN$. The output layer's backward pass is the
# pattern of your `dW_xh` once more, a product per step summed over time and batch:
#
# $$\frac{\partial E}{\partial h_t}\Big|_{\text{direct}} = W_{hy}^\top g_t \;\;(\text{in code: } g_t W_{hy}), \qquad
# \frac{\partial E}{\partial W_{hy}} = \sum_{t,n} g_{t,n}\,h_{t,n}^\top, \qquad
# \frac{\partial E}{\partial b_y} = \sum_{t,n} g_{t,n}.$$
#
# The first is the **direct term** of section 2: the gradient that enters BPTT at *every* step (every
# step has a loss), so it is the `dh` of shape $(T, N, H)$ that you hand to `backward(dh, cache)`.
#
# Write `model_loss_and_gradients(p, x, h0, targets, backward=rnn_backward)`: the forward pass with the
# given `rnn_forward` and `output_layer`, the loss and `dlogits` with your `softmax_cross_entropy`, the
# three gradients above, and `backward` for the rest. Return `(loss, grads)`, where `grads` is a dict
# with the gradient of each parameter (`"W_xh"`, `"W_hh"`, `"b_h"`, `"W_hy"`, `"b_y"`) and of the
# inputs (`"x"`, `"h0"`), each of the shape of what it is the gradient of. Do not modify the arguments.
# `backward` is an argument so that section 6 can pass truncated BPTT, and so that a test can check
# your output layer with a trusted BPTT: if that test passes and the next one fails, look at your
# `rnn_backward`.

# %% nbgrader={"grade": false, "grade_id": "model_loss_and_gradients", "locked": false, "schema_version": 3, "solution": true}
def model_loss_and_gradients(p, x, h0, targets, backward=rnn_backward):
    """Loss of the character model (RNN + output layer + cross-entropy) and its gradients.

    p: dict of parameters W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,).
    x: (T, N, D) inputs; h0: (N, H) initial state; targets: (T, N) ints in 0..V-1.
    backward: the BPTT function, backward(dh, cache) -> (dx, dh0, dW_xh, dW_hh, db_h).
    Returns (loss, grads): loss, a float (the mean cross-entropy); grads, a dict with the gradient
    of the loss for "W_xh", "W_hh", "b_h", "W_hy", "b_y", "x" and "h0", each shaped like its variable.
    """
    ### BEGIN SOLUTION
    h, cache = rnn_forward(x, h0, p["W_xh"], p["W_hh"], p["b_h"])
    logits = output_layer(h, p["W_hy"], p["b_y"])
    loss, dlogits = softmax_cross_entropy(logits, targets)
    V, H = p["W_hy"].shape
    flat = dlogits.reshape(-1, V)                     # (T*N, V): time and batch as one axis
    dh = dlogits @ p["W_hy"]                          # (T, N, H): enters BPTT at every step
    dW_hy = flat.T @ h.reshape(-1, H)                 # summed over time and batch
    db_y = flat.sum(axis=0)
    dx, dh0, dW_xh, dW_hh, db_h = backward(dh, cache)
    ### END SOLUTION
    return loss, {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h, "W_hy": dW_hy, "b_y": db_y,
                  "x": dx, "h0": dh0}


# %% nbgrader={"grade": true, "grade_id": "test_model_loss_and_gradients_output_layer", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import OUTPUT_LAYER_OUTPUTS, check_grads, check_loss_and_grads, fixture_mistakes
from utils.bptt import torch_model_loss_and_gradients, torch_rnn_gradients

# Your output layer alone: `backward` is a trusted BPTT (torch.autograd) that records the dh it gets.
# T = 5, N = 3, D = 4, H = 6, V = 7.
case = fixtures.load("03_bptt")["model"]
p = {name: case.inputs[name] for name in ("W_xh", "W_hh", "b_h", "W_hy", "b_y")}
x, h0, targets = case.inputs["x"], case.inputs["h0"], case.inputs["targets"]
received = []


def trusted_backward(dh, cache):
    received.append(np.array(dh))
    return torch_rnn_gradients(x, h0, p["W_xh"], p["W_hh"], p["b_h"], dh)


got = model_loss_and_gradients({k: v.copy() for k, v in p.items()}, x.copy(), h0.copy(), targets.copy(),
                               backward=trusted_backward)
check_equal("model_loss_and_gradients: calls to backward(dh, cache)", len(received), 1,
            hint="compute dh for every step at once and call backward(dh, cache) once")
check_loss_and_grads("model_loss_and_gradients (trusted BPTT)", got, *torch_model_loss_and_gradients(p, x, h0, targets),
                     only=())
# float64 on both sides: the results differ by rounding only
check_grads("model_loss_and_gradients: the output layer", (received[0], got[1]["W_hy"], got[1]["b_y"]),
            tuple(case.expected[n] for n in OUTPUT_LAYER_OUTPUTS), names=OUTPUT_LAYER_OUTPUTS,
            mistakes=fixture_mistakes(case, OUTPUT_LAYER_OUTPUTS))
check_loss_and_grads("model_loss_and_gradients (trusted BPTT)", got, *torch_model_loss_and_gradients(p, x, h0, targets))
print("The output layer's backward pass is right.")
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
sizes = [(1, 1, 2, 3, 4), (4, 2, 3, 5, 5), (3, 2, 5, 4, 3),
         tuple(int(v) for v in r.integers(1, 6, size=5) + np.array([0, 0, 1, 1, 2]))]
for T, N, D, H, V in sizes:   # T = N = 1; V = H, where a transposed W_hy would fit; D, H, V apart
    p = {"W_xh": r.standard_normal((H, D)), "W_hh": r.standard_normal((H, H)) / np.sqrt(H),
         "b_h": 0.1 * r.standard_normal(H), "W_hy": r.standard_normal((V, H)), "b_y": r.standard_normal(V)}
    x, h0, targets = r.standard_normal((T, N, D)), r.standard_normal((N, H)), r.integers(0, V, size=(T, N))
    received = []

    def trusted_backward(dh, cache):
        received.append(np.array(dh))
        return _ref.backward(np.asarray(dh, dtype=np.float64), _ref.forward(x, h0, p["W_xh"], p["W_hh"], p["b_h"])[1])

    args = ({k: v.copy() for k, v in p.items()}, x.copy(), h0.copy(), targets.copy())
    got = model_loss_and_gradients(*args, backward=trusted_backward)
    name = f"model_loss_and_gradients (T={T}, N={N}, D={D}, H={H}, V={V})"
    check_equal(f"{name}: calls to backward(dh, cache)", len(received), 1,
                hint="compute dh for every step at once and call backward(dh, cache) once")
    h = _ref.forward(x, h0, p["W_xh"], p["W_hh"], p["b_h"])[0]
    _, dlogits = _ref.softmax_cross_entropy(h @ p["W_hy"].T + p["b_y"], targets)
    expected = _ref.output_layer_backward(dlogits, h, p["W_hy"])
    check_loss_and_grads(name, got, *torch_model_loss_and_gradients(p, x, h0, targets), only=())
    check_grads(f"{name}: the output layer", (received[0], got[1]["W_hy"], got[1]["b_y"]), expected,
                names=OUTPUT_LAYER_OUTPUTS, mistakes=_ref.output_layer_mistakes(dlogits, h, p["W_hy"]))
    check_loss_and_grads(name, got, *torch_model_loss_and_gradients(p, x, h0, targets))
    for k, (before, after) in enumerate(zip((p, x, h0, targets), args)):
        same = (all(np.array_equal(before[n], after[n]) for n in before) if isinstance(before, dict)
                else np.array_equal(before, after))
        check_equal(f"{name}: argument {k + 1} unchanged after the call", same, True,
                    hint="do not modify p, x, h0 or targets in place (no +=, -= or out= on them)")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_model_loss_and_gradients_torch", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_loss_and_grads, torch_model_loss_and_gradients

# The whole model with your own rnn_backward, against torch.nn.RNN + torch.autograd.
case = fixtures.load("03_bptt")["model"]
p = {name: case.inputs[name] for name in ("W_xh", "W_hh", "b_h", "W_hy", "b_y")}
x, h0, targets = case.inputs["x"], case.inputs["h0"], case.inputs["targets"]
got = model_loss_and_gradients({k: v.copy() for k, v in p.items()}, x.copy(), h0.copy(), targets.copy())
# float64 on both sides: the results differ by rounding only
check_loss_and_grads("model_loss_and_gradients", got, *torch_model_loss_and_gradients(p, x, h0, targets),
                     hint="if the test above passed, the output layer is right: look at rnn_backward")
print("The whole model's gradients agree with torch.autograd.")
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
for T, N, D, H, V in [(1, 1, 1, 1, 2), (6, 2, 3, 4, 4), tuple(int(v) + 1 for v in r.integers(1, 7, size=5))]:
    p = {"W_xh": r.standard_normal((H, D)), "W_hh": 1.5 * r.standard_normal((H, H)) / np.sqrt(H),
         "b_h": 0.1 * r.standard_normal(H), "W_hy": r.standard_normal((V, H)), "b_y": r.standard_normal(V)}
    x, h0, targets = r.standard_normal((T, N, D)), r.standard_normal((N, H)), r.integers(0, V, size=(T, N))
    check_loss_and_grads(f"model_loss_and_gradients (T={T}, N={N}, D={D}, H={H}, V={V})",
                         model_loss_and_gradients({k: v.copy() for k, v in p.items()}, x.copy(), h0.copy(),
                                                  targets.copy()),
                         *torch_model_loss_and_gradients(p, x, h0, targets),
                         hint="if the test above passed, the output layer is right: look at rnn_backward")
### END HIDDEN TESTS

# %% [markdown]
# **The whole model, checked numerically.** `model_loss` below is the forward pass alone; central
# differences of it, one parameter entry at a time, must agree with your gradients.

# %%
def model_loss(p, x, h0, targets):
    # The forward pass alone: the function that the numerical gradient differentiates.
    h, _ = rnn_forward(x, h0, p["W_xh"], p["W_hh"], p["b_h"])
    loss, _ = softmax_cross_entropy(output_layer(h, p["W_hy"], p["b_y"]), targets)
    return loss


T, N, D, H, V = 6, 3, 4, 5, 7
r = utils.seed_all(2)
params = {"W_xh": r.standard_normal((H, D)) / np.sqrt(D), "W_hh": r.standard_normal((H, H)) / np.sqrt(H),
          "b_h": 0.1 * r.standard_normal(H), "W_hy": r.standard_normal((V, H)),
          "b_y": 0.1 * r.standard_normal(V)}
x = r.standard_normal((T, N, D))
h0 = r.standard_normal((N, H))
targets = r.integers(0, V, size=(T, N))
loss, grads = model_loss_and_gradients(params, x, h0, targets)

print(f"loss = {loss:.5f}   (uniform guessing: log V = {np.log(V):.5f})")
for name in ["W_xh", "W_hh", "b_h", "W_hy", "b_y", "x", "h0"]:
    if name in params:
        f = lambda v: model_loss({**params, name: v}, x, h0, targets)
        numeric = utils.numerical_gradient(f, params[name].copy())
    elif name == "x":
        numeric = utils.numerical_gradient(lambda v: model_loss(params, v, h0, targets), x.copy())
    else:
        numeric = utils.numerical_gradient(lambda v: model_loss(params, x, v, targets), h0.copy())
    print(f"  d loss / d {name:5s} relative error {utils.rel_error(grads[name], numeric):.1e}")

# %% [markdown]
# **Against `torch.autograd`.** PyTorch computes the same gradients by automatic differentiation of
# `torch.nn.RNN` (weights copied in with `utils.torch_ref.elman_rnn_module`). `nn.RNN` has two biases,
# `b_ih` and `b_hh`, always added together; the maths has one, so `b_ih = b_h`, `b_hh = 0`, and both
# receive the same gradient, your `db_h`.

# %%
from utils.torch_ref import elman_rnn_module, to_numpy, to_torch

V = params["W_hy"].shape[0]
rnn = elman_rnn_module(params["W_xh"], params["W_hh"], params["b_h"])
W_hy_t = to_torch(params["W_hy"], requires_grad=True)
b_y_t = to_torch(params["b_y"], requires_grad=True)
x_t, h0_t = to_torch(x, requires_grad=True), to_torch(h0, requires_grad=True)
states, _ = rnn(x_t, h0_t[None])
logits_t = states @ W_hy_t.T + b_y_t
loss_t = torch.nn.functional.cross_entropy(logits_t.reshape(-1, V), torch.as_tensor(targets).reshape(-1))
loss_t.backward()

torch_grads = {"W_xh": rnn.weight_ih_l0.grad, "W_hh": rnn.weight_hh_l0.grad, "b_h": rnn.bias_ih_l0.grad,
               "W_hy": W_hy_t.grad, "b_y": b_y_t.grad, "x": x_t.grad, "h0": h0_t.grad}
print(f"loss: yours {model_loss(params, x, h0, targets):.10f}   torch {loss_t.item():.10f}")
for name, g in torch_grads.items():
    print(f"  d loss / d {name:5s} relative error vs autograd {utils.rel_error(grads[name], to_numpy(g)):.1e}")
print("b_hh receives the same gradient as b_h:",
      np.allclose(to_numpy(rnn.bias_hh_l0.grad), grads["b_h"]))

# %% [markdown]
# **Why float64.** A difference quotient divides a *small difference of two nearly equal numbers* by a
# small $h$. Two errors compete: the truncation error of the formula, about $h^2$, which wants $h$
# small, and the rounding error, about $\varepsilon\,|f|/h$ with $\varepsilon$ the machine precision, which
# wants $h$ large. In float64 ($\varepsilon \approx 1.1\cdot10^{-16}$) the best $h$ is around
# $\varepsilon^{1/3} \approx 10^{-5}$ and the error can reach $10^{-10}$. In float32 ($\varepsilon \approx 6\cdot10^{-8}$)
# the best $h$ is around $10^{-2.5}$ and the error stays around $10^{-3}$ at best, four orders of magnitude
# above what float64 reaches: a correct gradient *looks* wrong. (This is why `utils.numerical_gradient` refuses float32 arrays.) The experiment below
# evaluates the same function once in float64 and once in float32 and compares with your analytic
# gradient for a range of $h$.

# %% [markdown]
# **Predict, then run.** The smallest step of the experiment is $h = 10^{-10}$, and the entries of
# $W_{hh}$ are of order 0.5. Predict the order of the relative error at that step in float64 (use the
# rounding term $\varepsilon|f|/h$) and in float32. Hint: what is $0.5 + 10^{-10}$, rounded to float32?

# %%
# f(W_hh) = sum_t c_t . h_t; its gradient is what rnn_backward returns for dh = c.
r = utils.seed_all(3)
demo = {"x": r.standard_normal((6, 2, 3)), "h0": r.standard_normal((2, 4)),
        "W_xh": r.standard_normal((4, 3)) / 2, "b_h": r.standard_normal(4),
        "c": r.standard_normal((6, 2, 4))}
W_hh_demo = r.standard_normal((4, 4)) / 2
_, cache_demo = rnn_forward(demo["x"], demo["h0"], demo["W_xh"], W_hh_demo, demo["b_h"])
analytic = rnn_backward(demo["c"], cache_demo)[3]          # your dW_hh, in float64


def f_in(dtype):
    # f as a function of W_hh, with every computation done in `dtype`
    a = {name: v.astype(dtype) for name, v in demo.items()}
    def f(W):
        h, _ = rnn_forward(a["x"], a["h0"], a["W_xh"], W.astype(dtype), a["b_h"])
        return float(np.sum(h * a["c"]))
    return f


steps = np.logspace(-10, -0.5, 20)
errors = {dtype.__name__: [utils.rel_error(analytic, utils.numerical_gradient(f_in(dtype),
                                                                              W_hh_demo.copy(), h=s))
                           for s in steps]
          for dtype in (np.float64, np.float32)}

fig, ax = plotting.subplots(width=6, height=3.6)
ax.loglog(steps, errors["float64"], "o-", color=plotting.COLORS["rnn"], label="f computed in float64")
ax.loglog(steps, errors["float32"], "s-", color=plotting.COLORS["lstm"], label="f computed in float32")
ax.axhline(1e-7, color=plotting.COLORS["reference"], ls="--", label="1e-7: agreement in float64")
ax.set_xlabel("step h of the central difference")
ax.set_ylabel("relative error vs your dW_hh")
ax.legend()
plotting.finish(fig, "Numerical gradient check: float32 cannot confirm a correct gradient")
for name, errs in errors.items():
    k = int(np.argmin(errs))
    print(f"{name}: best relative error {errs[k]:.1e} at h = {steps[k]:.0e}")

# %% [markdown]
# ## 5. Truncated BPTT (截断的时间反向传播)
#
# Full BPTT keeps the cache of **every** step until the backward pass: memory grows linearly with the
# sequence length $T$, and no weight can be updated before the whole sequence has been read. For a
# long stream of text (a book is millions of characters) that is impossible. **Truncated BPTT** cuts
# the time axis into blocks of $k$ steps. The forward pass stays exact — the hidden state is carried
# from one block into the next — but the gradient is propagated back **only within a block**.
#
# **Definition.** With steps numbered $0, \dots, T-1$ as in the code, the blocks are
# $\{0, \dots, k-1\}, \{k, \dots, 2k-1\}, \dots$ (the last one may be shorter). Truncated BPTT returns the
# exact gradient of `sum(dh * h)` (the gradient `dh[t]` entering at every state $h_t$) **when the state
# entering each block is treated as a constant**, as `h = h.detach()` at every block start $t = k, 2k, \dots$ does in PyTorch. So:
#
# * the gradient that enters at `dh[t]` flows back through steps $t, t-1, \dots$ down to the first step
#   of its block — **at most $k$ steps** (exactly $k$ at the end of a block, 1 at its start);
# * every step still produces its `dx[t]` and its contributions to `dW_xh`, `dW_hh`, `db_h`, but the
#   `dh_prev` that the first step of a block produces is **dropped** (it would cross into the block
#   before); only the first block's reaches `dh0`;
# * $k = 1$ keeps only each step's own direct term, and $k \ge T$ is full BPTT.
#
# (This is the scheme of practical training loops, Williams and Peng's BPTT($k_1$, $k_2$) with
# $k_1 = k_2 = k$; other schemes slide a window of $k$ steps back from every step, at $k$ times the
# cost.)

# %%
fig = utils.bptt.draw_gradient_paths(T=6, k=3)  # blocks {1,2,3} and {4,5,6}: one path is cut


# %% [markdown]
# The function below *is* the definition, written as a forward computation: each block starts from a
# constant copy of the state. Its numerical gradient is what `rnn_backward_truncated` must return, and
# the hidden tests also compare with `torch.autograd` and `detach()`.

# %%
def truncated_objective(x, h0, W_xh, W_hh, b_h, dh, k, h_fixed):
    # sum_t <dh[t], h_t> when each block of k steps starts from a CONSTANT state:
    # h0 for the first block, h_fixed[s - 1] (the full forward pass's state) for a block starting at s.
    total = 0.0
    for s in range(0, x.shape[0], k):
        start = h0 if s == 0 else h_fixed[s - 1]
        h_block, _ = rnn_forward(x[s:s + k], start, W_xh, W_hh, b_h)
        total += np.sum(h_block * dh[s:s + k])
    return total


r = utils.seed_all(4)
T, N, D, H, k = 7, 2, 3, 4, 3
x, h0 = r.standard_normal((T, N, D)), r.standard_normal((N, H))
W_xh, W_hh, b_h = r.standard_normal((H, D)) / 2, r.standard_normal((H, H)) / 2, r.standard_normal(H)
dh = r.standard_normal((T, N, H))
h_fixed, _ = rnn_forward(x, h0, W_xh, W_hh, b_h)
f = lambda W: truncated_objective(x, h0, W_xh, W, b_h, dh, k, h_fixed)
dW_hh_truncated = utils.numerical_gradient(f, W_hh.copy())
print("the objective equals sum(dh * h) (same forward values):",
      np.isclose(f(W_hh), np.sum(dh * h_fixed)))

# the same gradient from torch.autograd, detaching the state at every block start
Wt = torch.tensor(W_hh, requires_grad=True)
ht, states = torch.tensor(h0), []
for t in range(T):
    if t > 0 and t % k == 0:
        ht = ht.detach()                        # no gradient flows into the previous block
    ht = torch.tanh(torch.tensor(x[t] @ W_xh.T + b_h) + ht @ Wt.T)
    states.append(ht)
(torch.stack(states) * torch.tensor(dh)).sum().backward()
print("numerical gradient of the objective vs autograd with detach(): rel. error",
      f"{utils.rel_error(dW_hh_truncated, Wt.grad.numpy()):.1e}")
dW_hh_full = rnn_backward(dh, rnn_forward(x, h0, W_xh, W_hh, b_h)[1])[3]
print(f"truncated vs full dW_hh: relative difference {utils.rel_error(dW_hh_truncated, dW_hh_full):.2f}"
      " (truncation changes the gradient)")


# %% [markdown]
# ### Exercise 5 (3 points): `rnn_backward_truncated`
#
# Write `rnn_backward_truncated(dh, cache, k)`, returning the same five gradients as `rnn_backward`,
# truncated in blocks of $k$ steps as defined above. It takes one change to your `rnn_backward`: when
# the backward sweep arrives at the **last step of a block**, the gradient flowing in from the block
# after it is discarded. (Calling your `rnn_step_backward` or `rnn_backward` is welcome; `torch` and
# the course library's versions are not.) As in `rnn_backward`, leave `dh` unchanged.

# %% nbgrader={"grade": false, "grade_id": "rnn_backward_truncated", "locked": false, "schema_version": 3, "solution": true}
def rnn_backward_truncated(dh, cache, k):
    """Truncated BPTT in blocks of k steps.

    Blocks {0..k-1}, {k..2k-1}, ...: the gradient entering at h_t flows back only to the first step
    of its block (the state entering a block is treated as a constant, as detach() does), so at most
    k steps. dh0 receives only what flows out of the first block. k >= T is full BPTT.

    dh: (T, N, H) upstream gradients on the hidden states; cache: list of T step caches; k: int >= 1.
    Returns (dx, dh0, dW_xh, dW_hh, db_h) of shapes (T, N, D), (N, H), (H, D), (H, H), (H,).
    """
    ### BEGIN SOLUTION
    T = len(cache)
    N, D = cache[0][0].shape
    H = dh.shape[2]
    dx = np.zeros((T, N, D))
    dW_xh, dW_hh, db_h = np.zeros((H, D)), np.zeros((H, H)), np.zeros(H)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        if (t + 1) % k == 0:              # t is the last step of a block:
            dh_next = np.zeros((N, H))    # nothing flows in from the block after it
        dx[t], dh_next, dW_xh_t, dW_hh_t, db_h_t = rnn_step_backward(dh[t] + dh_next, cache[t])
        dW_xh += dW_xh_t
        dW_hh += dW_hh_t
        db_h += db_h_t
    dh0 = dh_next                         # what flows out of the first block into h0
    ### END SOLUTION
    return dx, dh0, dW_xh, dW_hh, db_h


# %% nbgrader={"grade": true, "grade_id": "test_rnn_backward_truncated_limits", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, forward_torch, torch_rnn_gradients

fx = fixtures.load("03_bptt")   # fixed inputs, and what common mistakes return on them
case = fx["truncated_k6"]
x, h0, W_xh, W_hh, b_h, dh = (case.inputs[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h", "dh"))
T, N, D, H = x.shape + (h0.shape[1],)                    # T = 6, N = 2, D = 3, H = 4
inputs = [x, h0, W_xh, W_hh, b_h]
_, cache = forward_torch(*inputs)
full = torch_rnn_gradients(*inputs, dh)          # full BPTT by torch.autograd
# k >= T is full BPTT (float64 on both sides: rounding differences only)
for k in (T, T + 3):
    check_grads(f"rnn_backward_truncated with k = {k} >= T = {T} (full BPTT)",
                rnn_backward_truncated(dh.copy(), cache, k), full,
                mistakes=fixture_mistakes(fx[f"truncated_k{k}"]))
# k = 1: nothing flows between steps; each step sees only its own dh[t], and dh0 only what the
# first step sends back: the sums of T independent one-step backward passes.
one_step = torch_rnn_gradients(*inputs, dh, k=1)
check_grads("rnn_backward_truncated with k = 1", rnn_backward_truncated(dh.copy(), cache, 1),
            one_step, mistakes=fixture_mistakes(fx["truncated_k1"]))
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
for T, N, D, H, k in [(1, 1, 1, 1, 1), (1, 2, 3, 2, 4), (3, 1, 5, 2, 2), (5, 3, 2, 6, 5),
                      (5, 2, 3, 3, 2), (7, 1, 2, 4, 3)]:   # T % k != 0: blocks start at step 0
    inputs = [r.standard_normal((T, N, D)), r.standard_normal((N, H)),
              r.standard_normal((H, D)) / np.sqrt(D), r.standard_normal((H, H)) / np.sqrt(H),
              r.standard_normal(H)]
    dh = r.standard_normal((T, N, H))
    _, cache = forward_torch(*inputs)
    check_grads(f"rnn_backward_truncated (T={T}, N={N}, D={D}, H={H}, k={k})",
                rnn_backward_truncated(dh.copy(), cache, k),
                torch_rnn_gradients(*inputs, dh, k=k),
                mistakes=_ref.truncated_backward_mistakes(dh, cache, k))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_backward_truncated_numerical", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, forward_torch, numerical_truncated_grads

# A random comparison with the numerical gradient of truncated_objective (the definition):
# T = 7 steps in blocks of k = 3 ({0,1,2}, {3,4,5}, {6}); N = 2, D = 3, H = 4.
case = fixtures.load("03_bptt")["truncated_numerical"]   # fixed inputs, what common mistakes return
x, h0, W_xh, W_hh, b_h, dh = (case.inputs[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h", "dh"))
k = int(case.inputs["k"])
inputs = [x, h0, W_xh, W_hh, b_h]
_, cache = forward_torch(*inputs)
# central differences (h = 1e-5) are accurate to about 1e-9 here; a mistake is off by > 1e-2
check_grads("rnn_backward_truncated (k = 3) vs numerical gradient",
            rnn_backward_truncated(dh.copy(), cache, k),
            numerical_truncated_grads(*inputs, dh, k),
            mistakes=fixture_mistakes(case), atol=1e-7, rtol=1e-5)
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
T = int(r.integers(4, 9))
k = int(r.integers(2, T))
N, D, H = (int(v) for v in r.integers(1, 5, size=3))
inputs = [r.standard_normal((T, N, D)), r.standard_normal((N, H)), r.standard_normal((H, D)) / 2,
          r.standard_normal((H, H)) / 2, r.standard_normal(H)]
dh = r.standard_normal((T, N, H))
_, cache = forward_torch(*inputs)
check_grads(f"rnn_backward_truncated (T={T}, k={k}) vs numerical gradient",
            rnn_backward_truncated(dh.copy(), cache, k),
            numerical_truncated_grads(*inputs, dh, k),
            mistakes=_ref.truncated_backward_mistakes(dh, cache, k), atol=1e-7, rtol=1e-5)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_rnn_backward_truncated_autograd", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import check_grads, fixture_mistakes, forward_torch, torch_rnn_gradients

# Comparison with torch.autograd, the state detached at every block start: T = 8, k = 3; N = 3, D = 2, H = 5.
case = fixtures.load("03_bptt")["truncated_autograd"]   # fixed inputs, what common mistakes return
x, h0, W_xh, W_hh, b_h, dh = (case.inputs[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h", "dh"))
k = int(case.inputs["k"])
inputs = [x, h0, W_xh, W_hh, b_h]
_, cache = forward_torch(*inputs)
# float64 on both sides: rounding differences only
check_grads("rnn_backward_truncated (k = 3) vs torch.autograd with detach()",
            rnn_backward_truncated(dh.copy(), cache, k), torch_rnn_gradients(*inputs, dh, k=k),
            mistakes=fixture_mistakes(case))
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
for _ in range(4):
    T = int(r.integers(2, 12))
    k = int(r.integers(1, T + 2))
    N, D, H = (int(v) for v in r.integers(1, 6, size=3))
    inputs = [r.standard_normal((T, N, D)), r.standard_normal((N, H)),
              r.standard_normal((H, D)) / np.sqrt(D), r.standard_normal((H, H)) / np.sqrt(H),
              r.standard_normal(H)]
    dh = r.standard_normal((T, N, H))
    _, cache = forward_torch(*inputs)
    check_grads(f"rnn_backward_truncated vs autograd with detach() (T={T}, k={k}, N={N}, D={D}, H={H})",
                rnn_backward_truncated(dh.copy(), cache, k), torch_rnn_gradients(*inputs, dh, k=k),
                mistakes=_ref.truncated_backward_mistakes(dh, cache, k))
# float32 inputs are accepted; float32 keeps ~7 significant digits, so the tolerance is 1e-4
inputs32 = [a.astype(np.float32) for a in inputs]
_, cache32 = forward_torch(*inputs32)
check_grads("rnn_backward_truncated with float32 inputs",
            rnn_backward_truncated(dh.astype(np.float32), cache32, max(1, T // 2)),
            torch_rnn_gradients(*inputs32, dh.astype(np.float32), k=max(1, T // 2)),
            atol=1e-4, rtol=1e-4)
# the upstream gradient must come back unchanged. On the fixed case (T = 8, k = 3), not on the random
# draws above: with k = 1 or T = 1 nothing flows from a later step and dh[t] += dh_next adds zeros.
k = int(case.inputs["k"])
_, cache = forward_torch(*(case.inputs[n] for n in ("x", "h0", "W_xh", "W_hh", "b_h")))
dh = case.inputs["dh"].copy()
_dh_before = dh.copy()
rnn_backward_truncated(dh, cache, k)
check_close("dh after rnn_backward_truncated (do not modify the upstream gradient in place)", dh,
            _dh_before, atol=0, rtol=0, hint="dh[t] += dh_next writes into the caller's array; add into "
                                             "a new one, dh[t] + dh_next")
utils.check_no_library("rnn_backward_truncated", rnn_backward_truncated, ["torch", "numpy_rnn"])
_ = utils.checks.check_no_library_calls("rnn_backward_truncated", rnn_backward_truncated, dh.copy(), cache, k)  # what it calls
### END HIDDEN TESTS

# %% [markdown]
# Which steps does the gradient entering at step $t$ reach? Send a gradient into one step at a time
# and look where `dx` is non-zero: full BPTT fills the lower triangle (every earlier step), truncation
# keeps only the triangles inside the blocks.

# %% [markdown]
# **Predict, then run.** Each map below has $12 \times 12$ cells, one for each pair (step $t$ where the
# gradient enters, step $s$ it reaches). How many cells will be filled for full BPTT, for $k = 4$ and
# for $k = 1$?

# %%
r = utils.seed_all(5)
T, N, D, H = 12, 1, 2, 3
_, cache = rnn_forward(r.standard_normal((T, N, D)), np.zeros((N, H)), r.standard_normal((H, D)),
                       r.standard_normal((H, H)) / 2, np.zeros(H))
fig, axes = plotting.subplots(3, width=10, height=3.6)
for ax, k in zip(axes, (T, 4, 1)):
    reach = np.zeros((T, T))
    for t in range(T):
        dh = np.zeros((T, N, H))
        dh[t] = 1.0                               # the gradient enters at step t only
        dx = rnn_backward_truncated(dh, cache, k)[0]
        reach[t] = np.abs(dx).sum(axis=(1, 2)) > 0
    ax.imshow(reach, cmap="Blues", vmin=0, vmax=1.3)
    ax.set_title("full BPTT (k = T)" if k == T else f"truncated, k = {k}")
    ax.set_xlabel("step s reached (dx[s] != 0)")
    ax.set_ylabel("step t where the gradient enters")
    ax.grid(False)
plotting.finish(fig, "Where the gradient entering at step t flows (T = 12)")


# %% [markdown]
# ## 6. Experiment: a character-level language model trained with your BPTT
#
# Time to train. The text is the *Zen of Python* (`utils.data.zen_of_python()`, 856 characters in 19
# lines, shipped with Python); `utils.text.Vocab` numbers its characters (`vocab.codes(text)`,
# `vocab.text(codes)`). The model reads one character per step as a one-hot vector ($D = V$) and
# predicts the next one: its loss and gradients are your `model_loss_and_gradients`, its backward pass
# your `rnn_backward` (or `rnn_backward_truncated`).
#
# **Held-out text** (留出文本). A model is judged on text it did not train on. Every fifth line of the
# poem (4 of the 19 lines, 170 characters) is held out: the model never trains on it, and its loss
# there, the **held-out loss**, says how much of what it learned carries over to new text. Language
# models usually report it as the **perplexity** (困惑度) $e^{E}$, with $E$ the cross-entropy in nats per
# character: the number of equally likely characters the model is, on average, as unsure as ($V$ for a
# uniform guess, 1 for certainty).
#
# Training details: $H = 64$, windows of $T = 25$ characters at random positions of the training text,
# $N = 32$ windows per update, each starting from $h_0 = 0$; the update is the Adagrad step you write
# next.

# %% [markdown]
# ### Exercise 6 (2 points): `adagrad_step`
#
# Plain gradient descent $\theta \leftarrow \theta - \eta\,g$ gives every weight the same step size.
# **Adagrad** (Duchi, Hazan and Singer, 2011) gives each weight its own: it keeps the running sum of that
# weight's squared gradients and divides the step by its root, entry by entry:
#
# $$m \leftarrow m + g^2, \qquad \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{m} + \varepsilon},
# \qquad \varepsilon = 10^{-10}.$$
#
# Weights with large or frequent gradients take smaller and smaller steps; rarely updated ones, such as
# those of rare characters, keep taking large ones. Before the update each gradient entry is
# **clipped** to $[-c, c]$ with `np.clip`, and the clipped $g$ enters *both* formulas: a crude safeguard
# against an exploding gradient (notebook 04 explains why gradients explode and replaces this with
# clipping by the global norm, 梯度裁剪).
#
# Write `adagrad_step(p, grads, memory, lr=0.1, clip=5.0)`. `p` and `memory` are dicts with the same
# keys; update their entries `p[name]` and `memory[name]` (`memory` starts as zeros) and return nothing.
# `grads` is the dict that `model_loss_and_gradients` returns: it also holds `"x"` and `"h0"`, which are
# not parameters, so loop over the keys of `p`; do not modify `grads`. This is
# `torch.optim.Adagrad(params, lr, eps=1e-10)` after `torch.clamp` of each gradient, which the second
# test compares with. (Karpathy's min-char-rnn writes $\sqrt{m + 10^{-8}}$ instead; on the tests'
# gradients the two differ by far less than the tolerance, so either is accepted.)

# %% nbgrader={"grade": false, "grade_id": "adagrad_step", "locked": false, "schema_version": 3, "solution": true}
def adagrad_step(p, grads, memory, lr=0.1, clip=5.0):
    """One Adagrad update, each gradient entry first clipped to [-clip, clip].

    p, memory: dicts of arrays with the same keys; memory holds the running sums of squared
        (clipped) gradients. Both are updated; nothing is returned.
    grads: dict with a gradient for every key of p, each of its shape (it may hold more keys, such
        as "x" and "h0", which are ignored); not modified.
    lr: the learning rate eta; clip: the clipping threshold c.
    """
    ### BEGIN SOLUTION
    for name in p:
        g = np.clip(grads[name], -clip, clip)
        memory[name] += g * g
        p[name] -= lr * g / (np.sqrt(memory[name]) + 1e-10)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_adagrad_step_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.bptt import ADAGRAD_OUTPUTS, check_grads, fixture_mistakes

# One update by hand-checkable rules on two small parameters; some gradient entries exceed clip = 5.
case = fixtures.load("03_bptt")["adagrad"]
names = ("W", "b")
p = {n: case.inputs[f"p_{n}"].copy() for n in names}
memory = {n: case.inputs[f"m_{n}"].copy() for n in names}
grads = {n: case.inputs[f"g_{n}"].copy() for n in names}
grads.update(x=np.ones((2, 1, 3)), h0=np.ones((1, 2)))   # not parameters: adagrad_step ignores them
grads_before = {n: g.copy() for n, g in grads.items()}
returned = adagrad_step(p, grads, memory, lr=float(case.inputs["lr"]), clip=float(case.inputs["clip"]))
check_equal("adagrad_step: the value returned", returned, None, hint="update p and memory; return nothing")
flat = lambda d: np.concatenate([np.ravel(d[n]) for n in sorted(names)])  # every entry, in one array
# float64 on both sides: the results differ by rounding only
check_grads("adagrad_step", (flat(p), flat(memory)), tuple(case.expected[n] for n in ADAGRAD_OUTPUTS),
            names=("p after the update", "memory after the update"),
            mistakes=fixture_mistakes(case, ADAGRAD_OUTPUTS), atol=1e-6, rtol=1e-5)
check_equal("adagrad_step: grads unchanged", all(np.array_equal(grads[n], grads_before[n]) for n in grads), True,
            hint="np.clip(g, -clip, clip) returns a new array; do not clip grads in place (out=)")
print("One Adagrad update is right.")
### BEGIN HIDDEN TESTS
from autograder.references import bptt as _ref

r = utils.seed_all(None)
for shape, lr, clip in [((1,), 0.1, 5.0), ((3, 4), 0.5, 1.0), (tuple(int(v) for v in r.integers(1, 5, size=2)), 0.05, 2.0)]:
    # |g| between 0.2 and 8 and sums from 0.2: an epsilon of 1e-8 inside the root instead of 1e-10
    # outside then moves a step by less than 1e-7, well within the tolerance
    g = r.choice([-1.0, 1.0], size=shape) * r.uniform(0.2, 8.0, size=shape)
    p = {"w": r.standard_normal(shape), "v": r.standard_normal(shape[-1:])}
    grads = {"w": g, "v": r.uniform(-8, 8, size=shape[-1:]), "x": r.standard_normal((2, 1, 3)), "h0": np.ones((1, 2))}
    memory = {"w": r.uniform(0.2, 3.0, size=shape), "v": r.uniform(0.2, 3.0, size=shape[-1:])}
    expected_p, expected_m = _ref.adagrad_step(p, grads, memory, lr, clip)
    mistakes = _ref.adagrad_mistakes(p, grads, memory, lr, clip)
    flat = lambda d: np.concatenate([np.ravel(d[n]) for n in ("v", "w")])
    got_m, grads_before = {n: m.copy() for n, m in memory.items()}, {n: a.copy() for n, a in grads.items()}
    got_p = {n: a.copy() for n, a in p.items()}
    utils.check_no_library_calls("adagrad_step", adagrad_step, got_p, grads, got_m, lr, clip)
    check_grads(f"adagrad_step (shape {shape}, lr={lr}, clip={clip})", (flat(got_p), flat(got_m)),
                (flat(expected_p), flat(expected_m)), names=("p after the update", "memory after the update"),
                mistakes={d: (flat(a), flat(b)) for d, (a, b) in mistakes.items()}, atol=1e-6, rtol=1e-5)
    check_equal("adagrad_step: grads unchanged", all(np.array_equal(grads[n], grads_before[n]) for n in grads), True,
                hint="np.clip(g, -clip, clip) returns a new array; do not clip grads in place (out=)")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_adagrad_step_torch", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils.bptt import check_grads, torch_adagrad

# Three updates from memory = 0 on the character model's parameter shapes (H = 4, V = 5), against
# torch.optim.Adagrad(lr=0.1, eps=1e-10) with torch.clamp(g, -5, 5): gradients of size 0.2 to 8.
r = utils.seed_all(7)
shapes = {"W_xh": (4, 5), "W_hh": (4, 4), "b_h": (4,), "W_hy": (5, 4), "b_y": (5,)}
p0 = {n: r.standard_normal(s) for n, s in shapes.items()}
steps = [{n: r.choice([-1.0, 1.0], size=s) * r.uniform(0.2, 8.0, size=s) for n, s in shapes.items()}
         for _ in range(3)]
p = {n: w.copy() for n, w in p0.items()}
memory = {n: np.zeros(s) for n, s in shapes.items()}
for grads in steps:
    adagrad_step(p, dict(grads, x=np.zeros((1, 1, 5)), h0=np.zeros((1, 4))), memory)
expected_p, expected_m = torch_adagrad(p0, steps, lr=0.1, clip=5.0)
for n in shapes:
    # float64 on both sides; an epsilon of 1e-8 inside the root moves these steps by less than 1e-7
    check_grads(f"adagrad_step, after 3 updates: {n}", (p[n], memory[n]), (expected_p[n], expected_m[n]),
                names=("p", "memory"), atol=1e-6, rtol=1e-5,
                hint="memory must keep the sum over all updates so far (m += g*g), from the clipped g")
print("Three Adagrad updates agree with torch.optim.Adagrad.")
### BEGIN HIDDEN TESTS
r = utils.seed_all(None)
for lr, clip, n_steps in [(0.5, 1.0, 4), (0.01, 3.0, 2)]:
    shapes = {"a": (int(r.integers(1, 5)), int(r.integers(1, 5))), "b": (int(r.integers(1, 5)),)}
    p0 = {n: r.standard_normal(s) for n, s in shapes.items()}
    steps = [{n: r.choice([-1.0, 1.0], size=s) * r.uniform(0.2, 8.0, size=s) for n, s in shapes.items()}
             for _ in range(n_steps)]
    steps[0]["b"][0] = 0.0   # a zero gradient on a zero sum: the update is 0, not nan
    p = {n: w.copy() for n, w in p0.items()}
    memory = {n: np.zeros(s) for n, s in shapes.items()}
    for grads in steps:
        adagrad_step(p, {n: g.copy() for n, g in grads.items()}, memory, lr, clip)
    expected_p, expected_m = torch_adagrad(p0, steps, lr=lr, clip=clip)
    for n in shapes:
        check_grads(f"adagrad_step, after {n_steps} updates with lr={lr}, clip={clip}: {n}", (p[n], memory[n]),
                    (expected_p[n], expected_m[n]), names=("p", "memory"), atol=1e-6, rtol=1e-5,
                    hint="memory must keep the sum over all updates so far (m += g*g), from the clipped g; "
                         "divide by sqrt(memory) + 1e-10, so that a zero gradient gives a zero step")
### END HIDDEN TESTS

# %%
from utils.data import zen_of_python
from utils.bptt import init_params, sample
from utils.text import Vocab, all_windows, random_windows

text = zen_of_python()
vocab = Vocab(text)
V = len(vocab)
lines = text.split("\n")
held_out_text = "\n".join(lines[3::5])                      # every fifth line: never trained on
train_text = "\n".join(line for k, line in enumerate(lines) if k % 5 != 3)
train_codes, held_out_codes = vocab.codes(train_text), vocab.codes(held_out_text)
print(f"{len(text)} characters, vocabulary of V = {V}:", repr("".join(vocab.chars)))
print(f"training text: {len(train_text)} characters; held-out text: {len(held_out_text)} characters:")
print(held_out_text)

H, T, N = 64, 25, 32
n_updates = utils.choose(full=300, fast=4)
eval_every = utils.choose(full=20, fast=2)


def windows_of(codes):
    inputs, targets = all_windows(codes, T, stride=5)            # every 5th window of the text
    return np.eye(V)[inputs], targets                              # one-hot (T, windows, V)


eval_sets = {"train": windows_of(train_codes), "held-out": windows_of(held_out_codes)}


def evaluate(p, name):
    # Mean cross-entropy on an evaluation set, overall and at each position t of a window.
    x, targets = eval_sets[name]
    h, _ = rnn_forward(x, np.zeros((x.shape[1], H)), p["W_xh"], p["W_hh"], p["b_h"])
    logits = output_layer(h, p["W_hy"], p["b_y"])
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    nll = -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]    # (T, windows)
    return nll.mean(), nll.mean(axis=1)


def train(k, seed=0, lr=0.1, clip=5.0):
    # Train from scratch with BPTT truncated in blocks of k steps (k >= T: full BPTT).
    # Returns the parameters and the curve: rows (updates, training loss, held-out loss).
    r = utils.seed_all(seed)
    p = init_params(V, H, V, r)
    memory = {name: np.zeros_like(w) for name, w in p.items()}
    backward = rnn_backward if k >= T else (lambda dh, cache: rnn_backward_truncated(dh, cache, k))
    curve = [(0, evaluate(p, "train")[0], evaluate(p, "held-out")[0])]
    train.largest_gradient = 0.0
    for step in range(1, n_updates + 1):
        inputs, targets = random_windows(train_codes, T, N, r)
        loss, grads = model_loss_and_gradients(p, np.eye(V)[inputs], np.zeros((N, H)), targets, backward)
        train.largest_gradient = max([train.largest_gradient] + [np.abs(grads[name]).max() for name in p])
        adagrad_step(p, grads, memory, lr, clip)
        if step % eval_every == 0 or step == n_updates:
            curve.append((step, evaluate(p, "train")[0], evaluate(p, "held-out")[0]))
    return p, np.array(curve)


start = vocab.index["B"]
p_init = init_params(V, H, V, utils.seed_all(0))
print("\nSample before training (temperature 0.8):")
print("B" + vocab.text(sample(p_init, start, 120, utils.seed_all(1), temperature=0.8)))

# %% [markdown]
# **Predict, then run.** The next cell trains for 300 updates with full BPTT and records the loss on the
# training text and on the held-out lines every 20 updates. Sketch both curves before you run it: will
# the held-out loss keep falling for as long as the training loss does? Will either end below the level
# that character frequencies alone give (about 3.1 nats)?

# %%
import time

t0 = time.perf_counter()
p_full, curve_full = train(k=T)
print(f"{n_updates} updates of {N} x {T} characters ({n_updates * N * T:,} character-steps) "
      f"in {time.perf_counter() - t0:.1f} s; largest gradient entry {train.largest_gradient:.2f} "
      "(the clipping threshold is 5)")

# Reference levels: guessing uniformly, and the best model that ignores the context: the character
# frequencies of the training text (each count + 1, so that no character gets probability 0).
counts = np.bincount(train_codes, minlength=V) + 1
unigram = {name: -np.mean(np.log(counts / counts.sum())[targets]) for name, (_, targets) in eval_sets.items()}
best = int(np.argmin(curve_full[:, 2]))
for name, column in (("train", 1), ("held-out", 2)):
    E = curve_full[-1, column]
    print(f"{name:9s} loss {E:.2f} nats per character, perplexity {np.exp(E):5.1f}   "
          f"(character frequencies: {unigram[name]:.2f}, perplexity {np.exp(unigram[name]):.1f})")
print(f"lowest held-out loss {curve_full[best, 2]:.2f} (perplexity {np.exp(curve_full[best, 2]):.1f}) "
      f"after {int(curve_full[best, 0])} updates; uniform guess: log V = {np.log(V):.2f} (perplexity {V})")

fig, ax = plotting.subplots(width=7, height=3.8)
ax.plot(curve_full[:, 0], curve_full[:, 1], "o-", ms=3, color=plotting.COLORS["student"],
        label="training text")
ax.plot(curve_full[:, 0], curve_full[:, 2], "s-", ms=3, color=plotting.COLORS["lstm"],
        label="held-out text")
ax.axhline(np.log(V), color=plotting.COLORS["reference"], ls=":", label=f"uniform guess, log V = {np.log(V):.2f}")
ax.axhline(unigram["held-out"], color=plotting.COLORS["lstm"], ls="--", lw=1,
           label=f"character frequencies, held-out = {unigram['held-out']:.2f}")
ax.axhline(unigram["train"], color=plotting.COLORS["student"], ls="--", lw=1,
           label=f"character frequencies, training = {unigram['train']:.2f}")
ax.set_xlabel("updates")
ax.set_ylabel("cross-entropy (nats per character)")
ax.legend(fontsize=8)
plotting.finish(fig, "Your RNN on the Zen of Python: the text it trains on, and text it never saw")

print("\nSample after training (temperature 0.8):")
print("B" + vocab.text(sample(p_full, start, 300, utils.seed_all(1), temperature=0.8)))

# %% [markdown]
# **What the curves show.** On the training text the loss falls far below what character frequencies
# alone allow (3.11 nats): the network uses its hidden state as a memory of the preceding characters,
# and the sample reproduces whole lines of the Zen. On the held-out lines the story is different. For
# the first hundred-odd updates the held-out loss falls too, to about 2.5 nats (perplexity about 12,
# against 22 for character frequencies and 45 for a uniform guess): some of what the network learned,
# common words and spellings, carries over to lines it never saw. After that the training loss keeps
# falling while the held-out loss *rises*: the network memorises its 685 characters instead of learning
# more that generalises. This is **overfitting** (过拟合); the training loss alone would have hidden it.
# The usual remedies are more text, a smaller network, regularisation, or stopping where the held-out
# loss is lowest (early stopping, 提前停止).
#
# Now the comparison of truncation lengths: the **same budget** (the same windows, updates and initial
# weights for each seed; the same cost per update, since blocks of $k$ steps cost as much to
# backpropagate as one long sweep), with the gradient truncated to blocks of $k = 5$ and of $k = 1$
# steps, over 3 seeds.

# %%
seeds = utils.choose(full=(0, 1, 2), fast=(0,))
ks = utils.choose(full=(T, 5, 1), fast=(T, 1))
runs = {k: [(p_full, curve_full) if (k == T and s == 0) else train(k=k, seed=s) for s in seeds] for k in ks}

fig, (ax1, ax2) = plotting.subplots(2, width=10, height=3.8)
colors = {T: plotting.COLORS["student"], 5: plotting.COLORS["gru"], 1: plotting.COLORS["lstm"]}
print(f"{len(seeds)} seeds each; mean [lowest, highest] over the seeds, after {n_updates} updates:")
for k in ks:
    label = f"full BPTT (k = T = {T})" if k == T else f"truncated, k = {k}"
    curves = np.stack([curve for _, curve in runs[k]])                    # (seeds, points, 3)
    by_position = np.stack([evaluate(p_k, "train")[1] for p_k, _ in runs[k]])   # (seeds, T)
    for ax, xs, ys in ((ax1, curves[0, :, 0], curves[:, :, 1]), (ax2, np.arange(1, T + 1), by_position)):
        ax.plot(xs, ys.mean(axis=0), "o-", ms=3, color=colors[k], label=label)
        ax.fill_between(xs, ys.min(axis=0), ys.max(axis=0), color=colors[k], alpha=0.2)
    final_train, final_held = curves[:, -1, 1], curves[:, -1, 2]
    print(f"  {label:22s} training loss {final_train.mean():.3f} [{final_train.min():.3f}, {final_train.max():.3f}]"
          f"   held-out {final_held.mean():.2f} [{final_held.min():.2f}, {final_held.max():.2f}]"
          f"   lowest held-out {curves[:, :, 2].min(axis=1).mean():.2f}")
ax1.set_xlabel("updates")
ax1.set_ylabel("cross-entropy on the training text")
ax1.set_ylim(0, 3.5)
ax1.legend()
ax1.set_title("Same budget, different truncation (band: range over seeds)")
ax2.set_xlabel("position t in the window (characters of context = t - 1)")
ax2.set_ylabel("cross-entropy after training")
ax2.set_title("Loss by position on the training text: context used")
ax2.legend()
plotting.finish(fig)

# %% [markdown]
# **Reading the plots** (3 seeds; the bands are the range over the seeds, the printed numbers the mean
# and range at the end). With $k = 1$ no gradient passes from one step to the previous one, and still
# the loss by position (right) falls from about 2.1 nats with no context to about 0.3 after ten
# characters: the network *uses* context. The reason is the gradient of $W_{hh}$: even with $k = 1$
# every step contributes its local term $\delta_t h_{t-1}^\top$, so the network learns to **read** what
# $h_{t-1}$ holds. What it is never taught is to **write** into $h_{t-1}$ what a later step will need:
# whatever the state carries, it carries as a by-product of the forward pass. It levels off higher than
# the other two at every position past the fifth, and its training loss ends highest in every seed
# (about 0.50 against 0.35 for full BPTT and 0.27 for $k = 5$; the ranges do not overlap).
#
# With $k = 5$ the gradient links every loss to up to four earlier steps, and on this budget it fits
# the training text *faster* than full BPTT, in all three seeds (its range lies below full BPTT's).
# These runs do not say why; they do say that on this text most of what predicts the next character
# lies within a few characters, so cutting the longer paths costs nothing visible here. A dependency
# longer than the truncation length is the one thing truncated BPTT cannot *learn*: its gradient ignores
# it by construction (notebook 04 builds tasks that need exactly such dependencies).
#
# On the **held-out** lines the three settings cannot be told apart: each reaches its lowest held-out
# loss, about 2.5 nats, early, and all three end between 2.9 and 3.4 nats, overfitted. What limits them
# there is the 685 characters of training text, not the gradient.

# %% [markdown]
# ## 7. Written question (2 points, graded by hand)
#
# (a) How does the **memory** that BPTT needs for one update grow with the sequence length $T$ (for a
# batch of $N$ sequences, $D$ inputs and $H$ hidden units)? Name what must be stored, and say why the
# weights themselves do not make it grow with $T$.
# (b) Truncated BPTT in blocks of $k$ steps: what does it need instead, and what does it **give up**?
# Use the two plots of the experiment in your answer.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_bptt_memory", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# **Model answer.** (a) The backward pass needs the cache of every step: $x_t$ ($N\times D$), $h_{t-1}$ and
# $h_t$ ($N\times H$), so the memory is $O(T\cdot N\cdot(D + H))$, linear in $T$ (for a language model the
# logits/probabilities, $O(T\cdot N\cdot V)$, are stored too). The weights are shared by all steps
# (参数共享): one copy of $W_{xh}, W_{hh}, b_h$ and one copy of each gradient, whatever $T$ — the
# caches only hold references to them. The time is also $O(T)$, and no update can happen before the
# whole sequence has been read, which rules out full BPTT on long streams.
# (b) Truncation in blocks of $k$ keeps only the caches of the current block, $O(k\cdot N\cdot(D+H))$,
# independent of $T$, and it can update after every block while the forward state is still carried
# exactly. It gives up every gradient term that links a loss to a state more than $k$ steps (fewer,
# at the start of a block) before it: the terms of the double sum whose product of Jacobians crosses
# a block boundary. The gradient is
# therefore biased: the network is never taught to keep information for longer than the truncation
# length, even if the forward pass could carry it. In the experiment, $k = 1$ (no gradient between
# steps) still reads the context its state happens to carry, but levels off at a clearly higher loss
# in every seed (position plot: about 0.3 against 0.1 to 0.15 nats per character after ten
# characters), while $k = 5$ does at least as well as full BPTT on the training text, which fits a text whose
# next character depends mostly on the last few characters; a task with longer dependencies would show
# a gap for $k = 5$ as well. On the held-out lines the three cannot be told apart (all overfit).
#
# **Rubric** (2 points; accept any correct equivalent).
#
# - 1 point for (a): what is stored (the cache of every step: inputs and states, or all activations),
#   that it grows linearly in $T$, and that the weights are one shared copy whatever $T$. Half a point
#   for "linear in $T$" without saying what is stored or why the weights do not count.
# - 1 point for (b): memory for one block of $k$ steps, independent of $T$ (and updates after each
#   block), *and* what is lost: the gradient terms that link a loss to states more than $k$ steps
#   back, so dependencies longer than $k$ are not learned. Half a point if the plots are not used.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# - **BPTT** is backpropagation on the network unrolled over time. The gradient reaching $h_{t-1}$ has
#   two parts: $\partial E/\partial h_{t-1} = (\partial h_t/\partial h_{t-1})^\top\,\partial E/\partial h_t$ plus
#   the direct term from $y_{t-1}$, with $\partial h_t/\partial h_{t-1} = \operatorname{diag}(g'(a_t))\,W_{hh}$
#   and $g'(a_t) = 1 - h_t^2$ for tanh.
# - Because the weights are shared over time, their gradients are **sums over time** (and over the
#   batch): $\partial E/\partial W_{hh} = \sum_t \delta_t h_{t-1}^\top$. Unrolled, this is the notes' double
#   sum, whose product of Jacobians runs over **time steps** — the source of vanishing and exploding
#   gradients (notebook 04).
# - `rnn_step_backward` / `rnn_backward` compute it in one backward sweep; the softmax cross-entropy
#   sends $(p - \operatorname{onehot})/(TN)$ into it, computed stably with the log-sum-exp trick.
# - Gradients are checked by **central differences** with the **relative error** (in float64: float32
#   rounding hides a correct gradient) and against **`torch.autograd`**.
# - **Truncated BPTT** in blocks of $k$ (= `detach()` every $k$ steps) needs memory for $k$ steps
#   instead of $T$, but cannot learn dependencies longer than $k$; $k \ge T$ is full BPTT.
# - Your NumPy RNN, trained with your BPTT and your Adagrad step, learns the Zen of Python character by
#   character; on held-out lines it generalises a little (perplexity about 12 against 22 for character
#   frequencies) and then overfits: a model is judged on text it did not train on.
#
# **Next:** notebook 04 measures the product of Jacobians over long lags — vanishing and exploding
# gradients (梯度消失 / 梯度爆炸) — and cures the explosion with gradient clipping by the global norm.
