"""Instructor-only references of notebook 08 (applications): padding, the masked loss, the embedding
backward and greedy decoding, with the mistakes the tests name.

Written apart from the solution cells and in another style (explicit loops, no broadcasting tricks),
and checked against ``torch`` in ``tests/test_applications_references.py``. Nothing here ships to
students; ``fixture_cases()`` turns the visible tests' inputs into data (``utils/fixtures``).
"""

import math

import numpy as np

ASSIGNMENT = "08_applications"


# ---------------------------------------------------------------------------------------------
# pad_batch
# ---------------------------------------------------------------------------------------------
def pad_batch(sequences, pad_id=0):
    """Reference: time-major ids (T_max, N) int64, mask (T_max, N) bool, lengths (N,) int64."""
    lengths = [len(s) for s in sequences]
    T = max(lengths)
    ids = [[pad_id] * len(sequences) for _ in range(T)]
    mask = [[False] * len(sequences) for _ in range(T)]
    for n, seq in enumerate(sequences):
        for t, token in enumerate(seq):
            ids[t][n] = int(token)
            mask[t][n] = True
    return (np.array(ids, dtype=np.int64).reshape(T, len(sequences)),
            np.array(mask, dtype=bool).reshape(T, len(sequences)), np.array(lengths, dtype=np.int64))


def pad_batch_mistakes(sequences, pad_id=0):
    """``{output: {description: zero-arg callable}}`` for the outputs ``ids`` and ``mask``."""
    def ids_mask():
        return pad_batch(sequences, pad_id)[:2]

    def left_padded():
        T = max(len(s) for s in sequences)
        flipped = [list(s)[::-1] for s in sequences]
        ids, mask, _ = pad_batch(flipped, pad_id)
        return ids[::-1].copy(), mask[::-1].copy(), T

    return {
        "ids": {
            "batch-major: (N, T_max) instead of time-major (T_max, N)": lambda: ids_mask()[0].T.copy(),
            "padded with 0 although pad_id was given (pad_id ignored)": lambda: pad_batch(sequences, 0)[0],
            "padded on the left (the padding must come after each sequence)": lambda: left_padded()[0],
        },
        "mask": {
            "the mask is True at padding instead of at real tokens": lambda: ~ids_mask()[1],
            "batch-major: (N, T_max) instead of time-major (T_max, N)": lambda: ids_mask()[1].T.copy(),
            "padded on the left (the padding must come after each sequence)": lambda: left_padded()[1],
        },
    }


