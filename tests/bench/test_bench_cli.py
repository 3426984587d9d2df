"""`xltune bench` end to end on the smallest workload: the table, the JSON, the ratios."""
from __future__ import annotations

import json

import pytest

from xltune import cli


def test_bench_cli_tiny_add(tmp_path, capsys):
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    rc = cli.main(["bench", "--only", "tiny_add", "--budget", "0.05", "--json", str(out), "--markdown", str(md)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| workload |" in printed and "tiny_add" in printed
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["workload"] == "tiny_add" and row["fallback_ops"] == 0
    assert row["xltune_s"] > 0 and row["compile_cold_s"] > 0 and row["compile_warm_s"] > 0
    assert row["max_rel_err"] == 0.0
    assert data["summary"]["copy_bw_GBps"] > 0
    if "xla_s" in row:  # jax installed: the ratio is XLA time over ours
        assert row["speedup_vs_xla"] == pytest.approx(row["xla_s"] / row["xltune_s"])
    assert "tiny_add" in md.read_text()


def test_bench_unknown_suite_directory_is_a_clear_error(tmp_path, capsys):
    rc = cli.main(["bench", str(tmp_path)])
    assert rc == 1
    assert "manifest.json" in capsys.readouterr().err
