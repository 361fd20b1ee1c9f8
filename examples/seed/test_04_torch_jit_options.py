# Seed block "PyTorch Backend" JIT options (torch.compile's backend and mode): not in this build.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # PyTorch-specific JIT options
        backend = ml.TorchBackend(device="cuda")
        compiled_model = ml.compile(
            model=model,
            backend=backend,
            jit=True,
            jit_options={
                "backend": "inductor",  # Or "eager", "aot_eager", etc.
                "mode": "max-autotune"   # Performance optimization level
            }
        )
    assert backends_named(str(e.value))


def test_jit_options_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="jit_options"):
        ml.compile(model=model, backend=ml.CpuBackend(), jit=True,
                   jit_options={"backend": "inductor", "mode": "max-autotune"})
