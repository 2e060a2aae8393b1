"""The visible tests' fixtures (utils/fixtures/NN.npz) agree with the instructor-only references,
load as the notebooks load them, and carry no code."""

import numpy as np
import pytest

from autograder import references
from utils import fixtures

MODULES = references.fixture_modules()


@pytest.mark.parametrize("assignment", list(MODULES))
def test_committed_fixtures_equal_the_references(assignment):
    problems = references.fixture_differences(assignment)
    assert not problems, (f"utils/fixtures/{assignment}.npz is stale: run `python -m autograder "
                          f"fixtures {assignment}` and commit it:\n" + "\n".join(problems[:20]))


@pytest.mark.parametrize("assignment", list(MODULES))
def test_fixtures_load_and_name_their_mistakes(assignment):
    cases = fixtures.load(assignment)
    assert cases, "a fixture file without cases"
    for case in cases.values():
        assert case.inputs, f"{case.name}: no inputs"
        for output in case._mistakes:
            mistakes = case.mistakes(output)
            assert mistakes and all(d.strip() for d in mistakes), f"{case.name}/{output}: unnamed mistakes"
            if output in case.expected:  # a mistake that equals the answer could never be told apart
                for description, value in mistakes.items():
                    same = value.shape == case.expected[output].shape and np.allclose(
                        value, case.expected[output], rtol=1e-6, atol=1e-8)
                    assert not same, f"{case.name}/{output}: '{description}' equals the right answer"


def test_flatten_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(fixtures, "FOLDER", tmp_path)
    arrays = fixtures.flatten({"step": {"inputs": {"x": np.ones(2)}, "expected": {"h": np.zeros(2)},
                                        "mistakes": {"h": {"forgot ⊙ the bias": np.full(2, 3.0)}}}})
    np.savez(fixtures.path("99_x"), **arrays)
    case = fixtures.load("99_x")["step"]
    assert case.mistakes("h")["forgot ⊙ the bias"].tolist() == [3.0, 3.0]
    assert case.inputs["x"].tolist() == [1.0, 1.0] and case.expected["h"].tolist() == [0.0, 0.0]
    with pytest.raises(KeyError, match="has no mistakes for 'c'"):
        case.mistakes("c")
    with pytest.raises(FileNotFoundError, match="python -m autograder fixtures"):
        fixtures.load("98_missing")
