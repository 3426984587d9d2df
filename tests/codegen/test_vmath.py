"""The vectorizable polynomials against correctly rounded references, over their whole domains.

These are the default for f32 (math knob "approx"); "libm" must give the C library's answers.
The bounds are the measured worst cases with a little room; a change that loosens them is a
regression someone should look at.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sc

from codegen_testlib import unary_exe

# op -> (numpy reference in f64, max ulps, domain)
CASES = {
    "exponential": (np.exp, 2, (-110.0, 90.0)),
    "log": (np.log, 2, (0.0, 3.4e38)),
    "log_plus_one": (np.log1p, 3, (-1.0, 1e30)),
    "exponential_minus_one": (np.expm1, 4, (-100.0, 89.0)),
    "tanh": (np.tanh, 5, (-12.0, 12.0)),
    "logistic": (lambda x: sc.expit(x), 4, (-105.0, 105.0)),
    "erf": (sc.erf, 6, (-5.0, 5.0)),
    "sine": (np.sin, 2, (-1e6, 1e6)),
    "cosine": (np.cos, 2, (-1e6, 1e6)),
}


def _points(lo, hi, n=1 << 16, seed=0):
    rng = np.random.default_rng(seed)
    lin = rng.uniform(lo, hi, n)
    # log-spaced magnitudes too (tiny, denormal, huge), both signs where the domain allows
    mags = np.exp2(rng.uniform(-149, np.log2(max(abs(lo), abs(hi))), n))
    signed = np.where(rng.random(n) < 0.5, -mags, mags) if lo < 0 else mags
    pts = np.concatenate([lin, signed]).astype(np.float32)
    return pts[(pts >= lo) & (pts <= hi)]


def _ulps(got, want64):
    with np.errstate(over="ignore"):
        want = want64.astype(np.float32)
    g = got.astype(np.float64)
    w = np.where(np.isfinite(want), want64, want.astype(np.float64))
    spacing = np.spacing(np.abs(want)).astype(np.float64)
    spacing = np.maximum(spacing, np.float64(np.finfo(np.float32).smallest_subnormal))
    fin = np.isfinite(w) & np.isfinite(g)
    err = np.abs(g[fin] - w[fin]) / spacing[fin]
    return err.max() if err.size else 0.0, ((np.isfinite(w) != np.isfinite(g)) & ~np.isnan(w)).sum()


@pytest.mark.parametrize("op", sorted(CASES))
def test_polynomial_accuracy(op):
    ref, bound, (lo, hi) = CASES[op]
    x = _points(lo, hi)
    exe = unary_exe(op, x.size)
    got = exe(x)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    err, inf_mismatch = _ulps(got, want)
    assert inf_mismatch == 0, f"{op}: {inf_mismatch} overflow/underflow mismatches"
    assert err <= bound, f"{op}: {err:.2f} ulps > {bound}"


@pytest.mark.parametrize("op", sorted(CASES))
def test_specials(op):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38], np.float32)
    ref = CASES[op][0]
    got = unary_exe(op, x.size)(x)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64)).astype(np.float32)
    with np.errstate(invalid="ignore"):   # inf - inf where both are inf
        same = (got == want) | (np.isnan(got) & np.isnan(want)) | \
            (np.abs(got - want) <= 2 * np.spacing(np.abs(want)))
    assert same.all(), f"{op}: {x[~same]} -> {got[~same]} want {want[~same]}"


@pytest.mark.parametrize("op", sorted(CASES))
def test_libm_knob_is_accurate_and_calls_the_library(op):
    ref = CASES[op][0]
    x = _points(*CASES[op][2], n=2048)
    exe = unary_exe(op, x.size, math="libm")
    err, _ = _ulps(exe(x), ref(x.astype(np.float64)))
    assert err <= 4, f"{op} (libm): {err} ulps"
    assert "call" in exe.stages["asm"]      # the C library, not the polynomial


def test_sine_of_huge_arguments_is_reduced_exactly():
    x = np.array([1e10, -3e20, 1.7e38, 2.0 ** 100, 12345678.0, np.pi * 2 ** 40], np.float32)
    got = unary_exe("sine", x.size)(x)
    # numpy's f64 sin on the exact f32 inputs (glibc does a full Payne-Hanek reduction)
    want = np.sin(x.astype(np.float64))
    assert np.all(np.abs(got - want) <= 2e-7 + 4 * np.spacing(np.abs(want).astype(np.float32)))


def test_polynomials_leave_the_loop_vectorized():
    exe = unary_exe("exponential", 4096)
    ir = exe.stages["llvm"]
    assert "x float>" in ir
    assert "@expf" not in ir and "@llvm.exp.f32" not in ir
