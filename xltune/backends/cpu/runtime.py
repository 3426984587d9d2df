"""Calling a compiled CPU program: the per-call path is kept lean (fill a pointer table, allocate
outputs, one ctypes call per native segment); everything else is prepared once.

Inputs are used in place when C-contiguous (zero-copy); any other layout is copied first and
the reason is counted in `stats["input_copies"]`. Fallback instructions (no native kernel) run
through the interpreter's implementation of that one instruction, reading and writing the same
buffers the native code uses.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from ...ir.types import TOKEN
from .program import (ARRAY_DATA_OFFSET, ARRAY_FLAGS_OFFSET, C_CONTIGUOUS, ENTRY, Buf, FallbackStep,
                      Plan)

_SEGMENT = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_layout_ok: bool | None = None


def array_layout_ok() -> bool:
    """Does the native entry read ndarray data pointers and flags where they are in this process?"""
    global _layout_ok
    if _layout_ok is None:
        try:
            ok = True
            for a in (np.arange(6, dtype=np.float32), np.arange(6, dtype=np.int8)[::2], np.zeros((2, 3)).T):
                data = ctypes.c_void_p.from_address(id(a) + ARRAY_DATA_OFFSET).value
                flags = ctypes.c_int.from_address(id(a) + ARRAY_FLAGS_OFFSET).value
                ok &= data == a.ctypes.data and bool(flags & C_CONTIGUOUS) == a.flags.c_contiguous
            _layout_ok = bool(ok)
        except Exception:
            _layout_ok = False
    return _layout_ok


# Outputs from this size on start on a cache line: large numpy allocations sit 16 bytes past a page
# boundary, and every 64-byte vector access to such a buffer spans two cache lines.
ALIGNED_OUTPUT_BYTES = 1 << 14


def _empty_aligned(shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(n + 64, np.uint8)
    off = (-raw.ctypes.data) % 64
    return raw[off:off + n].view(dtype).reshape(shape)


def _aligned_bytes(n: int, align: int = 64) -> np.ndarray:
    raw = np.empty(n + align, np.uint8)
    off = (-raw.ctypes.data) % align
    return raw[off:off + n]


class CpuRunner:
    def __init__(self, plan: Plan, library, segment_names: list[str], module, stats: dict):
        self.plan = plan
        self.library = library          # keeps the JIT'd code alive
        self.module = module
        self.stats = stats
        self._np = len(plan.params)
        self._no = len(plan.outputs)
        self._constants = plan.constants
        self._arena = _aligned_bytes(max(plan.arena_bytes, 1))
        n = self._np + self._no + len(plan.constants) + 1
        self._table = (ctypes.c_void_p * n)()
        self._table_addr = ctypes.addressof(self._table)
        for k, c in enumerate(plan.constants):
            self._table[self._np + self._no + k] = c.ctypes.data
        self._table[n - 1] = self._arena.ctypes.data
        self._out_specs = [(_empty_aligned if t.nbytes >= ALIGNED_OUTPUT_BYTES else np.empty, t.shape,
                            t.dtype.np_dtype) for t in plan.outputs]
        # The fast path: one native call that takes the arrays themselves.
        self._entry = None
        if ENTRY in segment_names and array_layout_ok():
            sig = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, *[ctypes.py_object] * (self._np + self._no))
            self._entry = sig(library[ENTRY])
            self._fixed = (ctypes.c_void_p * (len(plan.constants) + 1))(
                *[c.ctypes.data for c in plan.constants], self._arena.ctypes.data)
            self._fixed_addr = ctypes.addressof(self._fixed)
        segment_names = [s for s in segment_names if s != ENTRY]
        fns = iter([_SEGMENT(library[s]) for s in segment_names])
        self._program = [seg if isinstance(seg, FallbackStep) else next(fns) for seg in plan.segments()]
        self._single = self._program[0] if len(self._program) == 1 and not isinstance(
            self._program[0], FallbackStep) else None
        self._lock = threading.Lock()
        stats.setdefault("input_copies", 0)

    def run(self, arrays) -> list:
        entry = self._entry
        if entry is not None:
            outs = [new(shape, dt) for new, shape, dt in self._out_specs]
            with self._lock:
                if entry(self._fixed_addr, *arrays, *outs) == 0:
                    return outs
            # some argument is not C-contiguous: the table path copies it
        return self._run_table(arrays)

    def _run_table(self, arrays) -> list:
        table = self._table
        args = []
        with self._lock:
            for i, a in enumerate(arrays):
                if isinstance(a, np.ndarray) and not a.flags.c_contiguous:
                    self.stats["input_copies"] += 1
                    self.stats["input_copy_reason"] = (f"argument {i} is not C-contiguous (strides "
                                                       f"{a.strides}): copied")
                    a = np.ascontiguousarray(a)
                args.append(a)
                if isinstance(a, np.ndarray) and i < self._np:
                    table[i] = a.__array_interface__["data"][0]
            outs = [new(shape, dt) for new, shape, dt in self._out_specs]
            base = self._np
            for k, o in enumerate(outs):
                table[base + k] = o.__array_interface__["data"][0]
            if self._single is not None:
                self._single(self._table_addr)
            else:
                for step in self._program:
                    if isinstance(step, FallbackStep):
                        self._fallback(step, args, outs)
                    else:
                        step(self._table_addr)
        return outs

    # ---- fallbacks ----------------------------------------------------------------------------------
    def _view(self, b: Buf, args, outs):
        if b.kind == "param":
            return args[b.index]
        if b.kind == "output":
            return outs[b.index]
        if b.kind == "const":
            return self._constants[b.index]
        t = b.type
        return np.ndarray(t.shape, t.dtype.np_dtype, buffer=self._arena.data, offset=b.index)

    def _value(self, spec, args, outs):
        if isinstance(spec, Buf):
            return self._view(spec, args, outs)
        if spec[0] == "tuple":
            return tuple(self._value(s, args, outs) for s in spec[1])
        return TOKEN

    def _fallback(self, step: FallbackStep, args, outs):
        from ...interpreter import evaluate_instruction, flatten_values
        vals = [self._value(s, args, outs) for s in step.inputs]
        nops = len(step.inst.operands)
        # Regions (while bodies, ...) may read values of the entry computation: bind them.
        captured = dict(zip(step.captured, vals[nops:]))
        result = evaluate_instruction(step.inst, vals[:nops], self.module, captured=captured)
        leaves = flatten_values([result])
        for b, v in zip(step.outputs, leaves):
            if b is not None:
                np.copyto(self._view(b, args, outs), np.asarray(v), casting="unsafe")
