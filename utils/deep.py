"""Notebook 07 (多层 RNN 与双向 RNN): PyTorch step bridges, diagrams and experiment helpers.

Nothing here solves an exercise of the course. What notebook 07 needs from earlier notebooks is a
*step function* for each cell kind; a later notebook cannot import a student's own code, and a NumPy
step here would hand out the answers of notebooks 02, 05 and 06. So the steps below are bridges to
PyTorch: each builds a ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell``, copies the weights in, and
takes and returns NumPy arrays.

Every step has the same interface, for the three kinds of cell:

    step(x_t, state, W_ih, W_hh, b_ih, b_hh) -> new_state

- ``x_t``: (N, D); ``state``: a tuple of (N, H) arrays whose first entry is always ``h``:
  ``(h,)`` for an Elman RNN or a GRU, ``(h, c)`` for an LSTM;
- the weights are in PyTorch's layout and names: ``W_ih`` (G·H, D), ``W_hh`` (G·H, H), ``b_ih`` and
  ``b_hh`` (G·H,), with G = 1 (RNN), 4 (LSTM, gate blocks i, f, g, o), 3 (GRU, blocks r, z, n).

The rest: :func:`random_params` (a parameter dict keyed as ``torch.nn.RNN(...).state_dict()``),
:func:`torch_module` and :func:`torch_forward` (the multi-layer PyTorch reference with copied weights),
the two diagrams, and the two experiments' models and loops (a tagger and a character model).
"""

import time

import numpy as np
import torch

from . import diagrams, tagging
from .data import POS_TAGS
from .torch_ref import to_numpy, to_torch

#: Cell kinds of the course and their number of gate blocks G (rows of W_ih = G·H).
KINDS = ("rnn", "lstm", "gru")
GATE_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}
_CELLS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
_MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
#: Number of arrays in a state: (h,) or (h, c).
STATE_SIZE = {"rnn": 1, "lstm": 2, "gru": 1}
#: The four parameter names of one layer and direction, in the order a step takes them.
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _bridge(kind, x_t, state, W_ih, W_hh, b_ih, b_hh):
    if not isinstance(state, tuple) or len(state) != STATE_SIZE[kind]:
        want = "(h, c)" if kind == "lstm" else "(h,)"
        raise TypeError(f"the state of a {kind.upper()} step is a tuple {want} of (N, H) arrays, "
                        f"got {type(state).__name__}"
                        + (f" of length {len(state)}" if isinstance(state, tuple) else ""))
    W_ih, W_hh = np.asarray(W_ih), np.asarray(W_hh)
    H, D = W_hh.shape[1], W_ih.shape[1]
    cell = _CELLS[kind](D, H, bias=True, dtype=torch.float64)
    with torch.no_grad():
        for name, value in zip(WEIGHT_NAMES, (W_ih, W_hh, b_ih, b_hh), strict=True):
            getattr(cell, name).copy_(to_torch(value))
        hx = tuple(to_torch(s) for s in state)
        new = cell(to_torch(x_t), hx if kind == "lstm" else hx[0])
    new = new if isinstance(new, tuple) else (new,)
    return tuple(to_numpy(s) for s in new)


def rnn_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    """One Elman step by ``torch.nn.RNNCell``: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    x_t (N, D); state ``(h,)`` with h (N, H); W_ih (H, D), W_hh (H, H), b_ih, b_hh (H,).
    Returns the new state ``(h_t,)`` (float64 NumPy).
    """
    return _bridge("rnn", x_t, state, W_ih, W_hh, b_ih, b_hh)


def lstm_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    """One LSTM step by ``torch.nn.LSTMCell`` (gate blocks i, f, g, o, as in notebook 05).

    x_t (N, D); state ``(h, c)``, each (N, H); W_ih (4H, D), W_hh (4H, H), b_ih, b_hh (4H,).
    Returns the new state ``(h_t, c_t)`` (float64 NumPy).
    """
    return _bridge("lstm", x_t, state, W_ih, W_hh, b_ih, b_hh)


