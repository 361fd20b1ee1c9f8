"""Mithril's dtypes (``ml.float64``, ``ml.float32``, ...) and their NumPy counterparts."""
import enum

import numpy as _np


class Dtype(enum.Enum):
    float64 = "float64"
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"
    int64 = "int64"
    int32 = "int32"
    int8 = "int8"
    bool = "bool"

    def __str__(self):
        return self.value


# NumPy has no bfloat16: its arrays are float32 (exact for every bfloat16 value).
_NUMPY = {"float64": _np.float64, "float32": _np.float32, "float16": _np.float16, "bfloat16": _np.float32,
          "int64": _np.int64, "int32": _np.int32, "int8": _np.int8, "bool": _np.bool_}


def to_numpy_dtype(dtype):
    return _NUMPY[Dtype(dtype).value if not isinstance(dtype, Dtype) else dtype.value]


def to_bfloat16(array):
    """Rounds a float array to bfloat16 values (nearest even), returned as float32."""
    a = _np.ascontiguousarray(array, dtype=_np.float32)
    bits = a.view(_np.uint32).astype(_np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    out = rounded.astype(_np.uint32).view(_np.float32)
    return _np.where(_np.isnan(a), a, out)
