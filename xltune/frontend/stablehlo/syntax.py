"""The pretty (custom assembly) syntax of StableHLO, CHLO, check and interpreter ops.

Most ops follow one pattern: operands and `keyword = value` items separated by commas, an
optional attr-dict, `:` and a type section. `KEYWORDS` says, per op, which keywords exist and
which attribute each fills; ops with their own shapes of syntax (constant, compare, slice,
reduce, while, convolution, custom_call, ...) have a handler in `HANDLERS`.
"""
from __future__ import annotations

import re

from ...ir.attrs import DotDimensionNumbers, RawAttr
from ...ir.ops import lookup_mlir
from ...ir.types import TensorType, TupleType
from . import attrs as A
from .dense import finish_dense, parse_dense_body
from .lexer import FLOAT, IDENT, INT, STRING, SYMBOL, VALUE, unescape
from .types import FunctionType, parse_type, parse_type_section


# ---- keyword values --------------------------------------------------------------------------
def _v_ints(p, st, attr):
    st.attrs[attr] = A.parse_int_list(p.lx)


def _v_int(p, st, attr):
    st.attrs[attr] = A._int(p.lx)


def _v_bool(p, st, attr):
    k, t, off, _ = p.lx.peek()
    if t not in ("true", "false"):
        raise p.error("expected true or false")
    p.lx.next()
    st.attrs[attr] = t == "true"


def _v_float(p, st, attr):
    k, t, off, _ = p.lx.peek()
    if k in (INT, FLOAT):
        p.lx.next()
        st.attrs[attr] = float(t)
    elif k == IDENT and t in ("inf", "nan"):
        p.lx.next()
        st.attrs[attr] = float(t)
    else:
        raise p.error("expected a number")


def _v_str(p, st, attr):
    k, t, off, _ = p.lx.peek()
    if k != STRING:
        raise p.error("expected a string")
    p.lx.next()
    st.attrs[attr] = unescape(t[1:-1])


def _enum(kind):
    def parse(p, st, attr):
        st.attrs[attr] = A.parse_enum_keyword(p.lx, kind)
    return parse


def _v_precision(p, st, attr):
    lx = p.lx
    lx.expect("[", "'['")
    out = []
    if not lx.accept("]"):
        while True:
            out.append(A.parse_enum_keyword(lx, "precision"))
            if lx.accept("]"):
                break
            lx.expect(",", "',' or ']'")
    st.attrs[attr] = tuple(out)


def _v_expmant(p, st, attr):
    k, t, off, _ = p.lx.peek()
    m = re.fullmatch(r"e([0-9]+)m([0-9]+)", t) if k == IDENT else None
    if m is None:
        raise p.error("expected exponent and mantissa bits as e#m# (e.g. e5m10)")
    p.lx.next()
    st.attrs["exponent_bits"] = int(m.group(1))
    st.attrs["mantissa_bits"] = int(m.group(2))


def _v_dotpair(p, st, attr):
    lx = p.lx
    lhs = A.parse_int_list(lx)
    if not lx.at("x"):
        raise p.error("expected 'x' between the lhs and rhs dimensions")
    lx.next()
    rhs = A.parse_int_list(lx)
    st.attrs[attr] = (lhs, rhs)


def _v_algorithm(p, st, attr):
    """dot_general's `algorithm = <...>`: kept as the generic attribute's text."""
    if not p.lx.at("<"):
        raise p.error("expected '<' opening the dot algorithm")
    st.attrs[attr] = RawAttr("#stablehlo.dot_algorithm" + A.skip_raw(p.lx, typed=False))


