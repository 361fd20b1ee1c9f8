"""Mithril's logical models over the C++ core: ``Model``, ``IOKey``, ``TrainModel`` and one class per
library model and primitive, by Mithril's class names (made from the core's registries, so a model
added in C++ appears here without code).

Composition follows Mithril: ``model |= block.connect(port=...)`` wires what the connections name,
``model += block`` also wires the previous block's canonical output to this block's canonical input.
A connection is a key name, an ``IOKey``, a port of a submodel already added (``lin1.output``) or a
fixed value (a number, a list or a NumPy array). Models are values: adding a model adds a copy, so
changing a block after adding it does not change the composite it was added to.
"""
import re as _re
import weakref as _weakref

import numpy as _np

from . import _mithril as _C

__all__ = ["Model", "IOKey", "TrainModel", "Connect", "dict_to_model", "model_to_dict"]


class _PortRef:
    """A port of a model (``lin.output``): a key of the model it belongs to or, once the model was
    added to a composite, a port of that submodel."""

    __slots__ = ("model", "port")

    def __init__(self, model, port):
        self.model = model
        self.port = port

    def __repr__(self):
        return f"{type(self.model).__name__}.{self.port}"


class IOKey:
    """Mithril's IOKey: a named key of the parent, optionally with a fixed value, a shape, a
    differentiability, exposed as an output, or merged with other ports (``connections``)."""

    def __init__(self, name=None, value=None, shape=None, type=None, expose=None, differentiable=None,
                 connections=None):
        self.name = name
        self.value = value
        self.shape = shape
        self.type = type
        self.expose = bool(expose)
        self.differentiable = differentiable
        self.connections = list(connections) if connections is not None else None

    def __repr__(self):
        return f"IOKey({self.name!r})"


class Connect:
    """A model with the connections it is to be added with (``model.connect(...)``)."""

    def __init__(self, model, connections):
        self.model = model
        self.connections = connections


