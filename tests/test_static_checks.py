"""The type checker and the linter are part of the test suite: a new mypy error or ruff finding
fails ``scripts/test.sh`` (and so ``.ci/run``).  Their configuration is in ``pyproject.toml``
(``[tool.mypy]``: non-strict, every function body checked; ``[tool.ruff]``: pyflakes and
pycodestyle)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs the source checkout")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_reports_no_error() -> None:
    out = _run("mypy")  # files, options and cache directory from [tool.mypy]
    assert out.returncode == 0, f"mypy found type errors:\n{out.stdout}{out.stderr}"


def test_ruff_reports_nothing() -> None:
    out = _run("ruff", "check", "--no-cache", "src", "tests")
    assert out.returncode == 0, f"ruff check found problems:\n{out.stdout}{out.stderr}"
