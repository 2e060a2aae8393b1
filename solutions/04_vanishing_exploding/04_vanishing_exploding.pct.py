# %% [markdown]
# # 04 · 梯度消失与梯度爆炸 — Vanishing and exploding gradients
#
# In notebook 03 you trained an RNN with 时间反向传播 (backpropagation through time, BPTT). The
# gradient that reaches an early hidden state $h_t$ from a late loss passes through one Jacobian
# matrix per time step in between. This notebook measures that product, proves the bound of the
# lecture notes on it, and shows what it does to learning.
#
# **Learning goals.** After this notebook you can
#
# 1. write the step Jacobian $\partial h_t / \partial h_{t-1} = \mathrm{diag}(g'(a_t))\,W_{hh}$ and
#    check it against `torch.autograd`;
# 2. compute $\lVert \partial h_T / \partial h_t \rVert$ for every lag $T-t$ as a product of step
#    Jacobians, and state and check the bound $\eta^{T-t}$ with $\eta = \gamma\,\lambda_h$;
# 3. explain why $\lambda_h < 1/\gamma$ makes gradients vanish (梯度消失 vanishing gradient) and why
#    $\lambda_h > 1/\gamma$ makes explosion (梯度爆炸 exploding gradient) possible but not certain;
# 4. see the cliffs of an RNN's loss surface and cure them with 梯度裁剪 (gradient clipping) by the
#    global norm;
# 5. measure how a vanilla RNN fails on a long-range dependency (长期依赖) as the sequence grows, and
#    how an orthogonal or identity initialisation of $W_{hh}$ helps.
#
# **Conventions** (as in the whole course): inputs are time-major, `x` has shape (T, N, D); the hidden
# state (隐状态) $h_t$ has shape (N, H); $W_{xh}$ is (H, D), $W_{hh}$ is (H, H), $b_h$ is (H,), and a
# step computes `x_t @ W_xh.T + h_prev @ W_hh.T + b_h`. NumPy exercises work in float64.
#
# **术语表 · Glossary.** The Chinese and English terms of the course and the symbol each notebook uses: [GLOSSARY.md](../../GLOSSARY.md).

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import numpy as np
import torch

import utils
from utils import plotting, tasks
from utils.elman import elman_forward_torch
from utils.gradients import random_rnn, recurrent_matrix

plotting.use_course_style()
torch.set_num_threads(1)  # the models here are tiny: one thread is faster than several
rng = utils.seed_all(0)
print("grading mode:", utils.grading_mode(), "| device:", utils.device())

# %% [markdown]
# ## 1. Where the product comes from
#
# The Elman RNN of the notes computes, with $g$ = tanh (or the sigmoid $\sigma$),
#
# $$a_t = W_{xh} x_t + W_{hh} h_{t-1} + b_h, \qquad h_t = g(a_t).$$
#
# A loss $E_T$ at the last step depends on an early state $h_t$ only through the chain
# $h_t \to h_{t+1} \to \dots \to h_T$, so by the chain rule
#
# $$\frac{\partial h_T}{\partial h_t} = \frac{\partial h_T}{\partial h_{T-1}}\,
# \frac{\partial h_{T-1}}{\partial h_{T-2}} \cdots \frac{\partial h_{t+1}}{\partial h_t}
# = \prod_{j=t+1}^{T} J_j \quad(\text{later steps on the left}), \qquad
# J_j = \frac{\partial h_j}{\partial h_{j-1}}.$$
#
# Each step Jacobian (雅可比矩阵) is an H×H matrix. Entry $(i, k)$ differentiates
# $h_j[i] = g(a_j[i])$ with respect to $h_{j-1}[k]$; only $a_j[i]$ depends on it, through
# $W_{hh}[i, k]$:
#
# $$J_j[i, k] = g'(a_j[i])\,W_{hh}[i, k] \qquad\Longleftrightarrow\qquad
# J_j = \mathrm{diag}\big(g'(a_j)\big)\,W_{hh}.$$
#
# The diagonal matrix is on the **left**: row $i$ of $W_{hh}$ is scaled by the slope of unit $i$.
#
# > **A note on the lecture notes.** The notes write the state unit by unit as
# > $h_t[i] = g_\theta(x_t, h_{t-1}[i])$, as if unit $i$ saw only its own previous value. Taken
# > literally that would make $\partial h_t[i]/\partial h_{t-1}[k] = 0$ for $k \ne i$: a *diagonal*
# > Jacobian. It is not: through $a_t = W_{xh}x_t + W_{hh}h_{t-1} + b_h$ every unit sees the **whole**
# > $h_{t-1}$, so $h_t[i] = g\big(a_t[i]\big) = g\big((W_{xh}x_t)[i] + \sum_k W_{hh}[i,k]\,h_{t-1}[k] + b_h[i]\big)$
# > and $J_t = \mathrm{diag}(g'(a_t))\,W_{hh}$ is a full matrix. Only its first factor is diagonal
# > (the notes' own next line, $\mathrm{diag}(g'_\theta)\,W_h$, is the right one).
#
# BPTT multiplies a gradient by the transpose, $J_j^\top = W_{hh}^\top \mathrm{diag}(g'(a_j))$
# (notebook 03). The slopes are $\tanh'(a) = 1 - \tanh^2(a)$ and
# $\sigma'(a) = \sigma(a)\,(1 - \sigma(a))$.
#
# The gradient of $E_T$ with respect to $h_t$ is $(\partial h_T/\partial h_t)^\top\,
# \partial E_T/\partial h_T$: if the product is tiny, a loss at step $T$ cannot teach the network
# anything about what happened at step $t$, however important it was.

# %%
fig = utils.gradients.draw_jacobian_chain(steps=5)  # one Jacobian per step, each of norm at most eta

# %% [markdown]
# ### Worked example: one hidden unit
#
# With $H = 1$ every matrix is a number and the product is easy to see:
# $h_t = \tanh(w\,h_{t-1} + u\,x_t + b)$ gives
#
# $$\frac{\partial h_T}{\partial h_t} = \prod_{j=t+1}^{T} w\,\big(1 - h_j^2\big),
# \qquad\text{so}\qquad \left|\frac{\partial h_T}{\partial h_t}\right| \le |w|^{T-t},$$
#
# because $0 < 1 - h_j^2 \le 1$. Below, the product formula and `torch.autograd` agree, and with
# $w = 0.9$ the derivative falls geometrically with the lag.

# %% [markdown]
# **Predict, then run.** With $w = 0.9$ the bound at lag 30 is $0.9^{30} \approx 0.04$. Write down
# the power of ten you expect for the actual $|\partial h_T/\partial h_{T-30}|$ (the last entry of the
# `product` line), and say why it is, or is not, close to the bound.

# %%
w, u, b, T = 0.9, 1.0, 0.1, 30
x_demo = utils.seed_all(1).standard_normal(T)

# NumPy: forward, keep every state, then the product of the step derivatives w * (1 - h_j^2)
h = [0.0]
for t in range(T):
    h.append(np.tanh(w * h[-1] + u * x_demo[t] + b))
h = np.array(h)                                  # h_0 .. h_T
steps = w * (1.0 - h[1:] ** 2)                   # dh_j / dh_{j-1}, j = 1..T
products = np.cumprod(steps[::-1])               # lag 1, 2, ..., T: dh_T / dh_{T-k}

# PyTorch: differentiate h_T with respect to every earlier state with autograd
states = [torch.zeros((), dtype=torch.float64, requires_grad=True)]
for t in range(T):
    states.append(torch.tanh(w * states[-1] + u * float(x_demo[t]) + b))
by_autograd = torch.autograd.grad(states[-1], states[:-1])   # dh_T / dh_t, t = 0..T-1
by_autograd = np.array([float(g) for g in by_autograd])[::-1]  # lag 1..T

print("lag k      :", [1, 5, 10, 20, 30])
print("product    :", np.array2string(products[[0, 4, 9, 19, 29]], precision=2))
print("autograd   :", np.array2string(by_autograd[[0, 4, 9, 19, 29]], precision=2))
print("bound |w|^k:", np.array2string(w ** np.array([1, 5, 10, 20, 30]), precision=2))
assert np.allclose(products, by_autograd, rtol=1e-10)  # same float64 numbers, other order
assert np.all(np.abs(products) <= w ** np.arange(1, T + 1))


# %% [markdown]
# ## 2. Exercise 1 — the step Jacobian (3 points)
#
# Implement `step_jacobian`, the matrix $J_t = \partial h_t/\partial h_{t-1} =
# \mathrm{diag}(g'(a_t))\,W_{hh}$ of one step, for every example of a batch at once. It returns an
# array of shape (N, H, H): one H×H Jacobian per example, `J[n, i, k]` $= \partial h_t[n, i] /
# \partial h_{t-1}[n, k]$.
#
# Hints: compute the pre-activation $a_t$ (N, H) first; the slope of unit $i$ multiplies row $i$.
# With NumPy broadcasting, `g_prime[:, :, None] * W_hh` builds all N matrices without a loop (a
# loop over the examples with `np.diag` is fine too). Do not use PyTorch here.
#
# Saturated units are part of the story (their slope is 0), so the slopes must stay right when
# $|a|$ is in the hundreds: get them from $h = g(a)$, as $1 - h^2$ and $s(1 - s)$. The textbook
# derivative $e^{-a}/(1 + e^{-a})^2$ typed in as it stands overflows to $\infty/\infty$ = `nan` once
# $a < -710$ (where $e^{-a}$ passes float64's largest number, about $1.8 \cdot 10^{308}$).