_DIMS = {"dims": ("broadcast_dimensions", _v_ints)}
KEYWORDS = {
    "stablehlo.broadcast_in_dim": _DIMS,
    "stablehlo.dynamic_broadcast_in_dim": _DIMS,
    "stablehlo.transpose": {"dims": ("permutation", _v_ints)},
    "stablehlo.reverse": {"dims": ("dimensions", _v_ints)},
    "stablehlo.dynamic_slice": {"sizes": ("slice_sizes", _v_ints)},
    "stablehlo.broadcast": {"sizes": ("broadcast_sizes", _v_ints)},
    "stablehlo.concatenate": {"dim": ("dimension", _v_int)},
    "stablehlo.iota": {"dim": ("iota_dimension", _v_int)},
    "stablehlo.dynamic_iota": {"dim": ("iota_dimension", _v_int)},
    "stablehlo.get_dimension_size": {"dim": ("dimension", _v_int)},
    "stablehlo.set_dimension_size": {"dim": ("dimension", _v_int)},
    "stablehlo.pad": {"low": ("edge_padding_low", _v_ints), "high": ("edge_padding_high", _v_ints),
                      "interior": ("interior_padding", _v_ints)},
    "stablehlo.fft": {"type": ("fft_type", _enum("fft_type")), "length": ("fft_length", _v_ints)},
    "stablehlo.rng_bit_generator": {"algorithm": ("rng_algorithm", _enum("rng_algorithm"))},
    "stablehlo.rng": {"distribution": ("rng_distribution", _enum("rng_distribution"))},
    "stablehlo.reduce_precision": {"format": (None, _v_expmant)},
    "stablehlo.cholesky": {"lower": ("lower", _v_bool)},
    "stablehlo.dot": {"precision": ("precision_config", _v_precision)},
    "stablehlo.dot_general": {"batching_dims": ("batching_dims", _v_dotpair),
                              "contracting_dims": ("contracting_dims", _v_dotpair),
                              "precision": ("precision_config", _v_precision),
                              "algorithm": ("algorithm", _v_algorithm)},
    "check.expect_almost_eq": {"tolerance": ("tolerance", _v_float)},
    "check.expect_almost_eq_const": {"tolerance": ("tolerance", _v_float)},
    "check.expect_close": {"max_ulp_difference": ("max_ulp_difference", _v_int),
                           "min_ulp_difference": ("min_ulp_difference", _v_int)},
    "check.expect_serialized_eq": {"probe_id": ("probe_id", _v_str), "iter": ("iteration", _v_int)},
    "interpreter.probe": {"probe_id": ("probe_id", _v_str), "iter": ("iteration", _v_int)},
    "chlo.top_k": {"k": ("k", _v_int), "is_stable": ("is_stable", _v_bool)},
}


# ---- the common pattern ----------------------------------------------------------------------
def parse_items(p, st, scope, stop=None):
    """Operands and `keyword = value` items separated by commas."""
    lx = p.lx
    kws = KEYWORDS.get(st.name, {})
    first = True
    while True:
        k, t, off, end = lx.peek()
        if k == VALUE:
            lx.next()
            st.operands.append(p.use(scope, (k, t, off, end)))
        elif k == IDENT and t in kws:
            lx.next()
            attr, fn = kws[t]
            if attr is not None and attr in st.attrs:
                raise p.error(f"'{t}' given twice", off, t)
            lx.expect("=", f"'=' after '{t}'")
            fn(p, st, attr)
        elif first:
            return
        else:
            raise p.error("expected an operand or a keyword item" +
                          (f" ({', '.join(kws)})" if kws else ""))
        first = False
        if stop is not None and lx.at(stop):
            return
        if not lx.accept(","):
            return


def parse_opt_attr_dict(p, st):
    lx = p.lx
    if lx.at("{"):
        off = lx.peek()[2]
        lx.next()
        extra = {}
        A.parse_attr_dict(lx, extra)
        for key, v in extra.items():
            if key in st.attrs:
                raise p.error(f"attribute '{key}' given twice", off)
            st.attrs[key] = v


def parse_types(p, st):
    lx = p.lx
    colon = lx.peek()[2]
    lx.expect(":", "':' and the op's types")
    if lx.at("{"):  # check.expect_close puts its attr-dict after the colon
        parse_opt_attr_dict(p, st)
    resolve_types(p, st, parse_type_section(lx), colon)


