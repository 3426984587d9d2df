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
    assert data["summary"]["xltune_first_compile_s"] > 0   # the warm-up, kept out of the rows
    assert "first compile of the process" in printed
    if "xla_s" in row:  # jax installed: the ratio is XLA time over ours
        assert row["speedup_vs_xla"] == pytest.approx(row["xla_s"] / row["xltune_s"])
        # compile times side by side: XLA as shipped and XLA through its LLVM emitters only
        assert row["xla_compile_s"] > 0 and row["xla_codegen_compile_s"] > 0
        s = data["summary"]
        assert s["max_cold_compile_vs_xla"] == pytest.approx(row["compile_cold_s"] / row["xla_compile_s"])
        assert s["max_cold_compile_vs_xla_workload"] == "tiny_add"
        assert s["cold_compile_vs_xla_within_2x"] in (0, 1)
        assert "cold compile / XLA compile: at most" in printed
        assert "cold compile / XLA, LLVM only compile" in printed
    assert "tiny_add" in md.read_text()


def test_bench_unknown_suite_directory_is_a_clear_error(tmp_path, capsys):
    rc = cli.main(["bench", str(tmp_path)])
    assert rc == 1
    assert "manifest.json" in capsys.readouterr().err


def test_bench_cli_tune_reports_the_tuner_promises(tmp_path, capsys):
    out = tmp_path / "bench.json"
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    rc = cli.main(["bench", "--only", "tiny_add", "--budget", "0.05", "--tune", "3", "--no-xla",
                   "--no-interpreter", "--storage", storage, "--json", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["tuned_s"] > 0 and row["trials"] == 3 and row["trials_to_5pct"] >= 1
    assert row["tuned_max_rel_err"] == 0.0
    assert isinstance(row["tuned_slower_beyond_noise"], bool)
    assert data["summary"]["tuned_slower_beyond_noise"] in (0, 1)
    assert "tuned slower (beyond noise)" in capsys.readouterr().out
