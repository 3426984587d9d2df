"""The compile cache: a warm compile skips the passes and gets the same program."""
from __future__ import annotations

import json

import numpy as np
import pytest

import xltune
from xltune import compile_cache
from xltune.config import Config

SOFTMAXISH = """
func.func @main(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %c = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %m = stablehlo.reduce(%x init: %c) applies stablehlo.maximum across dimensions = [1] : (tensor<8x16xf32>, tensor<f32>) -> tensor<8xf32>
  %b = stablehlo.broadcast_in_dim %m, dims = [0] : (tensor<8xf32>) -> tensor<8x16xf32>
  %d = stablehlo.subtract %x, %b : tensor<8x16xf32>
  %e = stablehlo.exponential %d : tensor<8x16xf32>
  return %e : tensor<8x16xf32>
}
"""


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """An empty cache directory with the compile cache on (the test suite verifies between
    passes, which turns it off)."""
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("XLTUNE_VERIFY", "0")
    monkeypatch.delenv("XLTUNE_COMPILE_CACHE", raising=False)
    compile_cache.clear_memo()
    yield tmp_path / "compiles"
    compile_cache.clear_memo()


@pytest.fixture
def passes_run(monkeypatch):
    """How many times the pass pipeline ran."""
    import xltune.compiler as C
    runs = []
    real = C.optimize

    def counting(*a, **k):
        runs.append(1)
        return real(*a, **k)
    monkeypatch.setattr(C, "optimize", counting)
    return runs


def _x(shape=(8, 16)):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def _same_program(cold, warm):
    assert str(warm.module) == str(cold.module)
    assert str(warm.module.buffer_plan) == str(cold.module.buffer_plan)
    assert list(warm.stages) == list(cold.stages)
    for name in cold.stages:
        if name != "asm":
            assert warm.stages[name] == cold.stages[name], name
    for k in ("pipeline", "kernels", "ops_before", "ops_after", "native_kernels", "fallback_ops"):
        assert warm.stats.get(k) == cold.stats.get(k), k


def test_second_compile_skips_the_passes(cached, passes_run):
    cold = xltune.compile(SOFTMAXISH, backend="cpu")
    assert cold.stats["compile_cache"] == "miss" and passes_run == [1]
    assert len(list(cached.glob("*.json"))) == 1
    warm = xltune.compile(SOFTMAXISH, backend="cpu")
    assert warm.stats["compile_cache"] == "hit" and passes_run == [1]
    assert warm.stats["config_source"] == cold.stats["config_source"]
    _same_program(cold, warm)
    x = _x()
    np.testing.assert_array_equal(cold(x), warm(x))


def test_another_process_reads_the_entry_from_disk(cached, passes_run):
    cold = xltune.compile(SOFTMAXISH, backend="cpu")
    compile_cache.clear_memo()                       # what a new process has
    warm = xltune.compile(SOFTMAXISH, backend="cpu")
    assert warm.stats["compile_cache"] == "hit" and passes_run == [1]
    _same_program(cold, warm)
    np.testing.assert_array_equal(cold(_x()), warm(_x()))


def test_every_workload_round_trips(cached, workloads_dir):
    """Fused modules and buffer plans of every workload come back equal from disk."""
    for path in sorted(workloads_dir.glob("*.cpu.mlir")):
        text = path.read_text()
        cold = xltune.compile(text, backend="cpu", config=Config())
        compile_cache.clear_memo()
        warm = xltune.compile(text, backend="cpu", config=Config())
        assert warm.stats["compile_cache"] == "hit", path.name
        _same_program(cold, warm)


@pytest.mark.parametrize("change", ["config", "pipeline", "text", "source", "backend"])
def test_what_changes_the_program_misses(cached, passes_run, monkeypatch, change):
    xltune.compile(SOFTMAXISH, backend="cpu")
    kw = {"backend": "cpu"}
    text = SOFTMAXISH
    if change == "config":
        kw["config"] = {"fusion.row_fusion": False}
    elif change == "pipeline":
        kw["pipeline"] = "simplify,buffers"
    elif change == "text":
        text = SOFTMAXISH.replace("stablehlo.exponential", "stablehlo.tanh")
    elif change == "source":
        monkeypatch.setattr(compile_cache, "source_digest", lambda: "xltune edited")
    else:
        kw["backend"] = "interpreter"          # runs no passes: never cached
    exe = xltune.compile(text, **kw)
    assert exe.stats.get("compile_cache", "off") in ("miss", "off") and passes_run == [1, 1]


