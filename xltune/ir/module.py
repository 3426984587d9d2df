"""HLO-style IR: a Module holds Computations; a Computation is an ordered list of Instructions.

Conventions (the contract every layer relies on):
- An Instruction *is* its value (as in XLA HLO). Operands are Instructions.
- Parameters are Instructions with opcode "parameter" and attrs {"index": i}; they come first.
- An op with several results (variadic reduce, sort, while, case, top_k, ...) is one Instruction
  with `multi=True` whose type is a TupleType of the results; its results are read with
  "get_tuple_element" (attrs {"index": i}). The printer shows these as `%x:2` and `%x#1`.
  With exactly one result such an op has `multi=False` and the plain result type. No results:
  `multi=True` with an empty TupleType.
- A computation returns `outputs` (a list: StableHLO `return` may return several values).
- Regions (reduce bodies, while cond/body, case branches) are Computations owned by the
  instruction (`inst.regions`). Region code may use values of enclosing computations (StableHLO
  regions of if/case/while are not isolated from above); such uses are ordinary operands.
- `users` is kept up to date by the mutation methods; never assign `operands` directly.
"""
from __future__ import annotations

import itertools
from typing import Iterable, Iterator

from ..errors import SourceLoc, VerificationError
from .attrs import attr_equal
from .types import TensorType, TupleType, Type


class Instruction:
    __slots__ = ("opcode", "_operands", "type", "attrs", "regions", "name", "loc", "parent",
                 "multi", "_users", "__weakref__")

    def __init__(self, opcode: str, operands: Iterable["Instruction"], type: Type,
                 attrs: dict | None = None, regions: Iterable["Computation"] = (),
                 name: str | None = None, loc: SourceLoc | None = None, multi: bool = False):
        self.opcode = opcode
        self._operands: tuple[Instruction, ...] = tuple(operands)
        self.type = type
        self.attrs = dict(attrs or {})
        self.regions: list[Computation] = list(regions)
        self.name = name
        self.loc = loc
        self.parent: Computation | None = None
        self.multi = multi
        self._users: dict[Instruction, None] = {}
        for r in self.regions:
            r.owner = self

    # ---- operands and users -------------------------------------------------------------
    @property
    def operands(self) -> tuple["Instruction", ...]:
        return self._operands

    @property
    def users(self) -> list["Instruction"]:
        return list(self._users)

    def _link(self):
        for o in self._operands:
            o._users[self] = None

    def _unlink(self):
        for o in self._operands:
            o._users.pop(self, None)

    def set_operands(self, new: Iterable["Instruction"]):
        self._unlink()
        self._operands = tuple(new)
        self._link()

    def replace_operand(self, i: int, new: "Instruction"):
        ops = list(self._operands)
        ops[i] = new
        self.set_operands(ops)

    def replace_all_uses_with(self, new: "Instruction"):
        """Every user (and every computation output) that reads self reads `new` instead."""
        if new is self:
            return
        for u in list(self._users):
            u.set_operands(new if o is self else o for o in u._operands)
        comp = self.parent
        if comp is None:
            return
        # The value's own computation returns it, and so may any region nested inside it
        # (regions read enclosing values without an operand edge).
        comp.outputs = [new if o is self else o for o in comp.outputs]
        for inst in comp.instructions:
            for r in inst.regions:
                for region in r.regions_and_self():
                    if self in region.outputs:
                        region.outputs = [new if o is self else o for o in region.outputs]

    # ---- facts ----------------------------------------------------------------------------
    @property
    def opdef(self):
        from .ops import op_def
        return op_def(self.opcode, self.loc)

    @property
    def shape(self) -> tuple[int, ...]:
        if not isinstance(self.type, TensorType):
            raise VerificationError(f"{self.ref} of type {self.type} has no shape", self.loc)
        return self.type.shape

    @property
    def dtype(self):
        if not isinstance(self.type, TensorType):
            raise VerificationError(f"{self.ref} of type {self.type} has no element type", self.loc)
        return self.type.dtype

    @property
    def result_types(self) -> tuple[Type, ...]:
        """The MLIR results: several for a multi instruction, else one."""
        if self.multi:
            return self.type.elements
        return (self.type,)

    @property
    def ref(self) -> str:
        return f"%{self.name}" if self.name is not None else f"<{self.opcode}>"

    def __repr__(self) -> str:
        return f"{self.ref} = {self.opcode}({', '.join(o.ref for o in self._operands)}) : {self.type}"

    # Identity semantics: instructions are graph nodes.
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other