# %% nbgrader={"grade": false, "grade_id": "step_jacobian", "locked": false, "schema_version": 3, "solution": true}
def step_jacobian(x_t, h_prev, W_xh, W_hh, b_h, activation="tanh"):
    """Jacobian of one RNN step, J_t = dh_t/dh_{t-1} = diag(g'(a_t)) W_hh, for every example.

    The step is h_t = g(a_t) with a_t = W_xh x_t + W_hh h_{t-1} + b_h.

    Inputs:
    - x_t: inputs at time t, shape (N, D)
    - h_prev: hidden states h_{t-1}, shape (N, H)
    - W_xh: (H, D), W_hh: (H, H), b_h: (H,)
    - activation: "tanh" or "sigmoid" (g)

    Returns:
    - J: shape (N, H, H), J[n, i, k] = dh_t[n, i] / dh_{t-1}[n, k]
    """
    ### BEGIN SOLUTION
    a = x_t @ W_xh.T + h_prev @ W_hh.T + b_h          # pre-activation a_t, (N, H)
    if activation == "tanh":
        h = np.tanh(a)
        g_prime = 1.0 - h ** 2                         # tanh'(a) = 1 - tanh(a)^2
    elif activation == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        g_prime = s * (1.0 - s)                        # sigmoid'(a) = s (1 - s)
    else:
        raise ValueError(f"activation must be 'tanh' or 'sigmoid', got {activation!r}")
    return g_prime[:, :, None] * W_hh[None, :, :]      # diag(g'(a_t)) W_hh: rows scaled
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_step_jacobian_shapes_and_by_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures

_fx = fixtures.load("04_vanishing_exploding")   # what common mistakes return on the inputs below

# Shapes: one (H, H) Jacobian per example.
_rng = utils.seed_all(0)
_args = (_rng.standard_normal((2, 3)), _rng.standard_normal((2, 4)), _rng.standard_normal((4, 3)),
         _rng.standard_normal((4, 4)), _rng.standard_normal(4))
utils.check_shape("step_jacobian with N=2, D=3, H=4", step_jacobian(*_args), (2, 4, 4),
                  hint="return one H x H matrix per example: shape (N, H, H)")

# By hand: x_t = 0, h_{t-1} = (0.5, -0.5), W_hh = [[1, 1], [2, 2]] (so W_hh h_{t-1} = 0) and
# b_h = (0, 3) give a_t = (0, 3).
#   tanh:    tanh'(0) = 1 keeps row 0 of W_hh;  tanh'(3) = 1 - tanh(3)^2 = 0.00987 scales row 1.
#   sigmoid: sigmoid'(0) = 1/4 and sigmoid'(3) = sigmoid(3)(1 - sigmoid(3)) = 0.0452 scale the rows.
_W = np.array([[1.0, 1.0], [2.0, 2.0]])
_hand = (np.zeros((1, 1)), np.array([[0.5, -0.5]]), np.zeros((2, 1)), _W, np.array([0.0, 3.0]))
_s3 = 1.0 / (1.0 + np.exp(-3.0))
for _act, _slopes in [("tanh", [1.0, 1.0 - np.tanh(3.0) ** 2]), ("sigmoid", [0.25, _s3 * (1 - _s3)])]:
    utils.check_close(f"step_jacobian by hand, activation={_act!r}",
                      step_jacobian(*_hand, activation=_act), (np.array(_slopes)[:, None] * _W)[None],
                      atol=1e-12, rtol=1e-10,  # float64: only rounding (~1e-16) may differ
                      mistakes=_fx[f"jacobian_hand_{_act}"].mistakes("J"))
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
for _N, _D, _H in [(1, 1, 1), (1, 5, 3), (3, 2, 6)]:            # edge shapes: N=1, H=1, D != H
    _args = (_rng.standard_normal((_N, _D)), _rng.standard_normal((_N, _H)),
             _rng.standard_normal((_H, _D)), _rng.standard_normal((_H, _H)), _rng.standard_normal(_H))
    for _act in ["tanh", "sigmoid"]:
        utils.check_shape(f"step_jacobian with N={_N}, D={_D}, H={_H}",
                          step_jacobian(*_args, activation=_act), (_N, _H, _H))
# by hand with fresh numbers: at x_t = 0, h_{t-1} = 0 the pre-activation is b_h
_H = 3
_W, _b = _rng.standard_normal((_H, _H)), 2.0 * _rng.standard_normal(_H)
_hand = (np.zeros((2, 2)), np.zeros((2, _H)), _rng.standard_normal((_H, 2)), _W, _b)
_sb = 1.0 / (1.0 + np.exp(-_b))
for _act, _slopes in [("tanh", 1.0 - np.tanh(_b) ** 2), ("sigmoid", _sb * (1.0 - _sb))]:
    utils.check_close(f"step_jacobian at a_t = b_h, activation={_act!r}",
                      step_jacobian(*_hand, activation=_act),
                      np.broadcast_to(_slopes[:, None] * _W, (2, _H, _H)),
                      atol=1e-12, rtol=1e-10,  # float64 rounding only
                      mistakes=_ref.step_jacobian_mistakes(*_hand, activation=_act))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_step_jacobian_against_autograd", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.gradients import random_rnn

# A random comparison with torch.autograd.functional.jacobian, which differentiates the step itself:
# N = 3, D = 2, H = 5. The inputs, autograd's Jacobians and what common mistakes return ship as data.
_fx = fixtures.load("04_vanishing_exploding")
for _act in ["tanh", "sigmoid"]:
    _case = _fx[f"jacobian_random_{_act}"]
    _args = tuple(_case.inputs[k] for k in ("x_t", "h_prev", "W_xh", "W_hh", "b_h"))
    utils.check_close(f"step_jacobian(..., activation={_act!r}) against torch.autograd",
                      step_jacobian(*_args, activation=_act), _case.expected["J"],
                      atol=1e-12, rtol=1e-9,  # float64: the two differ by rounding only (~1e-16)
                      mistakes=_case.mistakes("J"))
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
for _T, _N, _D, _H in [(1, 1, 1, 1), (1, 1, 4, 2), (1, 5, 3, 7)]:
    for _scale in [0.5, 3.0]:                                  # 3.0: saturated units, g' near 0
        _net = random_rnn(_rng, _T, _N, _D, _H, largest_singular_value=_rng.uniform(0.2, 3.0),
                          input_scale=_scale, bias_scale=_scale)
        _args = (_net["x"][0], _net["h0"], _net["W_xh"], _net["W_hh"], _net["b_h"])
        for _act in ["tanh", "sigmoid"]:
            utils.check_close(f"step_jacobian(..., activation={_act!r}), N={_N}, D={_D}, H={_H}",
                              step_jacobian(*_args, activation=_act),
                              _ref.reference_step_jacobian(*_args, activation=_act),
                              atol=1e-12, rtol=1e-9,  # float64 rounding only
                              mistakes=_ref.step_jacobian_mistakes(*_args, activation=_act))
# float32 inputs are accepted; the answer is then good to float32 precision
_net = random_rnn(_rng, 1, 4, 3, 5, largest_singular_value=1.5)
_args = (_net["x"][0], _net["h0"], _net["W_xh"], _net["W_hh"], _net["b_h"])
for _act in ["tanh", "sigmoid"]:
    utils.check_close(f"step_jacobian with float32 inputs, activation={_act!r}",
                      step_jacobian(*(a.astype(np.float32) for a in _args), activation=_act),
                      _ref.reference_step_jacobian(*(a.astype(np.float32) for a in _args), activation=_act),
                      atol=1e-5, rtol=1e-4)  # float32 keeps about 7 significant digits
# deeply saturated units (pre-activations near -1000, -800, 800, 1000, whatever the draw): every
# slope is 0 or tiny, never nan
_args = (_rng.standard_normal((3, 2)), _rng.standard_normal((3, 4)), _rng.standard_normal((4, 2)),
         _rng.standard_normal((4, 4)), np.array([-1000.0, -800.0, 800.0, 1000.0]))
for _act in ["tanh", "sigmoid"]:
    with np.errstate(over="ignore", invalid="ignore"):   # a correct formula may overflow inside
        _J = utils.call_unchanged(f"step_jacobian (activation={_act!r})", step_jacobian, *_args,
                                  activation=_act)
    utils.check_type(f"step_jacobian(..., activation={_act!r})", _J, np.ndarray, dtype=np.float64)
    utils.check_close(f"step_jacobian with pre-activations in the hundreds, activation={_act!r}", _J,
                      _ref.reference_step_jacobian(*_args, activation=_act), atol=1e-12, rtol=1e-9,
                      hint="take the slope from h = g(a): 1 - h**2 for tanh, s * (1 - s) for the "
                           "sigmoid; e^-a / (1 + e^-a)**2 overflows to inf / inf = nan for a < -710")
utils.check_no_library("step_jacobian", step_jacobian,
                       ["torch", "utils", "autograd", "reference_step_jacobian"])
# what it calls while it runs, not only what its source says (an alias cannot hide a call)
_ = utils.checks.check_no_library_calls("step_jacobian", step_jacobian, *_args, activation="tanh",
                                       forbidden=("torch", "autograder", "utils"))
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Exercise 2 — the gradient through time, lag by lag (3 points)
#
# Implement `jacobian_norms`: run the RNN forward from `h0`, build the step Jacobians
# $J_1, \dots, J_T$ with your `step_jacobian` (each needs the state **before** its step,
# $h_{t-1}$), and return the spectral norms of
#
# $$\frac{\partial h_T}{\partial h_{T-k}} = J_T\,J_{T-1} \cdots J_{T-k+1}
# \qquad\text{for every lag } k = 0, 1, \dots, T,$$
#
# for every example: an array of shape (T+1, N). Lag 0 is $\partial h_T/\partial h_T = I$, with norm 1.
#
# The spectral norm $\lVert A\rVert_2$ is the largest singular value of $A$ (谱范数, the largest
# 奇异值): how much $A$ can stretch a vector. `np.linalg.norm(A, ord=2, axis=(1, 2))` computes it for
# a stack of matrices (N, H, H).
#
# Hint: go backwards from $I$: $\partial h_T/\partial h_{t-1} = (\partial h_T/\partial h_t)\,J_t$,
# so each earlier Jacobian multiplies the running product **on the right**. Matrix products do not
# commute: the order matters.

