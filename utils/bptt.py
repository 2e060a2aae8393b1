"""Notebook 03 (基于时间的反向传播): the forward pass by PyTorch, and what the BPTT tests need.

Nothing here solves an exercise of the course. Notebook 03 needs the forward pass of notebook 02 and
its step caches; a later notebook cannot import a student's own code, and a NumPy forward pass here
would hand out the answers of notebook 02. So :func:`step_forward_torch` and :func:`forward_torch`
are bridges to PyTorch: ``torch.nn.RNNCell`` / ``torch.nn.RNN`` with the weights copied in, taking and
returning NumPy arrays, with the caches that notebook 02 prescribes::

    cache of one step = (x_t, h_prev, h_t, W_xh, W_hh)      cache of a sequence = [step caches]

The rest: references by ``torch.autograd`` (:func:`torch_rnn_gradients`,
:func:`torch_softmax_cross_entropy`), numerical gradients that take the function to differentiate as
an argument, :func:`check_grads` (a tuple of gradients compared one by one), :func:`fixture_mistakes`
(the mistakes' outputs that ``utils/fixtures/03_bptt.npz`` ships as data) and the character model's
initialisation and sampling (by PyTorch). Shapes are time-major, as everywhere in the course::

    x (T, N, D)   h0 (N, H)   h (T, N, H)   W_xh (H, D)   W_hh (H, H)   b_h (H,)   W_hy (V, H)   b_y (V,)
"""

import numpy as np
import torch

from .torch_ref import elman_rnn_module, to_numpy, to_torch

#: Names of the outputs of the step and sequence backward passes, in order.
BACKWARD_OUTPUTS = ("dx", "dh_prev", "dW_xh", "dW_hh", "db_h")
#: Names of the outputs of softmax_cross_entropy.
CROSS_ENTROPY_OUTPUTS = ("loss", "dlogits")
#: Names of the output layer's backward outputs, in order.
OUTPUT_LAYER_OUTPUTS = ("dh", "dW_hy", "db_y")
#: Names of the two outputs of the Adagrad fixture: every parameter and every sum, raveled in sorted order.
ADAGRAD_OUTPUTS = ("params", "memory")
#: The keys of the gradients dict of the character model (notebook 03, model_loss_and_gradients).
MODEL_GRADIENTS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y", "x", "h0")


# --------------------------------------------------------------------------------------------
# The forward pass of notebook 02, by PyTorch, with its caches
# --------------------------------------------------------------------------------------------
def forward_torch(x, h0, W_xh, W_hh, b_h):
    """All states of the Elman RNN by ``torch.nn.RNN``, and the step caches notebook 02 prescribes.

    x (T, N, D), h0 (N, H). Returns ``(h, cache)``: h (T, N, H), cache a list of T tuples
    (x_t, h_prev, h_t, W_xh, W_hh). Float32 inputs are computed in float32 (as NumPy would), anything
    else in float64.
    """
    x, h0 = np.asarray(x), np.asarray(h0)
    dtype = np.result_type(x, h0, W_xh, W_hh, b_h)
    tdtype = torch.float32 if dtype == np.float32 else torch.float64   # float32 in, float32 arithmetic
    with torch.no_grad():
        rnn = elman_rnn_module(W_xh, W_hh, b_h).to(tdtype)
        states, _ = rnn(to_torch(x).to(tdtype), to_torch(h0)[None].to(tdtype))
    h = states.numpy().astype(dtype, copy=False)
    W_xh, W_hh = np.asarray(W_xh), np.asarray(W_hh)
    cache = [(x[t], h0 if t == 0 else h[t - 1], h[t], W_xh, W_hh) for t in range(x.shape[0])]
    return h, cache


def step_forward_torch(x_t, h_prev, W_xh, W_hh, b_h):
    """One step by ``torch.nn.RNN`` (a sequence of length 1): ``(h_t, (x_t, h_prev, h_t, W_xh, W_hh))``."""
    h, cache = forward_torch(np.asarray(x_t)[None], h_prev, W_xh, W_hh, b_h)
    return h[0], cache[0]