def gru_step(x_t, state, W_ih, W_hh, b_ih, b_hh):
    """One GRU step by ``torch.nn.GRUCell`` (gate blocks r, z, n, as in notebook 06).

    x_t (N, D); state ``(h,)`` with h (N, H); W_ih (3H, D), W_hh (3H, H), b_ih, b_hh (3H,).
    Returns the new state ``(h_t,)`` (float64 NumPy).
    """
    return _bridge("gru", x_t, state, W_ih, W_hh, b_ih, b_hh)


#: The step bridge of each cell kind.
STEPS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


def param_names(num_layers, bidirectional):
    """The parameter names of ``torch.nn.RNN/LSTM/GRU(num_layers, bidirectional)``, in its order."""
    suffixes = ("", "_reverse") if bidirectional else ("",)
    return [f"{w}_l{layer}{s}" for layer in range(num_layers) for s in suffixes for w in WEIGHT_NAMES]


def random_params(kind, D, H, num_layers, bidirectional, rng, scale=None):
    """Random weights keyed as ``torch.nn.<KIND>(D, H, num_layers, bidirectional).state_dict()``.

    Entries are uniform in (-scale, scale), by default scale = 1/sqrt(H) as PyTorch's own
    initialisation; layer 0 reads D features, a layer above reads H (or 2H when bidirectional).
    Returns ``{name: float64 array}``.
    """
    scale = 1.0 / np.sqrt(H) if scale is None else scale
    G = GATE_BLOCKS[kind]
    params = {}
    for name in param_names(num_layers, bidirectional):
        layer = int(name.split("_l")[1].split("_")[0])
        width = D if layer == 0 else H * (2 if bidirectional else 1)
        shape = {"weight_ih": (G * H, width), "weight_hh": (G * H, H)}.get(name.rsplit("_l", 1)[0], (G * H,))
        params[name] = rng.uniform(-scale, scale, size=shape)
    return params


def torch_module(kind, params, num_layers, bidirectional):
    """A float64 ``torch.nn.RNN/LSTM/GRU`` (time-major) holding the NumPy ``params`` (by name)."""
    D = params["weight_ih_l0"].shape[1]
    H = params["weight_hh_l0"].shape[1]
    module = _MODULES[kind](D, H, num_layers=num_layers, bidirectional=bidirectional,
                            dtype=torch.float64)
    module.load_state_dict({k: to_torch(v) for k, v in params.items()})
    return module


def torch_forward(kind, x, hx, params, num_layers, bidirectional):
    """What ``torch.nn.<KIND>(num_layers, bidirectional)`` with ``params`` computes.

    x (T, N, D); hx: a tuple of (L·directions, N, H) arrays, ``(h0,)`` or ``(h0, c0)``.
    Returns ``(out, hn)``: out (T, N, directions·H) and hn a tuple like hx, NumPy float64.
    """
    module = torch_module(kind, params, num_layers, bidirectional)
    with torch.no_grad():
        h0 = tuple(to_torch(s) for s in hx)
        out, hn = module(to_torch(x), h0 if kind == "lstm" else h0[0])
    hn = hn if isinstance(hn, tuple) else (hn,)
    return to_numpy(out), tuple(to_numpy(s) for s in hn)


# ------------------------------------------------------------------------------------------------
# Diagrams
# ------------------------------------------------------------------------------------------------

