# Seed block "GGML/C Backends": the ggml backend quantizes the weights fixed at compile time; the
# cpu backend computes in floating point and refuses quantize.
import pytest

import mithril as ml
from glue import inputs, model

SHAPES = {k: list(v.shape) for k, v in inputs.items()}


def test_as_written():
    # GGML backend for maximum inference performance
    backend = ml.GGMLBackend(
        quantize="int8",           # 8-bit quantization
        mem_size=4 * 1024 * 1024 * 1024  # 4GB memory limit
    )
    # Weights fixed at compile time are the ones quantized (int8 = q8_0 blocks); the others stay float.
    weights = {k: v for k, v in inputs.items() if k != "input"}
    compiled_model = ml.compile(model=model, backend=backend, static_inference=True, graph_optimization=True,
                                shapes=SHAPES, constant_keys=weights)
    out = compiled_model({"input": inputs["input"]})["output"]
    reference = ml.compile(model=model, backend=ml.CpuBackend(), shapes=SHAPES)(inputs)["output"]
    assert out.shape == (32, 10)
    # q8_0 keeps about 2-3 significant digits of each weight block
    assert abs(out - reference).max() <= 2e-2 * abs(reference).max()


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