def resolve_types(p, st, sec, colon):
    """Operand and result types from the type section, by the op's custom type syntax."""
    if isinstance(sec, FunctionType):
        p.check_operand_types(st, sec.inputs, colon)
        st.result_types = list(sec.results)
        return
    name = st.name
    n = len(st.operands)
    rule = _PLAIN_TYPES.get(name, _plain_same)
    rule(p, st, sec, colon, n)


def _plain_same(p, st, types, colon, n):
    if len(types) != 1:
        raise p.error(f"expected one type or a function type, got {len(types)} types", colon)
    t = types[0]
    for i, o in enumerate(st.operands):
        if o.type != t:
            raise p.error(f"operand {i} ({o.ref}) has type {o.type}, not {t}; write the function "
                          f"type '(operand types) -> result type'", colon)
    st.result_types = [t]


def _plain_pairwise(p, st, types, colon, n):
    p.check_operand_types(st, types, colon)
    st.result_types = list(types)


def _plain_operands_only(p, st, types, colon, n):
    if len(types) == 1 and n >= 1:
        types = types * n
    p.check_operand_types(st, types, colon)
    st.result_types = []


def _plain_select(p, st, types, colon, n):
    if len(types) != 2:
        raise p.error("expected 'pred type, result type' or a function type", colon)
    p.check_operand_types(st, [types[0], types[1], types[1]], colon)
    st.result_types = [types[1]]


def _plain_complex(p, st, types, colon, n):
    if len(types) != 1 or not isinstance(types[0], TensorType) or not types[0].dtype.is_complex:
        raise p.error("expected a tensor type with a complex element type", colon)
    t = types[0]
    real = t.with_dtype(t.dtype.component)
    p.check_operand_types(st, [real] * n, colon)
    st.result_types = [t]


def _plain_tuple(p, st, types, colon, n):
    if len(types) != 1 or not isinstance(types[0], TupleType):
        raise p.error("expected a tuple type", colon)
    p.check_operand_types(st, list(types[0].elements), colon)
    st.result_types = [types[0]]


_PLAIN_TYPES = {
    "stablehlo.select": _plain_select,
    "stablehlo.complex": _plain_complex,
    "stablehlo.tuple": _plain_tuple,
    "stablehlo.optimization_barrier": _plain_pairwise,
    "check.expect_eq": _plain_operands_only,
    "check.expect_almost_eq": _plain_operands_only,
    "check.expect_close": _plain_operands_only,
    "check.expect_serialized_eq": _plain_operands_only,
    "interpreter.print": _plain_operands_only,
}


def default_syntax(p, st, scope):
    """`op %a, %b, kw = value attr-dict : types`."""
    parse_items(p, st, scope)
    parse_opt_attr_dict(p, st)
    parse_types(p, st)
    _finish_dot(p, st)


def _finish_dot(p, st):
    if st.name != "stablehlo.dot_general":
        return
    if "dot_dimension_numbers" in st.attrs:
        if "batching_dims" in st.attrs or "contracting_dims" in st.attrs:
            raise p.error("dot dimension numbers given twice", st.offset)
        return
    if "contracting_dims" not in st.attrs:
        raise p.error("stablehlo.dot_general needs 'contracting_dims = [..] x [..]'", st.offset)
    lb, rb = st.attrs.pop("batching_dims", ((), ()))
    lc, rc = st.attrs.pop("contracting_dims")
    st.attrs["dot_dimension_numbers"] = DotDimensionNumbers(lb, rb, lc, rc)


# ---- special shapes ----------------------------------------------------------------------------
def _generic_tail(p, st, scope):
    """`() <{...}> {...} : () -> T` after a bare op name (constant's generic fallback)."""
    lx = p.lx
    st.operands = p.parse_operand_list_parens(scope)
    if lx.at("<"):
        lx.next()
        lx.expect("{")
        A.parse_attr_dict(lx, st.attrs)
        lx.expect(">")
    if lx.at("("):
        st.regions = p.parse_region_list(scope)
    parse_opt_attr_dict(p, st)
    colon = lx.peek()[2]
    lx.expect(":", "':' and the op's function type")
    sec = parse_type_section(lx)
    if not isinstance(sec, FunctionType):
        raise p.error("expected a function type", colon)
    p.check_operand_types(st, sec.inputs, colon)
    st.result_types = list(sec.results)