class Model:
    """An empty composite, or (through the subclasses below) a library model or primitive."""

    def __init__(self, name=None, enforce_jit=None):
        object.__setattr__(self, "_cpp", _C.Model())
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "_local_name", None)

    @classmethod
    def _wrap(cls, cpp):
        m = Model.__new__(Model)
        object.__setattr__(m, "_cpp", cpp)
        object.__setattr__(m, "_parent", None)
        object.__setattr__(m, "_local_name", None)
        return m

    def _cpp_model(self):
        return self._cpp

    # -- ports -----------------------------------------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _PortRef(self, name)

    def _resolve(self, value, what):
        """A connection value as the core takes it, relative to this (parent) model."""
        if isinstance(value, _PortRef):
            if value.model is self:
                return value.port
            parent = value.model._parent() if value.model._parent is not None else None
            if parent is self:
                return ("__ref__", value.model._local_name, value.port)
            raise ValueError(f"{what}: {value!r} is a port of a model that is not a submodel of this model "
                             "(add it first)")
        if isinstance(value, IOKey):
            return self._iokey(value, what)
        if isinstance(value, Model):
            raise TypeError(f"{what}: a model is not a connection (connect one of its ports, e.g. model.output)")
        if isinstance(value, _np.ndarray):
            return value
        return value

    def _iokey(self, key, what):
        connections = None
        if key.connections is not None:
            connections = [self._resolve(c, what) for c in key.connections]
        value = key.value
        return _C.IOKey(name=key.name, value=value, shape=key.shape, differentiable=key.differentiable,
                        expose=key.expose, connections=connections)

    # -- composition -----------------------------------------------------------------------------
    def connect(self, **connections):
        return Connect(self, connections)

    __call__ = connect

    def _add(self, block, chain, name=""):
        if isinstance(block, Model):
            block = Connect(block, {})
        if not isinstance(block, Connect):
            raise TypeError(f"can only add a model or model.connect(...), got {type(block).__name__}")
        conns = {port: self._resolve(v, f"connection '{port}'") for port, v in block.connections.items()}
        local = self._cpp.add(block.model._cpp_model(), conns, name, chain)
        object.__setattr__(block.model, "_parent", _weakref.ref(self))
        object.__setattr__(block.model, "_local_name", local)
        return self

    def __ior__(self, block):
        return self._add(block, False)

    def __iadd__(self, block):
        return self._add(block, True)

    def add(self, model, name="", **connections):
        """Adds ``model`` under the local name ``name`` (default ``m<index>``) with connections."""
        return self._add(Connect(model, connections), False, name)

    def expose(self, *keys):
        names = []
        for k in keys:
            names.extend(k if isinstance(k, (list, tuple)) else [k])
        self._cpp.expose([self._key_name(k) for k in names])

    def _key_name(self, key):
        if isinstance(key, str):
            return key
        if isinstance(key, _PortRef) and key.model is self:
            return key.port
        raise TypeError(f"expected a key name of this model, got {key!r}")

    def set_differentiability(self, key=None, value=True, **keys):
        """``set_differentiability("w", False)``, ``set_differentiability({lin.weight: False})`` or
        ``set_differentiability(w=False)``."""
        items = []
        if isinstance(key, dict):
            items.extend(key.items())
        elif key is not None:
            items.append((key, value))
        items.extend(keys.items())
        for k, v in items:
            self._cpp.set_differentiability(self._resolve(k, "set_differentiability"), bool(v))

    def set_shapes(self, shapes=None, **kwargs):
        merged = {}
        for k, v in list((shapes or {}).items()) + list(kwargs.items()):
            merged[self._key_name(k)] = list(v)
        self._cpp.set_shapes(merged)

    def set_cin(self, port):
        self._cpp.set_canonical_input(self._resolve(port, "set_cin"))

    def set_cout(self, port):
        self._cpp.set_canonical_output(self._resolve(port, "set_cout"))

    # -- inspection ------------------------------------------------------------------------------
    @property
    def name(self):
        return self._cpp_model().name

    @property
    def input_keys(self):
        return self._cpp_model().input_ports

    @property
    def output_keys(self):
        return self._cpp_model().output_ports

    def summary(self, shapes=None, gradients=False):
        """Prints the flat primitive calls and every key's role, trainability and shape."""
        print(self.summary_text(shapes, gradients))

    def summary_text(self, shapes=None, gradients=False):
        return self._cpp_model().summary(None if shapes is None else {k: list(v) for k, v in shapes.items()}, gradients)

    def to_dict(self):
        return self._cpp_model().to_dict()

    def __repr__(self):
        return f"<mithril model {self.name}>"


def dict_to_model(description):
    """A model from a Mithril model dict (the JSON format of the conformance files)."""
    return Model._wrap(_C.Model.from_dict(description))


def model_to_dict(model):
    return model.to_dict()


def _encode_args(value, models):
    """Constructor arguments with model-valued ones (activations, kernels, cells) replaced by
    placeholders the core resolves to the given models."""
    if isinstance(value, Model):
        models.append(value._cpp_model())
        return {"__model__": len(models) - 1}
    if isinstance(value, type) and issubclass(value, Model):
        return _encode_args(value(), models)
    if isinstance(value, (list, tuple)):
        return [_encode_args(v, models) for v in value]
    return value


# Positional parameters of the library constructors, in Mithril's order (keywords always work).
_POSITIONAL = {
    "Linear": ("dimension", "use_bias"),
    "Layer": ("activation", "dimension"),
    "MLP": ("activations", "dimensions"),
    "LayerNorm": ("use_scale", "use_bias", "eps"),
    "KernelizedSVM": ("kernel",),
    "PolynomialRegression": ("degree", "dimension"),
    "MDS": ("prediction_dim", "input_type"),
    "ManyToOne": ("cell_type", "max_sequence_length"),
    "OneToMany": ("cell_type", "max_sequence_length", "teacher_forcing"),
    "EncoderDecoder": ("cell_type", "max_input_sequence_length", "max_target_sequence_length", "teacher_forcing"),
}


