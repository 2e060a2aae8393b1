"""The student-facing checks: they must pass correct answers and explain wrong ones."""

import numpy as np
import pytest

import utils
from utils import (
    CheckFailure,
    check_close,
    check_equal,
    check_no_library,
    check_raises,
    check_shape,
    diagnose,
)


def message(func, *args, **kwargs):
    with pytest.raises(CheckFailure) as info:
        func(*args, **kwargs)
    return str(info.value)


def test_check_shape_passes_and_explains():
    check_shape("x", np.zeros((2, 3)), (2, 3))
    check_shape("x", np.zeros((2, 3)), (None, 3))
    msg = message(check_shape, "rnn_forward", np.zeros((3, 2, 4)), (2, 3, 4))
    assert "expected shape (2, 3, 4), got (3, 2, 4)" in msg
    assert "time-major" in msg  # same sizes in another order: the message suspects a transpose
    assert "no shape" in message(check_shape, "f", [1, 2], (2,))


def test_check_close_reports_largest_error_and_index():
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.copy()
    got[1, 2] += 0.5
    msg = message(check_close, "h_t", got, expected)
    assert "1 of 6 entries differ" in msg
    assert "index (1, 2)" in msg and "expected 5, got 5.5" in msg
    check_close("h_t", expected + 1e-12, expected)


def test_check_close_says_when_a_float32_result_misses_a_float64_tolerance():
    expected = np.ones(3) / 3
    msg = message(check_close, "h_t", expected.astype(np.float32), expected, atol=1e-12, rtol=0)
    assert "Your result is float32, the reference float64" in msg
    # a float64 result that is simply wrong, or a reference without a dtype, says nothing of dtypes
    assert "float32" not in message(check_close, "h_t", expected + 1e-3, expected)
    assert "float32" not in message(check_close, "h_t", np.float32([0.5]), [0.25])
    check_close("h_t", expected.astype(np.float32), expected, atol=1e-6, rtol=0)  # within tolerance


def test_check_close_names_a_matching_mistake():
    x = np.linspace(-2, 2, 7)
    mistakes = {"used sigmoid instead of tanh": lambda: 1 / (1 + np.exp(-x)),
                "forgot the activation": x}
    msg = message(check_close, "rnn_step_forward", 1 / (1 + np.exp(-x)), np.tanh(x),
                  mistakes=mistakes)
    assert "matches a common mistake: used sigmoid instead of tanh" in msg
    assert diagnose(x, mistakes) == "forgot the activation"
    assert diagnose(np.tanh(x), mistakes) is None


def test_check_close_rejects_nan_none_torch_and_wrong_shapes():
    import torch

    assert "NaN or infinite" in message(check_close, "softmax", [np.nan, 1.0], [0.5, 0.5])
    assert "forget to `return`" in message(check_close, "f", None, [1.0])
    assert "PyTorch" in message(check_close, "f", torch.zeros(2), [0.0, 0.0])
    assert "expected shape (2,), got (3,)" in message(check_close, "f", np.zeros(3), np.zeros(2))


def test_check_close_cannot_be_fooled_by_an_object_equal_to_everything():
    class Liar:
        def __eq__(self, other):
            return True

        __array_priority__ = 1000

    assert "not an array of numbers" in message(check_close, "f", Liar(), [1.0])


def test_check_close_ignores_a_patched_numpy(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "abs", lambda x: np.zeros_like(x))
    assert "differ" in message(check_close, "f", [1.0], [2.0])


def test_check_equal_with_mistakes_and_types():
    check_equal("n", 3, 3)
    check_equal("n", np.int64(3), 3)
    check_equal("v", np.array([1, 2]), np.array([1, 2]))
    msg = message(check_equal, "vocab", ["a"], ["<unk>", "a"], mistakes={"no unknown token": ["a"]})
    assert "matches a common mistake: no unknown token" in msg
    assert "expected a list" in message(check_equal, "v", (1, 2), [1, 2])
    assert "first at index (1,)" in message(check_equal, "v", np.array([1, 5]), np.array([1, 2]))


def test_check_raises():
    def bad(x):
        raise ValueError("index out of range 0..3")

    check_raises("f", bad, ValueError, 1, match="range")
    assert "does not mention" in message(check_raises, "f", bad, ValueError, 1, match="integer")
    assert "expected ValueError, got KeyError" in message(
        check_raises, "f", lambda: {}["x"], ValueError)
    assert "returned normally" in message(check_raises, "f", lambda: 1, ValueError)


def test_check_no_library_finds_calls_and_imports():
    import torch  # noqa: F401  (used by the functions under test)

    def uses_torch(x):
        return torch.nn.functional.one_hot(x)

    def imports_inside(x):
        from torch.nn import functional as F
        return F.one_hot(x)

    def clean(x):
        return np.eye(3)[x]

    check_no_library("clean", clean, ["torch", "one_hot"])
    assert "uses one_hot, torch" in message(check_no_library, "f", uses_torch, ["torch", "one_hot"])
    assert "torch" in message(check_no_library, "f", imports_inside, ["torch"])


def test_seed_all_is_reproducible_and_fresh_without_a_seed():
    import torch

    a = utils.seed_all(3).standard_normal(4)
    t1 = torch.rand(2)
    b = utils.seed_all(3).standard_normal(4)
    t2 = torch.rand(2)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(t1, t2)
    assert not np.array_equal(utils.seed_all(None).random(4), utils.seed_all(None).random(4))