class Computation:
    """An ordered list of instructions (parameters first) and the values it returns."""

    def __init__(self, name: str = "main", owner: Instruction | None = None):
        self.name = name
        self.owner = owner  # the instruction owning this region (None for a function)
        self.instructions: list[Instruction] = []
        self.params: list[Instruction] = []
        self.outputs: list[Instruction] = []
        self.visibility = "public"  # for functions: "public" | "private"
        self.arg_attrs: list[str | None] = []  # verbatim `{...}` per argument, for printing
        self.result_attrs: list[str | None] = []
        self._names: set[str] = set()
        self._counter = itertools.count()

    # ---- building ---------------------------------------------------------------------------
    def _unique_name(self, hint: str | None) -> str:
        base = hint if hint else None
        if base is not None and base not in self._names:
            self._names.add(base)
            return base
        stem = base or "v"
        while True:
            n = f"{stem}.{next(self._counter)}" if base else f"{next(self._counter)}"
            if n not in self._names:
                self._names.add(n)
                return n

    def add_parameter(self, type: Type, name: str | None = None, loc: SourceLoc | None = None) -> Instruction:
        idx = len(self.params)
        p = Instruction("parameter", (), type, {"index": idx}, name=None, loc=loc)
        p.name = self._unique_name(name or f"arg{idx}")
        p.parent = self
        self.params.append(p)
        # parameters stay in front of the other instructions
        self.instructions.insert(idx, p)
        self.arg_attrs.append(None)
        return p

    def add(self, opcode: str, operands: Iterable[Instruction] = (), type: Type | None = None,
            attrs: dict | None = None, regions: Iterable["Computation"] = (), name: str | None = None,
            loc: SourceLoc | None = None, multi: bool | None = None,
            before: Instruction | None = None) -> Instruction:
        """Append (or insert before `before`) a new instruction; the type is inferred when omitted."""
        operands = tuple(operands)
        regions = list(regions)
        attrs = dict(attrs or {})
        if type is None or multi is None:
            from .ops import op_def
            d = op_def(opcode, loc)
            if type is None:
                type = d.infer_type([o.type for o in operands], attrs, regions, loc)
            if multi is None:
                # a variadic-result op with a tuple type stands for several results
                multi = d.variadic_results and isinstance(type, TupleType)
        inst = Instruction(opcode, operands, type, attrs, regions, loc=loc, multi=bool(multi))
        return self.insert(inst, before=before, name=name)

    def insert(self, inst: Instruction, before: Instruction | None = None, name: str | None = None) -> Instruction:
        inst.name = self._unique_name(name if name is not None else inst.name)
        inst.parent = self
        if before is None:
            self.instructions.append(inst)
        else:
            self.instructions.insert(self.instructions.index(before), inst)
        inst._link()
        return inst

    def set_outputs(self, outs: Iterable[Instruction]):
        self.outputs = list(outs)
        while len(self.result_attrs) < len(self.outputs):
            self.result_attrs.append(None)
        del self.result_attrs[len(self.outputs):]

    def remove(self, inst: Instruction):
        """Remove an instruction nobody uses (parameters cannot be removed)."""
        if inst._users:
            raise VerificationError(f"cannot remove {inst.ref}: still used by "
                                    f"{', '.join(u.ref for u in inst._users)}", inst.loc)
        if inst.opcode == "parameter":
            raise VerificationError(f"cannot remove parameter {inst.ref}", inst.loc)
        inst._unlink()
        for r in inst.regions:  # region code may read values of this or enclosing computations
            for inner in r.walk():
                inner._unlink()
        self.instructions.remove(inst)
        inst.parent = None

    def replace(self, old: Instruction, new: Instruction, remove: bool = True):
        """Route every use of `old` to `new` and (by default) drop `old`."""
        old.replace_all_uses_with(new)
        if remove and old.opcode != "parameter" and old.parent is self:
            self.remove(old)

    # ---- queries ------------------------------------------------------------------------------
    @property
    def output_types(self) -> tuple[Type, ...]:
        return tuple(o.type for o in self.outputs)

    @property
    def param_types(self) -> tuple[Type, ...]:
        return tuple(p.type for p in self.params)

    def __iter__(self) -> Iterator[Instruction]:
        return iter(list(self.instructions))

    def __len__(self) -> int:
        return len(self.instructions)

    def post_order(self) -> list[Instruction]:
        """Instructions in a topological order (operands before users); the list order is
        kept wherever it is already valid, so this is stable for well-formed computations."""
        pos = {inst: i for i, inst in enumerate(self.instructions)}
        seen: set[Instruction] = set()
        order: list[Instruction] = []
        for root in self.instructions:
            if root in seen:
                continue
            stack = [(root, False)]
            while stack:
                node, done = stack.pop()
                if done:
                    order.append(node)
                    continue
                if node in seen:
                    continue
                seen.add(node)
                stack.append((node, True))
                for o in reversed(_local_deps(node, pos)):
                    if o not in seen:
                        stack.append((o, False))
        return order

    def regions_and_self(self) -> Iterator["Computation"]:
        """This computation and every region nested in it (pre-order)."""
        yield self
        for inst in self.instructions:
            for r in inst.regions:
                yield from r.regions_and_self()

    def walk(self) -> Iterator[Instruction]:
        """Every instruction, including those inside regions (pre-order)."""
        for inst in self.instructions:
            yield inst
            for r in inst.regions:
                yield from r.walk()

    def is_ancestor_of(self, comp: "Computation") -> bool:
        c = comp
        while c is not None:
            if c is self:
                return True
            c = c.owner.parent if c.owner is not None else None
        return False

    # ---- copying and comparing -------------------------------------------------------------
    def clone(self, name: str | None = None, mapping: dict | None = None) -> "Computation":
        """Deep copy. `mapping` (old -> new) is extended; values of enclosing computations not
        in the mapping are shared (captured) as they are."""
        mapping = {} if mapping is None else mapping
        new = Computation(name or self.name)
        new.visibility = self.visibility
        for inst in self.instructions:
            if inst.opcode == "parameter":
                p = new.add_parameter(inst.type, inst.name, inst.loc)
                mapping[inst] = p
                continue
            regions = [r.clone(mapping=mapping) for r in inst.regions]
            c = Instruction(inst.opcode, [mapping.get(o, o) for o in inst.operands], inst.type,
                            dict(inst.attrs), regions, loc=inst.loc, multi=inst.multi)
            new.insert(c, name=inst.name)
            mapping[inst] = c
        new.arg_attrs = list(self.arg_attrs)
        new.set_outputs(mapping.get(o, o) for o in self.outputs)
        new.result_attrs = list(self.result_attrs)
        return new

    def equals(self, other: "Computation", _map: dict | None = None) -> bool:
        """Structural equality, ignoring value names."""
        m = {} if _map is None else _map
        if len(self.instructions) != len(other.instructions) or len(self.outputs) != len(other.outputs):
            return False
        for a, b in zip(self.instructions, other.instructions):
            if not _inst_equal(a, b, m):
                return False
            m[a] = b
        return all(m.get(a, a) is b for a, b in zip(self.outputs, other.outputs))

    def __str__(self) -> str:
        from .printer import print_computation
        return print_computation(self)


