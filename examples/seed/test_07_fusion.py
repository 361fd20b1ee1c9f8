# Seed block "Operator Fusion and Graph Optimization": the passes run as switched; with them on the
# program has fewer kernel calls, and the outputs are the same.
import numpy as np

import mithril as ml
from glue import backend, inputs, model

SHAPES = {"input": [32, 128], "w0": [64, 128], "b0": [64], "w1": [10, 64], "b1": [10]}


def test_as_written():
    # Enable operation fusion and other optimizations
    compiled_model = ml.compile(
        model=model,
        backend=backend,
        optimizations={
            "constant_folding": True,      # Pre-compute constant expressions
            "operator_fusion": True,       # Combine consecutive operations
            "dead_code_elimination": True, # Remove unused computations
            "common_subexpression": True   # Reuse results of duplicate expressions
        }
    )
    plain = ml.compile(model=model, backend=backend, optimizations={
        "constant_folding": False, "operator_fusion": False, "dead_code_elimination": False,
        "common_subexpression": False})
    fused = compiled_model.program_report(SHAPES)
    unfused = plain.program_report(SHAPES)
    assert fused["nodes"] < unfused["nodes"]
    assert "fused_linear" in fused["graph"] and "fused_linear" not in unfused["graph"]
    np.testing.assert_allclose(compiled_model(inputs)["output"], plain(inputs)["output"], rtol=1e-12, atol=1e-12)
