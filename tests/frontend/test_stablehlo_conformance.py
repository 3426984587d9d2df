"""Every conformance file (testdata, interpret chunk by chunk) and every benchmark workload
parses, and prints back to text that parses to an equal module; printing is idempotent.

The files are split into shards so that `pytest -n` spreads them over workers while the
report stays short.
"""
from __future__ import annotations

import pytest

from conftest import CONFORMANCE, WORKLOADS
from xltune.frontend.stablehlo import parse, split_chunks
from xltune.ir.printer import print_module

SHARDS = 8


def _items():
    """(label, source path, first line, text) for every file / chunk."""
    out = []
    for path in sorted((CONFORMANCE / "testdata").glob("*.mlir")):
        out.append((path.name, path, 1, None))
    for path in sorted((CONFORMANCE / "interpret").glob("*.mlir")) + sorted(WORKLOADS.glob("*.mlir")):
        out.append((path.name, path, 0, None))  # 0: split into chunks
    return out


def _texts(shard: int):
    items = _items()
    for k, (label, path, first, _) in enumerate(items):
        if k % SHARDS != shard:
            continue
        text = path.read_text()
        if first:
            yield f"{label}", str(path), 1, text
        else:
            for line, chunk in split_chunks(text):
                yield f"{label}:{line}", str(path), line, chunk


def _need_files():
    if not (CONFORMANCE / "testdata").exists():
        pytest.skip(f"{CONFORMANCE} is absent (../shared is not beside the checkout; set XLTUNE_SHARED)")


def test_file_counts():
    _need_files()
    assert len(list((CONFORMANCE / "testdata").glob("*.mlir"))) >= 1745
    assert len(list((CONFORMANCE / "interpret").glob("*.mlir"))) >= 80


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_file_parses_and_round_trips(shard):
    _need_files()
    failures = []
    n = 0
    for label, source, first, text in _texts(shard):
        n += 1
        try:
            m = parse(text, source, first)
            printed = print_module(m)
            again = parse(printed, f"<printed {label}>")
            if not m.equals(again):
                failures.append(f"{label}: reparsed module differs")
                continue
            if print_module(again) != printed:
                failures.append(f"{label}: printing is not idempotent")
        except Exception as e:  # collect them all, then report
            failures.append(f"{label}: {type(e).__name__}: {e}")
    assert n > 0
    assert not failures, "\n".join(failures[:20])


def test_workloads_parse_to_their_entry():
    if not WORKLOADS.exists():
        pytest.skip(f"{WORKLOADS} is absent")
    for path in sorted(WORKLOADS.glob("*.mlir")):
        m = parse(path.read_text(), str(path))
        assert m.entry_name == "main" and m.entry.params, path.name
