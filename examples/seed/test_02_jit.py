# Seed block "JIT Compilation": jit=True specializes and caches one program per input signature
# (jit=False keeps one program of each kind, rebuilt when the shapes change).
import numpy as np
import pytest

import mithril as ml
from glue import backends_named, create_batch, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        ml.compile(model=model, backend=ml.JaxBackend(), jit=True)
    assert backends_named(str(e.value))


def test_with_the_cpu_backend():
    # Enable JIT compilation
    compiled_model = ml.compile(
        model=model,
        backend=ml.CpuBackend(),
        jit=True  # Enable JIT compilation
    )
    for batch in (4, 8, 4, 8):
        compiled_model(create_batch(batch))
    assert compiled_model.program_builds == 2  # one program per signature, reused

    no_jit = ml.compile(model=model, backend=ml.CpuBackend(), jit=False)
    for batch in (4, 8, 4, 8):
        out = no_jit(create_batch(batch))
    assert no_jit.program_builds == 4  # rebuilt at every change of shape
    np.testing.assert_array_equal(out["output"], compiled_model(create_batch(8))["output"])
