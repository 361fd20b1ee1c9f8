# Seed block "Performance Benchmarking", as written (sample_inputs from the glue).
import mithril as ml
from glue import backend, model, sample_inputs

compiled_model = ml.compile(model=model, backend=backend)


def test_as_written(capsys):
    # Create benchmark configuration
    benchmark_config = ml.BenchmarkConfig(
        warmup_iterations=10,      # Number of warmup runs
        benchmark_iterations=100,  # Number of measured runs
        metrics=["throughput", "latency", "memory_usage"]
    )

    # Run benchmark
    benchmark_results = ml.run_benchmark(
        model=compiled_model,
        inputs=sample_inputs,
        config=benchmark_config
    )

    # Analyze results
    print(f"Throughput: {benchmark_results.throughput:.2f} samples/s")
    print(f"Latency: {benchmark_results.latency * 1000:.2f} ms")
    print(f"Memory usage: {benchmark_results.memory_usage / (1024 * 1024):.2f} MB")

    assert benchmark_results.iterations == 100 and benchmark_results.batch_size == 32
    assert benchmark_results.throughput > 0 and benchmark_results.latency > 0
    assert benchmark_results.memory_usage > 0
    assert benchmark_results.throughput * benchmark_results.latency_stats["mean"] > 31.9  # 32 samples per call
    assert "Memory usage" in capsys.readouterr().out


def test_unknown_metric():
    import pytest
    with pytest.raises(ValueError, match="flops"):
        ml.BenchmarkConfig(metrics=["flops"])