# %% nbgrader={"grade": false, "grade_id": "jacobian_norms", "locked": false, "schema_version": 3, "solution": true}
def jacobian_norms(x, h0, W_xh, W_hh, b_h, activation="tanh"):
    """Spectral norms of dh_T/dh_{T-k} = J_T J_{T-1} ... J_{T-k+1} for lags k = 0..T.

    J_t = diag(g'(a_t)) W_hh is the step Jacobian (step_jacobian) at the state h_{t-1} of the
    forward pass h_t = g(W_xh x_t + W_hh h_{t-1} + b_h) that starts from h0.

    Inputs:
    - x: inputs, shape (T, N, D)
    - h0: initial hidden states, shape (N, H)
    - W_xh: (H, D), W_hh: (H, H), b_h: (H,)
    - activation: "tanh" or "sigmoid"

    Returns:
    - norms: shape (T + 1, N); norms[k, n] = ||dh_T/dh_{T-k}||_2 for example n (the largest
      singular value); row 0 is lag 0, the identity, so it is all ones.
    """
    ### BEGIN SOLUTION
    T, N, _ = x.shape
    H = W_hh.shape[0]
    jacobians, h = [], h0
    for t in range(T):
        jacobians.append(step_jacobian(x[t], h, W_xh, W_hh, b_h, activation))  # J_t at h_{t-1}
        a = x[t] @ W_xh.T + h @ W_hh.T + b_h
        h = np.tanh(a) if activation == "tanh" else 1.0 / (1.0 + np.exp(-a))
    product = np.broadcast_to(np.eye(H), (N, H, H))     # dh_T/dh_T = I
    products = [product]
    for J in reversed(jacobians):                        # J_T, J_{T-1}, ..., J_1
        product = product @ J                            # dh_T/dh_{t-1} = (dh_T/dh_t) J_t
        products.append(product)
    return np.linalg.norm(np.stack(products), ord=2, axis=(2, 3))  # (T+1, N) spectral norms
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_jacobian_norms_shapes_and_by_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.gradients import random_rnn

_fx = fixtures.load("04_vanishing_exploding")   # what common mistakes return on the inputs below

_net = random_rnn(utils.seed_all(2), T=5, N=3, D=2, H=4)
utils.check_shape("jacobian_norms with T=5, N=3", jacobian_norms(**_net), (6, 3),
                  hint="one row per lag k = 0..T (T + 1 rows, row 0 = lag 0 = the identity), "
                       "one column per example")

# By hand, one unit. tanh: with x = 0, h0 = 0, b_h = 0 the state stays 0, every slope is
# tanh'(0) = 1 and J_t = w: the norms are |w|^k. sigmoid: with h0 = 0.5 and b_h = -w/2 the
# pre-activation stays 0, the state stays 1/2, every slope is 1/4 and the norms are |w/4|^k.
_k = np.arange(8)[:, None]
_tanh_case = dict(x=np.zeros((7, 1, 1)), h0=np.zeros((1, 1)), W_xh=np.ones((1, 1)),
                  W_hh=np.array([[-0.5]]), b_h=np.zeros(1))
_sig_case = dict(x=np.zeros((7, 1, 1)), h0=np.full((1, 1), 0.5), W_xh=np.ones((1, 1)),
                 W_hh=np.array([[2.0]]), b_h=np.array([-1.0]))
for _case, _act, _expected in [(_tanh_case, "tanh", 0.5 ** _k), (_sig_case, "sigmoid", 0.5 ** _k)]:
    utils.check_close(f"jacobian_norms by hand (one unit, {_act})",
                      jacobian_norms(**_case, activation=_act), _expected,
                      atol=1e-12, rtol=1e-10,  # float64 rounding only
                      mistakes=_fx[f"norms_hand_{_act}"].mistakes("norms"))
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
for _T, _N, _D, _H in [(1, 1, 1, 1), (1, 2, 3, 2), (4, 1, 2, 5)]:  # T=1, N=1, D != H
    _net = random_rnn(_rng, _T, _N, _D, _H)
    utils.check_shape(f"jacobian_norms with T={_T}, N={_N}, H={_H}", jacobian_norms(**_net),
                      (_T + 1, _N))
# fresh one-unit case: |w|^k
_w = _rng.uniform(-1.5, 1.5)
_case = dict(x=np.zeros((6, 2, 3)), h0=np.zeros((2, 1)), W_xh=_rng.standard_normal((1, 3)),
             W_hh=np.array([[_w]]), b_h=np.zeros(1))
utils.check_close("jacobian_norms by hand (one unit at the state 0)", jacobian_norms(**_case),
                  np.abs(_w) ** np.arange(7)[:, None] * np.ones((1, 2)), atol=1e-12, rtol=1e-9,
                  mistakes=_ref.jacobian_norms_mistakes(**_case))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_jacobian_norms_against_autograd", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.gradients import random_rnn

# A random comparison with torch.autograd, which backpropagates through the unrolled network
# instead of multiplying Jacobians: T = 6, N = 2, D = 3, H = 4, largest singular value 1.5.
# The inputs, autograd's norms and what common mistakes return ship as data.
_fx = fixtures.load("04_vanishing_exploding")
for _act in ["tanh", "sigmoid"]:
    _case = _fx[f"norms_random_{_act}"]
    _net = {k: _case.inputs[k] for k in ("x", "h0", "W_xh", "W_hh", "b_h")}
    utils.check_close(f"jacobian_norms(..., activation={_act!r}) against torch.autograd",
                      jacobian_norms(**_net, activation=_act), _case.expected["norms"],
                      atol=1e-300, rtol=1e-6,  # relative: the norms span many decades; the two
                      # multiply the same float64 numbers in another order (error ~1e-14 here)
                      mistakes=_case.mistakes("norms"))
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
for _T, _N, _D, _H, _kind in [(1, 1, 1, 1, "gaussian"), (1, 3, 2, 4, "gaussian"),
                              (9, 1, 3, 5, "gaussian"), (12, 3, 4, 3, "orthogonal")]:
    for _act in ["tanh", "sigmoid"]:
        _net = random_rnn(_rng, _T, _N, _D, _H, largest_singular_value=_rng.uniform(0.3, 4.0),
                          kind=_kind, input_scale=_rng.uniform(0.1, 2.0))
        _got = utils.call_unchanged(f"jacobian_norms (T={_T}, N={_N}, H={_H})", jacobian_norms,
                                    activation=_act, **_net)
        utils.check_type(f"jacobian_norms with T={_T}, N={_N}, H={_H}", _got, np.ndarray,
                         dtype=np.float64)
        utils.check_shape(f"jacobian_norms with T={_T}, N={_N}, H={_H}", _got, (_T + 1, _N))
        _bound = _ref.bound_per_lag(_net["W_hh"], _act, _T)
        utils.check_close(f"jacobian_norms(..., activation={_act!r}) / eta^k, T={_T}, N={_N}, H={_H}",
                          _got / _bound, _ref.reference_jacobian_norms(**_net, activation=_act) / _bound,
                          atol=1e-12, rtol=1e-6,  # on the scale of the bound: g' of a saturated
                          # unit has an absolute rounding error ~1e-16, so tiny norms may differ
                          # relatively; against eta^k two correct codes agree to ~1e-14
                          mistakes=_ref.jacobian_norms_mistakes(**_net, activation=_act, scale=_bound))
# float32 inputs are accepted (short sequence: float32 rounding grows along the product)
_net = random_rnn(_rng, 4, 2, 3, 4, largest_singular_value=1.2, kind="orthogonal")
utils.check_close("jacobian_norms with float32 inputs",
                  jacobian_norms(**{k: v.astype(np.float32) for k, v in _net.items()}),
                  _ref.reference_jacobian_norms(**{k: v.astype(np.float32) for k, v in _net.items()}),
                  atol=1e-6, rtol=1e-3)  # float32: ~7 digits, lost a little at each of 4 products
utils.check_no_library("jacobian_norms", jacobian_norms,
                       ["torch", "utils", "autograd", "reference_jacobian_norms"])
