"""rng_bit_generator: XLA's THREE_FRY and PHILOX bit generators (xla/hlo/builder/lib/prng.cc), which
is what the conformance files' expected values come from. The state is [key, counter...]: the
key stays, the counter advances by the number of generator calls."""
from __future__ import annotations

import math

import numpy as np

M32 = np.uint64(0xFFFFFFFF)


def _u32(x):
    return (np.asarray(x, dtype=np.uint64) & M32).astype(np.uint32)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return ((x << np.uint32(r)) | (x >> np.uint32(32 - r))).astype(np.uint32)


def threefry2x32(x0: np.ndarray, x1: np.ndarray, k0: np.uint32, k1: np.uint32):
    rot = (13, 15, 26, 6, 17, 29, 16, 24)
    ks = [np.uint32(k0), np.uint32(k1), np.uint32(np.uint32(k0) ^ np.uint32(k1) ^ np.uint32(0x1BD11BDA))]
    x0 = (x0 + ks[0]).astype(np.uint32)
    x1 = (x1 + ks[1]).astype(np.uint32)
    for i in range(5):
        rs = rot[:4] if i % 2 == 0 else rot[4:]
        for r in rs:
            x0 = (x0 + x1).astype(np.uint32)
            x1 = _rotl(x1, r)
            x1 = x0 ^ x1
        x0 = (x0 + ks[(i + 1) % 3]).astype(np.uint32)
        x1 = (x1 + ks[(i + 2) % 3] + np.uint32(i + 1)).astype(np.uint32)
    return x0, x1


def _split64(v: np.ndarray):
    v = np.asarray(v, np.uint64)
    return (v >> np.uint64(32)).astype(np.uint32), (v & M32).astype(np.uint32)


def _join64(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    return (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)


def _split_shape(shape):
    """XLA's SplitShapeIntoHalves: the dimension halved for 32-bit outputs (an even one if any,
    else the largest), and the half shape."""
    if not shape:
        return 0, (1,)
    split = -1
    for i, d in enumerate(shape):
        if d % 2 == 0:
            split = i
            break
    if split == -1:
        for i, d in enumerate(shape):
            if split == -1 or d > shape[split]:
                split = i
    half = list(shape)
    half[split] = -(-half[split] // 2)
    return split, tuple(half)


def three_fry(state: np.ndarray, shape, bits: int):
    key, counter = np.uint64(state[0]), np.uint64(state[1])
    k1, k0 = _split64(np.array(key))  # the key's low word is key[0]
    shape = tuple(shape)
    if bits == 64:
        calls = math.prod(shape)
        ctr = counter + np.arange(calls, dtype=np.uint64)
        hi, lo = _split64(ctr)
        o0, o1 = threefry2x32(lo, hi, k0, k1)
        out = _join64(o1, o0).reshape(shape)
    else:
        split, half = _split_shape(shape)
        calls = math.prod(half)
        ctr = counter + np.arange(calls, dtype=np.uint64)
        hi, lo = _split64(ctr)
        o0, o1 = threefry2x32(lo, hi, k0, k1)
        o0, o1 = o0.reshape(half), o1.reshape(half)
        both = np.stack([o0, o1], axis=split + 1)  # [..., h, 2, ...] -> [..., 2h, ...]
        full = list(half)
        full[split] *= 2
        out = both.reshape(full if shape else (2,))
        if shape:
            out = out[tuple(slice(0, d) for d in shape)]
        else:
            out = out[0]
        if bits < 32:
            out = out.astype(np.uint64) & np.uint64((1 << bits) - 1)
    new_state = np.array(state, np.uint64).copy()
    new_state[1] = counter + np.uint64(calls)
    return new_state, np.asarray(out).reshape(shape)


_PA, _PB = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_MA, _MB = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)


def philox4x32(c: list, k0, k1):
    k0, k1 = np.uint32(k0), np.uint32(k1)
    for i in range(10):
        p0 = _MA * c[0].astype(np.uint64)
        p1 = _MB * c[2].astype(np.uint64)
        hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), (p0 & M32).astype(np.uint32)
        hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), (p1 & M32).astype(np.uint32)
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
        k0 = np.uint32((int(k0) + int(_PA)) & 0xFFFFFFFF)
        k1 = np.uint32((int(k1) + int(_PB)) & 0xFFFFFFFF)
    return c


def philox(state: np.ndarray, shape, bits: int):
    """XLA's Philox4x32-10: key = state[0]; the 128-bit counter is (state[1], state[2]) for a
    3-word state and (state[1], state[0]) for a 2-word one."""
    key = int(state[0])
    ctr_lo = np.uint64(state[1])
    ctr_hi = np.uint64(state[2]) if len(state) > 2 else np.uint64(state[0])
    k0, k1 = np.uint32(key & 0xFFFFFFFF), np.uint32(key >> 32)
    n = math.prod(shape)
    per_call = 4 if bits <= 32 else 2
    calls = (n + per_call - 1) // per_call
    idx = np.arange(calls, dtype=np.uint64)
    lo = ctr_lo + idx
    hi = ctr_hi + (lo < ctr_lo).astype(np.uint64)
    c = [(lo & M32).astype(np.uint32), (lo >> np.uint64(32)).astype(np.uint32),
         (hi & M32).astype(np.uint32), (hi >> np.uint64(32)).astype(np.uint32)]
    out = philox4x32(c, k0, k1)
    if bits <= 32:
        res = np.stack(out, axis=1).reshape(-1)[:n]
        if bits < 32:
            res = res.astype(np.uint64) & np.uint64((1 << bits) - 1)
    else:
        res = np.stack([_join64(out[1], out[0]), _join64(out[3], out[2])], axis=1).reshape(-1)[:n]
    new_state = np.array(state, np.uint64).copy()
    new_lo = ctr_lo + np.uint64(calls)
    new_state[1] = new_lo
    if len(state) > 2 and new_lo < ctr_lo:
        new_state[2] = ctr_hi + np.uint64(1)
    return new_state, res.reshape(shape)


def rng_bit_generator(algorithm: str, state: np.ndarray, shape, bits: int):
    state = np.asarray(state).astype(np.uint64)
    if algorithm in ("THREE_FRY", "DEFAULT"):
        if state.size < 2:
            raise ValueError("THREE_FRY needs a state of 2 x ui64")
        return three_fry(state, shape, bits)
    if algorithm == "PHILOX":
        if state.size not in (2, 3):
            raise ValueError("PHILOX needs a state of 2 or 3 x ui64")
        return philox(state, shape, bits)
    raise ValueError(f"unknown rng_algorithm {algorithm!r}")
