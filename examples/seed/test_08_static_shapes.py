# Seed block "Static Shapes and Types": programs are built in compile(); another shape, or (with
# static_types) another dtype, is rejected instead of re-planned or cast.
import numpy as np
import pytest

import mithril as ml
from glue import ALL_SHAPES, backend, create_batch, model


def test_as_written_needs_every_input_shape():
    # static_shapes plans in compile(): the parameters' shapes are needed too, and named.
    with pytest.raises(KeyError, match="static_shapes needs a shape for every input; missing: b0, b1, w0, w1"):
        ml.compile(model=model, backend=backend, shapes={"input": [32, 128]}, static_shapes=True, static_types=True)


def test_with_every_shape():
    # Specify input shapes and enable static shape optimization
    compiled_model = ml.compile(
        model=model,
        backend=backend,
        shapes=ALL_SHAPES,            # Fixed input shapes
        static_shapes=True,           # Use static shape optimizations
        static_types=True             # Use static type optimizations
    )
    assert compiled_model.program_builds >= 1  # planned at compile time
    builds = compiled_model.program_builds
    assert compiled_model(create_batch(32))["output"].shape == (32, 10)
    assert compiled_model.program_builds == builds
    with pytest.raises(ValueError):
        compiled_model(create_batch(16))
    wrong_dtype = {k: v.astype(np.float32) for k, v in create_batch(32).items()}
    with pytest.raises(TypeError):
        compiled_model(wrong_dtype)
