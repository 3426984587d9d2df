"""The elemental emitter: the value of any instruction of a fused computation at one Index.

Target independent: the backend decides where indices come from (CPU loop induction variables,
GPU thread ids) and how parameters are read (`read_param`). Everything else — elementwise ops
(the scalar table), data movement (the indexing table), constants, `map` bodies — is here.

Values are memoized per (instruction, Index object), so `x * x` reads x once. Code emitted under
a branch (`branch_chain`) is memoized only inside that branch (`scoped`), so a value never gets
used where it is not defined.
"""
from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from typing import Callable

import numpy as np
from llvmlite import ir

from ..ir.ops import DATA_MOVEMENT, ELEMENTWISE
from . import lltypes as T
from . import scalar
from .context import CodegenContext, EmitOptions
from .indexing import MOVEMENT, Index, c64, delinearize, linearize
from .lltypes import I8, NotLowerable

# Ops handled by the scalar table although the op catalog files them elsewhere.
_SCALAR_EXTRA = {"bitcast_convert", "reduce_precision"}


def is_splat(value: np.ndarray) -> bool:
    """Every element has the same bits (then the constant is one immediate, not a table)."""
    if value.size <= 1 or all(st == 0 for st in value.strides):
        return True
    a = np.ascontiguousarray(value).view(np.uint8).reshape(value.size, -1)
    return bool((a == a[0]).all())


class ElementalEmitter:
    def __init__(self, cx: CodegenContext, b: ir.IRBuilder, opts: EmitOptions,
                 read_param: Callable[["object", Index], object]):
        self.cx = cx
        self.b = b
        self.opts = opts
        self._read_param = read_param
        self._cache: dict = {}
        self._scalar_ix: dict[tuple, Index] = {}

    # ---- indices ------------------------------------------------------------------------------------
    def scalar_index(self, shape) -> Index:
        """The index of the only element of a size-1 tensor."""
        shape = tuple(shape)
        ix = self._scalar_ix.get(shape)
        if ix is None:
            ix = Index(shape, coords=[c64(0)] * len(shape), linear=c64(0))
            self._scalar_ix[shape] = ix
        return ix

    def coords(self, ix: Index) -> list:
        if ix.coords is not None:
            return ix.coords
        key = ("coords", ix)
        c = self._cache.get(key)
        if c is None:
            if ix.coords_fn is not None:
                c = ix.coords_fn()
            else:
                c = delinearize(self.b, self.linear(ix), ix.shape)
            self._cache[key] = c
        return c

    def linear(self, ix: Index):
        if ix.linear is not None:
            return ix.linear
        key = ("linear", ix)
        v = self._cache.get(key)
        if v is None:
            if ix.linear_fn is not None:
                v = ix.linear_fn()
            else:
                v = linearize(self.b, self.coords(ix), ix.shape)
            self._cache[key] = v
        return v

    # ---- values -------------------------------------------------------------------------------------
    def value(self, inst, ix: Index):
        key = (inst, ix)
        v = self._cache.get(key)
        if v is not None:
            return v
        v = self._compute(inst, ix)
        self._cache[key] = v
        return v

    def _compute(self, inst, ix: Index):
        op = inst.opcode
        if op == "parameter":
            return self._read_param(inst, ix)
        if op == "constant":
            return self._constant(inst, ix)
        if op in MOVEMENT:
            return MOVEMENT[op](self, inst, ix)
        if op in scalar.LOWERINGS:
            reason = scalar.unsupported_reason(inst)
            if reason:
                raise NotLowerable(reason)
            args = [self.value(o, self._operand_index(o, ix)) for o in inst.operands]
            return scalar.emit(self, inst, args)
        if op == "map":
            args = [self.value(o, ix) for o in inst.operands]
            return self.eval_region(inst.regions[0], args)[0]
        if op == "reduce_window":
            from .reduction import window_value
            return window_value(self, inst, ix)
        if op == "get_tuple_element" and inst.operands[0].opcode == "reduce_window":
            return self.value(inst.operands[0], ix)[int(inst.attrs["index"])]
        raise NotLowerable(f"'{op}' has no elemental lowering")

    def _operand_index(self, o, ix: Index) -> Index:
        if o.shape == ix.shape:
            return ix
        if math.prod(o.shape) == 1:
            return self.scalar_index(o.shape)
        raise NotLowerable(f"operand {o.ref} of shape {o.shape} read at an index of shape {ix.shape}")

    def _constant(self, inst, ix: Index):
        value = inst.attrs["value"]
        dt = inst.dtype
        if is_splat(value):
            return T.constant(dt, value.reshape(-1)[0] if value.size else 0)
        gv = self.constant_global(value)
        return T.load(self.b, gv, dt, self.linear(ix))

    def constant_global(self, value: np.ndarray):
        """A private global holding the array's bytes in storage layout (numpy's, for every
        supported type), deduplicated by content."""
        data = np.ascontiguousarray(value).tobytes()
        name = "xltune.const." + hashlib.sha1(data + str(value.dtype).encode()).hexdigest()[:16]
        gv = self.cx.module.globals.get(name)
        if gv is None:
            ty = ir.ArrayType(I8, len(data))
            gv = ir.GlobalVariable(self.cx.module, ty, name=name)
            gv.global_constant = True
            gv.linkage = "private"
            gv.unnamed_addr = True
            gv.align = 64
            gv.initializer = ir.Constant(ty, bytearray(data))
        return gv

    # ---- helpers for the tables ---------------------------------------------------------------------
    def select(self, p, x, y):
        if isinstance(x, tuple):
            return (self.b.select(p, x[0], y[0]), self.b.select(p, x[1], y[1]))
        return self.b.select(p, x, y)

    def is_cheap(self, inst, budget: int = 8) -> bool:
        """A small tree of loads and data movement (worth computing speculatively)."""
        seen = set()
        stack = [inst]
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            if len(seen) > budget:
                return False
            cat = i.opdef.category
            if i.opcode in ("parameter", "constant", "convert", "iota"):
                pass
            elif cat == DATA_MOVEMENT and i.opcode not in ("concatenate", "pad"):
                pass
            elif cat == ELEMENTWISE and i.opcode in ("negate", "abs", "add", "subtract", "multiply",
                                                       "select", "compare", "maximum", "minimum"):
                pass
            else:
                return False
            stack.extend(i.operands)
        return True

    @contextmanager
    def scoped(self):
        saved = dict(self._cache)
        try:
            yield
        finally:
            self._cache = saved

    def branch_chain(self, cases, dtype):
        """if c0: v0 elif c1: v1 ... else vn, with phis; each v computed only on its branch.
        cases: [(cond or None for the last, thunk)]."""
        b = self.b
        merge = b.append_basic_block("sel.merge")
        incoming = []
        for cond, thunk in cases:
            if cond is None:
                with self.scoped():
                    v = thunk()
                incoming.append((v, b.block))
                b.branch(merge)
                break
            then_bb = b.append_basic_block("sel.then")
            else_bb = b.append_basic_block("sel.else")
            b.cbranch(cond, then_bb, else_bb)
            b.position_at_end(then_bb)
            with self.scoped():
                v = thunk()
            incoming.append((v, b.block))
            b.branch(merge)
            b.position_at_end(else_bb)
        b.position_at_end(merge)
        if isinstance(incoming[0][0], tuple):
            parts = []
            for k in range(2):
                phi = b.phi(incoming[0][0][k].type)
                for v, blk in incoming:
                    phi.add_incoming(v[k], blk)
                parts.append(phi)
            return tuple(parts)
        phi = b.phi(incoming[0][0].type)
        for v, blk in incoming:
            phi.add_incoming(v, blk)
        return phi

    def eval_region(self, comp, args: list) -> list:
        """Evaluate a scalar computation (map / reduce bodies) on compute values."""
        sub = ElementalEmitter(self.cx, self.b, self.opts,
                               lambda p, ix: args[p.attrs["index"]] if p.parent is comp
                               else self._read_param(p, ix))
        outs = []
        for o in comp.outputs:
            if math.prod(o.shape) != 1:
                raise NotLowerable("region with non-scalar values")
            outs.append(sub.value(o, sub.scalar_index(o.shape)))
        return outs


