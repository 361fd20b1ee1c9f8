# Seed block "Pipeline Parallelism": one CPU device here.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # Create a pipeline-parallel backend
        backend = ml.JaxBackend(device_mesh=(4,))  # 4 devices for pipeline stages
    assert backends_named(str(e.value))


def test_knobs_are_rejected_with_their_reasons():
    for knob, value in (("pipeline_stages", 4), ("pipeline_chunks", 8)):
        with pytest.raises(ValueError, match=f"'{knob}' is not supported"):
            ml.compile(model=model, backend=ml.CpuBackend(), **{knob: value})
    with pytest.raises(ValueError, match='parallelism "pipeline" is not available in this build'):
        ml.compile(model=model, backend=ml.CpuBackend(), parallelism="pipeline")
