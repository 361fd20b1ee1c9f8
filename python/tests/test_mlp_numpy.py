# A two-layer MLP written again in NumPy (float64) checks evaluate() and its gradients; the
# NumPy gradients are checked against central finite differences first.
import numpy as np

import mithril as ml
from mithril.models import MLP, Relu, Tanh


def numpy_forward(p, x):
    h = np.maximum(x @ p["weight0"].T + p["bias0"], 0.0)
    return np.tanh(h @ p["weight1"].T + p["bias1"])


def numpy_vjp(p, x, g):
    a1 = x @ p["weight0"].T + p["bias0"]
    h = np.maximum(a1, 0.0)
    y = np.tanh(h @ p["weight1"].T + p["bias1"])
    d2 = g * (1.0 - y * y)
    dh = d2 @ p["weight1"]
    d1 = dh * (a1 > 0)
    return {"weight1": d2.T @ h, "bias1": d2.sum(0), "weight0": d1.T @ x, "bias0": d1.sum(0), "input": d1 @ p["weight0"]}


def test_mlp_forward_and_gradients_match_numpy():
    model = MLP(activations=[Relu(), Tanh()], dimensions=[5, 3])
    pm = ml.compile(model, ml.CpuBackend(), shapes={"input": [4, 6]}, trainable_keys={"input"})
    rng = np.random.default_rng(0)
    params = {k: v * 0.5 for k, v in pm.randomize_params(seed=3).items() if k != "input"}
    assert set(params) == {"weight0", "bias0", "weight1", "bias1"}
    x = rng.standard_normal((4, 6))
    g = rng.standard_normal((4, 3))

    outputs, grads = pm.evaluate(params, {"input": x}, output_gradients={"output": g})
    np.testing.assert_allclose(outputs["output"], numpy_forward(params, x), rtol=1e-13, atol=1e-14)
    want = numpy_vjp(params, x, g)
    assert set(grads) == set(want)
    for k in want:
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-12, atol=1e-13)

    # The NumPy reference itself against central differences of <g, f(p)>.
    eps = 1e-6
    for k in ("weight0", "bias1"):
        fd = np.zeros_like(params[k])
        for idx in np.ndindex(params[k].shape):
            plus = {n: v.copy() for n, v in params.items()}
            minus = {n: v.copy() for n, v in params.items()}
            plus[k][idx] += eps
            minus[k][idx] -= eps
            fd[idx] = (np.sum(g * numpy_forward(plus, x)) - np.sum(g * numpy_forward(minus, x))) / (2 * eps)
        np.testing.assert_allclose(want[k], fd, rtol=1e-6, atol=1e-8)