def draw_stacked(num_layers=3, T=4):
    """An unrolled stacked (deep) RNN: a grid of layers × time, arrows up (layer l-1 at time t →
    layer l at time t) and right (layer l at t-1 → layer l at t). Returns the figure."""
    dx, dy = 2.0, 1.35
    width, height = dx * T + 2.2, dy * (num_layers + 2) + 0.4
    fig, ax = diagrams.canvas(width, height, size=0.78)
    x0, y_in = 2.0, 0.55

    def where(t, layer):           # t = 1..T, layer = 1..L
        return x0 + dx * (t - 1), y_in + dy * layer

    for t in range(1, T + 1):
        cx, _ = where(t, 1)
        diagrams.box(ax, (cx, y_in), f"$x_{{{t}}}$", width=0.8, height=0.45, kind="input")
        diagrams.arrow(ax, (cx, y_in + 0.23), (cx, where(t, 1)[1] - 0.28))
        for layer in range(1, num_layers + 1):
            c = where(t, layer)
            diagrams.box(ax, c, f"$h_{{{t}}}^{{({layer})}}$", width=1.0, height=0.55, kind="layer")
            if layer < num_layers:
                diagrams.arrow(ax, (c[0], c[1] + 0.28), (c[0], c[1] + dy - 0.28))
        top = where(t, num_layers)
        diagrams.box(ax, (top[0], top[1] + dy), f"$y_{{{t}}}$", width=0.8, height=0.45, kind="input")
        diagrams.arrow(ax, (top[0], top[1] + 0.28), (top[0], top[1] + dy - 0.23))
    for layer in range(1, num_layers + 1):
        cy = where(1, layer)[1]
        diagrams.label(ax, (0.45, cy), f"$h_0^{{({layer})}}$", fontsize=10)
        diagrams.arrow(ax, (0.8, cy), (x0 - 0.5, cy))
        for t in range(1, T):
            diagrams.arrow(ax, (where(t, layer)[0] + 0.5, cy), (where(t + 1, layer)[0] - 0.5, cy))
        diagrams.label(ax, (where(T, layer)[0] + 0.95, cy), "layer " + str(layer), fontsize=8,
                       color="#666666", ha="left")
    diagrams.label(ax, (0.45, y_in), "input\n$h^{(0)}_t = x_t$", fontsize=8, color="#666666")
    ax.set_title(f"A stacked RNN, {num_layers} layers unrolled over {T} steps: "
                 r"$h_t^{(l)} = f\,(h_t^{(l-1)},\ h_{t-1}^{(l)})$", fontsize=10)
    return fig


