"""The PostgreSQL half of the suite: skipped without a server, a failure under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A tiny test that runs on both backends; nothing listens on port 1.
TARGET = "tests/api/test_v2_things.py::test_name_rules"
NOWHERE = "postgresql://postgres@127.0.0.1:1/postgres"


def _pytest(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WATTBASE_TEST_POSTGRES_URL": NOWHERE}
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", TARGET],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_server_skips_the_postgres_half() -> None:
    done = _pytest(ci=None)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout and "no PostgreSQL at" in done.stdout


def test_ci_fails_without_a_server() -> None:
    done = _pytest(ci="true")
    assert done.returncode != 0, done.stdout
    assert "CI=true requires it" in done.stdout