# --------------------------------------------------------------------------------------------
# References by torch.autograd, and numerical gradients
# --------------------------------------------------------------------------------------------
def torch_rnn_gradients(x, h0, W_xh, W_hh, b_h, dh, k=None):
    """Gradients of sum_t <dh[t], h_t> computed by ``torch.autograd``, independently of the exercises.

    The forward pass runs in PyTorch (float64); with ``k`` given, the state is detached at every
    block start t = k, 2k, ... (truncated BPTT in blocks of k steps).
    Returns NumPy arrays (dx, dh0, dW_xh, dW_hh, db_h).
    """
    def leaf(a):
        return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)

    xs, h_t, Wx, Wh, b = (leaf(a) for a in (x, h0, W_xh, W_hh, b_h))
    first = h_t
    states = []
    for t in range(xs.shape[0]):
        if k is not None and t > 0 and t % k == 0:
            h_t = h_t.detach()
        h_t = torch.tanh(xs[t] @ Wx.T + h_t @ Wh.T + b)
        states.append(h_t)
    loss = (torch.stack(states) * torch.tensor(np.asarray(dh, dtype=np.float64))).sum()
    grads = torch.autograd.grad(loss, [xs, first, Wx, Wh, b], allow_unused=True)
    out = []
    for g, like in zip(grads, (xs, first, Wx, Wh, b), strict=True):
        out.append(np.zeros(tuple(like.shape)) if g is None else g.detach().numpy().copy())
    return tuple(out)


def torch_rnn_backward(x, h0, W_xh, W_hh, b_h, dh):
    """Gradients of sum(dh * h) from ``torch.nn.RNN`` (weights copied in) and ``torch.autograd``.

    Returns NumPy arrays (dx, dh0, dW_xh, dW_hh, db_h) in float64.
    """
    rnn = elman_rnn_module(W_xh, W_hh, b_h)
    xt, h0t = to_torch(x, requires_grad=True), to_torch(h0, requires_grad=True)
    states, _ = rnn(xt, h0t[None])
    (states * to_torch(dh)).sum().backward()
    return tuple(to_numpy(g) for g in (xt.grad, h0t.grad, rnn.weight_ih_l0.grad,
                                       rnn.weight_hh_l0.grad, rnn.bias_ih_l0.grad))


def torch_model_loss_and_gradients(p, x, h0, targets):
    """The character model's loss and gradients by ``torch.nn.RNN`` + ``torch.autograd``.

    p: dict with W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,); x (T, N, D); h0 (N, H);
    targets (T, N) ints. The loss is ``torch.nn.functional.cross_entropy`` of the logits
    ``h_t W_hy^T + b_y``, averaged over the T*N positions. Returns ``(loss, grads)``: a float and a
    dict of float64 arrays with a gradient for every key of ``p`` and for ``"x"`` and ``"h0"``.
    """
    rnn = elman_rnn_module(p["W_xh"], p["W_hh"], p["b_h"])
    W_hy, b_y = to_torch(p["W_hy"], requires_grad=True), to_torch(p["b_y"], requires_grad=True)
    xt, h0t = to_torch(x, requires_grad=True), to_torch(h0, requires_grad=True)
    states, _ = rnn(xt, h0t[None])
    logits = states @ W_hy.T + b_y
    y = torch.as_tensor(np.asarray(targets, dtype=np.int64)).reshape(-1)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y)
    loss.backward()
    grads = {"W_xh": rnn.weight_ih_l0.grad, "W_hh": rnn.weight_hh_l0.grad, "b_h": rnn.bias_ih_l0.grad,
             "W_hy": W_hy.grad, "b_y": b_y.grad, "x": xt.grad, "h0": h0t.grad}
    return float(loss.detach()), {name: to_numpy(g) for name, g in grads.items()}


