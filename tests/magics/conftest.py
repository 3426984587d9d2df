"""An IPython shell with `%load_ext xltune`, a private cache dir, and a clean slate per test."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ipshell():
    from IPython.core.interactiveshell import InteractiveShell
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "xltune")
    return sh


@pytest.fixture
def shell(ipshell, tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XLTUNE_STORAGE", raising=False)
    magics = ipshell.magics_manager.registry["XlaMagics"]
    names = set(ipshell.user_ns)
    yield ipshell
    magics.entries.clear()
    for n in set(ipshell.user_ns) - names:
        ipshell.user_ns.pop(n, None)


@pytest.fixture
def formats(ipshell):
    """What a front end receives for an object: {mime type: data}."""
    def fmt(obj) -> dict:
        data, _ = ipshell.display_formatter.format(obj)
        return data
    return fmt