def test_off_switches(cached, passes_run, monkeypatch):
    monkeypatch.setenv("XLTUNE_COMPILE_CACHE", "0")
    xltune.compile(SOFTMAXISH, backend="cpu")
    assert xltune.compile(SOFTMAXISH, backend="cpu").stats["compile_cache"] == "off"
    monkeypatch.delenv("XLTUNE_COMPILE_CACHE")
    monkeypatch.setenv("XLTUNE_VERIFY", "1")          # verifying between passes means running them
    xltune.compile(SOFTMAXISH, backend="cpu")
    assert passes_run == [1, 1, 1] and not list(cached.glob("*.json"))


def test_buffer_plan_not_last_is_not_cached(cached, passes_run):
    for _ in range(2):
        exe = xltune.compile(SOFTMAXISH, backend="cpu", pipeline="buffers,simplify")
        assert exe.stats["compile_cache"] == "off"
    assert passes_run == [1, 1]
    assert compile_cache.policy("simplify,fusion,buffers") == "buffers"
    assert compile_cache.policy("simplify,fusion") == ""


def test_unreadable_entry_compiles_again(cached, passes_run):
    cold = xltune.compile(SOFTMAXISH, backend="cpu")
    compile_cache.clear_memo()
    (entry,) = cached.glob("*.json")
    for bad in ("{not json", json.dumps({"module": "func.func @main(", "stages": {}, "stats": {}}),
                json.dumps({"stages": {}})):
        entry.write_text(bad)
        exe = xltune.compile(SOFTMAXISH, backend="cpu")
        assert exe.stats["compile_cache"] == "miss"
        np.testing.assert_array_equal(exe(_x()), cold(_x()))
        compile_cache.clear_memo()
    assert passes_run == [1, 1, 1, 1]
    assert xltune.compile(SOFTMAXISH, backend="cpu").stats["compile_cache"] == "hit"   # rewritten


def test_empty_cache_directory_is_cold(cached, passes_run, tmp_path, monkeypatch):
    """`xltune bench` points the cache at an empty directory for a cold compile: no level of
    this cache may hit there."""
    xltune.compile(SOFTMAXISH, backend="cpu")
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(other))
    assert xltune.compile(SOFTMAXISH, backend="cpu").stats["compile_cache"] == "miss"
    assert passes_run == [1, 1]


def test_hit_stats_are_a_copy(cached):
    a = xltune.compile(SOFTMAXISH, backend="cpu")
    b = xltune.compile(SOFTMAXISH, backend="cpu")
    b.stats["passes"].append("scribble")
    b.stages["hlo"] = "scribble"
    c = xltune.compile(SOFTMAXISH, backend="cpu")
    assert c.stats["passes"] == a.stats["passes"] and c.stages["hlo"] == a.stages["hlo"]


def test_warm_compile_with_a_config_does_not_parse(cached, passes_run, monkeypatch, tmp_path):
    import xltune.frontend.stablehlo as S
    parses = []
    real = S.parse

    def counting(*a, **k):
        parses.append(1)
        return real(*a, **k)
    monkeypatch.setattr(S, "parse", counting)
    cold = xltune.compile(SOFTMAXISH, backend="cpu", config={})
    assert parses == [1]
    for program in (SOFTMAXISH, _write(tmp_path / "p.mlir", SOFTMAXISH)):
        warm = xltune.compile(program, backend="cpu", config=Config())
        assert warm.stats["compile_cache"] == "hit" and warm.stats["config_source"] == "explicit"
        np.testing.assert_array_equal(warm(_x()), cold(_x()))
    assert passes_run == [1] and parses == [1]
    # without a Config the tuned-config lookup needs the module: parsed, passes still skipped
    again = xltune.compile(SOFTMAXISH, backend="cpu")
    assert again.stats["compile_cache"] == "hit" and passes_run == [1] and parses == [1, 1]
    # a Module is keyed by its printed form
    module = xltune.parse(SOFTMAXISH)
    first = xltune.compile(module, backend="cpu", config=Config())
    second = xltune.compile(module, backend="cpu", config=Config())
    assert second.stats["compile_cache"] == "hit" and passes_run == [1, 1]
    np.testing.assert_array_equal(second(_x()), first(_x()))


def _write(path, text):
    path.write_text(text)
    return path