def _dense_value(p):
    """`dense<...> : tensor<...>` -> (ndarray, type)."""
    lx = p.lx
    k, t, off, _ = lx.peek()
    if t != "dense":
        raise p.error("expected a dense<...> value")
    kind, payload, start = parse_dense_body(lx)
    lx.expect(":", "':' and the type of the dense literal")
    ty = parse_type(lx)
    return finish_dense(lx, kind, payload, start, ty), ty


def _constant(p, st, scope):
    lx = p.lx
    if lx.at("("):
        _generic_tail(p, st, scope)
        if not hasattr(st.attrs.get("value"), "dtype"):
            raise p.error("stablehlo.constant needs a dense<...> value", st.offset)
        return
    parse_opt_attr_dict(p, st)
    st.attrs["value"], ty = _dense_value(p)
    st.result_types = [ty]


def _expect_const(p, st, scope):
    lx = p.lx
    st.operands.append(p.parse_operand(scope))
    lx.expect(",", "',' and the expected value")
    off = lx.peek()[2]
    st.attrs["value"], ty = _dense_value(p)
    if st.operands[0].type != ty:
        raise p.error(f"{st.operands[0].ref} has type {st.operands[0].type}, the expected value {ty}", off)
    if lx.accept(","):
        parse_items(p, st, scope)
        if st.operands[1:]:
            raise p.error("unexpected operand", st.offset)
    parse_opt_attr_dict(p, st)
    st.result_types = []


def _compare(p, st, scope):
    lx = p.lx
    st.attrs["comparison_direction"] = A.parse_enum_keyword(lx, "comparison_direction")
    lx.expect(",", "','")
    st.operands.append(p.parse_operand(scope))
    lx.expect(",", "','")
    st.operands.append(p.parse_operand(scope))
    if lx.accept(","):
        st.attrs["compare_type"] = A.parse_enum_keyword(lx, "comparison_type")
    parse_opt_attr_dict(p, st)
    parse_types(p, st)


def _slice(p, st, scope):
    lx = p.lx
    st.operands.append(p.parse_operand(scope))
    lx.expect("[", "'[' and the slice ranges")
    starts, limits, strides = [], [], []
    if not lx.accept("]"):
        while True:
            starts.append(A._int(lx))
            lx.expect(":", "':' between start and limit")
            limits.append(A._int(lx))
            strides.append(A._int(lx) if lx.accept(":") else 1)
            if lx.accept("]"):
                break
            lx.expect(",", "',' or ']'")
    st.attrs["start_indices"] = tuple(starts)
    st.attrs["limit_indices"] = tuple(limits)
    st.attrs["strides"] = tuple(strides)
    parse_opt_attr_dict(p, st)
    parse_types(p, st)


def _get_tuple_element(p, st, scope):
    lx = p.lx
    st.operands.append(p.parse_operand(scope))
    lx.expect("[", "'[' and the element index")
    st.attrs["index"] = A._int(lx)
    lx.expect("]", "']'")
    parse_opt_attr_dict(p, st)
    parse_types(p, st)


def _custom_call(p, st, scope):
    lx = p.lx
    k, t, off, _ = lx.peek()
    if k != SYMBOL:
        raise p.error("expected the call target (@name)")
    lx.next()
    body = t[1:]
    st.attrs["call_target_name"] = unescape(body[1:-1]) if body.startswith('"') else body
    st.operands = p.parse_operand_list_parens(scope)
    parse_opt_attr_dict(p, st)
    parse_types(p, st)


