# README's Python example: a model built in Python, compiled, trained for a few steps, profiled
# and benchmarked. Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/quickstart.py
import numpy as np

import mithril as ml
from mithril.models import IOKey, Linear, Model, Relu, SquaredError, TrainModel

# relu(x W0^T + b0) W1^T + b1, named keys for the input, parameters and output.
model = Model()
model |= Linear(dimension=32).connect(input="x", weight="w0", bias="b0")
model += Relu()
model += Linear(dimension=1).connect(weight="w1", bias="b1", output=IOKey("y", expose=True))

train_model = TrainModel(model)
train_model.add_loss(SquaredError(), input="y", target="target")  # mean squared error -> final_cost

backend = ml.CpuBackend(dtype=ml.float32)
pm = ml.compile(train_model, backend, shapes={"x": [64, 8]}, profile=True)

rng = np.random.default_rng(0)
x = backend.array(rng.standard_normal((256, 8)))
target = backend.array(np.sin(x.sum(axis=1, keepdims=True)))
params = {k: v * 0.3 for k, v in pm.randomize_params(seed=1).items()}

trainer = ml.Trainer(model=pm, optimizer=ml.Adam(learning_rate=0.01), params=params)
loader = ml.DataLoader({"x": x, "target": target}, batch_size=64, shuffle=True)
losses = [trainer.train_epoch(loader) for _ in range(20)]
print(f"loss: epoch 1 {losses[0]:.4f} -> epoch 20 {losses[-1]:.4f}")
assert losses[-1] < 0.5 * losses[0]

stats = pm.get_profile_stats()
print(stats.execution_breakdown.op_types[0]["op"], "takes the most kernel time")

inference = ml.compile(model, backend, shapes={"x": [64, 8]}, inference=True)
result = ml.run_benchmark(inference, {**trainer.params, "x": x[:64]},
                          ml.BenchmarkConfig(warmup_iterations=5, benchmark_iterations=50))
print(f"throughput {result.throughput:.0f} samples/s, latency {result.latency * 1e6:.1f} us")
