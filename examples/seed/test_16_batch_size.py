# Seed block "Batch Size Optimization", as written (create_batch from the glue).
import mithril as ml
from glue import backend, create_batch, model

compiled_model = ml.compile(model=model, backend=backend)


def test_as_written(capsys):
    import time

    # Benchmark different batch sizes
    batch_sizes = [1, 2, 4, 8, 16, 32, 64, 128]
    results = {}

    for batch_size in batch_sizes:
        # Create inputs with current batch size
        inputs = create_batch(batch_size)

        # Warmup
        for _ in range(10):
            compiled_model(inputs)

        # Benchmark
        start_time = time.time()
        for _ in range(100):  # Run 100 times
            compiled_model(inputs)
        end_time = time.time()

        # Calculate throughput and latency
        total_time = end_time - start_time
        throughput = 100 * batch_size / total_time
        latency = total_time / 100

        results[batch_size] = {
            "throughput": throughput,  # Samples/second
            "latency": latency         # Seconds/batch
        }

    # Find optimal batch size
    for batch_size, metrics in results.items():
        print(f"Batch size: {batch_size}, Throughput: {metrics['throughput']:.2f} samples/s, "
              f"Latency: {metrics['latency'] * 1000:.2f} ms")

    assert sorted(results) == batch_sizes
    assert all(m["throughput"] > 0 and m["latency"] > 0 for m in results.values())
    assert capsys.readouterr().out.count("Batch size:") == 8