def _model_class(class_name, library):
    positional = _POSITIONAL.get(class_name, ())

    def __init__(self, *args, name=None, **kwargs):
        if len(args) > len(positional):
            raise TypeError(f"{class_name}() takes at most {len(positional)} positional arguments, got {len(args)}")
        for p, a in zip(positional, args):
            if p in kwargs:
                raise TypeError(f"{class_name}() got multiple values for argument '{p}'")
            kwargs[p] = a
        if library:  # None means the constructor's default
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
        models = []
        encoded = {k: _encode_args(v, models) for k, v in kwargs.items()}
        object.__setattr__(self, "_cpp", _C.Model.construct(class_name, encoded, models))
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "_local_name", None)

    kind = "library model" if library else "primitive"
    doc = f"Mithril's {class_name} ({kind})."
    if positional:
        doc += " Arguments: " + ", ".join(positional) + "."
    return type(class_name, (Model,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


def _make_classes():
    made = {}
    for n in _C.primitive_names():
        made[n] = _model_class(n, False)
    for n in _C.library_model_names():  # library composites win over a primitive of the same name
        made[n] = _model_class(n, True)
    return made


_classes = _make_classes()
globals().update(_classes)
__all__ += sorted(_classes)


class TrainModel(Model):
    """Mithril's TrainModel: a model plus losses (each reduced, default Mean), regularizations and a
    loss combiner; its output ``final_cost`` is the objective."""

    def __init__(self, model):
        if not isinstance(model, Model):
            raise TypeError(f"TrainModel wraps a model, got {type(model).__name__}")
        object.__setattr__(self, "_builder", _C.TrainModel(model._cpp_model()))
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_built", None)
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "_local_name", None)

    def _cpp_model(self):
        if self._built is None:
            object.__setattr__(self, "_built", self._builder.build())
        return self._built

    @property
    def _cpp(self):
        return self._cpp_model()

    def _port_key(self, value, what):
        if isinstance(value, str):
            return value
        if isinstance(value, _PortRef) and (value.model is self or value.model is self._model):
            return value.port
        raise TypeError(f"{what} must be a key name of the wrapped model, got {value!r}")

    def add_loss(self, loss_model, reduce_steps=None, key_name=None, **ports):
        if key_name is not None:
            raise ValueError("TrainModel.add_loss: key_name is not available; losses are summed into final_cost")
        if "input" not in ports:
            raise KeyError("TrainModel.add_loss needs input=<output key of the model>")
        target = ports.pop("target", None)
        output = self._port_key(ports.pop("input"), "input")
        if ports:
            raise TypeError(f"TrainModel.add_loss: unknown ports {sorted(ports)} (expected input and target)")
        steps = [s._cpp_model() for s in (reduce_steps or [])]
        self._builder.add_loss(loss_model._cpp_model(), steps, output,
                               None if target is None else self._port_key(target, "target"))
        object.__setattr__(self, "_built", None)

    def add_regularization(self, model, coef, reg_key=None, **ports):
        if reg_key is not None:
            ports.setdefault("input", reg_key)
        if "input" not in ports:
            raise KeyError("TrainModel.add_regularization needs input=<key or re.compile(pattern)>")
        key = ports.pop("input")
        regex = isinstance(key, _re.Pattern)
        key = key.pattern if regex else self._port_key(key, "input")
        others = {p: self._port_key(k, p) for p, k in ports.items()}
        self._builder.add_regularization(model._cpp_model(), coef, key, regex, others)
        object.__setattr__(self, "_built", None)

    def set_loss_combiner(self, combiner):
        self._builder.set_loss_combiner(combiner._cpp_model())
        object.__setattr__(self, "_built", None)
