"""Mithril in Python over the C++ core: ``import mithril as ml``.

``ml.compile(model, backend, ...)`` takes Mithril's keywords; every keyword is read and checked by
the core (compile_options.def), so a seed knob this build lacks fails with the reason instead of
being ignored. ``ml.models`` holds the logical models, ``ml.CpuBackend`` & co. the backends.
Errors are Python exceptions: KeyError, ValueError (``ml.ShapeError`` is one), TypeError
(``ml.DTypeError`` is one); the message is the core's.
"""
from . import _mithril
from . import models
from .backends import *  # noqa: F401,F403  (CpuBackend, ReferenceBackend, NumpyBackend, ...)
from .backends import Backend, available_backends
from .dtypes import Dtype, to_bfloat16, to_numpy_dtype
from .models import IOKey, Model, TrainModel
from ._mithril import (BenchmarkConfig, BenchmarkResult, DTypeError, KernelError, MithrilError,
                       ShapeError)

__version__ = "0.1.0"

float64 = Dtype.float64
float32 = Dtype.float32
float16 = Dtype.float16
bfloat16 = Dtype.bfloat16
int64 = Dtype.int64
int32 = Dtype.int32
int8 = Dtype.int8
bool = Dtype.bool  # noqa: A001  (Mithril's name)


def _key_names(keys, what):
    if keys is None:
        return None
    if isinstance(keys, str):
        raise TypeError(f"{what} must be a list or set of key names, got the string {keys!r}")
    out = []
    for k in keys:
        if isinstance(k, str):
            out.append(k)
        elif isinstance(k, models._PortRef):
            out.append(k.port)
        else:
            raise TypeError(f"{what} must hold key names, got {k!r}")
    return sorted(out) if isinstance(keys, (set, frozenset)) else out


def compile(model, backend=None, *, constant_keys=None, data_keys=None, discard_keys=None, trainable_keys=None,
            shapes=None, inference=False, jit=True, file_path=None, safe_shapes=True, safe_names=True,
            use_short_namings=True, **tuning):
    """Compiles a logical model for ``backend`` (default ``CpuBackend()``, float64).

    ``tuning`` takes the other compile options of the core (``profile``, ``optimizations``,
    ``static_shapes``, ``static_types``, ``static_inference``, ``graph_optimization``, ``mem_size``,
    ``pre_allocate``, ...) and the seed's knobs, which are either honoured or rejected with a reason.
    """
    if backend is None:
        backend = CpuBackend()  # noqa: F405
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a backend object such as ml.CpuBackend(), got {type(backend).__name__}")
    if not isinstance(model, Model):
        raise TypeError(f"model must be a mithril model, got {type(model).__name__}")
    options = {"inference": inference, "jit": jit, "safe_shapes": safe_shapes, "safe_names": safe_names,
               "use_short_namings": use_short_namings}
    if constant_keys:
        options["constant_keys"] = {(k.port if isinstance(k, models._PortRef) else k): v
                                    for k, v in dict(constant_keys).items()}
    for name, keys in (("data_keys", data_keys), ("discard_keys", discard_keys), ("trainable_keys", trainable_keys)):
        names = _key_names(keys, name)
        if names:
            options[name] = names
    if shapes:
        options["shapes"] = {(k.port if isinstance(k, models._PortRef) else k): list(v) for k, v in shapes.items()}
    if file_path is not None:
        options["file_path"] = file_path
    for k, v in tuning.items():
        options[k] = v
    return PhysicalModel(_mithril.compile(model._cpp_model(), backend._cpp, options), backend)


def _concrete(shape):
    """A symbolic shape whose dims are all known ("[4, 5]") as a list."""
    if isinstance(shape, str) and shape.startswith("[") and shape.endswith("]"):
        dims = [d.strip() for d in shape[1:-1].split(",") if d.strip()]
        if all(d.isdigit() for d in dims):
            return [int(d) for d in dims]
    return shape


class PhysicalModel:
    """A compiled model. ``evaluate(params, data)`` returns the outputs, and with
    ``output_gradients`` the pair (outputs, gradients of the trainable keys). Arrays come back as
    NumPy arrays over the core's memory (no copy)."""

    def __init__(self, cpp, backend):
        self._cpp = cpp
        self.backend = backend

    def evaluate(self, params=None, data=None, output_gradients=None):
        return self._cpp.evaluate(params, data, output_gradients)

    def __call__(self, inputs=None, data=None):
        return self._cpp.evaluate(inputs, data, None)

    def randomize_params(self, seed=0):
        """Standard-normal values (seeded) for every trainable key, shaped by the model and the
        ``shapes`` given to compile()."""
        return self._cpp.randomize_params(seed)

    @property
    def shapes(self):
        """Every tensor key's shape: a list when it is known, else the symbolic shape as text."""
        return {k: _concrete(v) for k, v in self._cpp.shapes.items()}

    def summary(self):
        print(self._cpp.summary_text())

    def summary_text(self):
        return self._cpp.summary_text()

    def program_report(self, shapes, gradients=False):
        """The program for these input shapes: ``nodes`` (kernel calls per run), ``passes``
        (name, nodes before, after), memory plan bytes and the optimized ``graph`` as text."""
        return self._cpp.program_report({k: list(v) for k, v in shapes.items()}, gradients)

    def get_profile_stats(self):
        return self._cpp.get_profile_stats()

    def reset_profile(self):
        self._cpp.reset_profile()

    def write_chrome_trace(self, path):
        self._cpp.write_chrome_trace(path)

    input_keys = property(lambda self: list(self._cpp.input_keys))
    output_keys = property(lambda self: list(self._cpp.output_keys))
    trainable_keys = property(lambda self: list(self._cpp.trainable_keys))
    discarded_keys = property(lambda self: list(self._cpp.discarded_keys))
    static_keys = property(lambda self: list(self._cpp.static_keys))
    precision = property(lambda self: Dtype(self._cpp.precision))
    program_builds = property(lambda self: self._cpp.program_builds)


def run_benchmark(model, inputs, config=None):
    """Times ``model`` on ``inputs``: result ``.throughput`` (samples/s), ``.latency`` (seconds per
    call, mean; ``.latency_stats`` has percentiles), ``.memory_usage`` (peak bytes of live tensors)."""
    if not isinstance(model, PhysicalModel):
        raise TypeError(f"run_benchmark needs a compiled model (ml.compile), got {type(model).__name__}")
    return _mithril.run_benchmark(model._cpp, inputs, config if config is not None else BenchmarkConfig())


from .train import SGD, Adam, AdamW, DataLoader, RMSProp, Trainer  # noqa: E402,F401
