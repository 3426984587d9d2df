"""Elementwise ops: result[i] = f(operands[i]...). Shape rule: all operand shapes equal (clamp may
take scalar min/max), result dtype per op. Numpy evaluation follows StableHLO semantics exactly
(integer wrapping, division by zero, shift amounts >= bit width, NaN propagation in min/max...).
"""
from __future__ import annotations

from . import ELEMENTWISE, defop

# stablehlo unary
for _n in ("abs", "cbrt", "ceil", "convert", "count_leading_zeros", "cosine", "exponential",
           "exponential_minus_one", "floor", "imag", "is_finite", "log", "log_plus_one", "logistic",
           "not", "negate", "popcnt", "real", "round_nearest_afz", "round_nearest_even", "rsqrt",
           "sign", "sine", "sqrt", "tanh"):
    defop(_n, ELEMENTWISE, 1)
defop("tan", ELEMENTWISE, 1, aliases=("chlo.tan",))
defop("reduce_precision", ELEMENTWISE, 1, attrs=("exponent_bits", "mantissa_bits"))

# chlo unary
for _n in ("acos", "acosh", "asin", "asinh", "atan", "atanh", "bessel_i1e", "conj", "cosh", "digamma",
           "erf", "erf_inv", "erfc", "is_inf", "is_neg_inf", "is_pos_inf", "lgamma", "sinh", "square"):
    defop(_n, ELEMENTWISE, 1, dialect="chlo")

# stablehlo binary
for _n, _comm in (("add", True), ("atan2", False), ("complex", False), ("divide", False),
                  ("maximum", True), ("minimum", True), ("multiply", True), ("or", True), ("and", True),
                  ("xor", True), ("power", False), ("remainder", False), ("shift_left", False),
                  ("shift_right_arithmetic", False), ("shift_right_logical", False), ("subtract", False)):
    defop(_n, ELEMENTWISE, 2, commutative=_comm)
defop("compare", ELEMENTWISE, 2, attrs=("comparison_direction",), optional_attrs=("compare_type",))

# chlo binary
for _n in ("next_after", "polygamma", "zeta"):
    defop(_n, ELEMENTWISE, 2, dialect="chlo")

# ternary
defop("clamp", ELEMENTWISE, 3)   # (min, operand, max); min/max may be scalars
defop("select", ELEMENTWISE, 3)  # (pred, on_true, on_false); pred may be a scalar
