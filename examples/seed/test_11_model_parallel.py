# Seed block "Model Parallelism": one CPU device here.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # Create a model-parallel backend
        backend = ml.JaxBackend(device_mesh=(1, 4))  # 4 devices for model parallelism
    assert backends_named(str(e.value))


def test_knobs_are_rejected_with_their_reasons():
    with pytest.raises(ValueError, match="'tensor_split_dims' is not supported"):
        ml.compile(model=model, backend=ml.CpuBackend(), tensor_split_dims={"weights": 1, "activations": 0})
    with pytest.raises(ValueError, match="parallelism"):
        ml.compile(model=model, backend=ml.CpuBackend(), parallelism="model")