_ = utils.checks.check_no_library_calls("jacobian_norms", jacobian_norms, **_net, activation="sigmoid",
                                       forbidden=("torch", "autograder", "utils"))
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The bound of the notes: $\eta = \gamma\,\lambda_h$
#
# Two facts about the spectral norm turn the product into a bound:
#
# * it is submultiplicative, $\lVert AB\rVert_2 \le \lVert A\rVert_2\,\lVert B\rVert_2$;
# * the norm of a diagonal matrix is its largest entry in absolute value,
#   $\lVert\mathrm{diag}(v)\rVert_2 = \max_i |v_i|$.
#
# Let $\gamma = \max_a |g'(a)|$: $\tanh'(a) = 1 - \tanh^2(a) \in (0, 1]$ gives $\gamma = 1$, and
# $\sigma'(a) = \sigma(a)(1 - \sigma(a)) \in (0, \tfrac14]$ gives $\gamma = \tfrac14$, both reached
# at $a = 0$. Let $\lambda_h = \lVert W_{hh}\rVert_2$ be the largest singular value of $W_{hh}$. Then
#
# $$\left\lVert \frac{\partial h_t}{\partial h_{t-1}} \right\rVert_2
# \le \lVert \mathrm{diag}(g'(a_t)) \rVert_2\,\lVert W_{hh} \rVert_2 \le \gamma\,\lambda_h = \eta,
# \qquad
# \left\lVert \frac{\partial h_T}{\partial h_t} \right\rVert_2 \le \prod_{j=t+1}^{T} \lVert J_j\rVert_2
# \le \eta^{\,T-t}.$$
#
# If $\lambda_h < 1/\gamma$, then $\eta < 1$ and the gradient that reaches $h_t$ from step $T$
# shrinks at least geometrically with the lag $T - t$: it vanishes.
#
# > **A note on the lecture notes.** The slide of this section is garbled in four places.
# > (1) The line "$|g'_\theta| > 1$" should read $|g'(a)| \le \gamma$, with $\gamma = 1/4$ for the
# > sigmoid and $\gamma = 1$ for tanh. (2) The products run over **time steps** $j = t+1, \dots, T$
# > (the notes write the upper end as $p$, which elsewhere is the hidden size). (3) The notes
# > conclude "如果 $\lambda_h > 1/\gamma$，可证明会出现梯度爆炸": that cannot be proven, because it is
# > false in general. $\lambda_h > 1/\gamma$ is **necessary** for explosion ($\eta < 1$ forbids
# > it) but **not sufficient** (Pascanu, Mikolov & Bengio, 2013); section 6 shows two networks with
# > the same $\lambda_h > 1/\gamma$, one exploding, one vanishing. $\lambda_h$ is a **singular
# > value**, not an eigenvalue: for a non-symmetric $W_{hh}$ they differ. (4) The bound's last line,
# > "$\dots = \eta < \gamma^{-1} < 1$" (printed "η ‹ γ⁻¹ < 1" in some copies), cannot be right as written
# > ($\gamma^{-1}$ is 1 or 4, never below 1). It should read: the Jacobian's norm is at most
# > $\eta = \gamma\,\lambda_h$, and **if** $\lambda_h < 1/\gamma$ **then** $\eta < 1$, so the product
# > of $T - t$ Jacobians is at most $\eta^{T-t} \to 0$.
#
# The cell below checks the two facts and the values of $\gamma$ numerically.

# %%
_check = utils.seed_all(2)
A, B = _check.standard_normal((5, 5)), _check.standard_normal((5, 5))
v = _check.standard_normal(5)
print("||AB||_2 =", round(np.linalg.norm(A @ B, 2), 3), "<= ||A||_2 ||B||_2 =",
      round(np.linalg.norm(A, 2) * np.linalg.norm(B, 2), 3))
print("||diag(v)||_2 =", round(np.linalg.norm(np.diag(v), 2), 6), "= max|v_i| =", round(np.abs(v).max(), 6))
a_grid = np.linspace(-10, 10, 20001)
sig = 1.0 / (1.0 + np.exp(-a_grid))
print("max tanh'(a) =", (1 - np.tanh(a_grid) ** 2).max(), "  max sigmoid'(a) =", (sig * (1 - sig)).max())
assert np.linalg.norm(A @ B, 2) <= np.linalg.norm(A, 2) * np.linalg.norm(B, 2)
assert np.isclose(np.linalg.norm(np.diag(v), 2), np.abs(v).max())


# %% [markdown]
# ### Exercise 3 — $\eta$ (2 points)
#
# Implement `eta(W_hh, activation)`, which returns $\eta = \gamma\,\lambda_h$ as a float, with
# $\gamma$ = 1 for tanh and 1/4 for the sigmoid and $\lambda_h$ the largest singular value of
# $W_{hh}$ (`np.linalg.norm(W_hh, ord=2)`, or the first value of `np.linalg.svd`). Not the
# Frobenius norm (the default of `np.linalg.norm`), which is larger and gives a looser bound, and not
# the largest eigenvalue.

# %% nbgrader={"grade": false, "grade_id": "eta", "locked": false, "schema_version": 3, "solution": true}
def eta(W_hh, activation="tanh"):
    """eta = gamma * lambda_h, the bound ||dh_t/dh_{t-1}||_2 <= eta of the notes.

    Inputs:
    - W_hh: recurrent weights, shape (H, H)
    - activation: "tanh" (gamma = 1) or "sigmoid" (gamma = 1/4); gamma = max |g'|

    Returns:
    - eta: a float, gamma times the largest singular value lambda_h of W_hh
    """
    ### BEGIN SOLUTION
    gamma = {"tanh": 1.0, "sigmoid": 0.25}[activation]
    lambda_h = np.linalg.norm(W_hh, ord=2)        # the largest singular value
    return float(gamma * lambda_h)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_eta_by_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.gradients import recurrent_matrix

_fx = fixtures.load("04_vanishing_exploding")   # what common mistakes return on the inputs below

# By hand: W = [[0, 2], [-3, 0]] has W^T W = diag(9, 4), so its singular values are 3 and 2 and
# lambda_h = 3. (Its Frobenius norm is sqrt(13) = 3.61; its eigenvalues are +-i sqrt(6), |.| = 2.45.)
_W = np.array([[0.0, 2.0], [-3.0, 0.0]])
for _act, _expected in [("tanh", 3.0), ("sigmoid", 0.75)]:
    utils.check_close(f"eta(W, {_act!r}) by hand", eta(_W, _act), _expected,
                      atol=1e-12, rtol=1e-10,  # an SVD in float64 is exact to ~1e-15 here
                      mistakes=_fx[f"eta_hand_{_act}"].mistakes("eta"))
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
_lam = _rng.uniform(0.1, 5.0)
_W = recurrent_matrix(4, _lam, _rng, "orthogonal")   # every singular value is _lam
for _act, _gamma in [("tanh", 1.0), ("sigmoid", 0.25)]:
    utils.check_close(f"eta of lambda_h times an orthogonal matrix, {_act!r}", eta(_W, _act),
                      _gamma * _lam, atol=1e-12, rtol=1e-9, mistakes=_ref.eta_mistakes(_W, _act))
_s = _rng.uniform(0.5, 3.0, size=3)
_W = np.diag(_s)[::-1]                                 # a permuted diagonal: singular values _s
utils.check_close("eta of a permuted diagonal matrix", eta(_W, "sigmoid"), 0.25 * _s.max(),
                  atol=1e-12, rtol=1e-9, mistakes=_ref.eta_mistakes(_W, "sigmoid"))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_eta_against_torch", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures

# A random, non-symmetric W_hh (6 x 6, standard normal) against torch.linalg.svdvals.
# The matrix, torch's eta and what common mistakes return ship as data.
_fx = fixtures.load("04_vanishing_exploding")
for _act in ["tanh", "sigmoid"]:
    _case = _fx[f"eta_random_{_act}"]
    utils.check_close(f"eta(W_hh, {_act!r}) against torch.linalg.svdvals", eta(_case.inputs["W_hh"], _act),
                      _case.expected["eta"], atol=1e-12, rtol=1e-9,  # two float64 SVDs
                      mistakes=_case.mistakes("eta"))
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
for _H in [1, 2, 7]:
    _W = _rng.standard_normal((_H, _H)) * _rng.uniform(0.2, 3.0)
    for _act in ["tanh", "sigmoid"]:
        utils.check_type(f"eta(W_hh, {_act!r})", eta(_W, _act), float,
                         hint="return a number: float(...) of the product")
        utils.check_close(f"eta(W_hh, {_act!r}) with H={_H}", eta(_W, _act),
                          _ref.reference_eta(_W, _act), atol=1e-12, rtol=1e-9,
                          mistakes=_ref.eta_mistakes(_W, _act))
_W32 = _rng.standard_normal((5, 5)).astype(np.float32)
utils.check_close("eta of a float32 W_hh", eta(_W32, "sigmoid"), _ref.reference_eta(_W32, "sigmoid"),
                  atol=1e-6, rtol=1e-5)  # float32 SVD: ~7 significant digits
utils.check_no_library("eta", eta, ["torch", "utils", "reference_eta"])
_ = utils.checks.check_no_library_calls("eta", eta, _W, "tanh", forbidden=("torch", "autograder", "utils"))
### END HIDDEN TESTS

# %% [markdown]
# ### The bound holds on random networks
#
# Your two functions now test the notes' bound: for many random networks (random sizes, tanh or
# sigmoid, $\lambda_h$ below and above $1/\gamma$, weak and strong inputs), every norm
# $\lVert\partial h_T/\partial h_{T-k}\rVert_2$ must lie below its bound $\eta^k$.

# %% [markdown]
# **Predict, then run.** The cell prints the largest ratio
# $\lVert\partial h_T/\partial h_{T-k}\rVert_2 \,/\, \eta^k$ over all networks, lags and examples. Write
# down that number (below 1, exactly 1, or above 1?) and the lag $k$ at which it is reached, with a
# reason.

# %%
bound_rng = utils.seed_all(5)
T_bound = utils.choose(full=40, fast=12)
fig, ax = plotting.subplots()
worst, smallest, largest = 0.0, 1.0, 1.0
for trial in range(utils.choose(full=60, fast=10)):
    activation = ["tanh", "sigmoid"][trial % 2]
    gamma = 1.0 if activation == "tanh" else 0.25
    H = int(bound_rng.integers(1, 16))
    net = random_rnn(bound_rng, T_bound, 4, 3, H,
                     largest_singular_value=bound_rng.uniform(0.3, 3.0) / gamma,
                     kind="orthogonal" if trial % 3 == 0 else "gaussian",
                     input_scale=bound_rng.uniform(0.1, 3.0))
    norms = jacobian_norms(**net, activation=activation)          # (T+1, N)
    bound = eta(net["W_hh"], activation) ** np.arange(T_bound + 1)  # (T+1,)
    worst = max(worst, (norms / bound[:, None]).max())
    smallest, largest = min(smallest, bound.min()), max(largest, bound.max())
    ax.scatter(np.repeat(bound, norms.shape[1]), norms.ravel(), s=4, alpha=0.4,
               color=plotting.COLORS["rnn" if activation == "tanh" else "gru"])