def torch_adagrad(p, grad_steps, lr=0.1, clip=5.0):
    """Parameters and Adagrad sums after the updates of ``torch.optim.Adagrad``.

    p: dict of arrays (not changed); grad_steps: a list of dicts of gradients, one per update, each
    clipped entrywise to [-clip, clip] (``torch.clamp``) before the update. ``eps = 1e-10`` is
    added to the root, as in the notebook. Returns ``(params, sums)``, two dicts of float64 arrays.
    """
    params = {name: to_torch(v, requires_grad=True) for name, v in p.items()}
    opt = torch.optim.Adagrad(list(params.values()), lr=lr, eps=1e-10)
    for grads in grad_steps:
        for name, w in params.items():
            w.grad = torch.clamp(to_torch(grads[name]), -clip, clip)
        opt.step()
    sums = {name: to_numpy(opt.state[w]["sum"]) for name, w in params.items()}
    return {name: to_numpy(w.detach()) for name, w in params.items()}, sums


def numerical_grads(forward, inputs, upstream):
    """Numerical gradients of sum(forward(*inputs)[0] * upstream) with respect to each input.

    forward: a function returning (output, anything), e.g. :func:`forward_torch`; inputs: the list of
    its float64 arguments; upstream: the gradient on the output. Central differences
    (:func:`utils.numerical_gradient`). Returns a tuple of arrays shaped like ``inputs``.
    """
    from .gradcheck import numerical_gradient

    grads = []
    for i in range(len(inputs)):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return forward(*args)[0]
        grads.append(numerical_gradient(f, np.array(inputs[i], dtype=np.float64), upstream))
    return tuple(grads)


def truncated_objective(x, h0, W_xh, W_hh, b_h, dh, k, h_fixed, forward=forward_torch):
    """sum_t <dh[t], h_t> when every block of k steps starts from a constant state.

    Block b covers the steps s = b*k .. b*k + k - 1 and starts from h0 (first block) or from
    ``h_fixed[b*k - 1]``, a constant (the state of the full forward pass, not recomputed when the
    weights move). The gradient of this objective is what truncated BPTT in blocks of k computes.
    """
    total = 0.0
    for s in range(0, x.shape[0], k):
        start = h0 if s == 0 else h_fixed[s - 1]
        h_block, _ = forward(x[s:s + k], start, W_xh, W_hh, b_h)
        total += np.sum(h_block * dh[s:s + k])
    return total


def numerical_truncated_grads(x, h0, W_xh, W_hh, b_h, dh, k):
    """Numerical gradients of :func:`truncated_objective`: (dx, dh0, dW_xh, dW_hh, db_h)."""
    from .gradcheck import numerical_gradient

    inputs = [np.array(a, dtype=np.float64) for a in (x, h0, W_xh, W_hh, b_h)]
    h_fixed = forward_torch(*inputs)[0]
    grads = []
    for i in range(5):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return truncated_objective(*args, dh, k, h_fixed)
        grads.append(numerical_gradient(f, inputs[i].copy()))
    return tuple(grads)


def torch_softmax_cross_entropy(logits, targets):
    """Mean cross-entropy and its gradient by ``torch.nn.functional.cross_entropy`` + autograd."""
    z = torch.tensor(np.asarray(logits, dtype=np.float64), requires_grad=True)
    y = torch.as_tensor(np.asarray(targets, dtype=np.int64))
    loss = torch.nn.functional.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1))
    loss.backward()
    return float(loss.detach()), z.grad.numpy().copy()


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
def fixture_mistakes(case, names=BACKWARD_OUTPUTS):
    """``{description: tuple of outputs}`` of a fixture case's mistakes, for :func:`check_grads`.

    ``case``: one case of ``utils.fixtures.load("03_bptt")``, which stores each mistake's outputs
    under the names ``names`` (a scalar loss is a 0-d array); an output in which a mistake is right
    is not stored, and is taken from ``case.expected``.
    """
    per_output = [case.mistakes(n) if case.has_mistakes(n) else {} for n in names]
    descriptions = list(dict.fromkeys(d for out in per_output for d in out))
    return {d: tuple(out.get(d, case.expected[n]) for n, out in zip(names, per_output, strict=True))
            for d in descriptions}