def draw_bidirectional(T=4):
    """An unrolled bidirectional layer: a forward row (→), a backward row (←) reading the same
    inputs, and the concatenation [h→_t ; h←_t] at every step. Returns the figure."""
    dx = 2.3
    width, height = dx * T + 2.4, 5.6
    fig, ax = diagrams.canvas(width, height, size=0.78)
    x0, y_in, y_f, y_b, y_cat = 2.2, 0.5, 1.75, 3.05, 4.45
    for t in range(1, T + 1):
        cx = x0 + dx * (t - 1)
        diagrams.box(ax, (cx, y_in), f"$x_{{{t}}}$", width=0.7, height=0.42, kind="input")
        diagrams.box(ax, (cx, y_f), rf"$\overrightarrow{{h}}_{{{t}}}$", width=0.9, height=0.55)
        diagrams.box(ax, (cx, y_b), rf"$\overleftarrow{{h}}_{{{t}}}$", width=0.9, height=0.55,
                     kind="#f5dcd6")
        diagrams.box(ax, (cx, y_cat), rf"$[\overrightarrow{{h}}_{{{t}}};\overleftarrow{{h}}_{{{t}}}]$",
                     width=1.3, height=0.5, kind="state", fontsize=9)
        diagrams.arrow(ax, (cx, y_in + 0.21), (cx, y_f - 0.28))                       # x_t -> forward
        diagrams.path(ax, [(cx - 0.35, y_in + 0.21), (cx - 0.75, y_in + 0.55),      # x_t -> backward,
                           (cx - 0.75, y_b - 0.1), (cx - 0.45, y_b - 0.1)],          # left of the box
                      color="#b03a2e")
        diagrams.path(ax, [(cx + 0.45, y_f + 0.1), (cx + 0.75, y_f + 0.1),          # forward -> concat,
                           (cx + 0.75, y_cat - 0.45), (cx + 0.35, y_cat - 0.25)])    # right of the box
        diagrams.arrow(ax, (cx, y_b + 0.28), (cx, y_cat - 0.25), color="#b03a2e")    # backward -> concat
        if t < T:
            diagrams.arrow(ax, (cx + 0.45, y_f - 0.12), (cx + dx - 0.45, y_f - 0.12))
            diagrams.arrow(ax, (cx + dx - 0.45, y_b + 0.12), (cx + 0.45, y_b + 0.12), color="#b03a2e")
    last = x0 + dx * (T - 1)
    diagrams.label(ax, (0.45, y_f - 0.12), r"$\overrightarrow{h}_0$")
    diagrams.arrow(ax, (0.75, y_f - 0.12), (x0 - 0.45, y_f - 0.12))
    diagrams.label(ax, (last + 1.95, y_b + 0.12), r"$\overleftarrow{h}_{T+1}$")
    diagrams.arrow(ax, (last + 1.6, y_b + 0.12), (last + 0.45, y_b + 0.12), color="#b03a2e")
    diagrams.label(ax, (0.5, y_b + 0.55), "backward\nRNN ←", fontsize=8, color="#b03a2e")
    diagrams.label(ax, (0.5, y_f + 0.55), "forward\nRNN →", fontsize=8, color="#333333")
    diagrams.label(ax, (0.5, y_cat), "output\n(2H)", fontsize=8, color="#333333")
    ax.set_title("One bidirectional layer: two RNNs side by side, states concatenated", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------
# Experiment 1: tagging (词性标注) with utils.tagging
# ------------------------------------------------------------------------------------------------

N_WORDS, N_TAGS = len(tagging.WORDS), len(POS_TAGS)


class LengthGroupTagger(torch.nn.Module):
    """Word ids (T, N) → tag logits (T, N, 9): an embedding, a recurrent core, a linear read-out.

    For batches of sentences of one length (:func:`by_length`): no padding, no packing. (Notebook
    08's graded tagger handles padded batches; this is only the experiment's model of notebook 07.)
    """

    def __init__(self, kind="rnn", num_layers=1, bidirectional=False, embed=16, hidden=32,
                 n_words=N_WORDS, n_tags=N_TAGS):
        super().__init__()
        self.embed = torch.nn.Embedding(n_words, embed)
        self.core = _MODULES[kind](embed, hidden, num_layers=num_layers, bidirectional=bidirectional)
        self.readout = torch.nn.Linear(hidden * (2 if bidirectional else 1), n_tags)

    def forward(self, words):
        states, _ = self.core(self.embed(words))
        return self.readout(states)


def n_parameters(model):
    """The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def by_length(corpus):
    """The sentences of ``corpus`` grouped by length, so that a batch needs no padding.

    Returns ``{T: (words (T, n) int64, tags (T, n) int64, kinds (T, n) str)}``, time-major; ``kinds``
    is :func:`utils.tagging.ambiguity` of each word ("", "left" or "right").
    """
    groups = {}
    for words, tags in corpus:
        groups.setdefault(len(words), []).append((tagging.word_ids(words), tagging.tag_ids(tags),
                                                  np.array(tagging.ambiguity(words, tags))))
    return {T: tuple(np.stack(column, axis=1) for column in zip(*items, strict=True))
            for T, items in sorted(groups.items())}


def train_tagger(model, groups, steps, rng, batch_size=32, lr=1e-2):
    """Adam on the per-word cross-entropy; each step takes ``batch_size`` sentences of one length
    (a length drawn in proportion to how many sentences have it). Returns the losses."""
    param = next(model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    lengths = list(groups)
    weight = np.array([groups[T][0].shape[1] for T in lengths], dtype=float)
    losses = []
    model.train()
    for _ in range(steps):
        words, tags, _ = groups[lengths[int(rng.choice(len(lengths), p=weight / weight.sum()))]]
        pick = rng.integers(words.shape[1], size=batch_size)
        logits = model(torch.as_tensor(words[:, pick], device=param.device))
        target = torch.as_tensor(tags[:, pick], device=param.device)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def tagging_accuracy(model, groups):
    """Accuracy of ``model`` on every word of ``groups`` and on the ambiguous words alone:
    ``{"all": ..., "left": ..., "right": ...}`` (fractions; "right": only the next word decides)."""
    param = next(model.parameters())
    hits = {"all": [], "left": [], "right": []}
    model.eval()
    with torch.no_grad():
        for words, tags, kinds in groups.values():
            guess = model(torch.as_tensor(words, device=param.device)).argmax(-1).cpu().numpy()
            good = guess == tags
            hits["all"].append(good.ravel())
            for kind in ("left", "right"):
                hits[kind].append(good[kinds == kind])
    return {k: float(np.concatenate(v).mean()) for k, v in hits.items()}


def tagging_run(kind, num_layers, bidirectional, train_groups, test_groups, steps, seed,
                hidden=32, device=None):
    """Train one tagger from ``seed`` and measure it on held-out sentences.

    Returns ``{"all", "left", "right": accuracy, "params": count, "seconds": training time}``.
    """
    from .seeding import seed_all

    rng = seed_all(seed)
    model = LengthGroupTagger(kind, num_layers, bidirectional, hidden=hidden).to(device or "cpu")
    start = time.perf_counter()
    train_tagger(model, train_groups, steps, rng)
    seconds = time.perf_counter() - start
    return dict(tagging_accuracy(model, test_groups), params=n_parameters(model), seconds=seconds)


# ------------------------------------------------------------------------------------------------
# Experiment 2: the anti-example, a bidirectional next-character model
# ------------------------------------------------------------------------------------------------

class CharModel(torch.nn.Module):
    """Character ids (T, N) → logits (T, N, V) for the next character; one recurrent layer."""

    def __init__(self, V, bidirectional, kind="gru", embed=16, hidden=64):
        super().__init__()
        self.embed = torch.nn.Embedding(V, embed)
        self.core = _MODULES[kind](embed, hidden, bidirectional=bidirectional)
        self.readout = torch.nn.Linear(hidden * (2 if bidirectional else 1), V)

    def forward(self, codes):
        states, _ = self.core(self.embed(codes))
        return self.readout(states)


def char_loss(model, inputs, targets):
    """Mean cross-entropy (nats per character) of ``model`` on (T, N) ``inputs``/``targets``."""
    param = next(model.parameters())
    logits = model(torch.as_tensor(inputs, device=param.device))
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             torch.as_tensor(targets, device=param.device).reshape(-1))


def sample_text(model, vocab, prompt, n, rng, temperature=0.5):
    """``n`` characters generated one at a time after ``prompt``: the whole text so far is read
    again at every step, and the next character is drawn from the prediction at the last position."""
    param = next(model.parameters())
    codes = list(vocab.codes(prompt))
    model.eval()
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.as_tensor(np.array(codes)[:, None], device=param.device))[-1, 0]
            p = torch.softmax(logits.double() / temperature, dim=0).cpu().numpy()
            codes.append(int(rng.choice(len(p), p=p / p.sum())))
    return vocab.text(codes[len(prompt):])


__all__ = ["GATE_BLOCKS", "KINDS", "STATE_SIZE", "STEPS", "WEIGHT_NAMES", "CharModel", "LengthGroupTagger",
           "by_length", "char_loss", "draw_bidirectional", "draw_stacked", "gru_step", "lstm_step",
           "n_parameters", "param_names", "random_params", "rnn_step", "sample_text", "tagging_accuracy",
           "tagging_run", "torch_forward", "torch_module", "train_tagger"]
