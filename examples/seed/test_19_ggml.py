# Seed block "GGML/C Backends": mem_size, static_inference and graph_optimization exist; quantize
# is the backend's to accept (this build's backends compute in floating point).
import pytest

import mithril as ml
from glue import inputs, model

SHAPES = {k: list(v.shape) for k, v in inputs.items()}


def test_as_written():
    if "ggml" in ml.available_backends():
        pytest.skip("covered by the GGML backend's own tests")
    with pytest.raises(ValueError) as e:
        # GGML backend for maximum inference performance
        backend = ml.GGMLBackend(
            quantize="int8",           # 8-bit quantization
            mem_size=4 * 1024 * 1024 * 1024  # 4GB memory limit
        )
    assert "cpu" in str(e.value)


def test_with_the_cpu_backend():
    with pytest.raises(ValueError, match="quantize 'int8' is not available"):
        ml.CpuBackend(quantize="int8")
    backend = ml.CpuBackend(mem_size=4 * 1024 * 1024 * 1024)
    compiled_model = ml.compile(model=model, backend=backend, static_inference=True, graph_optimization=True,
                                shapes=SHAPES)
    assert compiled_model(inputs)["output"].shape == (32, 10)
    # the memory cap is enforced: a program over it fails at compile() under static shapes
    with pytest.raises(ValueError, match="mem_size"):
        ml.compile(model=model, backend=ml.CpuBackend(mem_size=1024), static_inference=True, shapes=SHAPES)