def _inst_equal(a: Instruction, b: Instruction, m: dict) -> bool:
    if a.opcode != b.opcode or a.type != b.type or a.multi != b.multi:
        return False
    if len(a.operands) != len(b.operands) or any(m.get(x, x) is not y for x, y in zip(a.operands, b.operands)):
        return False
    if a.attrs.keys() != b.attrs.keys() or not all(attr_equal(a.attrs[k], b.attrs[k]) for k in a.attrs):
        return False
    if len(a.regions) != len(b.regions):
        return False
    return all(ra.equals(rb, m) for ra, rb in zip(a.regions, b.regions))


def _local_deps(inst: Instruction, pos: dict) -> list[Instruction]:
    """Operands of inst (and values its regions capture) that live in inst's own computation."""
    deps = [o for o in inst.operands if o in pos]
    if inst.regions:
        for r in inst.regions:
            for inner in r.walk():
                deps.extend(o for o in inner.operands if o in pos)
            deps.extend(o for o in r.outputs if o in pos)
    return deps


class Module:
    """A set of functions; `entry` is the one compile() runs (normally @main)."""

    def __init__(self, name: str | None = None):
        self.name = name
        self.functions: dict[str, Computation] = {}
        self.entry_name: str = "main"
        self.attrs: str | None = None  # module attribute dictionary text, printed verbatim
        self.buffer_plan = None  # set by the `buffers` pass (xltune.passes.buffers.BufferPlan); not cloned

    @property
    def entry(self) -> Computation:
        if self.entry_name in self.functions:
            return self.functions[self.entry_name]
        raise VerificationError(f"module has no function @{self.entry_name}")

    def add_function(self, comp: Computation) -> Computation:
        self.functions[comp.name] = comp
        return comp

    def clone(self) -> "Module":
        m = Module(self.name)
        m.entry_name = self.entry_name
        m.attrs = self.attrs
        for name, f in self.functions.items():
            m.functions[name] = f.clone()
        return m

    def equals(self, other: "Module") -> bool:
        if self.entry_name != other.entry_name or self.functions.keys() != other.functions.keys():
            return False
        return all(f.equals(other.functions[n]) for n, f in self.functions.items())

    def __str__(self) -> str:
        from .printer import print_module
        return print_module(self)

    def to_text(self) -> str:
        return str(self)
