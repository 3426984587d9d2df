"""StableHLO text -> Module: modules, functions, blocks, regions, operations, inlining.

The pretty (custom) syntax of individual ops lives in `syntax.py`; this file holds what every
op shares: result names, operand uses, the generic form, type checks and instruction building.

Function bodies are located first (their braces matched without parsing) and parsed on demand,
so `call @inputs()` can be inlined even when @inputs is defined later in the file.
"""
from __future__ import annotations

import gc
import re

from ...errors import ParseError, SourceLoc, UnsupportedOpError, XltuneError
from ...ir.module import Computation, Instruction, Module
from ...ir.ops import lookup_mlir
from ...ir.types import TupleType
from . import attrs as A
from .lexer import BLOCK, EOF, HASH, IDENT, STRING, SYMBOL, VALUE, Lexer, unescape
from .syntax import HANDLERS, default_syntax
from .types import FunctionType, parse_type, parse_type_section

MAX_NESTING = 48       # regions inside regions, plus inlined call chains
MAX_INLINED = 1_000_000  # instructions copied by inlining (calls inside calls grow exponentially)
TERMINATORS = frozenset(("return", "func.return", "stablehlo.return"))
CALLS = frozenset(("call", "func.call"))
_LOC_DEF = re.compile(r"\s*=\s*loc\(")


class Multi:
    """The binding of `%x:N`: the get_tuple_element instruction of each result."""
    __slots__ = ("gtes",)

    def __init__(self, gtes):
        self.gtes = gtes


class Scope:
    __slots__ = ("vars", "parent")

    def __init__(self, parent: "Scope | None" = None):
        self.vars: dict = {}
        self.parent = parent

    def lookup(self, name: str):
        s = self
        while s is not None:
            v = s.vars.get(name)
            if v is not None:
                return v
            s = s.parent
        return None


class FuncInfo:
    __slots__ = ("name", "visibility", "offset", "args", "results", "body_start", "body_end", "attrs_text")

    def __init__(self, name, visibility, offset):
        self.name = name
        self.visibility = visibility
        self.offset = offset
        self.args = []      # (name, type, attr text | None, offset)
        self.results = []   # (type, attr text | None)
        self.body_start = None
        self.body_end = None
        self.attrs_text = None


class OpState:
    """What the syntax of one operation gave: operands, attributes, regions, result types."""
    __slots__ = ("name", "opdef", "loc", "offset", "operands", "attrs", "regions", "result_types")

    def __init__(self, name, opdef, loc, offset):
        self.name = name
        self.opdef = opdef
        self.loc = loc
        self.offset = offset
        self.operands = []
        self.attrs = {}
        self.regions = []
        self.result_types = None