line = np.array([smallest, largest])
ax.plot(line, line, color=plotting.COLORS["bound"], ls="--", label="norm = bound")
ax.scatter([], [], color=plotting.COLORS["rnn"], label="tanh networks")
ax.scatter([], [], color=plotting.COLORS["gru"], label="sigmoid networks")
ax.set(xscale="log", yscale="log", xlabel=r"bound $\eta^{k}$", ylabel=r"$\|\partial h_T/\partial h_{T-k}\|_2$")
ax.legend(loc="upper left")
plotting.finish(fig, "Every (network, lag, example) lies below the bound")
print(f"largest norm / bound over all networks, lags and examples: {worst:.6f}")
assert worst <= 1 + 1e-9  # the bound is a theorem; 1e-9 leaves room for float64 rounding only


# %% [markdown]
# Every point lies on or below the diagonal: the bound holds. At lag 0 norm and bound are both 1;
# at longer lags most points are far below, because the slopes $g'(a_t)$ are usually well below
# $\gamma$ and successive step Jacobians do not all stretch the same direction. The bound is a
# guarantee of vanishing when $\eta < 1$ (left half), not a prediction of growth when $\eta > 1$
# (right half: many of those norms still vanish).

# %% [markdown]
# ## 5. Experiment 1 — vanishing when $\lambda_h < 1/\gamma$
#
# Now fix everything but $\lambda_h$ and watch the gradient norm against the lag, for
# $\lambda_h = 0.5/\gamma$, $1/\gamma$ and $2/\gamma$. $W_{hh}$ is $\lambda_h$ times a random
# orthogonal matrix (all its singular values equal $\lambda_h$, the case where the bound can be
# tight), the inputs are moderate, $h_0 = 0$ and $b_h = 0$, and each curve is the geometric mean
# over a batch of 16 sequences. The dashed lines are the bounds $\eta^k$.

# %% [markdown]
# **Predict, then run.** At $\lambda_h = 1/\gamma$ the bound $\eta^k = 1$ is flat: will the solid curve
# for that case stay at 1, rise or fall as the lag grows? And at $\lambda_h = 2/\gamma$, will the norm
# climb as fast as its bound $2^k$ (yes/no)? Write down both answers, each with a reason.

# %%
def lag_curve(lam_gamma, activation, T, N=16, D=4, H=32, seed=0):
    '''Geometric mean over N examples of ||dh_T/dh_{T-k}||_2, k = 0..T, and eta, for a network
    whose W_hh is lam_gamma / gamma times a random orthogonal matrix.'''
    r = utils.seed_all(seed)
    gamma = 1.0 if activation == "tanh" else 0.25
    W_hh = recurrent_matrix(H, lam_gamma / gamma, r, "orthogonal")
    W_xh = 0.5 * r.standard_normal((H, D))
    x = r.standard_normal((T, N, D))
    norms = jacobian_norms(x, np.zeros((N, H)), W_xh, W_hh, np.zeros(H), activation)
    return np.exp(np.log(norms).mean(axis=1)), eta(W_hh, activation)


T_lag = utils.choose(full=50, fast=15)
lags = np.arange(T_lag + 1)
fig, axes = plotting.subplots(2, sharey=True)
for ax, activation, gname in zip(axes, ["tanh", "sigmoid"], ["1", "4"]):
    for lam_gamma, color in zip([0.5, 1.0, 2.0], ["C0", "C7", "C3"]):
        curve, eta_value = lag_curve(lam_gamma, activation, T_lag)
        ax.plot(lags, curve, color=color, lw=2,
                label=fr"$\lambda_h$ = {lam_gamma:g}/$\gamma$ = {lam_gamma * float(gname):g}")
        ax.plot(lags, eta_value ** lags, color=color, ls="--", lw=1)
    ax.set(yscale="log", ylim=(1e-25, 1e12), xlabel="lag k = T - t",
           title=f"{activation} ($\\gamma$ = {'1' if activation == 'tanh' else '1/4'})")
    ax.legend(loc="lower left")
axes[0].set_ylabel(r"$\|\partial h_T / \partial h_{T-k}\|_2$")
plotting.finish(fig, r"Gradient norm against the lag (dashed: the bound $\eta^k$)")

# %% [markdown]
# What the plot shows:
#
# * **Below** ($\lambda_h = 0.5/\gamma$, $\eta = 0.5$): the norm falls at least as fast as
#   $0.5^k$, for both activations. After 20 steps less than a millionth of the gradient is left: this
#   is the vanishing gradient the notes prove.
# * **At** $1/\gamma$ ($\eta = 1$): the bound is flat, but the norm still falls, because the slopes
#   $g'(a_t)$ are below $\gamma$ as soon as $a_t \ne 0$.
# * **Above** ($\lambda_h = 2/\gamma$): the norm *can* grow, and here it does, but far more slowly
#   than $\eta^k$. The bound says nothing about growth; the next experiment shows that growth is
#   not even guaranteed.

# %% [markdown]
# ## 6. Experiment 2 — $\lambda_h > 1/\gamma$ is necessary for explosion, not sufficient
#
# Two tanh networks share the same $W_{hh}$, with $\lambda_h = 3 > 1/\gamma = 1$ (3 times an
# orthogonal matrix). They differ only in the strength of their inputs: weak inputs
# ($W_{xh}$ of scale 0.1) leave the units in tanh's linear middle, strong inputs ($W_{xh}$ of scale
# 5) push them into saturation (饱和), where $\tanh'(a_t) \approx 0$.

# %% [markdown]
# **Predict, then run.** Both networks have $\eta = 3$, so over $T = 50$ steps the bound allows
# $\lVert\partial h_T/\partial h_0\rVert_2$ up to $3^{50} \approx 10^{24}$. For the weak and for the
# strong inputs, write down whether the printed norm will be above or below 1, a rough power of ten,
# and a reason.

# %%
T_ex = utils.choose(full=50, fast=15)
ex_rng = utils.seed_all(1)
W_shared = recurrent_matrix(32, 3.0, ex_rng, "orthogonal")
x_ex = ex_rng.standard_normal((T_ex, 16, 4))
fig, axes = plotting.subplots(2)
for name, scale, color in [("weak inputs (scale 0.1)", 0.1, "C3"), ("strong inputs (scale 5)", 5.0, "C0")]:
    W_xh_ex = scale * utils.seed_all(2).standard_normal((32, 4))
    args = (x_ex, np.zeros((16, 32)), W_xh_ex, W_shared, np.zeros(32))
    norms = jacobian_norms(*args)
    axes[0].plot(np.exp(np.log(norms).mean(axis=1)), color=color, lw=2, label=name)
    states = elman_forward_torch(*args)          # h_1..h_T by torch.nn.RNN; tanh'(a_t) = 1 - h_t^2
    axes[1].plot(np.arange(1, T_ex + 1), (1 - states ** 2).mean(axis=(1, 2)), color=color,
                 lw=2, label=name)
    print(f"{name}: eta = {eta(W_shared):.1f}, ||dh_T/dh_0|| = {norms[-1].mean():.2e}")
axes[0].plot(eta(W_shared) ** np.arange(T_ex + 1), color=plotting.COLORS["bound"], ls="--",
             label=r"bound $\eta^k = 3^k$")
axes[0].set(yscale="log", xlabel="lag k = T - t", ylabel=r"$\|\partial h_T/\partial h_{T-k}\|_2$",
            title=r"same $W_{hh}$, $\lambda_h$ = 3")
axes[1].set(xlabel="time step t", ylabel=r"mean slope $\tanh'(a_t)$", ylim=(0, 1.05),
            title="how saturated the units are")
for ax in axes:
    ax.legend()
plotting.finish(fig, "Explosion needs more than a large $\\lambda_h$")


# %% [markdown]
# Same $W_{hh}$, same $\lambda_h = 3$, opposite fates. With weak inputs the state grows out of the
# middle of tanh until the mean slope settles near 0.3. The slopes differ from unit to unit, and
# the product keeps stretching the directions whose units sit in the steep middle of tanh: the
# gradient explodes, though far more slowly than $3^k$. With strong inputs the units are saturated from the first
# step, the mean slope is about 0.1, the factor $\mathrm{diag}(g'(a_t))$ crushes every step, and
# the gradient vanishes although $\lambda_h > 1/\gamma$. The bound $\eta^k$ is only an upper limit: a large
# $\lambda_h$ allows explosion, the state of the units decides whether it happens. (For a general
# $W_{hh}$ there is a second reason, which is not at work here: $\lambda_h$ is the largest singular
# value, while how $W_{hh}^k$ grows is set by its eigenvalues, which for a non-symmetric matrix can be
# much smaller. This $W_{hh} = 3Q$ with $Q$ orthogonal has every singular value *and* every eigenvalue
# of modulus 3, so the two runs differ by the slopes alone.)

