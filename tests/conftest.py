import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYTHONWARNINGS", "ignore")


@pytest.fixture(scope="session")
def workers():
    """Grading workers for the tests: every core (CI has 2)."""
    return os.cpu_count() or 1