class Parser:
    def __init__(self, text: str, source: str = "<input>", first_line: int = 1):
        self.lx = Lexer(text, source, first_line)
        self.funcs: dict[str, FuncInfo] = {}
        self.parsed: dict[str, Computation] = {}
        self.active: list[str] = []
        self.nesting = 0
        self._gtes: list[Instruction] = []   # get_tuple_elements created for multi results
        self._sizes: dict[str, int] = {}     # function -> instructions, regions included
        self._inlined = 0

    # ---- errors ----------------------------------------------------------------------------
    def error(self, message, offset=None, snippet=None) -> ParseError:
        return self.lx.error(message, offset, snippet)

    def loc(self, offset: int) -> SourceLoc:
        return self.lx.loc(offset)

    # ---- module level ------------------------------------------------------------------------
    def parse_module(self) -> Module:
        lx = self.lx
        module = Module()
        self._skip_aliases()
        if lx.at("module"):
            lx.next()
            k, t, off, _ = lx.peek()
            if k == SYMBOL:
                lx.next()
                module.name = _symbol_name(t)
            if lx.accept("attributes"):
                module.attrs = A.skip_attr_dict_text(lx)
            lx.expect("{", "'{' opening the module body")
            self._parse_top_items(close="}")
            lx.expect("}", "'}' closing the module")
            self._skip_aliases()
            if lx.peek()[0] != EOF:
                raise self.error("unexpected text after the module")
        else:
            self._parse_top_items(close=None)
        for info in self.funcs.values():
            self.parse_function(info)
        self._fill_module(module)
        return module

    def _skip_aliases(self):
        """`#loc3 = loc(...)` lines (the lexer skips the loc itself) and attribute aliases."""
        lx = self.lx
        while lx.peek()[0] == HASH:
            save = lx.pos
            k, t, off, end = lx.next()
            if not lx.at("="):
                lx.seek(save)
                return
            if _LOC_DEF.match(lx.text, end) is not None:
                lx.next()  # the lexer skips the loc(...) itself
                continue
            lx.next()
            A.parse_attr_value(lx)  # another attribute alias: read (to check it) and forgotten

    def _parse_top_items(self, close):
        lx = self.lx
        while True:
            self._skip_aliases()
            k, t, off, _ = lx.peek()
            if k == EOF:
                if close is not None:
                    raise self.error(f"expected '{close}' closing the module")
                return
            if close is not None and t == close:
                return
            if t == "func.func":
                self._parse_func_header()
                continue
            raise self.error("expected func.func")

    def _parse_func_header(self):
        lx = self.lx
        _, _, start, _ = lx.next()
        visibility = "public"
        k, t, off, _ = lx.peek()
        if k == IDENT and t in ("public", "private", "nested"):
            lx.next()
            visibility = "private" if t == "private" else "public"
        k, t, off, _ = lx.peek()
        if k != SYMBOL:
            raise self.error("expected a function name (@name)")
        lx.next()
        name = _symbol_name(t)
        if name in self.funcs:
            raise self.error(f"redefinition of function @{name}", off, t)
        info = FuncInfo(name, visibility, off)
        lx.expect("(", "'(' opening the argument list")
        seen = set()
        if not lx.accept(")"):
            while True:
                k, t, aoff, _ = lx.peek()
                if k != VALUE or "#" in t:
                    raise self.error("expected an argument (%name: type)")
                lx.next()
                if t in seen:
                    raise self.error(f"redefinition of argument {t}", aoff, t)
                seen.add(t)
                lx.expect(":", "':' and the argument type")
                ty = parse_type(lx)
                attr = A.skip_attr_dict_text(lx) if lx.at("{") else None
                info.args.append((t[1:], ty, attr, aoff))
                if lx.accept(")"):
                    break
                lx.expect(",", "',' or ')' in the argument list")
        if lx.accept("->"):
            if lx.at("("):
                lx.next()
                if not lx.accept(")"):
                    while True:
                        ty = parse_type(lx)
                        attr = A.skip_attr_dict_text(lx) if lx.at("{") else None
                        info.results.append((ty, attr))
                        if lx.accept(")"):
                            break
                        lx.expect(",", "',' or ')' in the result list")
            else:
                info.results.append((parse_type(lx), None))
        if lx.accept("attributes"):
            info.attrs_text = A.skip_attr_dict_text(lx)
        k, t, boff, _ = lx.peek()
        if t != "{":
            raise self.error("expected '{' opening the function body (declarations without a body "
                             "are not supported)")
        info.body_start = boff
        info.body_end = lx.skip_braces(boff)
        lx.seek(info.body_end)
        self.funcs[name] = info

    def _fill_module(self, module: Module):
        keep = [n for n, i in self.funcs.items() if i.visibility == "public"]
        if not keep and "main" in self.funcs:  # a lone private @main is still the program
            keep = ["main"]
        # private functions referenced by symbol (composite decompositions, ...) stay too
        kept = set(keep)
        work = list(keep)
        while work:
            comp = self.parsed[work.pop()]
            for inst in comp.walk():
                for v in inst.attrs.values():
                    if isinstance(v, A.RawAttr) and "@" in v.text:
                        for ref in re.findall(r"@([A-Za-z_$.\-][A-Za-z0-9_$.\-]*)", v.text):
                            if ref in self.funcs and ref not in kept:
                                kept.add(ref)
                                work.append(ref)
        for name in self.funcs:
            if name in kept:
                module.functions[name] = self.parsed[name]
        if "main" in module.functions:
            module.entry_name = "main"
        elif keep:
            module.entry_name = keep[0]

    # ---- functions -----------------------------------------------------------------------------
    def parse_function(self, info: FuncInfo) -> Computation:
        done = self.parsed.get(info.name)
        if done is not None:
            return done
        lx = self.lx
        save = lx.pos
        self.active.append(info.name)
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error("calls and regions nested too deeply", info.offset)
        comp = Computation(info.name)
        comp.visibility = info.visibility
        scope = Scope()
        gtes_before = len(self._gtes)
        for name, ty, attr, off in info.args:
            p = comp.add_parameter(ty, name, self.loc(off))
            comp.arg_attrs[-1] = attr
            scope.vars[name] = p
        lx.seek(info.body_start)
        lx.expect("{")
        if lx.peek()[0] == BLOCK:
            raise self.error("block labels are not supported in function bodies")
        outputs, ret_off = self.parse_block(comp, scope)
        lx.expect("}")
        if info.results or outputs:
            want = [t for t, _ in info.results]
            got = [o.type for o in outputs]
            if len(want) != len(got):
                raise self.error(f"@{info.name} returns {len(got)} values but its signature declares "
                                 f"{len(want)}", ret_off)
            for i, (w, g) in enumerate(zip(want, got)):
                if w != g:
                    raise self.error(f"@{info.name} returns {g} as result {i} but its signature "
                                     f"declares {w}", ret_off)
        comp.set_outputs(outputs)
        comp.result_attrs = [a for _, a in info.results] or [None] * len(outputs)
        self._sweep_gtes(comp, gtes_before)
        self.nesting -= 1
        self.active.pop()
        self.parsed[info.name] = comp
        lx.seek(save)
        return comp

    def _sweep_gtes(self, comp: Computation, start: int):
        """Drop get_tuple_elements of multi results that nothing reads."""
        made = self._gtes[start:]
        del self._gtes[start:]
        if not made:
            return
        outs = set()
        for c in _computations(comp):
            outs.update(c.outputs)
        dead = {g for g in made if not g._users and g not in outs}
        if not dead:
            return
        for c in _computations(comp):
            if any(i in dead for i in c.instructions):
                for g in c.instructions:
                    if g in dead:
                        g._unlink()
                        g.parent = None
                c.instructions = [i for i in c.instructions if i not in dead]

    # ---- blocks and regions ------------------------------------------------------------------
    def parse_block(self, comp: Computation, scope: Scope):
        """Operations up to the block's terminator; returns (outputs, terminator offset)."""
        lx = self.lx
        while True:
            k, t, off, _ = lx.peek()
            if t == "}":
                raise self.error("missing terminator: the block must end with a return")
            if k == EOF:
                raise self.error("unexpected end of input: expected '}'")
            if k == BLOCK:
                raise self.error("multiple blocks are not supported")
            outs = self.parse_operation(comp, scope)
            if outs is not None:
                if not lx.at("}"):
                    raise self.error("the terminator must be the last operation of its block")
                return outs, off

    def parse_region(self, scope: Scope, args=None, name: str = "region") -> Computation:
        """`{ ^bb0(%a: T, ...): ops }` or `{ ops }`; `args` = [(name, type, offset)] when the
        op's syntax names the arguments itself (while, reduce)."""
        lx = self.lx
        open_off = lx.peek()[2]
        lx.expect("{", "'{' opening a region")
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error("regions nested too deeply", open_off, "{")
        comp = Computation(name)
        inner = Scope(scope)
        if lx.peek()[0] == BLOCK:
            if args is not None:
                raise self.error("this region's arguments are given by the op; no block label expected")
            lx.next()
            args = []
            if lx.accept("("):
                if not lx.accept(")"):
                    while True:
                        k, t, aoff, _ = lx.peek()
                        if k != VALUE or "#" in t:
                            raise self.error("expected a block argument (%name: type)")
                        lx.next()
                        lx.expect(":", "':' and the argument type")
                        args.append((t[1:], parse_type(lx), aoff))
                        if lx.accept(")"):
                            break
                        lx.expect(",", "',' or ')' in the block arguments")
            lx.expect(":", "':' after the block label")
        for aname, ty, aoff in args or ():
            if aname in inner.vars:
                raise self.error(f"redefinition of %{aname}", aoff)
            inner.vars[aname] = comp.add_parameter(ty, aname, self.loc(aoff))
        outputs, _ = self.parse_block(comp, inner)
        lx.expect("}")
        comp.set_outputs(outputs)
        self.nesting -= 1
        return comp

    def parse_region_list(self, scope: Scope) -> list[Computation]:
        """`({...}, {...})`; at `(`."""
        lx = self.lx
        lx.expect("(")
        regions = []
        if lx.accept(")"):
            return regions
        while True:
            regions.append(self.parse_region(scope))
            if lx.accept(")"):
                return regions
            lx.expect(",", "',' or ')' after a region")

    # ---- values ------------------------------------------------------------------------------
    def use(self, scope: Scope, tok) -> Instruction:
        """The instruction a `%name` / `%name#i` token refers to."""
        text, off = tok[1], tok[2]
        name, _, idx = text[1:].partition("#")
        b = scope.lookup(name)
        if b is None:
            raise self.error(f"use of undefined value %{name}", off, text)
        i = int(idx) if idx else 0
        if isinstance(b, Multi):
            if i >= len(b.gtes):
                raise self.error(f"%{name} has {len(b.gtes)} results; #{i} is out of range", off, text)
            return b.gtes[i]
        if i != 0:
            raise self.error(f"%{name} has 1 result; #{i} is out of range", off, text)
        return b

    def parse_operand(self, scope: Scope) -> Instruction:
        tok = self.lx.peek()
        if tok[0] != VALUE:
            raise self.error("expected an operand (%value)")
        self.lx.next()
        return self.use(scope, tok)

    def parse_operand_list_parens(self, scope: Scope) -> list[Instruction]:
        """`(%a, %b)`; at `(`."""
        lx = self.lx
        lx.expect("(")
        out = []
        if lx.accept(")"):
            return out
        while True:
            out.append(self.parse_operand(scope))
            if lx.accept(")"):
                return out
            lx.expect(",", "',' or ')' in the operand list")

    def _result_names(self):
        """`%a, %b:2 =` -> [(name, count, offset)]."""
        lx = self.lx
        names = []
        while True:
            k, t, off, _ = lx.peek()
            if k != VALUE or "#" in t:
                raise self.error("expected a result name (%name)")
            lx.next()
            count = 1
            if lx.accept(":"):
                k2, t2, o2, _ = lx.peek()
                if k2 != "int" or t2.startswith(("-", "+")) or int(t2) < 1:
                    raise self.error("expected a result count after ':'")
                lx.next()
                count = int(t2)
                if count > 1 << 16:
                    raise self.error("too many results", o2, t2)
            names.append((t[1:], count, off))
            if not lx.accept(","):
                break
        lx.expect("=", "'=' after the result names")
        return names

    # ---- operations --------------------------------------------------------------------------
    def parse_operation(self, comp: Computation, scope: Scope):
        """One operation; returns the outputs if it was a terminator, else None."""
        lx = self.lx
        k, t, start, _ = lx.peek()
        names = self._result_names() if k == VALUE else []
        k, opname, opoff, _ = lx.peek()
        if k == STRING:
            lx.next()
            name = unescape(opname[1:-1])
            if name in TERMINATORS:
                if names:
                    raise self.error("a return has no results", start)
            st = self._generic(name, opoff, scope)
            if name in TERMINATORS:
                return st.operands
        elif k == IDENT:
            lx.next()
            name = opname
            if name in TERMINATORS:
                if names:
                    raise self.error("a return has no results", start)
                return self._pretty_return(scope)
            if name in CALLS:
                self._call(comp, scope, names, opoff)
                return None
            st = OpState(name, lookup_mlir(name, self.loc(opoff)), self.loc(opoff), opoff)
            HANDLERS.get(name, default_syntax)(self, st, scope)
        else:
            raise self.error("expected an operation")
        self.build(comp, st, names, scope)
        return None

    def _generic(self, name: str, opoff: int, scope: Scope) -> OpState:
        """`"dialect.op"(%a) <{props}> ({regions}) {attrs} : (types) -> types` (a return too:
        its operands are the outputs)."""
        lx = self.lx
        loc = self.loc(opoff)
        is_return = name in TERMINATORS
        is_call = name in CALLS
        opdef = None if (is_return or is_call) else lookup_mlir(name, loc)
        st = OpState(name, opdef, loc, opoff)
        st.operands = self.parse_operand_list_parens(scope)
        if lx.at("["):
            raise self.error("block successors are not supported")
        if lx.at("<"):
            lx.next()
            lx.expect("{", "'{' after '<' (properties)")
            A.parse_attr_dict(lx, st.attrs)
            lx.expect(">", "'>' closing the properties")
        if lx.at("("):
            st.regions = self.parse_region_list(scope)
        if lx.at("{"):
            lx.next()
            extra: dict = {}
            A.parse_attr_dict(lx, extra)
            for key, v in extra.items():
                if key in st.attrs:
                    raise self.error(f"attribute '{key}' given twice", opoff)
                st.attrs[key] = v
        colon = lx.peek()[2]
        lx.expect(":", "':' and the op's function type")
        sec = parse_type_section(lx)
        if not isinstance(sec, FunctionType):
            raise self.error("expected a function type '(operand types) -> result types'", colon)
        self.check_operand_types(st, sec.inputs, colon)
        if is_return:
            if sec.results:
                raise self.error("a return has no results", colon)
            return st
        if is_call:
            raise self.error("use the pretty form 'func.call @f(...)' for calls", opoff)
        st.result_types = sec.results
        return st

    def _pretty_return(self, scope: Scope):
        """`return %a, %b : T, U` (also func.return / stablehlo.return)."""
        lx = self.lx
        outs = []
        if lx.peek()[0] == VALUE:
            while True:
                outs.append(self.parse_operand(scope))
                if not lx.accept(","):
                    break
        if lx.at("{"):
            lx.next()
            A.parse_attr_dict(lx, {})
        if outs or lx.at(":"):
            colon = lx.peek()[2]
            lx.expect(":", "':' and the returned types")
            types = [parse_type(lx)]
            while lx.accept(","):
                types.append(parse_type(lx))
            if len(types) != len(outs):
                raise self.error(f"{len(types)} types for {len(outs)} returned values", colon)
            for i, (o, t) in enumerate(zip(outs, types)):
                if o.type != t:
                    raise self.error(f"returned value {i} has type {o.type}, not {t}", colon)
        return outs

    def check_operand_types(self, st: OpState, types, offset: int):
        if len(types) != len(st.operands):
            raise self.error(f"{len(types)} operand types for {len(st.operands)} operands", offset)
        for i, (o, t) in enumerate(zip(st.operands, types)):
            if o.type != t:
                raise self.error(f"operand {i} ({o.ref}) has type {o.type}, but the op's type "
                                 f"says {t}", offset)

    # ---- calls ---------------------------------------------------------------------------------
    def _call(self, comp: Computation, scope: Scope, names, opoff: int):
        """`call @f(%a) : (T) -> R`: the callee's body is inlined here."""
        lx = self.lx
        k, t, soff, _ = lx.peek()
        if k != SYMBOL:
            raise self.error("expected the callee (@name)")
        lx.next()
        callee_name = _symbol_name(t)
        operands = self.parse_operand_list_parens(scope)
        if lx.at("{"):
            lx.next()
            A.parse_attr_dict(lx, {})
        colon = lx.peek()[2]
        lx.expect(":", "':' and the call's function type")
        sec = parse_type_section(lx)
        if not isinstance(sec, FunctionType):
            raise self.error("expected a function type '(operand types) -> result types'", colon)
        info = self.funcs.get(callee_name)
        if info is None:
            raise self.error(f"call to undefined function @{callee_name}", soff, t)
        if callee_name in self.active:
            raise self.error(f"recursive call to @{callee_name} is not supported", soff, t)
        st = OpState("func.call", None, self.loc(opoff), opoff)
        st.operands = operands
        self.check_operand_types(st, sec.inputs, colon)
        callee = self.parse_function(info)
        if [p.type for p in callee.params] != list(sec.inputs):
            raise self.error(f"call types {_ft(sec.inputs, sec.results)} do not match @{callee_name}"
                             f"{_ft([p.type for p in callee.params], [o.type for o in callee.outputs])}", colon)
        if [o.type for o in callee.outputs] != list(sec.results):
            raise self.error(f"call types {_ft(sec.inputs, sec.results)} do not match @{callee_name}"
                             f"{_ft([p.type for p in callee.params], [o.type for o in callee.outputs])}", colon)
        size = self._sizes.get(callee_name)
        if size is None:
            size = self._sizes[callee_name] = sum(1 for _ in callee.walk())
        self._inlined += size
        if self._inlined > MAX_INLINED:
            raise self.error(f"inlining the calls would create more than {MAX_INLINED:,} instructions",
                             soff, t)
        mapping = dict(zip(callee.params, operands))
        for inst in callee.instructions:
            if inst.opcode == "parameter":
                continue
            regions = [r.clone(mapping=mapping) for r in inst.regions]
            c = Instruction(inst.opcode, [mapping.get(o, o) for o in inst.operands], inst.type,
                            dict(inst.attrs), regions, loc=inst.loc, multi=inst.multi)
            comp.insert(c, name=inst.name)
            mapping[inst] = c
        results = [mapping.get(o, o) for o in callee.outputs]
        self._bind_values(scope, names, results, opoff)

    # ---- building ------------------------------------------------------------------------------
    def build(self, comp: Computation, st: OpState, names, scope: Scope):
        d = st.opdef
        n = len(st.result_types)
        if d.arity is not None and len(st.operands) != d.arity:
            raise self.error(f"'{st.name}' takes {d.arity} operand{'s' if d.arity != 1 else ''}, "
                             f"got {len(st.operands)}", st.offset)
        if d.num_regions is not None and len(st.regions) != d.num_regions:
            raise self.error(f"'{st.name}' takes {d.num_regions} region{'s' if d.num_regions != 1 else ''}, "
                             f"got {len(st.regions)}", st.offset)
        for a in d.attrs:
            if a not in st.attrs:
                raise self.error(f"'{st.name}' needs the attribute '{a}'", st.offset)
        if n > 1 and not d.variadic_results:
            raise self.error(f"'{st.name}' has one result, not {n}", st.offset)
        if n == 0 and not (d.variadic_results or d.side_effect):
            raise self.error(f"'{st.name}' has one result, not 0", st.offset)
        declared = sum(c for _, c, _ in names)
        if declared != n:
            raise self.error(f"'{st.name}' has {n} result{'s' if n != 1 else ''} but {declared} "
                             f"name{'s are' if declared != 1 else ' is'} given", st.offset)
        if n == 1:
            inst = Instruction(d.name, st.operands, st.result_types[0], st.attrs, st.regions,
                               loc=st.loc, multi=False)
            comp.insert(inst, name=names[0][0])
            self._define(scope, names[0][0], inst, names[0][2])
            return inst
        inst = Instruction(d.name, st.operands, TupleType(tuple(st.result_types)), st.attrs, st.regions,
                           loc=st.loc, multi=True)
        comp.insert(inst, name=names[0][0] if names else None)
        if n:
            gtes = []
            for i, t in enumerate(st.result_types):
                g = Instruction("get_tuple_element", (inst,), t, {"index": i}, loc=st.loc)
                comp.insert(g, name=f"{names[0][0]}#{i}")
                gtes.append(g)
            self._gtes.extend(gtes)
            self._bind_values(scope, names, gtes, st.offset)
        return inst

    def _bind_values(self, scope: Scope, names, values, offset: int):
        declared = sum(c for _, c, _ in names)
        if declared != len(values):
            raise self.error(f"{len(values)} result{'s' if len(values) != 1 else ''} but {declared} "
                             f"name{'s are' if declared != 1 else ' is'} given", offset)
        k = 0
        for name, count, off in names:
            if count == 1:
                self._define(scope, name, values[k], off)
            else:
                self._define(scope, name, Multi(values[k:k + count]), off)
            k += count

    def _define(self, scope: Scope, name: str, value, offset: int):
        if name in scope.vars:
            raise self.error(f"redefinition of %{name}", offset)
        scope.vars[name] = value