def check_grads(name, got, expected, mistakes=None, names=BACKWARD_OUTPUTS, atol=1e-10,
                rtol=1e-7, hint=None):
    """Check the gradients a backward function returned, one by one, with ``check_close``.

    got: what the function returned (a tuple or list of arrays); expected: the reference tuple;
    mistakes: {description: tuple of the same length} (see :func:`fixture_mistakes`), so that a
    wrong gradient that matches a common mistake is named; names: the name of each gradient.
    """
    from .checks import CheckFailure, check_close

    if not isinstance(got, (tuple, list)) or len(got) != len(expected):
        count = len(got) if isinstance(got, (tuple, list)) else "not a tuple"
        raise CheckFailure(f"{name}: expected {len(expected)} values "
                           f"({', '.join(names[:len(expected)])}), got {count}.")
    for i, (n, g, e) in enumerate(zip(names, got, expected, strict=False)):
        variants = {d: v[i] for d, v in (mistakes or {}).items()}
        check_close(f"{name}: {n}", g, e, atol=atol, rtol=rtol, mistakes=variants, hint=hint)


def check_loss_and_grads(name, got, loss, grads, only=MODEL_GRADIENTS, atol=1e-10, rtol=1e-7, hint=None):
    """Check ``(loss, grads)`` as the character model returns it against the reference ``loss`` and
    ``grads`` (a dict): a pair, a number, a dict with every key of :data:`MODEL_GRADIENTS`, each
    gradient compared with ``check_close``. ``only``: the keys whose values are compared (default:
    all; ``()`` checks the loss and the form of the result only)."""
    from .checks import CheckFailure, check_close

    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailure(f"{name}: expected a pair (loss, grads), got "
                           f"{len(got) if isinstance(got, (tuple, list)) else type(got).__name__}.")
    got_loss, got_grads = got
    if isinstance(got_loss, dict):
        raise CheckFailure(f"{name}: the first value returned is a dict: "
                           "return (loss, grads), in that order.")
    if np.ndim(got_loss) != 0:
        raise CheckFailure(f"{name}: the loss must be one number, "
                           f"got an array of shape {np.shape(got_loss)}.")
    check_close(f"{name}: loss", float(got_loss), loss, atol=atol, rtol=rtol, hint=hint)
    if not isinstance(got_grads, dict):
        raise CheckFailure(f"{name}: grads must be a dict of arrays, got {type(got_grads).__name__}.")
    missing = [k for k in MODEL_GRADIENTS if k not in got_grads]
    if missing:
        raise CheckFailure(f"{name}: grads has no {', '.join(repr(k) for k in missing)}; it needs the keys "
                           f"{', '.join(MODEL_GRADIENTS)}.")
    for key in only:
        check_close(f"{name}: grads[{key!r}]", got_grads[key], grads[key], atol=atol, rtol=rtol, hint=hint)


# --------------------------------------------------------------------------------------------
# The character model of the experiment
# --------------------------------------------------------------------------------------------
PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def init_params(D, H, V, rng):
    """Random weights of an Elman RNN with an output layer, as a dict of float64 arrays.

    Weights are drawn from N(0, 1/fan_in) (so that a_t starts with unit-size entries whatever the
    sizes), W_hh from N(0, 1/H) scaled by 1/2 so that the network starts far from explosion;
    biases start at zero. rng: a NumPy Generator (from :func:`utils.seed_all`).
    """
    return {
        "W_xh": rng.standard_normal((H, D)) / np.sqrt(D),
        "W_hh": 0.5 * rng.standard_normal((H, H)) / np.sqrt(H),
        "b_h": np.zeros(H),
        "W_hy": rng.standard_normal((V, H)) / np.sqrt(H),
        "b_y": np.zeros(V),
    }


