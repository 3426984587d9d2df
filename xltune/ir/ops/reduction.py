"""Reductions: reduce (variadic, arbitrary body), reduce_window, select_and_scatter, sort, top_k."""
from __future__ import annotations

from . import OTHER, REDUCTION, defop

defop("reduce", REDUCTION, None, attrs=("dimensions",), num_regions=1, variadic_results=True)
defop("reduce_window", REDUCTION, None, attrs=("window_dimensions",),
      optional_attrs=("window_strides", "base_dilations", "window_dilations", "padding"),
      num_regions=1, variadic_results=True)
defop("select_and_scatter", OTHER, 3, attrs=(),
      optional_attrs=("window_dimensions", "window_strides", "padding"), num_regions=2)
defop("sort", OTHER, None, optional_attrs=("dimension", "is_stable"), num_regions=1, variadic_results=True)
defop("top_k", OTHER, 1, attrs=("k",), optional_attrs=("recall_target",), dialect="chlo",
      variadic_results=True)
