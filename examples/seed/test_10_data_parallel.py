# Seed block "Data Parallelism": one CPU device here.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # Create a data-parallel backend
        backend = ml.JaxBackend(device_mesh=(4,))  # 4 devices for data parallelism
    assert backends_named(str(e.value))


def test_knobs_are_rejected_with_their_reasons():
    with pytest.raises(ValueError, match="device meshes are not available"):
        ml.CpuBackend(device_mesh=(4,))
    with pytest.raises(ValueError, match="'parallelism' is not supported"):
        ml.compile(model=model, backend=ml.CpuBackend(), parallelism="data")