# %% [markdown]
# ## 7. Cliffs in the loss surface, and gradient clipping
#
# Where gradients explode, the loss changes enormously over a tiny change of the weights. The loss
# surface of an RNN therefore has **flat plateaus and steep cliffs** (the notes' "梯度平面要平坦要么陡峭"
# says this, garbled). On a plateau the gradient is nearly zero; on a cliff it is huge, and one
# gradient step $\theta \leftarrow \theta - \alpha\,\nabla E$ can throw the parameters far away, undoing
# all earlier progress.
#
# 梯度裁剪 **Gradient clipping by the global norm** (Pascanu et al., 2013) bounds the step. Put all
# gradients $g_1, \dots, g_m$ (one array per parameter) together and compute one norm,
#
# $$\lVert g \rVert = \sqrt{\textstyle\sum_{i=1}^{m} \sum_{\text{entries}} g_i^2},
# \qquad
# g_i \leftarrow g_i \cdot \frac{\text{max\_norm}}{\lVert g\rVert}
# \quad\text{if } \lVert g\rVert > \text{max\_norm} \text{ (else unchanged)}.$$
#
# Every gradient is scaled by the **same** factor, so the direction of the step is kept and only its
# length is capped. This is what `torch.nn.utils.clip_grad_norm_` does.
#
# ### Exercise 4 — `clip_by_global_norm` (3 points)
#
# Return `(clipped, total_norm)`: a **new** list of arrays (same shapes as the inputs; the inputs
# must not change, so no `*=` on them) and the global norm before clipping, as a float.

# %% nbgrader={"grade": false, "grade_id": "clip_by_global_norm", "locked": false, "schema_version": 3, "solution": true}
def clip_by_global_norm(grads, max_norm):
    """Rescale a list of gradients so that their global norm is at most max_norm.

    Inputs:
    - grads: list of arrays of any shapes (the gradients of all parameters); not modified
    - max_norm: positive float

    Returns a tuple (clipped, total_norm):
    - clipped: a new list of arrays with the shapes of grads; every array is multiplied by
      max_norm / total_norm if total_norm > max_norm, else left as it is
    - total_norm: sqrt of the sum of the squares of all entries of all arrays, before clipping
    """
    ### BEGIN SOLUTION
    total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    clipped = [g * scale for g in grads]              # new arrays: the inputs stay untouched
    return clipped, total_norm
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_clip_by_global_norm_by_hand", "locked": true, "points": 1, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.gradients import flatten

_fx = fixtures.load("04_vanishing_exploding")   # what common mistakes return on the inputs below

# By hand: gradients 3 and 4 (of two parameters) have the global norm sqrt(9 + 16) = 5.
_grads = [np.array([3.0]), np.array([[4.0]])]
_clipped, _norm = clip_by_global_norm(_grads, 1.0)
_cm, _nm = _fx["clip_hand_1"].mistakes("clipped"), _fx["clip_hand_1"].mistakes("total_norm")
utils.check_close("total_norm of [3], [[4]]", _norm, 5.0, atol=1e-12, rtol=0,  # exact in float64
                  mistakes=_nm)
utils.check_equal("number of clipped arrays", len(_clipped), 2)
utils.check_shape("clipped[1]", _clipped[1], (1, 1), hint="keep the shape of each gradient")
utils.check_close("clip_by_global_norm([3], [[4]], max_norm=1): both scaled by 1/5",
                  flatten(_clipped), [0.6, 0.8], atol=1e-12,
                  rtol=1e-6,  # allows PyTorch's max_norm / (total_norm + 1e-6)
                  mistakes=_cm)
utils.check_close("the input gradients after the call (do not modify them in place)",
                  flatten(_grads), [3.0, 4.0], atol=0, rtol=0)

# Below the threshold nothing changes.
_clipped, _norm = clip_by_global_norm(_grads, 10.0)
_cm, _nm = _fx["clip_hand_10"].mistakes("clipped"), _fx["clip_hand_10"].mistakes("total_norm")
utils.check_close("clip_by_global_norm([3], [[4]], max_norm=10): norm 5 < 10, no clipping",
                  flatten(_clipped), [3.0, 4.0], atol=1e-12, rtol=0, mistakes=_cm)
utils.check_close("total_norm with max_norm=10", _norm, 5.0, atol=1e-12, rtol=0, mistakes=_nm)
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
_a, _b = _rng.uniform(1, 3), _rng.uniform(1, 3)
_grads = [np.array([[_a]]), np.array([_b, 0.0])]
_n = np.hypot(_a, _b)
_clipped, _norm = clip_by_global_norm(_grads, 0.5)
_cm, _nm = _ref.clip_mistakes(_grads, 0.5)
utils.check_close("total_norm by hand", _norm, _n, atol=1e-12, rtol=1e-12, mistakes=_nm)
utils.check_close("clipped by hand", flatten(_clipped), [0.5 * _a / _n, 0.5 * _b / _n, 0.0],
                  atol=1e-12, rtol=1e-6,  # allows dividing by total_norm + 1e-6, as PyTorch does
                  mistakes=_cm)
utils.check_close("the inputs after the call (do not modify them in place)", flatten(_grads),
                  [_a, _b, 0.0], atol=0, rtol=0)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_clip_by_global_norm_against_torch", "locked": true, "points": 2, "schema_version": 3, "solution": false}
from utils import fixtures
from utils.gradients import flatten

# Random gradients of three parameters, shapes (4, 3), (4,) and (2, 2, 2), against
# torch.nn.utils.clip_grad_norm_. The gradients, torch's results and what common mistakes return ship
# as data.
_fx = fixtures.load("04_vanishing_exploding")
_grads = [_fx["clip_random_1"].inputs[f"g{_i}"] for _i in range(3)]
_saved = [g.copy() for g in _grads]
for _max_norm, _case in [(1.0, _fx["clip_random_1"]), (100.0, _fx["clip_random_100"])]:
    _clipped, _norm = clip_by_global_norm(_grads, _max_norm)
    _nm = _case.mistakes("total_norm")
    _cm = _case.mistakes("clipped")
    utils.check_close(f"total_norm (max_norm={_max_norm})", _norm, _case.expected["total_norm"],
                      atol=1e-12, rtol=1e-10, mistakes=_nm)  # float64 sums in another order
    utils.check_close(f"clipped gradients (max_norm={_max_norm}) against torch", flatten(_clipped),
                      _case.expected["clipped"], atol=1e-12,
                      rtol=1e-5,  # torch divides by total_norm + 1e-6: a relative 1e-6 difference
                      mistakes=_cm)
    for _i, (_c, _g) in enumerate(zip(_clipped, _grads)):
        utils.check_shape(f"clipped[{_i}]", _c, _g.shape)
utils.check_close("the inputs after the calls (do not modify them in place)", flatten(_grads),
                  flatten(_saved), atol=0, rtol=0)
### BEGIN HIDDEN TESTS
from autograder.references import gradients as _ref

_rng = utils.seed_all(None)
for _shapes in [[(1,)], [(5, 3), (3,)], [(2, 3, 4), (1, 1), (7,), (3, 3)]]:
    _grads = [_rng.standard_normal(s) * _rng.uniform(0.1, 10) for s in _shapes]
    _total = np.sqrt(sum(np.sum(g ** 2) for g in _grads))
    _grads = [g * (_rng.uniform(0.5, 20.0) / _total) for g in _grads]  # norm >= 0.5: torch's +1e-6
    _total = np.sqrt(sum(np.sum(g ** 2) for g in _grads))               # is then a relative <= 2e-6
    _saved = [g.copy() for g in _grads]
    for _max_norm in [_rng.uniform(0.1, 0.8) * _total, _rng.uniform(1.5, 10.0) * _total]:
        _clipped, _norm = clip_by_global_norm(_grads, _max_norm)
        utils.check_type(f"clipped for shapes {_shapes}", _clipped, list, items=np.ndarray,
                         hint="the docstring promises a new list of arrays, one per gradient")
        utils.check_type(f"total_norm for shapes {_shapes}", _norm, float,
                         hint="return the norm as a number: float(...)")
        _want, _want_norm = _ref.reference_clip_by_global_norm(_grads, _max_norm)
        _cm, _nm = _ref.clip_mistakes(_grads, _max_norm)
        utils.check_close(f"total_norm for shapes {_shapes}", _norm, _want_norm,
                          atol=1e-12, rtol=1e-10, mistakes=_nm)
        utils.check_close(f"clipped gradients for shapes {_shapes}, max_norm={_max_norm:.3g}",
                          flatten(_clipped), flatten(_want), atol=1e-12, rtol=1e-5, mistakes=_cm)
    utils.check_close(f"the inputs after the calls, shapes {_shapes} (no in-place changes)",
                      flatten(_grads), flatten(_saved), atol=0, rtol=0)
# float32 gradients
_grads = [_rng.standard_normal((3, 3)).astype(np.float32), _rng.standard_normal(3).astype(np.float32)]
_clipped, _norm = clip_by_global_norm(_grads, 0.5)
_want, _want_norm = _ref.reference_clip_by_global_norm(_grads, 0.5)
utils.check_close("total_norm of float32 gradients", _norm, _want_norm, atol=1e-6, rtol=1e-5)
utils.check_close("clipped float32 gradients", flatten(_clipped), flatten(_want),
                  atol=1e-6, rtol=1e-5)  # float32: ~7 significant digits
# all-zero gradients: norm 0, nothing to clip, no NaN
with np.errstate(all="ignore"):
    _clipped, _norm = clip_by_global_norm([np.zeros(3), np.zeros((2, 2))], 1.0)
utils.check_close("total_norm of zero gradients", _norm, 0.0, atol=1e-12, rtol=0)
utils.check_close("clipped zero gradients", flatten(_clipped), np.zeros(7), atol=1e-12, rtol=0)
utils.check_no_library("clip_by_global_norm", clip_by_global_norm,
                       ["torch", "utils", "clip_grad_norm_", "reference_clip_by_global_norm"])
_ = utils.checks.check_no_library_calls("clip_by_global_norm", clip_by_global_norm, [np.ones(3), np.full((2, 2), 2.0)], 0.5,
                                       forbidden=("torch", "autograder", "utils"))
### END HIDDEN TESTS

