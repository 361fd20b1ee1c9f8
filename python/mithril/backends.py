"""Backends as objects, with Mithril's array constructors (``backend.ones(3, 3)``, ``zeros``,
``randn``, ``rand``, ``array``). Arrays are NumPy arrays in the backend's precision; bfloat16 has no
NumPy dtype, so a bfloat16 backend makes float32 arrays, which the compiled model rounds to bfloat16.

One class per backend of this build, from the core's registry (``CpuBackend``, ``ReferenceBackend``;
a backend registered in C++ gets a class here without code). ``NumpyBackend`` is the CPU backend
under Mithril's NumPy backend name: both run the CPU kernels on NumPy arrays. The backends Mithril
has and this build lacks (``JaxBackend``, ``TorchBackend``, ``MlxBackend``, ...) raise a ValueError
naming the backends this build has.
"""
import numpy as _np

from . import _mithril as _C
from .dtypes import Dtype, to_numpy_dtype

__all__ = ["Backend", "available_backends", "aligned_empty"]


def available_backends():
    """The backend names of this build (``cpu``, ``reference``, ...)."""
    return list(_C.backend_names())


def aligned_empty(shape, dtype):
    """An uninitialised array whose data is 64-byte aligned: the core wraps such arrays without a
    copy (the kernels need that alignment; other arrays are copied once per call)."""
    dtype = _np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    nbytes = int(_np.prod(shape, dtype=_np.int64)) * dtype.itemsize
    raw = _np.empty(nbytes + 64, dtype=_np.uint8)
    offset = (-raw.ctypes.data) % 64
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def _filled(shape, dtype, values):
    out = aligned_empty(shape, dtype)
    out[...] = values
    return out


def _dtype_name(value):
    if isinstance(value, Dtype):
        return value.value
    return value


class Backend:
    """A backend of this build by registry name; keywords are its options (``device``,
    ``precision``/``dtype``, ``mem_size``, ``quantize``), checked by the backend itself."""

    backend_type = None

    def __init__(self, name=None, seed=0, **options):
        name = name or self.backend_type
        opts = {k: _dtype_name(v) for k, v in options.items() if v is not None}
        self._cpp = _C.Backend(name, opts)
        self._rng = _np.random.default_rng(seed)

    @property
    def name(self):
        return self._cpp.name

    @property
    def precision(self):
        return Dtype(self._cpp.precision)

    dtype = precision

    @property
    def device(self):
        return self._cpp.device

    @property
    def devices(self):
        return list(self._cpp.devices)

    @property
    def mem_size(self):
        return self._cpp.mem_size

    def set_seed(self, seed):
        self._rng = _np.random.default_rng(seed)

    def _np_dtype(self, dtype):
        return to_numpy_dtype(Dtype(_dtype_name(dtype)) if dtype is not None else self.precision)

    @staticmethod
    def _shape(shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            return tuple(shape[0])
        return tuple(shape)

    # The constructors return 64-byte aligned arrays, which evaluate() reads in place.
    def array(self, data, dtype=None):
        a = _np.asarray(data, dtype=self._np_dtype(dtype) if dtype is not None or not hasattr(data, "dtype") else None)
        if dtype is None and a.dtype.kind == "f":
            a = a.astype(self._np_dtype(None))
        return _filled(a.shape, a.dtype, a)

    def ones(self, *shape, dtype=None):
        return _filled(self._shape(shape), self._np_dtype(dtype), 1)

    def zeros(self, *shape, dtype=None):
        return _filled(self._shape(shape), self._np_dtype(dtype), 0)

    def randn(self, *shape, dtype=None):
        return _filled(self._shape(shape), self._np_dtype(dtype), self._rng.standard_normal(self._shape(shape)))

    def rand(self, *shape, dtype=None):
        return _filled(self._shape(shape), self._np_dtype(dtype), self._rng.random(self._shape(shape)))

    def arange(self, *args, dtype=None):
        a = _np.arange(*args)
        return _filled(a.shape, self._np_dtype(dtype), a)

    def to_numpy(self, array):
        return _np.asarray(array)

    def __repr__(self):
        return f"<{type(self).__name__} device={self.device} precision={self._cpp.precision}>"


# Class names of the registry's backends; a backend not listed is "<Name>Backend".
_CLASS_NAMES = {"cpu": "CpuBackend", "reference": "ReferenceBackend", "ggml": "GGMLBackend", "c": "CBackend"}


def _backend_class(registry_name):
    class_name = _CLASS_NAMES.get(registry_name, registry_name.capitalize() + "Backend")

    def __init__(self, device="cpu", dtype=None, precision=None, **options):
        if dtype is not None:
            options["dtype"] = dtype
        if precision is not None:
            options["precision"] = precision
        Backend.__init__(self, registry_name, device=device, **options)

    doc = f"The '{registry_name}' backend: {_C.backend_description(registry_name)}."
    return type(class_name, (Backend,), {"__init__": __init__, "__doc__": doc, "backend_type": registry_name,
                                         "__module__": __name__})


def _unavailable_class(class_name):
    def __init__(self, *args, **kwargs):
        raise ValueError(f"{class_name} is not available in this build; its backends are "
                         f"{', '.join(available_backends())} (ml.{', ml.'.join(_classes[n].__name__ for n in available_backends())})")

    return type(class_name, (Backend,), {"__init__": __init__, "__module__": __name__,
                                         "__doc__": f"Mithril's {class_name}: not in this build (raises ValueError)."})


_classes = {n: _backend_class(n) for n in available_backends()}
globals().update({c.__name__: c for c in _classes.values()})
__all__ += [c.__name__ for c in _classes.values()]

# Mithril's NumPy backend is the CPU backend here (NumPy arrays in and out, our kernels).
NumpyBackend = _classes["cpu"]
__all__.append("NumpyBackend")

for _name in ("JaxBackend", "TorchBackend", "MlxBackend", "GGMLBackend", "CBackend"):
    if _name not in globals():
        globals()[_name] = _unavailable_class(_name)
        __all__.append(_name)