def sample(params, first, n, rng, temperature=1.0):
    """Generate ``n`` codes from a character model (by PyTorch), starting from the code ``first``.

    Each output is drawn from softmax(y_t / temperature) and fed back as the next input
    (temperature < 1 is more conservative, > 1 more random). Returns a list of ``n`` ints
    (``first`` not included).
    """
    V, H = params["W_hy"].shape
    cell = torch.nn.RNNCell(params["W_xh"].shape[1], H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(to_torch(params["W_xh"]))
        cell.weight_hh.copy_(to_torch(params["W_hh"]))
        cell.bias_ih.copy_(to_torch(params["b_h"]))
        cell.bias_hh.zero_()
        W_hy, b_y = to_torch(params["W_hy"]), to_torch(params["b_y"])
        h = torch.zeros((1, H), dtype=torch.float64)
        code, out = first, []
        for _ in range(n):
            h = cell(cell.weight_ih.new_zeros((1, V)).index_fill_(1, torch.tensor([code]), 1.0), h)
            p = torch.softmax((h @ W_hy.T + b_y) / temperature, dim=-1)[0].numpy()
            code = int(rng.choice(V, p=p / p.sum()))
            out.append(code)
    return out


# --------------------------------------------------------------------------------------------
# Diagram (the notes' figure was lost; drawn by code, in the style of utils.diagrams)
# --------------------------------------------------------------------------------------------
def draw_gradient_paths(T=6, k=None):
    """The backward pass of BPTT over ``T`` steps: each state h_t receives its gradient along two
    paths, directly from its own loss E_t (down from y_t) and from the next state h_{t+1} (leftwards,
    through W_hh^T diag(g')). With ``k``, truncated BPTT in blocks of k steps: the leftward path is
    cut at every block boundary (dotted). Returns the figure."""
    from . import diagrams

    dx = 1.9
    fig, ax = diagrams.canvas(dx * T + 1.6, 4.6, size=0.8)
    x0, y_h, y_loss = 1.2, 1.6, 3.55
    for t in range(1, T + 1):
        cx = x0 + dx * (t - 1)
        diagrams.box(ax, (cx, y_h), f"$h_{{{t}}}$", width=0.8, height=0.55, kind="layer")
        diagrams.box(ax, (cx, y_loss), f"$E_{{{t}}}$", width=0.7, height=0.45, kind="input")
        diagrams.arrow(ax, (cx, y_loss - 0.23), (cx, y_h + 0.28), color="#1f77b4",
                       text=rf"$\partial E_{{{t}}}/\partial h_{{{t}}}$" if t == T else None,
                       text_offset=(0.55, -0.1))
        if t < T:
            cut = k is not None and t % k == 0
            diagrams.arrow(ax, (cx + dx - 0.4, y_h), (cx + 0.4, y_h), color="#b03a2e",
                           linestyle=":" if cut else "-", width=1.0 if cut else 1.6)
            if cut:
                diagrams.label(ax, (cx + dx / 2 + 0.25, y_h - 0.45), "cut", fontsize=8, color="#b03a2e")
                ax.axvline(cx + dx / 2, ymin=0.2, ymax=0.92, color="#999999", linewidth=0.8, ls="--")
    diagrams.label(ax, (x0 + dx * (T - 1) / 2, 0.55),
                   "blue: the direct term of each step's own loss;  red: what flows back from the next "
                   "state, " + r"$(\partial h_{t+1}/\partial h_t)^\top\,\partial E/\partial h_{t+1}$",
                   fontsize=8)
    title = "Two paths into every state" + (f" — truncated in blocks of k = {k}: nothing crosses "
                                           "a block boundary" if k else " (full BPTT)")
    ax.set_title(title, fontsize=10)
    return fig
