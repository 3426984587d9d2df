"""The numpy reference executor: the oracle every pass, backend and Config is checked against.

    Evaluator(module).run(computation, args) -> list of output values
    evaluate(module, *arrays)                 -> list of the entry's outputs
    evaluate_instruction(inst, args)          -> the value of one instruction (CPU backend fallback)
    InterpreterBackend                        -> the "interpreter" backend (runs the unfused module)

Values are numpy arrays of exactly the declared dtype (0-d arrays for scalars), Python tuples
(several results, or a real tuple), or TOKEN. Each op's semantics live in its OpDef.evaluate
(xltune/ir/ops/); this module only schedules them, binds region arguments and turns anything
that goes wrong into an XltuneError naming the instruction.

Regions of reduce/scatter/sort/map/select_and_scatter are evaluated on whole arrays at once when
they consist of elementwise ops only (every elementwise evaluation takes its shapes from the
values), else element by element.
"""
from __future__ import annotations

import numpy as np

from .errors import ExecutionError, UnsupportedOpError, XltuneError
from .ir import dtypes as D
from .ir.module import Computation, Instruction, Module
from .ir.ops import ELEMENTWISE, op_def
from .ir.ops._checks import CheckFailure
from .ir.types import TOKEN, TensorType, TokenType, TupleType

__all__ = ["Evaluator", "evaluate", "evaluate_instruction", "InterpreterBackend", "CheckFailure"]

# ops that are the identity on a scalar-to-scalar region value (vectorized region evaluation)
_SCALAR_IDENTITY = {"broadcast_in_dim", "reshape", "transpose", "broadcast", "optimization_barrier"}
_SIMPLE_BINARY = {"add", "multiply", "maximum", "minimum", "and", "or", "xor"}


def _describe(inst: Instruction) -> str:
    try:
        name = inst.opdef.mlir_name
    except XltuneError:
        name = inst.opcode
    return f"{inst.ref} ({name})"


