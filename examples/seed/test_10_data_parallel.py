# Seed block "Data Parallelism": data parallelism is over MPI ranks (mpirun -np N mithril train ...),
# and device_mesh is a compile option, not a backend argument.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # Create a data-parallel backend
        backend = ml.JaxBackend(device_mesh=(4,))  # 4 devices for data parallelism
    assert backends_named(str(e.value))


def test_knobs_are_rejected_with_their_reasons():
    with pytest.raises(KeyError, match="unknown backend option 'backend.device_mesh'"):
        ml.CpuBackend(device_mesh=(4,))
    # One process is a world of one rank: the data-parallel program is the one-process program.
    assert ml.compile(model=model, backend=ml.CpuBackend(), parallelism="data") is not None
    with pytest.raises(ValueError, match="model parallelism is not available"):
        ml.compile(model=model, backend=ml.CpuBackend(), device_mesh=[2, 2])
