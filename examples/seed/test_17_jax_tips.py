# Seed block "JAX Backend" tips: pre_allocate and bfloat16 exist on the CPU backend; pjit and
# vectorize are JAX's and are rejected with their reasons.
import pytest

import mithril as ml
from glue import backends_named, inputs, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # JAX-specific performance optimizations
        backend = ml.JaxBackend(
            device="gpu",
            pre_allocate=True,         # Pre-allocate memory
            precision="bfloat16"       # Use bfloat16 precision
        )
    assert backends_named(str(e.value))


def test_with_the_cpu_backend():
    backend = ml.CpuBackend(device="cpu", pre_allocate=True, precision="bfloat16")
    assert backend.precision == ml.bfloat16
    with pytest.raises(ValueError, match="'pjit' is not supported"):
        ml.compile(model=model, backend=backend, jit=True, pjit=True, vectorize=True)
    with pytest.raises(ValueError, match="'vectorize' is not supported"):
        ml.compile(model=model, backend=backend, jit=True, vectorize=True)
    # false asks for what compile() does anyway, and is accepted
    compiled = ml.compile(model=model, backend=backend, jit=True, pjit=False, vectorize=False)
    assert compiled(inputs)["output"].shape == (32, 10)
    with pytest.raises(ValueError, match="pre_allocate"):
        ml.CpuBackend(pre_allocate=False)