class Evaluator:
    """Evaluates computations of one module (the module is needed for composite and
    interpreter.run_parallel, which name functions). `process` is this program's place in a
    process grid (None: the single process of a 1x1 grid)."""

    def __init__(self, module: Module | None = None, process=None):
        self.module = module
        self.process = process
        self.probes: dict | None = None  # interpreter.probe values, by probe_id
        self._env: dict[Instruction, object] = {}
        self._order: dict[int, list[Instruction]] = {}
        self._vectorizable: dict[int, bool] = {}
        self._simple: dict[int, tuple | None] = {}
        self._depth = 0

    # ---- the public entry points ---------------------------------------------------------------
    def run(self, computation: Computation, args) -> list:
        """Evaluate `computation` with its parameters bound to `args`; its outputs, in order."""
        args = list(args)
        if len(args) != len(computation.params):
            raise ExecutionError(f"computation @{computation.name} takes {len(computation.params)} "
                                 f"argument(s), got {len(args)}")
        if self._depth == 0:
            with np.errstate(all="ignore"):
                self._depth += 1
                try:
                    return self._run(computation, args)
                finally:
                    self._depth -= 1
        self._depth += 1
        try:
            return self._run(computation, args)
        finally:
            self._depth -= 1

    def bind(self, values: dict) -> None:
        """Give instructions values (e.g. entry values that a region evaluated alone reads)."""
        self._env.update(values)

    def function(self, name: str) -> Computation | None:
        if self.module is None:
            return None
        return self.module.functions.get(name)

    # ---- scheduling ----------------------------------------------------------------------------------
    def _schedule(self, comp: Computation) -> list[Instruction]:
        key = id(comp)
        order = self._order.get(key)
        if order is None or len(order) != len(comp.instructions):
            order = [i for i in comp.post_order() if i.opcode != "parameter"]
            self._order[key] = order
        return order

    def _run(self, comp: Computation, args: list) -> list:
        env = self._env
        for p, a in zip(comp.params, args):
            env[p] = a
        for inst in self._schedule(comp):
            env[inst] = self.eval_instruction(inst, [self._value(o, inst) for o in inst.operands])
        return [self._value(o, None) for o in comp.outputs]

    def _value(self, operand: Instruction, user: Instruction | None):
        try:
            return self._env[operand]
        except KeyError:
            where = f"{_describe(user)} uses " if user is not None else "the computation returns "
            raise ExecutionError(f"{where}{operand.ref}, which has no value (not defined in this "
                                 f"computation or an enclosing one)", user.loc if user else operand.loc) from None

    def eval_instruction(self, inst: Instruction, args: list, check: bool = True):
        """The value of `inst` given its operand values (errors name the instruction)."""
        try:
            d = op_def(inst.opcode, inst.loc)
            if d.evaluate is None:
                raise UnsupportedOpError(inst.opcode, inst.loc, "the interpreter cannot evaluate it")
            value = d.evaluate(inst, args, self)
        except XltuneError as e:
            if e.loc is None and inst.loc is not None:
                e.loc = inst.loc
                e.args = (e._format(),)
            raise
        except RecursionError:
            raise
        except Exception as e:  # a bug or a bad program: never a bare numpy error
            raise ExecutionError(f"{_describe(inst)}: {type(e).__name__}: {e}", inst.loc) from e
        if check:
            value = self._conform(inst, value)
        return value

    def _conform(self, inst: Instruction, value):
        """Make a value carry exactly the declared type (dtype drift is fixed, shape drift is a bug)."""
        t = inst.type
        if isinstance(t, TensorType):
            return _as_tensor(inst, value, t)
        if isinstance(t, TupleType):
            if not isinstance(value, tuple) or len(value) != len(t.elements):
                raise ExecutionError(f"{_describe(inst)} produced {type(value).__name__} where "
                                     f"{len(t.elements)} result(s) of {t} were expected", inst.loc)
            return tuple(_as_tensor(inst, v, e) if isinstance(e, TensorType) else v
                         for v, e in zip(value, t.elements))
        return value

    # ---- regions ------------------------------------------------------------------------------------------
    def vectorizable(self, region: Computation) -> bool:
        key = id(region)
        v = self._vectorizable.get(key)
        if v is None:
            v = _region_is_elementwise(region)
            self._vectorizable[key] = v
        return v

    def map_region(self, region: Computation, arrays: list) -> list:
        """Apply a region with scalar parameters elementwise over equally shaped arrays."""
        arrays = [np.asarray(a) for a in arrays]
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        flat = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
        n = int(np.prod(shape)) if shape else 1
        out_types = [o.type for o in region.outputs]
        if self.vectorizable(region):
            outs = self._run_vectorized(region, flat)
            res = []
            for o, t in zip(outs, out_types):
                o = np.asarray(o)
                if isinstance(t, TensorType) and o.dtype != t.dtype.np_dtype:
                    o = o.astype(t.dtype.np_dtype)
                res.append(np.broadcast_to(o, (n,)).reshape(shape) if o.shape != (n,) else o.reshape(shape))
            return res
        cols = [[] for _ in out_types]
        for i in range(n):
            outs = self.run(region, [a[i:i + 1].reshape(()) for a in flat])
            for c, o in zip(cols, outs):
                c.append(np.asarray(o).reshape(()))
        res = []
        for c, t in zip(cols, out_types):
            dt = t.dtype.np_dtype if isinstance(t, TensorType) else None
            res.append(np.array(c, dtype=dt).reshape(shape) if c else np.zeros(shape, dt))
        return res

    def _run_vectorized(self, region: Computation, flat: list) -> list:
        env = self._env
        for p, a in zip(region.params, flat):
            env[p] = a
        self._depth += 1
        try:
            for inst in self._schedule(region):
                args = [self._value(o, inst) for o in inst.operands]
                if inst.opcode in _SCALAR_IDENTITY:
                    env[inst] = args[0]
                else:
                    env[inst] = self.eval_instruction(inst, args, check=False)
        finally:
            self._depth -= 1
        return [self._value(o, None) for o in region.outputs]

    def simple_binary(self, region: Computation):
        """('add', swapped) etc. when the region is one commutative-style binary op of its two
        parameters; ('replace', False) when it returns its second parameter; else None."""
        key = id(region)
        if key in self._simple:
            return self._simple[key]
        self._simple[key] = r = _simple_binary(region)
        return r


def _as_tensor(inst, value, t: TensorType):
    if isinstance(value, (tuple, TokenType)):
        raise ExecutionError(f"{_describe(inst)} produced {type(value).__name__} where {t} was expected", inst.loc)
    a = np.asarray(value)
    if a.shape != t.shape:
        if a.size == t.size and a.size <= 1:
            a = a.reshape(t.shape)
        else:
            raise ExecutionError(f"{_describe(inst)} produced shape {a.shape}, declared {t}", inst.loc)
    if a.dtype != t.dtype.np_dtype:
        a = a.astype(t.dtype.np_dtype)
    return a


