"""Warm compiles of reduction kernels: the plan index finds the object without emitting LLVM IR,
and nothing that changes the code (a knob, the module) hits another program's entry."""
from __future__ import annotations

import numpy as np
import pytest

import xltune
from xltune.backends.cpu import objcache, plancache
from xltune.backends.cpu import program as P

from cpu_testlib import SOFTMAX


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("XLTUNE_OBJECT_CACHE", "1")
    return tmp_path


def test_warm_compile_emits_no_ir(fresh_cache, monkeypatch):
    x = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32)
    cold = xltune.compile(SOFTMAX, backend="cpu", use_tuned=False)
    assert cold.stats["object_cache"] == "miss"
    assert list(fresh_cache.glob(f"objects/*{plancache.SUFFIX}"))

    def no_emission(*a, **k):
        raise AssertionError("a warm compile emitted LLVM IR")
    monkeypatch.setattr("xltune.backends.cpu.build_llvm", no_emission)
    hits = objcache.object_cache().hits
    warm = xltune.compile(SOFTMAX, backend="cpu", use_tuned=False)
    assert warm.stats["object_cache"] == "hit" and objcache.object_cache().hits == hits + 1
    assert warm.stages["llvm"] == cold.stages["llvm"] and warm.stages["asm"]
    np.testing.assert_array_equal(warm(x), cold(x))


def test_knob_values_and_modules_get_their_own_entries(fresh_cache):
    knobs = xltune.knobs(SOFTMAX, backend="cpu")
    name = next(k.name for k in knobs if k.name.endswith(".stash"))
    # stash shapes the emitted kernel (the library engine has no use for it)
    emitted = {k.name: "emitted" for k in knobs if k.name.endswith(".engine")}
    a = xltune.compile(SOFTMAX, backend="cpu", config={**emitted, name: True}, use_tuned=False)
    b = xltune.compile(SOFTMAX, backend="cpu", config={**emitted, name: False}, use_tuned=False)
    assert a.stats["object_cache"] == "miss" and b.stats["object_cache"] == "miss"
    assert a.stages["llvm"] != b.stages["llvm"]
    c = xltune.compile(SOFTMAX.replace("stablehlo.divide", "stablehlo.multiply"), backend="cpu", use_tuned=False)
    assert c.stats["object_cache"] == "miss"


def test_demoted_kernels_are_replayed_on_a_warm_compile(fresh_cache, monkeypatch):
    from xltune.backends.cpu import reductions

    def refuse(*a, **k):
        from xltune.codegen.lltypes import NotLowerable
        raise NotLowerable("refused for the test")
    families = [P.KernelFamily(f.name, f.claim, f.knobs, refuse) if f.name == "reduction" else f
                for f in P.FAMILIES]
    monkeypatch.setattr(P, "FAMILIES", families)
    monkeypatch.setattr(plancache, "code_identity", lambda: "patched emitter")
    cold = xltune.compile(SOFTMAX, backend="cpu", use_tuned=False)
    assert cold.stats["fallback_ops"] == 1 and "refused for the test" in cold.stages["schedule"]
    warm = xltune.compile(SOFTMAX, backend="cpu", use_tuned=False)
    assert warm.stats["fallback_ops"] == 1 and "refused for the test" in warm.stages["schedule"]
    x = np.random.default_rng(1).standard_normal((64, 300)).astype(np.float32)
    np.testing.assert_allclose(warm(x), cold(x), rtol=1e-6)
    assert reductions.FAMILY.name == "reduction"


def test_off_means_off(fresh_cache, monkeypatch):
    monkeypatch.setenv("XLTUNE_OBJECT_CACHE", "0")
    xltune.compile(SOFTMAX, backend="cpu", use_tuned=False)
    assert not list(fresh_cache.glob("objects/*"))
