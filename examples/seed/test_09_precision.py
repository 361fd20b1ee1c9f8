# Seed block "Precision Control": bfloat16 compute is the backend precision; mixed_precision (bf16
# compute on float32 master weights) is the Trainer's, not compile()'s, and is rejected here.
import numpy as np
import pytest

import mithril as ml
from glue import backends_named, inputs, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # Use reduced precision for faster computation
        backend = ml.JaxBackend(
            device="gpu",
            precision="bfloat16"  # Options: float32, float16, bfloat16
        )
    assert backends_named(str(e.value))


def test_with_the_cpu_backend():
    backend = ml.CpuBackend(
        device="cpu",
        precision="bfloat16"  # Options: float32, float16, bfloat16
    )
    with pytest.raises(ValueError, match="'mixed_precision' is not supported"):
        ml.compile(model=model, backend=backend, mixed_precision=True)
    compiled_model = ml.compile(model=model, backend=backend)
    assert compiled_model.precision == ml.bfloat16
    reference = ml.compile(model=model, backend=ml.CpuBackend())(inputs)["output"]
    out = compiled_model(inputs)["output"]
    assert out.dtype == np.float32  # bf16 values, widened for NumPy
    np.testing.assert_array_equal(out, ml.to_bfloat16(out))
    assert np.max(np.abs(out - reference)) < 0.05 * np.max(np.abs(reference))
    assert ml.CpuBackend(dtype=ml.float16).precision == ml.float16
