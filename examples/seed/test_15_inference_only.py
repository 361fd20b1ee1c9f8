# Seed block "Inference-Only Mode": no gradient graph; static_inference also fixes shapes and types,
# so it needs every input's shape.
import pytest

import mithril as ml
from glue import backend, inputs, model


def test_as_written():
    # static_inference plans in compile(), so it needs every input's shape, and names the missing ones.
    with pytest.raises(KeyError, match="static_shapes needs a shape for every input; missing: b0, b1, input, w0, w1"):
        # Compile for inference-only
        compiled_model = ml.compile(
            model=model,
            backend=backend,
            inference=True,      # Inference-only mode, no gradient computation
            static_inference=True  # Enable static optimizations
        )


def test_with_shapes():
    shapes = {k: list(v.shape) for k, v in inputs.items()}
    compiled_model = ml.compile(model=model, backend=backend, inference=True, static_inference=True, shapes=shapes)
    assert compiled_model(inputs)["output"].shape == (32, 10)
    assert compiled_model.trainable_keys == []
    with pytest.raises(ValueError):
        compiled_model.evaluate(inputs, output_gradients={"output": inputs["input"][:, :10]})