def _window(p, st):
    """`{stride = [..], pad = [[..]], lhs_dilate = [..], rhs_dilate = [..], reverse = [..]}`."""
    lx = p.lx
    lx.expect("{", "'{' opening the window attributes")
    names = {"stride": "window_strides", "pad": "padding", "lhs_dilate": "lhs_dilation",
             "rhs_dilate": "rhs_dilation", "reverse": "window_reversal"}
    if lx.accept("}"):
        return
    while True:
        k, t, off, _ = lx.peek()
        if k != IDENT or t not in names:
            raise p.error(f"expected one of {', '.join(names)}")
        if names[t] in st.attrs:
            raise p.error(f"'{t}' given twice", off, t)
        lx.next()
        lx.expect("=", "'='")
        if t == "pad":
            st.attrs["padding"] = A.parse_pad_list(lx)
        elif t == "reverse":
            st.attrs["window_reversal"] = A.parse_bool_or_int_list(lx)
        else:
            st.attrs[names[t]] = A.parse_int_list(lx)
        if lx.accept("}"):
            return
        lx.expect(",", "',' or '}'")


def _convolution(p, st, scope):
    lx = p.lx
    st.operands = p.parse_operand_list_parens(scope)
    k, t, off, _ = lx.peek()
    if t != "dim_numbers":
        raise p.error("expected 'dim_numbers ='")
    lx.next()
    lx.expect("=", "'='")
    st.attrs["dimension_numbers"] = A.parse_conv_dims(lx)
    lx.expect(",", "',' and 'window = {...}'")
    k, t, off, _ = lx.peek()
    if t != "window":
        raise p.error("expected 'window ='")
    lx.next()
    lx.expect("=", "'='")
    _window(p, st)
    parse_opt_attr_dict(p, st)
    parse_types(p, st)


def _reduce(p, st, scope):
    lx = p.lx
    inputs, inits = [], []
    while True:
        lx.expect("(", "'(%input init: %init)'")
        inputs.append(p.parse_operand(scope))
        k, t, off, _ = lx.peek()
        if t != "init":
            raise p.error("expected 'init:'")
        lx.next()
        lx.expect(":", "':'")
        inits.append(p.parse_operand(scope))
        lx.expect(")", "')'")
        if not lx.accept(","):
            break
    st.operands = inputs + inits
    inner = None
    if lx.accept("applies"):
        k, t, ioff, _ = lx.peek()
        if k not in (IDENT, STRING):
            raise p.error("expected the reducing op's name")
        lx.next()
        inner = unescape(t[1:-1]) if k == STRING else t
        inner_def = lookup_mlir(inner, p.loc(ioff))
        if inner_def.arity != 2 or inner_def.num_regions or inner_def.variadic_results:
            raise p.error(f"'{inner}' is not a binary op that can reduce", ioff, t)
        if len(inputs) != 1:
            raise p.error("the 'applies' form reduces one input; use the 'reducer' block form", ioff, t)
    for word in ("across", "dimensions"):
        if not lx.at(word):
            raise p.error(f"expected '{word}'")
        lx.next()
    lx.expect("=", "'='")
    st.attrs["dimensions"] = A.parse_int_list(lx)
    parse_opt_attr_dict(p, st)
    colon = lx.peek()[2]
    lx.expect(":", "':' and the function type")
    sec = parse_type_section(lx)
    if not isinstance(sec, FunctionType):
        raise p.error("expected a function type", colon)
    p.check_operand_types(st, sec.inputs, colon)
    st.result_types = list(sec.results)
    if inner is not None:
        t0 = inputs[0].type
        if not isinstance(t0, TensorType):
            raise p.error("reduce inputs must be tensors", colon)
        scalar = TensorType((), t0.dtype)
        from ...ir.module import Computation, Instruction
        body = Computation("region")
        a = body.add_parameter(scalar, "lhs", st.loc)
        b = body.add_parameter(scalar, "rhs", st.loc)
        r = body.insert(Instruction(inner_def.name, (a, b), scalar, {}, loc=st.loc), name="0")
        body.set_outputs([r])
        st.regions = [body]
        return
    if not lx.at("reducer"):
        raise p.error("expected 'applies <op>' or 'reducer(...)'")
    lx.next()
    firsts, seconds = [], []
    while lx.at("("):
        lx.next()
        for dest in (firsts, seconds):
            k, t, aoff, _ = lx.peek()
            if k != VALUE or "#" in t:
                raise p.error("expected a block argument (%name: type)")
            lx.next()
            lx.expect(":", "':' and the argument type")
            dest.append((t[1:], parse_type(lx), aoff))
            if dest is firsts:
                lx.expect(",", "','")
        lx.expect(")", "')'")
    st.regions = [p.parse_region(scope, firsts + seconds)]


