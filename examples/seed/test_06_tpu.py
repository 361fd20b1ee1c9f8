# Seed block "TPU Optimization": no TPU, no XLA.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # Optimize for TPUs
        backend = ml.JaxBackend(device="tpu")
    assert backends_named(str(e.value))


def test_knobs_are_rejected_with_their_reasons():
    with pytest.raises(ValueError, match="'tpu_replicas' is not supported: TPUs are not available"):
        ml.compile(model=model, backend=ml.CpuBackend(), tpu_replicas=8)
    with pytest.raises(ValueError, match="'xla_optimization_level' is not supported: XLA"):
        ml.compile(model=model, backend=ml.CpuBackend(), xla_optimization_level=3)
