"""Control flow: while, case, if, map; tuples; optimization_barrier."""
from __future__ import annotations

from . import CONTROL, TUPLE, defop

defop("while", CONTROL, None, num_regions=2, variadic_results=True)  # regions: cond, body
defop("case", CONTROL, 1, num_regions=None, variadic_results=True)   # (index); one region per branch
defop("if", CONTROL, 1, num_regions=2, variadic_results=True)        # (pred); true, false
defop("map", CONTROL, None, attrs=("dimensions",), num_regions=1)
defop("tuple", TUPLE, None)
defop("get_tuple_element", TUPLE, 1, attrs=("index",))
defop("optimization_barrier", TUPLE, None, variadic_results=True)
