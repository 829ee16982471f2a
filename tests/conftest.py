import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pytest_configure(config):
    """REQUIRE_SANDBOX=1 (CI) makes a machine without bubblewrap an error instead of
    a reason to grade the corpus unsandboxed and skip the isolation tests."""
    if os.environ.get("REQUIRE_SANDBOX") == "1":
        from resilience_lab.grading import sandbox

        sandbox.check()


@pytest.fixture
def root():
    return ROOT