# ---- static checks (before any IR is emitted) ----------------------------------------------------------
def unsupported_in_region(comp) -> str | None:
    """None when every instruction of a fused computation has an elemental lowering."""
    for inst in comp.instructions:
        reason = unsupported_instruction(inst)
        if reason:
            return reason
    for o in comp.outputs:
        if not hasattr(o.type, "shape"):
            return f"output {o.ref} is not a tensor"
    return None


def unsupported_instruction(inst) -> str | None:
    op = inst.opcode
    if op == "get_tuple_element" and inst.operands and inst.operands[0].opcode == "reduce_window":
        return None     # one result of a several-result reduce_window (checked there)
    if op == "reduce_window":
        from .reduction import unsupported_window
        return unsupported_window(inst)
    if not hasattr(inst.type, "shape"):
        return f"{inst.ref} ({op}) does not produce one tensor"
    if not T.supported_dtype(inst.dtype):
        return f"element type {inst.dtype} has no native lowering"
    for o in inst.operands:
        if not hasattr(o.type, "shape"):
            return f"{inst.ref} ({op}) reads a non-tensor value"
        if not T.supported_dtype(o.dtype):
            return f"element type {o.dtype} has no native lowering"
    if op in ("parameter", "constant"):
        return None
    if op in MOVEMENT:
        return None
    if op in scalar.LOWERINGS:
        reason = scalar.unsupported_reason(inst)
        if reason:
            return reason
        for o in inst.operands:
            if o.shape != inst.shape and math.prod(o.shape) != 1:
                return f"{inst.ref} ({op}) mixes operand shapes"
        return None
    if op == "map":
        body = inst.regions[0]
        for i in body.instructions:
            if i.opcode != "parameter" and i.opcode != "constant" and i.opcode not in scalar.LOWERINGS:
                return f"map body uses '{i.opcode}'"
            r = unsupported_instruction(i)
            if r:
                return r
        return None
    return f"'{op}' has no elemental lowering"


def uses_approx_math(comp) -> bool:
    """Does the computation contain a transcendental whose polynomial differs from libm?"""
    from . import vmath
    names = {"exponential": "exp", "exponential_minus_one": "expm1", "log": "log",
             "log_plus_one": "log1p", "tanh": "tanh", "logistic": "logistic", "erf": "erf",
             "sine": "sin", "cosine": "cos"}
    for inst in comp.walk():
        n = names.get(inst.opcode)
        if n is None or not inst.operands:
            continue
        dt = inst.operands[0].type.dtype if hasattr(inst.operands[0].type, "dtype") else None
        if dt is not None and dt.is_float and dt.name in ("f16", "bf16", "f32") and n in vmath.APPROX_F32:
            return True
    return False


__all__ = ["ElementalEmitter", "unsupported_in_region", "unsupported_instruction", "uses_approx_math",
           "is_splat"]
