"""Contractions: dot_general (and legacy dot), convolution."""
from __future__ import annotations

from . import CONTRACTION, defop

defop("dot_general", CONTRACTION, 2, attrs=("dot_dimension_numbers",),
      optional_attrs=("precision_config", "algorithm"))
defop("dot", CONTRACTION, 2, optional_attrs=("precision_config",))
defop("convolution", CONTRACTION, 2,
      attrs=("dimension_numbers", "feature_group_count", "batch_group_count"),
      optional_attrs=("window_strides", "padding", "lhs_dilation", "rhs_dilation", "window_reversal",
                      "precision_config"))