def test_choose_follows_nbgrader_execution(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert utils.choose(full=100, fast=5) == 100 and not utils.is_grading()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert utils.choose(full=100, fast=5) == 5 and utils.grading_mode() == "autograde"
    assert utils.device().type in ("cpu", "cuda")


def test_check_no_library_calls_sees_what_the_source_hides():
    import sys

    import numpy as np
    import torch

    from utils import CheckFailure, check_no_library_calls

    def honest(x):
        return np.tanh(x)

    def aliased(x):  # no "torch" in the source: the call is found while it runs
        f = getattr(__import__("to" + "rch"), "ta" + "nh")
        return f(torch_tensor(x)).numpy()

    torch_tensor = torch.tensor

    def through_a_method(x):
        return x_t.tanh().numpy() if (x_t := torch_tensor(x)) is not None else None

    def blinds_the_profiler(x):
        sys.setprofile(None)
        return np.tanh(x)

    x = np.linspace(-1, 1, 5)
    assert np.allclose(check_no_library_calls("honest", honest, x), np.tanh(x))
    for cheat in (aliased, through_a_method):
        with pytest.raises(CheckFailure, match="while it ran it called torch"):
            check_no_library_calls(cheat.__name__, cheat, x)
    with pytest.raises(CheckFailure, match="changed the interpreter's profiler"):
        check_no_library_calls("blind", blinds_the_profiler, x)
    assert sys.getprofile() is None  # the check leaves no profiler behind


def test_check_no_library_calls_does_not_hold_the_tests_own_functions_against_the_student():
    import numpy as np
    import torch

    from utils import CheckFailure, check_no_library_calls

    def step_of_the_test(h):  # a reference step the test passes in; it may use the library
        return torch.tanh(torch.as_tensor(h)).numpy()

    def student(step, h):
        return step(h) + 0.0

    def student_who_calls_torch_too(step, h):
        return step(h) + torch.zeros(1).numpy()

    h = np.zeros(3)
    check_no_library_calls("student", student, step_of_the_test, h, trusted=(step_of_the_test,))
    with pytest.raises(CheckFailure, match="while it ran it called torch"):
        check_no_library_calls("student", student, step_of_the_test, h)  # not trusted: seen
    with pytest.raises(CheckFailure, match="while it ran it called torch"):
        check_no_library_calls("student", student_who_calls_torch_too, step_of_the_test, h,
                               trusted=(step_of_the_test,))


def test_repeat_calls_is_n_calls_with_the_same_arguments():
    import numpy as np

    import utils

    rng, mine = np.random.default_rng(5), np.random.default_rng(5)
    assert utils.repeat_calls(lambda r, k: int(r.integers(k)), 20, rng, k=7) == [
        int(mine.integers(7)) for _ in range(20)]
    assert utils.repeat_calls(lambda: 1, 0) == []


def test_check_defined_names_what_a_cell_above_did_not_make():
    import pytest

    import utils

    utils.check_defined({"model": 1}, ["model"], "unused")
    with pytest.raises(utils.CheckFailure, match="model, corpus are not defined: run the training cell"):
        utils.check_defined({}, ["model", "corpus"], "run the training cell")


def test_call_unchanged_names_an_argument_changed_in_place():
    def sorts(items, scale):
        items.sort()
        return len(items)

    def shifts(x):
        x -= x.max()
        return x

    with pytest.raises(utils.CheckFailure, match="changed its argument 1 in place"):
        utils.call_unchanged("sorts", sorts, ["b", "a"], 2)
    with pytest.raises(utils.CheckFailure, match="argument 1 in place"):
        utils.call_unchanged("shifts", shifts, np.array([1.0, 3.0]))
    nan = np.array([np.nan, 1.0])
    assert utils.call_unchanged("reads", lambda x, k=1: x.sum() * k, nan, k=2) != 0
    assert utils.call_unchanged("copies", lambda x: sorted(x), ["b", "a"]) == ["a", "b"]


def test_call_unchanged_compares_tensors_by_value_and_lets_a_generator_draw():
    import torch

    def clamps(lengths):
        lengths -= 1
        return lengths

    # a correct call on a tensor passes (a copied tensor is not the same object, yet equal)
    assert utils.call_unchanged("reads", lambda t: int(t.sum()), torch.tensor([1, 2])) == 3
    with pytest.raises(utils.CheckFailure, match="argument 1 in place"):
        utils.call_unchanged("clamps", clamps, torch.tensor([3, 1]))
    with pytest.raises(utils.CheckFailure, match="argument 1 in place"):
        utils.call_unchanged("reshapes", lambda t: t.resize_(4), torch.zeros(2, 2))
    rng = np.random.default_rng(0)
    assert 0 <= utils.call_unchanged("draws", lambda p, g: int(g.choice(2, p=p)), [0.5, 0.5], rng) < 2


def test_check_type_asks_for_what_the_docstring_promises():
    utils.check_type("list", ["a", np.str_("b")], list, items=str)
    utils.check_type("int64", np.zeros(0, dtype=np.int64), np.ndarray, dtype=np.int64)
    utils.check_type("an integer", np.int64(3), (int, np.integer))
    with pytest.raises(utils.CheckFailure, match="expected a list, got a numpy.ndarray"):
        utils.check_type("decode", np.array(["a"]), list)
    with pytest.raises(utils.CheckFailure, match="expected an int, got a float"):
        utils.check_type("count", 2.0, int)
    with pytest.raises(utils.CheckFailure, match="expected a float .*, got an int"):
        utils.check_equal("rate", 3, 3.0)
    with pytest.raises(utils.CheckFailure, match="expected dtype int64, got int32"):
        utils.check_type("encode", np.zeros(2, dtype=np.int32), np.ndarray, dtype=np.int64)
    with pytest.raises(utils.CheckFailure, match="every element to be a str"):
        utils.check_type("vocab", ["a", 1], list, items=str)
