"""Fixtures the backend tests share."""
from __future__ import annotations

import pytest


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache directory for this test; returns where the object files go."""
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    return tmp_path / "objects"