# %% [markdown]
# ### Experiment 3 — a cliff and what clipping does on it
#
# The smallest RNN with a cliff has one unit and no input: $h_t = \tanh(w\,h_{t-1} + b)$ from
# $h_0 = 0.5$, with the loss $E = (h_{20} + 0.7)^2$ (the target is $h_{20} = -0.7$), over the two
# parameters $(w, b)$. On the line $b = \operatorname{artanh}(0.5) - w/2$, the start $h_0 = 0.5$ is
# a fixed point: $\tanh(0.5\,w + b) = 0.5$, and the state never moves. For $w > 4/3$ this fixed
# point is unstable: each step multiplies a small deviation by $w\,\tanh'(a) = 0.75\,w > 1$. Just
# above the line $h_{20}$ runs off towards $+1$, just below it towards $-1$, so the loss jumps from
# one plateau to the other over a tiny change of $b$: a cliff, whose gradient grows like
# $(0.75\,w)^{20}$. (For $w < 4/3$ the surface is smooth.) The loss and its gradient are computed
# below with a scalar BPTT, checked against `torch.autograd`.

# %%
def one_unit_loss(w, b, T=20, h0=0.5, target=-0.7):
    '''Loss (h_T - target)^2 of the one-unit RNN h_t = tanh(w h_{t-1} + b), and its gradient.

    w, b: floats or arrays of one shape (a grid). Returns (loss, dE/dw, dE/db), each of that shape.
    '''
    w, b = np.broadcast_arrays(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
    hs = [np.full(w.shape, h0)]
    for _ in range(T):                                 # forward
        hs.append(np.tanh(w * hs[-1] + b))
    loss = (hs[-1] - target) ** 2
    dh = 2.0 * (hs[-1] - target)                       # dE/dh_T
    dw, db = np.zeros(w.shape), np.zeros(w.shape)
    for t in range(T, 0, -1):                          # backward through time
        da = dh * (1.0 - hs[t] ** 2)                   # through tanh
        dw, db = dw + da * hs[t - 1], db + da          # w and b are shared by every step
        dh = da * w                                    # to h_{t-1}: one factor w tanh'(a_t)
    return loss, dw, db


# check the scalar BPTT against autograd at one point
w_t = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
b_t = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
h_t = torch.tensor(0.5, dtype=torch.float64)
for _ in range(20):
    h_t = torch.tanh(w_t * h_t + b_t)
((h_t + 0.7) ** 2).backward()
_, dw_check, db_check = one_unit_loss(1.7, -0.3)
assert np.allclose([dw_check, db_check], [w_t.grad.item(), b_t.grad.item()], rtol=1e-10)
print("dE/dw, dE/db by BPTT:", float(dw_check), float(db_check), "| autograd:", w_t.grad.item(), b_t.grad.item())


# %% [markdown]
# **Predict, then run.** Both runs start at $(w, b) = (2, -0.2)$ with learning rate 0.3, one plain,
# one clipped at max_norm = 1. First compute the loss of the two plateaus, $E = (h_{20} + 0.7)^2$ for
# $h_{20} \to +1$ and for $h_{20} \to -1$; then write down, for each run, whether it ends near the
# target ($E \approx 0$) or on a plateau, and on which one.

# %%
def descend(w, b, steps, lr=0.3, max_norm=None):
    '''Gradient descent on one_unit_loss from (w, b); clips by the global norm when max_norm is set.
    Returns the path (steps + 1, 2), the losses (steps,) and the gradient norms (steps,).'''
    path, losses, grad_norms = [(w, b)], [], []
    for _ in range(steps):
        loss, dw, db = one_unit_loss(w, b)
        grads = [dw, db]
        if max_norm is not None:
            grads, norm = clip_by_global_norm(grads, max_norm)
        else:
            norm = float(np.hypot(dw, db))
        w, b = w - lr * float(grads[0]), b - lr * float(grads[1])
        path.append((w, b))
        losses.append(float(loss))
        grad_norms.append(norm)
    return np.array(path), np.array(losses), np.array(grad_norms)


start = (2.0, -0.2)
n_steps = 60
plain = descend(*start, n_steps)
clipped_run = descend(*start, n_steps, max_norm=1.0)

n_grid = utils.choose(full=300, fast=60)
W_grid, B_grid = np.meshgrid(np.linspace(0.0, 4.0, n_grid), np.linspace(-2.0, 1.5, n_grid))
loss_grid, _, _ = one_unit_loss(W_grid, B_grid)

fig, axes = plotting.subplots(3, width=13.5, height=3.8)
ax = axes[0]
b_slice = np.linspace(-1.5, 0.5, 2001)
ax.plot(b_slice, one_unit_loss(2.0, b_slice)[0], color=plotting.COLORS["rnn"])
ax.set(xlabel="b", ylabel="loss E", title="a slice at w = 2: plateaus and a cliff")

ax = axes[1]
contour = ax.contourf(W_grid, B_grid, loss_grid, levels=20, cmap="viridis")
fig.colorbar(contour, ax=ax, label="loss E")
for (path, _, _), name, color in [(plain, "no clipping", "white"),
                                  (clipped_run, "clipped, max_norm = 1", plotting.COLORS["student"])]:
    ax.plot(*path.T, ".-", color=color, ms=3, lw=1.5, label=name)
w_line = np.linspace(4 / 3, 4.0, 50)
ax.plot(w_line, np.arctanh(0.5) - w_line / 2, color="k", ls=":", lw=1,
        label=r"$b = \mathrm{artanh}(0.5) - w/2$")
ax.plot(*start, "k*", ms=10)
jump = np.argmax(np.hypot(*np.diff(plain[0], axis=0).T))   # the step taken on the cliff face
ax.text(0.1, -1.9, f"no clipping: thrown to\n(w, b) = ({plain[0][jump + 1, 0]:.1f}, {plain[0][jump + 1, 1]:.1f})",
        color="white", fontsize=8)
ax.set(xlim=(0, 4), ylim=(-2, 1.5), xlabel="w", ylabel="b", title="gradient descent paths")
ax.legend(loc="upper right", fontsize=8)

ax = axes[2]
ax.plot(np.maximum(plain[1], 1e-8), color=plotting.COLORS["rnn"], label="no clipping")
ax.plot(np.maximum(clipped_run[1], 1e-8), color=plotting.COLORS["student"], label="clipped, max_norm = 1")
ax.set(yscale="log", ylim=(5e-9, 10), xlabel="step", ylabel="loss E (floored at 1e-8)",
       title="loss during descent")
ax.legend()
plotting.finish(fig, "One recurrent unit: a cliff in the loss surface")
print(f"gradient norm on the valley floor (step 2): {plain[2][2]:.2g}; "
      f"on the cliff face (step {jump}): {plain[2][jump]:.3g}")
print(f"final loss: no clipping {plain[1][-1]:.3f} at (w, b) = ({plain[0][-1, 0]:.1f}, {plain[0][-1, 1]:.1f}); "
      f"clipped {clipped_run[1][-1]:.2e} at ({clipped_run[0][-1, 0]:.2f}, {clipped_run[0][-1, 1]:.2f})")

# %% [markdown]
# Both runs start at the star on the high plateau ($E \approx 2.7$), step down the cliff at once
# and walk along the valley floor below it (learning rate $\alpha = 0.3$). A few steps later both
# land on the cliff face, where the gradient is about a thousand times larger than on the valley
# floor. Without clipping the step $\alpha\nabla E$ is as large: the parameters are thrown far
# outside the picture, onto a plateau where $\tanh$ is saturated, the gradient is zero to machine
# precision, and the loss stays at $(-1 + 0.7)^2 = 0.09$ for good. With clipping the same step is
# at most $\alpha\cdot\text{max\_norm} = 0.3$ long and points the same way: the run stays in the
# valley, meets the cliff once more (the second spike, clipped again) and reaches the target.

# %% [markdown]
# ## 8. Experiment 4 — a long-range dependency
#
# Vanishing gradients are a practical problem: a network cannot learn to use what it saw many steps
# ago. The **first-symbol task** (`utils.tasks.first_symbol_task`) makes that the whole job: a
# sequence of T random symbols (one-hot, 4 symbols) is labelled by its **first** symbol, and the T−1
# later symbols are distractors. Chance accuracy is 1/4. A read-out on $h_T$ must recover $x_1$, and
# the only learning signal about $x_1$ is the gradient through $\partial h_T/\partial h_1$.
#
# We train a vanilla tanh RNN (`torch.nn.RNN`, H = 32, Adam, clipping at norm 1 as in section 7)
# for a few hundred steps, on fresh batches, for growing T, with three initialisations of $W_{hh}$:
#
# * **default**: PyTorch's uniform $U(-1/\sqrt H, 1/\sqrt H)$ entries;
# * **orthogonal** (正交初始化): $W_{hh}$ a random orthogonal matrix, all singular values 1, so the
#   linear part of every step preserves norms (Saxe et al., 2014);
# * **identity + ReLU** (IRNN, Le, Jaitly & Hinton, 2015): $W_{hh} = I$, zero biases and ReLU, so that
#   at the start the state is copied forward unchanged.

# %%
N_SYMBOLS, HIDDEN = 4, 32


def make_rnn(init):
    '''A torch.nn.RNN core with the initialisation `init` of W_hh.'''
    core = torch.nn.RNN(N_SYMBOLS, HIDDEN, nonlinearity="relu" if init == "identity + ReLU" else "tanh")
    with torch.no_grad():
        if init == "orthogonal":
            torch.nn.init.orthogonal_(core.weight_hh_l0)
        elif init == "identity + ReLU":
            core.weight_hh_l0.copy_(torch.eye(HIDDEN))
            core.bias_hh_l0.zero_()
            core.bias_ih_l0.zero_()
    return core


def first_symbol_accuracy(T, init, steps, seed=0):
    '''Train on the first-symbol task of length T and return the accuracy on 1000 new sequences.'''
    task_rng = utils.seed_all(seed)
    model = tasks.SequenceClassifier(make_rnn(init), N_SYMBOLS).to(utils.device())
    tasks.train_classifier(model, lambda: tasks.first_symbol_task(T, 64, N_SYMBOLS, task_rng),
                           steps=steps, lr=3e-3, max_norm=1.0)
    x_test, y_test = tasks.first_symbol_task(T, 1000, N_SYMBOLS, task_rng)
    return tasks.accuracy(model, x_test, y_test)


# What the initialisations look like through the lens of this notebook (tanh cores, T = 40):
probe = tasks.first_symbol_task(40, 16, N_SYMBOLS, utils.seed_all(3))[0]
for init in ["default", "orthogonal"]:
    utils.seed_all(0)
    core = make_rnn(init)
    W_ih, W_hh_t = core.weight_ih_l0.detach().double().numpy(), core.weight_hh_l0.detach().double().numpy()
    b_t = (core.bias_ih_l0 + core.bias_hh_l0).detach().double().numpy()
    norms = jacobian_norms(probe, np.zeros((16, HIDDEN)), W_ih, W_hh_t, b_t)
    singular = np.linalg.svd(W_hh_t, compute_uv=False)
    print(f"{init:>10}: eta = {eta(W_hh_t):.2f}, singular values of W_hh from {singular.min():.2f} to "
          f"{singular.max():.2f} (median {np.median(singular):.2f}), at init ||dh_T/dh_1|| = "
          f"{np.exp(np.log(norms[-2]).mean()):.1e}")

# %% [markdown]
# **Predict, then run.** As T grows from 10 to 100, which initialisation will be the first whose mean
# test accuracy falls to chance (0.25), and at about which T? Write down an initialisation and a
# length, with the probe above ($\lVert\partial h_T/\partial h_1\rVert$ at T = 40) as your reason.

# %%
lengths = utils.choose(full=[10, 20, 30, 40, 60, 100], fast=[5, 20])
train_steps = utils.choose(full=300, fast=20)
seeds = utils.choose(full=[0, 1, 2, 3, 4], fast=[0])
inits = ["default", "orthogonal", "identity + ReLU"]
accuracy = {init: np.array([[first_symbol_accuracy(T, init, train_steps, seed) for seed in seeds]
                            for T in lengths]) for init in inits}    # (lengths, seeds)

fig, ax = plotting.subplots(width=6.5)
for init, color, marker in zip(inits, [plotting.COLORS["rnn"], plotting.COLORS["student"],
                                       plotting.COLORS["gru"]], "os^"):
    ax.plot(lengths, accuracy[init].mean(axis=1), marker=marker, color=color, label=init)
    ax.fill_between(lengths, accuracy[init].min(axis=1), accuracy[init].max(axis=1), color=color,
                    alpha=0.12)                                      # the range over the seeds
    for column in accuracy[init].T:                                  # each seed, faint
        ax.scatter(lengths, column, marker=marker, color=color, alpha=0.3, s=14)
ax.axhline(1 / N_SYMBOLS, color=plotting.COLORS["reference"], ls="--", label="chance (1/4)")
ax.set(xlabel="sequence length T", ylabel="test accuracy", ylim=(0, 1.05))
ax.legend(title="vanilla RNN, init of $W_{hh}$", loc="center left", bbox_to_anchor=(1.0, 0.5))
plotting.finish(fig, f"First-symbol task after {train_steps} steps (line: mean of {len(seeds)} seeds, "
                    "band: their range)")
print("test accuracy, mean (lowest-highest seed):")
for init in inits:
    print(f"{init:>16}:", "  ".join(f"T={T}: {a.mean():.2f} ({a.min():.2f}-{a.max():.2f})"
                                    for T, a in zip(lengths, accuracy[init])))

# %% [markdown]
# With the default initialisation the RNN learns the task at T = 10 with every seed; at T = 20 the
# seeds range from chance to perfect (0.22 to 1.00), and from T = 30 on every seed is at chance. The
# probe above says why, and it is the live example of section 6's "necessary, not sufficient": the
# default $W_{hh}$ has $\eta = 1.12$, **above** $1/\gamma = 1$, and its gradient still vanishes
# ($\lVert\partial h_T/\partial h_1\rVert \approx 10^{-10}$ at T = 40). $\eta$ only bounds the product
# from above, through the largest singular value; this matrix's singular values run from 0 to 1.12
# with a median of 0.52, so most directions are shrunk at every step, and the slopes $g'(a_t) < 1$
# shrink them further. Clipping was on in every run (max_norm = 1) and could not help: it only ever
# shrinks a gradient.
#
# The orthogonal initialisation has a *smaller* $\eta$, 1.00, but every singular value is 1: $W_{hh}$
# shrinks no direction, only the slopes do, and the product decays far more slowly (about $10^{-2}$ in
# the probe). It learns the task with every seed up to T = 20; at T = 30 and 40 the mean is about 0.9
# but the worst seed stays near 0.57, and at T = 60 and 100 the seeds range from chance to almost
# perfect. The identity + ReLU initialisation learns it with every seed up to T = 40, with a mean of
# 0.85 at T = 60 (worst seed 0.50), and with no seed at T = 100. So over these 5 seeds the better
# initialisations push the limit out, not away, and not reliably: the band of the plot is widest at
# the longest lengths. Training moves $W_{hh}$ away from its initial value, and the slopes $g'(a_t)$
# still shrink the product. The lasting cure changes the architecture: the gated cells of the next
# notebooks (LSTM, GRU) add a path through time along which the gradient is not multiplied by
# $\mathrm{diag}(g')W_{hh}$ at every step.

# %% [markdown]
# ## 9. Written question (2 points)
#
# Using the plots of this notebook (experiments 1 to 4), explain why gradient clipping cures
# exploding gradients but not vanishing gradients. Refer to what clipping does to the gradient
# vector, and to what is lost when the gradient vanishes. (About 5 to 8 sentences.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_clipping", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# **Model answer.** Clipping rescales the whole gradient by min(1, max_norm/‖g‖): it keeps the direction and caps
# the length of the step. When gradients explode (experiment 2, weak inputs; the cliff of experiment
# 3), the direction is still useful, only the step is far too long: on the cliff face the gradient
# was about a thousand times larger than on the valley floor and the unclipped step threw the parameters onto
# a flat plateau where they stayed (loss 0.09), while the clipped step of length at most
# α·max_norm went down the cliff and reached the target. So capping the length is exactly the cure.
#
# Vanishing is the opposite problem and clipping cannot touch it: the factor min(1, ...) is never
# larger than 1, so a small gradient is left as it is. Worse, what vanishes is not the size of the
# whole gradient but the share of it that comes from distant time steps: the term through
# ∂h_T/∂h_t is multiplied by up to η^(T−t) (experiment 1: 10^-10 and smaller after a few dozen
# steps), so the sum is dominated by the recent steps. Even a rescaling upwards would only
# enlarge a direction that carries no information about step 1. Experiment 4 shows it: clipping was
# on in every run, yet the default RNN fell to chance for long sequences; only changing the
# Jacobians themselves (orthogonal/identity initialisation, and later gated cells) helps.
#
# **Rubric** (2 points; accept any correct equivalent).
#
# - 1 point: clipping rescales the gradient vector, keeping its direction and capping its length, and
#   an exploding gradient has a useful direction but far too large a length (the cliff of experiment
#   3, or experiment 2). Half a point without reference to a plot.
# - 1 point: clipping never enlarges a gradient (its factor is at most 1), and a vanishing gradient has
#   lost the contributions of distant steps (the factor up to $\eta^{T-t}$ of experiment 1), which no
#   rescaling can bring back (experiment 4: clipping on, long sequences still at chance). Half a point
#   for "clipping only makes gradients smaller" without saying what is lost.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * The gradient from step $T$ reaches step $t$ through $\partial h_T/\partial h_t =
#   \prod_{j=t+1}^{T} \mathrm{diag}(g'(a_j))\,W_{hh}$, a product over **time steps**, later steps on
#   the left.
# * Its spectral norm is at most $\eta^{T-t}$ with $\eta = \gamma\lambda_h$, $\gamma$ = 1 (tanh) or
#   1/4 (sigmoid), $\lambda_h$ the largest singular value of $W_{hh}$. If $\lambda_h < 1/\gamma$ the
#   gradient vanishes geometrically (梯度消失).
# * $\lambda_h > 1/\gamma$ is necessary for explosion (梯度爆炸) but not sufficient: saturated units
#   ($g' \approx 0$) make the gradient vanish even then, and so do the other singular values (PyTorch's
#   default $W_{hh}$ has $\eta = 1.12$ and a gradient that vanishes to $10^{-10}$ over 40 steps).
# * Explosion shows up as cliffs between flat plateaus in the loss surface; clipping by the global
#   norm (梯度裁剪) caps the step and keeps its direction, which cures the cliffs.
# * Clipping cannot restore a vanished gradient: a vanilla RNN fails on long-range dependencies as T
#   grows. Orthogonal or identity initialisation delays the failure, but over 5 seeds not reliably;
#   gated cells (notebooks 05-07, reusing `utils.tasks`) address its cause.
#
# **References.** Pascanu, Mikolov & Bengio, *On the difficulty of training recurrent neural
# networks*, ICML 2013. Bengio, Simard & Frasconi, *Learning long-term dependencies with gradient
# descent is difficult*, IEEE TNN 1994. Le, Jaitly & Hinton, *A simple way to initialize recurrent
# networks of rectified linear units*, 2015. Saxe, McClelland & Ganguli, *Exact solutions to the
# nonlinear dynamics of learning in deep linear neural networks*, ICLR 2014.