def _region_is_elementwise(region: Computation) -> bool:
    for inst in region.instructions:
        if inst.regions:
            return False
        if inst.opcode == "parameter":
            if not (isinstance(inst.type, TensorType) and inst.type.shape == ()):
                return False
            continue
        if inst.opcode == "constant":
            if not (isinstance(inst.type, TensorType) and inst.type.shape == ()):
                return False
            continue
        if inst.opcode in _SCALAR_IDENTITY:
            if not (isinstance(inst.type, TensorType) and inst.type.shape == ()
                    and all(isinstance(o.type, TensorType) and o.type.shape == () for o in inst.operands)):
                return False
            continue
        try:
            d = op_def(inst.opcode)
        except XltuneError:
            return False
        if d.category != ELEMENTWISE:
            return False
        if not isinstance(inst.type, TensorType) or inst.type.shape != ():
            return False
        # captured values from enclosing computations must be scalars too
        for o in inst.operands:
            if not (isinstance(o.type, TensorType) and o.type.shape == ()):
                return False
    return all(isinstance(o.type, TensorType) and o.type.shape == () for o in region.outputs)


def _simple_binary(region: Computation):
    params = region.params
    if len(params) != 2 or len(region.outputs) != 1:
        return None
    dts = {p.type.dtype for p in params if isinstance(p.type, TensorType)}
    if len(dts) != 1 or region.outputs[0].type != params[0].type:
        return None
    body = [i for i in region.instructions if i.opcode != "parameter"]
    out = region.outputs[0]
    if not body:
        return ("replace", False) if out is params[1] else None
    if len(body) != 1 or body[0] is not out or out.opcode not in _SIMPLE_BINARY:
        return None
    a, b = out.operands
    if a is params[0] and b is params[1]:
        return (out.opcode, False)
    if a is params[1] and b is params[0]:
        return (out.opcode, True)
    return None


# ---- module-level helpers --------------------------------------------------------------------------------
def evaluate(module: Module, *arrays) -> list:
    """Run the module's entry computation on `arrays`; the list of its outputs."""
    entry = module.entry
    args = _bind_args(entry, arrays)
    return Evaluator(module).run(entry, args)


def _bind_args(entry: Computation, arrays) -> list:
    if len(arrays) != len(entry.params):
        from .errors import ArgumentError
        raise ArgumentError(f"@{entry.name} takes {len(entry.params)} argument(s), got {len(arrays)}")
    out = []
    for p, a in zip(entry.params, arrays):
        if isinstance(p.type, TensorType):
            a = np.asarray(a)
            if a.dtype != p.type.dtype.np_dtype:
                a = a.astype(p.type.dtype.np_dtype)
            if a.shape != p.type.shape:
                from .errors import ArgumentError
                raise ArgumentError(f"argument %{p.name}: expected shape {p.type.shape}, got {a.shape}")
        out.append(a)
    return out


def evaluate_instruction(inst: Instruction, args: list, module: Module | None = None,
                         captured: dict | None = None):
    """The value of one instruction from its operand values (regions are evaluated as needed).

    captured: {instruction: value} for values of enclosing computations that the instruction's
    regions read directly (a while body using an entry value, ...)."""
    ev = Evaluator(module)
    if captured:
        ev.bind(captured)
    with np.errstate(all="ignore"):
        ev._depth += 1
        try:
            return ev.eval_instruction(inst, list(args))
        finally:
            ev._depth -= 1


def flatten_values(values) -> list:
    out = []
    for v in values:
        if isinstance(v, tuple):
            out.extend(flatten_values(v))
        else:
            out.append(v)
    return out


# ---- the backend ----------------------------------------------------------------------------------------------
class _Runner:
    def __init__(self, module: Module):
        self.module = module

    def run(self, arrays) -> list:
        outs = Evaluator(self.module).run(self.module.entry, _bind_args(self.module.entry, list(arrays)))
        return flatten_values(outs)


class InterpreterBackend:
    name = "interpreter"
    runs_passes = False
    default_pipeline = ""

    def knobs(self, module) -> list:
        return []

    def build(self, module: Module, config, stages: dict, stats: dict):
        return _Runner(module)

    def fingerprint(self) -> str:
        return "numpy"