# ---------------------------------------------------------------------------------------------
# masked_cross_entropy
# ---------------------------------------------------------------------------------------------
def _token_losses(logits, targets):
    """-log softmax(logits[t, n])[targets[t, n]] for every position, by log-sum-exp, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    T, N, _ = logits.shape
    out = np.zeros((T, N))
    for t in range(T):
        for n in range(N):
            row = logits[t, n]
            top = row.max()
            log_z = top + math.log(float(np.sum(np.exp(row - top))))
            out[t, n] = log_z - row[int(targets[t, n])]
    return out


def masked_cross_entropy(logits, targets, mask):
    """Reference: the mean of -log p(target) over the real tokens (mask True) only."""
    losses = _token_losses(logits, targets)
    keep = np.asarray(mask, dtype=bool)
    return float(losses[keep].sum() / keep.sum())


def masked_cross_entropy_mistakes(logits, targets, mask):
    """``{description: zero-arg callable}``: what common mistakes return instead of the loss."""
    keep = np.asarray(mask, dtype=bool)

    def losses():
        return _token_losses(logits, targets)

    def per_sequence_mean():
        L = losses()
        return float(np.mean([L[keep[:, n], n].mean() for n in range(L.shape[1]) if keep[:, n].any()]))

    def softmax_over_time():
        z = np.asarray(logits, dtype=np.float64)
        z = z - z.max(axis=0, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
        picked = np.take_along_axis(logp, np.asarray(targets)[..., None], axis=2)[..., 0]
        return float(-picked[keep].sum() / keep.sum())

    return {
        "divided by all T*N positions instead of the number of real tokens": lambda: float(
            losses()[keep].sum() / keep.size),
        "padding positions counted in the mean (mask not applied)": lambda: float(losses().mean()),
        "the mean of per-sequence means (each sequence weighted equally, not each token)":
            per_sequence_mean,
        "the sum over real tokens, not their mean": lambda: float(losses()[keep].sum()),
        "the sign: +log p instead of -log p": lambda: -masked_cross_entropy(logits, targets, mask),
        "softmax over the time axis instead of over the V classes": softmax_over_time,
    }


# ---------------------------------------------------------------------------------------------
# embedding_backward
# ---------------------------------------------------------------------------------------------
def embedding_backward(d_out, ids, V, padding_idx=None):
    """Reference: dW[v] = sum of d_out over every position whose id is v; row padding_idx zero."""
    d_out = np.asarray(d_out, dtype=np.float64)
    ids = np.asarray(ids)
    E = d_out.shape[-1]
    dW = np.zeros((V, E))
    flat_ids, flat_d = ids.reshape(-1), d_out.reshape(-1, E)
    for k in range(flat_ids.size):
        v = int(flat_ids[k])
        if padding_idx is not None and v == padding_idx:
            continue
        dW[v] = dW[v] + flat_d[k]
    return dW


def embedding_backward_mistakes(d_out, ids, V, padding_idx=None):
    """``{description: zero-arg callable}``: what common mistakes return instead of dW."""
    d_out = np.asarray(d_out, dtype=np.float64)
    ids = np.asarray(ids)
    E = d_out.shape[-1]

    def fancy_index():  # dW[ids] += d_out: each repeated id keeps only one contribution (the last)
        dW = np.zeros((V, E))
        dW[ids.reshape(-1)] += d_out.reshape(-1, E)
        if padding_idx is not None:
            dW[padding_idx] = 0.0
        return dW

    def averaged():
        counts = np.bincount(ids.reshape(-1), minlength=V).astype(float)
        dW = embedding_backward(d_out, ids, V, padding_idx)
        return dW / np.maximum(counts, 1.0)[:, None]

    mistakes = {
        "repeated ids do not accumulate (dW[ids] += d_out keeps one contribution per id: use np.add.at)":
            fancy_index,
        "the contributions of a repeated id are averaged instead of summed": averaged,
        "returns (E, V), the transpose": lambda: embedding_backward(d_out, ids, V, padding_idx).T.copy(),
    }
    if padding_idx is not None:
        mistakes["the padding row padding_idx is not zeroed"] = lambda: embedding_backward(d_out, ids, V)
    if padding_idx != 0:
        mistakes["row 0 is zeroed instead of row padding_idx"] = (
            lambda: embedding_backward(d_out, ids, V, 0))
    return mistakes


# ---------------------------------------------------------------------------------------------
# greedy_decode
# ---------------------------------------------------------------------------------------------
def greedy_decode(step_fn, h0, start_id, end_id, max_len):
    """Reference: feed start_id, then each arg-max back, until end_id (not returned) or max_len calls."""
    out = []
    token, h = start_id, h0
    calls = 0
    while calls < max_len:
        logits, h = step_fn(token, h)
        calls += 1
        best = int(np.argmax(np.asarray(logits).reshape(-1)))
        if best == end_id:
            return out
        out.append(best)
        token = best
    return out


def _decode_variant(step_fn, h0, start_id, end_id, max_len, *, keep_end=False, stop=True,
                    feed_start=False, carry=True, extra=0, with_start=False):
    out = [start_id] if with_start else []
    token, h = start_id, h0
    for _ in range(max_len + extra):
        logits, h_new = step_fn(start_id if feed_start else token, h)
        if carry:
            h = h_new
        best = int(np.argmax(np.asarray(logits).reshape(-1)))
        if best == end_id and stop:
            if keep_end:
                out.append(best)
            return out
        out.append(best)
        token = best
    return out


def greedy_decode_mistakes(step_fn, h0, start_id, end_id, max_len):
    """``{description: zero-arg callable}`` returning the list of ids a common mistake gives."""
    args = (step_fn, h0, start_id, end_id, max_len)
    return {
        "the end token is included in the output": lambda: _decode_variant(*args, keep_end=True),
        "did not stop at the end token": lambda: _decode_variant(*args, stop=False),
        "fed the start token at every step instead of the previous prediction":
            lambda: _decode_variant(*args, feed_start=True),
        "the state was not carried from step to step (h0 at every step)":
            lambda: _decode_variant(*args, carry=False),
        "one step more than max_len": lambda: _decode_variant(*args, extra=1),
        "the start token is included in the output": lambda: _decode_variant(*args, with_start=True),
    }


def rnn_decoder(E, W_hh, W_out):
    """A tiny NumPy decoder for the tests: h' = tanh(E[token] + W_hh h), logits = W_out h'."""
    def step_fn(token, h):
        h_new = np.tanh(E[int(token)] + W_hh @ h)
        return W_out @ h_new, h_new
    return step_fn


def random_decoder(rng, V, H, scale=2.0):
    """Weights of a random :func:`rnn_decoder`: ``(E (V, H), W_hh (H, H), W_out (V, H))``."""
    return (scale * rng.standard_normal((V, H)), scale * rng.standard_normal((H, H)) / np.sqrt(H),
            scale * rng.standard_normal((V, H)))


# ---------------------------------------------------------------------------------------------
# fixtures for the visible tests
# ---------------------------------------------------------------------------------------------
def _ids_array(values):
    return np.array(values, dtype=np.int64)


def _decoder_case(seed, ends=True):
    """A random decoder (``ends``: its output ends by the end token; else it runs to max_len) and
    the mistakes whose output differs from the right one, all different from each other."""
    for s in range(seed, seed + 5000):
        rng = np.random.default_rng(s)
        V, H, start_id, end_id, max_len = 7, 5, 0, 1, 8
        E, W_hh, W_out = random_decoder(rng, V, H)
        h0 = rng.standard_normal(H)
        step = rnn_decoder(E, W_hh, W_out)
        want = greedy_decode(step, h0, start_id, end_id, max_len)
        if ends and not 3 <= len(want) < max_len - 2:
            continue
        if not ends and len(want) != max_len:
            continue
        variants = {d: f() for d, f in greedy_decode_mistakes(step, h0, start_id, end_id, max_len).items()}
        variants = {d: v for d, v in variants.items() if v != want}
        values = [tuple(v) for v in variants.values()]
        needed = "did not stop at the end token" if ends else "one step more than max_len"
        if len(set(values)) == len(values) and needed in variants and len(values) >= (5 if ends else 3):
            return (dict(E=E, W_hh=W_hh, W_out=W_out, h0=h0, start_id=np.int64(start_id),
                         end_id=np.int64(end_id), max_len=np.int64(max_len)), want, variants)
    raise RuntimeError("no decoder found")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# sample_next: the distribution it must draw from, and the distributions of common mistakes
# ---------------------------------------------------------------------------------------------
def tempered_probabilities(logits, temperature):
    """softmax(logits / temperature) in float64, via log-sum-exp (stable for any spread)."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    return np.exp(z - np.logaddexp.reduce(z))


