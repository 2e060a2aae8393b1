"""Where a notebook runs: under nbgrader's grader or in a student's hands, on CPU or CUDA."""

import os


def grading_mode():
    """``"autograde"`` or ``"validate"`` when nbgrader runs the notebook, else ``None``."""
    return os.environ.get("NBGRADER_EXECUTION") or None


def is_grading():
    """True when nbgrader executes the notebook: experiments then shrink so grading takes seconds."""
    return grading_mode() is not None


def choose(full, fast):
    """``full`` when a student runs the notebook, ``fast`` under nbgrader.

    Example: ``n_steps = choose(full=2000, fast=50)``.
    """
    return fast if is_grading() else full


def device():
    """The PyTorch device for experiments: CUDA when present, else CPU (CI has no GPU)."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
