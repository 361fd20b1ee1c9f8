"""The minimum glue the seed's code blocks (shared/seed/performance-tuning.md) assume: a `model`
with an "input" of [N, 128] (the seed's shapes), its `inputs`, `create_batch`, a `train_dataset`
and a `compiled_model` trained on a loss. Everything else in the tests is the blocks as written."""
import numpy as np

import mithril as ml
from mithril.models import IOKey, Linear, Model, Relu, SquaredError, TrainModel


def make_model():
    model = Model()
    model |= Linear(dimension=64).connect(input="input", weight="w0", bias="b0")
    model += Relu()
    model += Linear(dimension=10).connect(weight="w1", bias="b1", output=IOKey("output", expose=True))
    model.set_shapes({"input": ["N", 128]})
    return model


model = make_model()
backend = ml.CpuBackend()
_params = ml.compile(model, backend).randomize_params(seed=1)
_params = {k: v * 0.1 for k, v in _params.items()}


def create_batch(batch_size, seed=0):
    rng = np.random.default_rng(seed)
    return {**_params, "input": rng.standard_normal((batch_size, 128))}


inputs = create_batch(32)
sample_inputs = inputs

_rng = np.random.default_rng(7)
train_dataset = {"input": _rng.standard_normal((96, 128)), "target": _rng.standard_normal((96, 10))}


def make_train_model():
    tm = TrainModel(make_model())
    tm.add_loss(SquaredError(), input="output", target="target")
    return tm


compiled_model = ml.compile(make_train_model(), backend)
# Every input's shape, for the static-shape blocks (the seed's shapes name only "input").
ALL_SHAPES = {k: list(v.shape) for k, v in inputs.items()}
train_params = {k: v.copy() for k, v in _params.items()}


def backends_named(message):
    """The error for a backend this build lacks names the backends it has."""
    return all(name in message for name in ml.available_backends())