def sample_next(logits, temperature, rng):
    """Inverse-CDF draw from tempered_probabilities with one rng.random()."""
    cdf = np.cumsum(tempered_probabilities(logits, temperature))
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))


def sample_next_mistakes(logits, temperature):
    """``{description: zero-arg callable}``: the distribution each mistake draws from."""
    z = np.asarray(logits, dtype=np.float64)
    return {
        "softmax(logits) without dividing by the temperature": lambda: tempered_probabilities(z, 1.0),
        "softmax(logits * temperature): multiplied by the temperature":
            lambda: tempered_probabilities(z * temperature, 1.0),
        "always the most likely id (argmax), not a draw": lambda: np.eye(len(z))[np.argmax(z)],
        "uniform: the logits are ignored": lambda: np.full(len(z), 1.0 / len(z)),
    }


def fixture_cases():
    rng = np.random.default_rng(8)
    cases = {}

    # pad_batch: three sequences of lengths 3, 1, 4 and pad_id = 9
    seqs = [rng.integers(1, 9, size=k).astype(np.int64) for k in (3, 1, 4)]
    ids, mask, lengths = pad_batch(seqs, 9)
    mistakes = pad_batch_mistakes(seqs, 9)
    cases["pad_batch"] = {
        "inputs": {"seq_0": seqs[0], "seq_1": seqs[1], "seq_2": seqs[2], "pad_id": np.int64(9)},
        "expected": {"ids": ids, "mask": mask, "lengths": lengths},
        "mistakes": {out: {d: np.asarray(f()) for d, f in m.items()} for out, m in mistakes.items()},
    }

    # masked_cross_entropy: T=4, N=3, V=5, lengths 4, 2, 3 (padded targets hold the padding id 0)
    logits = 2.0 * rng.standard_normal((4, 3, 5))
    lengths = np.array([4, 2, 3])
    mask = np.arange(4)[:, None] < lengths[None, :]
    targets = np.where(mask, rng.integers(0, 5, size=(4, 3)), 0).astype(np.int64)
    cases["masked_cross_entropy"] = {
        "inputs": {"logits": logits, "targets": targets, "mask": mask},
        "expected": {"loss": np.float64(masked_cross_entropy(logits, targets, mask))},
        "mistakes": {"loss": {d: np.float64(f()) for d, f in
                              masked_cross_entropy_mistakes(logits, targets, mask).items()}},
    }

    # embedding_backward: ids (T=3, N=2) over V=6 with repeats; once without, once with padding_idx=2
    ids = np.array([[2, 5], [0, 2], [2, 0]], dtype=np.int64)
    d_out = rng.standard_normal((3, 2, 4))
    for name, pad in (("embedding_backward", None), ("embedding_backward_padding", 2)):
        inputs = {"d_out": d_out, "ids": ids, "V": np.int64(6)}
        if pad is not None:
            inputs["padding_idx"] = np.int64(pad)
        cases[name] = {
            "inputs": inputs,
            "expected": {"dW": embedding_backward(d_out, ids, 6, pad)},
            "mistakes": {"dW": {d: f() for d, f in embedding_backward_mistakes(d_out, ids, 6, pad).items()}},
        }

    # greedy_decode: a random NumPy RNN decoder chosen so that every mistake gives another output
    for name, ends in (("greedy_decode", True), ("greedy_decode_max_len", False)):
        inputs, want, variants = _decoder_case(80, ends)
        cases[name] = {
            "inputs": inputs,
            "expected": {"ids": _ids_array(want)},
            "mistakes": {"ids": {d: _ids_array(v) for d, v in variants.items()}},
        }

    # sample_next: logits log(1, 2, 5) at three temperatures; the distributions, not draws
    logits = np.log([1.0, 2.0, 5.0])
    taus = np.array([1.0, 0.5, 2.0])
    names = list(sample_next_mistakes(logits, 1.0))
    cases["sample_next"] = {
        "inputs": {"logits": logits, "taus": taus},
        "expected": {"p": np.stack([tempered_probabilities(logits, t) for t in taus])},
        "mistakes": {"p": {d: np.stack([sample_next_mistakes(logits, t)[d]() for t in taus]) for d in names}},
    }
    return cases