def _computations(comp: Computation):
    out = [comp]
    i = 0
    while i < len(out):
        for inst in out[i].instructions:
            out.extend(inst.regions)
        i += 1
    return out


def _symbol_name(tok: str) -> str:
    body = tok[1:]
    if body.startswith('"'):
        return unescape(body[1:-1])
    return body


def _ft(ins, outs) -> str:
    return f"({', '.join(map(str, ins))}) -> ({', '.join(map(str, outs))})"


def parse_text(text: str, source: str = "<input>", first_line: int = 1) -> Module:
    """Parse one chunk of StableHLO text. Every failure is an XltuneError with a location."""
    p = Parser(text, source, first_line)
    # The parser builds many small objects and frees none: the cyclic GC would only rescan them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return p.parse_module()
    except XltuneError as e:
        if e.loc is None:
            # errors raised below the parser (e.g. by the op table) get the current position
            e.loc = p.loc(p.lx.pos)
            e.args = (e._format(),)
        raise
    except RecursionError:
        raise p.error("input nested too deeply", p.lx.pos) from None
    except (IndexError, KeyError, ValueError, TypeError, AttributeError, OverflowError,
            MemoryError, AssertionError) as e:  # a parser bug must still not escape as a traceback
        raise p.error(f"internal parser error ({type(e).__name__}: {e})", p.lx.pos) from None
    finally:
        if gc_was_enabled:
            gc.enable()


__all__ = ["parse_text", "Parser", "UnsupportedOpError"]
