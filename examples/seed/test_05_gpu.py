# Seed block "GPU Optimization": cuDNN and optimize_for do not exist on the CPU; target_hardware
# names CPU instruction-set levels here, so a GPU name is an error listing them.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # Optimize for NVIDIA GPUs
        backend = ml.TorchBackend(
            device="cuda",
            cudnn_benchmark=True  # Enable cuDNN auto-tuner
        )
    assert backends_named(str(e.value))


def test_knobs_are_rejected_with_their_reasons():
    with pytest.raises(ValueError, match="cudnn_benchmark.*CUDA-only"):
        ml.CpuBackend(cudnn_benchmark=True)
    with pytest.raises(ValueError, match="target_hardware='nvidia_a100' is not one of native, baseline"):
        ml.compile(model=model, backend=ml.CpuBackend(), target_hardware="nvidia_a100")
    assert ml.compile(model=model, backend=ml.CpuBackend(), target_hardware="native") is not None
    with pytest.raises(ValueError, match="'optimize_for' is not supported"):
        ml.compile(model=model, backend=ml.CpuBackend(), optimize_for="throughput")
    with pytest.raises(ValueError, match="device"):
        ml.CpuBackend(device="cuda")
