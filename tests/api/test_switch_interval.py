"""The app sets Python's GIL switch interval (``WATTBASE_SWITCH_INTERVAL_US``) while it runs,
so that the store's calls get the GIL back soon (see ``api/app.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import settings_for
from wattbase.api import create_app
from wattbase.storage.base import Store


def test_the_app_sets_the_switch_interval_while_it_runs(
    backend: str, tmp_path: Path, store: Store
) -> None:
    before = sys.getswitchinterval()
    settings = settings_for(backend, tmp_path, switch_interval_us=321)
    with TestClient(create_app(settings, store=store)) as client:
        assert sys.getswitchinterval() == pytest.approx(321e-6)
        assert client.get("/healthz").status_code == 200
    assert sys.getswitchinterval() == before
