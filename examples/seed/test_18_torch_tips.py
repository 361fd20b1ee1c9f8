# Seed block "PyTorch Backend" tips: cuDNN, AMP, torch.fx and TorchDynamo are PyTorch's.
import pytest

import mithril as ml
from glue import backends_named, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        # PyTorch-specific optimizations
        backend = ml.TorchBackend(
            device="cuda",
            cudnn_benchmark=True,      # Auto-tune cuDNN kernels
            enable_amp=True            # Automatic mixed precision
        )
    assert backends_named(str(e.value))


def test_knobs_are_rejected_with_their_reasons():
    with pytest.raises(ValueError, match="enable_amp' is not supported"):
        ml.CpuBackend(enable_amp=True)
    for knob in ("torch_fx", "torch_dynamo"):
        with pytest.raises(ValueError, match=f"'{knob}' is not supported"):
            ml.compile(model=model, backend=ml.CpuBackend(), **{knob: True})
