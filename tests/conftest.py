"""Shared fixtures: where ../shared is, a private cache dir, the verifier on between passes."""
from __future__ import annotations

import os
import pathlib
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("XLTUNE_SHARED", REPO.parent / "shared"))
CONFORMANCE = SHARED / "conformance" / "stablehlo"
WORKLOADS = SHARED / "bench" / "workloads"


def pytest_configure(config):
    # Tests never read or write the user's real cache, and always verify between passes.
    if "XLTUNE_CACHE_DIR" not in os.environ:
        os.environ["XLTUNE_CACHE_DIR"] = tempfile.mkdtemp(prefix="xltune-test-cache-")
    os.environ.setdefault("XLTUNE_VERIFY", "1")


def _need(path: pathlib.Path):
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not beside the checkout; set XLTUNE_SHARED)")
    return path


@pytest.fixture(scope="session")
def conformance_dir():
    return _need(CONFORMANCE)


@pytest.fixture(scope="session")
def testdata_dir():
    return _need(CONFORMANCE / "testdata")


@pytest.fixture(scope="session")
def interpret_dir():
    return _need(CONFORMANCE / "interpret")


@pytest.fixture(scope="session")
def workloads_dir():
    return _need(WORKLOADS)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache directory for this test; returns where the object files go."""
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    return tmp_path / "objects"


def has_gpu() -> bool:
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if has_gpu():
        return
    skip = pytest.mark.skip(reason="no NVIDIA GPU with CuPy on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
