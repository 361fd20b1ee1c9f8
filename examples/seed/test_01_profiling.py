# Seed block "Understanding Performance Bottlenecks": compile with profile=True, time a call, read
# the execution breakdown. As written it asks for ml.JaxBackend, which this build lacks; with the
# backend name changed it runs, and the breakdown accounts for the call's kernels.
import pytest

import mithril as ml
from glue import backends_named, inputs, model


def test_as_written_names_the_backends_of_this_build():
    with pytest.raises(ValueError) as e:
        compiled_model = ml.compile(model=model, backend=ml.JaxBackend(), profile=True)
    assert "JaxBackend" in str(e.value) and backends_named(str(e.value))


def test_with_the_cpu_backend(capsys):
    import time

    # Compile model with profiling enabled
    compiled_model = ml.compile(
        model=model,
        backend=ml.CpuBackend(),
        profile=True  # Enable profiling
    )

    # Measure execution time
    start_time = time.time()
    outputs = compiled_model(inputs)
    end_time = time.time()

    # Get profiling statistics
    profile_stats = compiled_model.get_profile_stats()
    print(f"Total execution time: {end_time - start_time:.4f} seconds")
    print(profile_stats.execution_breakdown)

    assert outputs["output"].shape == (32, 10)
    assert profile_stats.runs == 1
    ops = {row["op"] for row in profile_stats.execution_breakdown.op_types}
    assert ops, "the breakdown lists the op types that ran"
    assert sum(row["percent"] for row in profile_stats.execution_breakdown.op_types) == pytest.approx(100, abs=0.5)
    assert "Total execution time" in capsys.readouterr().out