def _while(p, st, scope):
    lx = p.lx
    lx.expect("(", "'(' and the loop-carried values")
    names = []
    if not lx.accept(")"):
        while True:
            k, t, off, _ = lx.peek()
            if k != VALUE or "#" in t:
                raise p.error("expected '%iterArg = %value'")
            lx.next()
            lx.expect("=", "'='")
            names.append((t[1:], off))
            st.operands.append(p.parse_operand(scope))
            if lx.accept(")"):
                break
            lx.expect(",", "',' or ')'")
    types = []
    if st.operands:
        colon = lx.peek()[2]
        lx.expect(":", "':' and the loop-carried types")
        types = [parse_type(lx)]
        while lx.accept(","):
            types.append(parse_type(lx))
        p.check_operand_types(st, types, colon)
    if lx.accept("attributes"):
        lx.expect("{")
        A.parse_attr_dict(lx, st.attrs)
    args = [(n, t, off) for (n, off), t in zip(names, types)]
    if not lx.at("cond"):
        raise p.error("expected 'cond {'")
    lx.next()
    cond = p.parse_region(scope, args, "cond")
    if not lx.at("do"):
        raise p.error("expected 'do {'")
    lx.next()
    body = p.parse_region(scope, args, "body")
    st.regions = [cond, body]
    st.result_types = types


def _composite(p, st, scope):
    lx = p.lx
    k, t, off, _ = lx.peek()
    if k != STRING:
        raise p.error("expected the composite's name (a string)")
    lx.next()
    st.attrs["name"] = unescape(t[1:-1])
    while lx.peek()[0] == VALUE:
        st.operands.append(p.parse_operand(scope))
        if not lx.accept(","):
            break
    if lx.at("("):
        st.regions = p.parse_region_list(scope)
    parse_opt_attr_dict(p, st)
    parse_types(p, st)


def _top_k(p, st, scope):
    lx = p.lx
    lx.expect("(", "'('")
    parse_items(p, st, scope, stop=")")
    lx.expect(")", "')'")
    parse_opt_attr_dict(p, st)
    parse_types(p, st)


def _chlo_constant(p, st, scope):
    parse_opt_attr_dict(p, st)
    st.attrs["value"], ty = _dense_value(p)
    st.result_types = [ty]


def _optimization_barrier(p, st, scope):
    lx = p.lx
    if lx.at("("):
        lx.next()
        lx.expect(")", "')'")
        parse_opt_attr_dict(p, st)
        st.result_types = []
        return
    default_syntax(p, st, scope)


HANDLERS = {
    "stablehlo.constant": _constant,
    "stablehlo.compare": _compare,
    "stablehlo.slice": _slice,
    "stablehlo.get_tuple_element": _get_tuple_element,
    "stablehlo.custom_call": _custom_call,
    "stablehlo.convolution": _convolution,
    "stablehlo.reduce": _reduce,
    "stablehlo.while": _while,
    "stablehlo.composite": _composite,
    "stablehlo.optimization_barrier": _optimization_barrier,
    "chlo.top_k": _top_k,
    "chlo.constant": _chlo_constant,
    "check.expect_eq_const": _expect_const,
    "check.expect_almost_eq_const": _expect_const,
}

