# The Python API by Mithril's names: models and composition, compile and evaluate, backends and
# their arrays, conversions (which copy and which do not) and errors as Python exceptions.
import numpy as np
import pytest

import mithril as ml
from mithril import models
from mithril.models import IOKey, Linear, Model, Relu, Sigmoid, Add, Buffer


def test_every_library_model_and_primitive_is_a_class():
    for name in list(ml._mithril.primitive_names()) + list(ml._mithril.library_model_names()):
        cls = getattr(models, name)
        assert issubclass(cls, Model) and cls.__name__ == name


def test_composition_with_ports_keys_and_operators(capsys):
    lin1 = Linear(dimension=3)
    model = Model()
    model |= lin1.connect(input="x", weight="w1", bias="b1")
    model |= Relu().connect(input=lin1.output, output=IOKey("h"))
    model += Linear(2).connect(weight="w2", bias="b2", output=IOKey("y", expose=True))
    model.set_shapes({"x": [4, 5]})
    model.expose("h")
    pm = ml.compile(model, ml.CpuBackend())
    assert set(pm.output_keys) == {"h", "y"}
    assert set(pm.trainable_keys) == {"w1", "b1", "w2", "b2"}
    shapes = pm.shapes
    assert shapes["x"] == [4, 5] and shapes["w1"] == [3, 5] and shapes["y"] == [4, 2]
    params = pm.randomize_params(seed=1)
    x = np.random.default_rng(0).standard_normal((4, 5))
    out = pm.evaluate(params, {"x": x})
    h = np.maximum(x @ params["w1"].T + params["b1"], 0)
    np.testing.assert_allclose(out["h"], h, rtol=1e-13)
    np.testing.assert_allclose(out["y"], h @ params["w2"].T + params["b2"], rtol=1e-13)
    model.summary()
    pm.summary()
    text = capsys.readouterr().out
    assert "Relu" in text and "w2" in text


def test_set_differentiability_and_data_keys():
    model = Model()
    model |= Linear(2).connect(input="x", weight="w", bias="b", output=IOKey("y"))
    model.set_differentiability(b=False)
    pm = ml.compile(model, ml.CpuBackend(), shapes={"x": [3, 4]})
    assert pm.trainable_keys == ["w"]
    pm = ml.compile(model, ml.CpuBackend(), shapes={"x": [3, 4]}, trainable_keys={"x"}, data_keys=set())
    assert set(pm.trainable_keys) == {"w", "x"}


def test_model_dicts_round_trip():
    m = Linear(dimension=4, use_bias=False)
    d = m.to_dict()
    assert d["name"] == "Linear" and d["args"]["dimension"] == 4
    assert models.dict_to_model(d).to_dict() == d


def test_model_valued_arguments():
    layer = models.Layer(activation=Sigmoid(), dimension=3)
    mlp = models.MLP([Relu(), Sigmoid()], [4, 2])
    assert layer.name == "Layer" and mlp.name == "MLP"
    pm = ml.compile(mlp, ml.CpuBackend(), shapes={"input": [2, 3]})
    assert pm(dict(pm.randomize_params(), input=np.ones((2, 3))))["output"].shape == (2, 2)


def test_backends_and_arrays():
    backend = ml.CpuBackend(dtype=ml.float32)
    assert backend.precision == ml.float32 and backend.device == "cpu"
    for a in (backend.ones(3, 3), backend.zeros((2, 4)), backend.randn(5), backend.array(np.arange(6.0))):
        assert a.dtype == np.float32 and a.ctypes.data % 64 == 0
    assert backend.array(np.arange(3)).dtype == np.int64
    assert ml.NumpyBackend is ml.CpuBackend
    assert ml.ReferenceBackend().name == "reference"
    with pytest.raises(ValueError, match="cpu"):
        ml.MlxBackend()


def test_arrays_in_and_out_without_copies():
    aligned = ml.CpuBackend().randn(64, 64)
    back = ml._mithril._roundtrip(aligned)
    assert np.shares_memory(back, aligned)  # wrapped in place
    unaligned = np.arange(65.0)[1:]
    assert not np.shares_memory(ml._mithril._roundtrip(unaligned), unaligned)  # copied once
    pm = ml.compile(Relu(), ml.CpuBackend())
    out = pm({"input": aligned})["output"]
    assert not out.flags.owndata  # a view of the core's tensor
    np.testing.assert_array_equal(out, np.maximum(aligned, 0))
    f16 = pm({"input": np.array([-1.0, 2.0], dtype=np.float16)})["output"]
    np.testing.assert_array_equal(f16, [0.0, 2.0])


def test_errors_are_python_exceptions_with_the_core_message():
    with pytest.raises(TypeError, match="unknown argument 'foo'"):
        Relu(foo=1)
    with pytest.raises(TypeError):
        Linear("three")
    model = Model()
    model |= Linear(2).connect(input="x", weight="w", output=IOKey("y"))
    with pytest.raises(ml.ShapeError) as e:
        model.set_shapes({"x": [3, 4], "w": [2, 5]})
    assert isinstance(e.value, ValueError)
    pm = ml.compile(model, ml.CpuBackend())
    with pytest.raises(KeyError, match="missing input"):
        pm.evaluate({"w": np.ones((2, 4))})
    with pytest.raises(KeyError, match="'bias' is not a key of the model"):
        pm.evaluate({"w": np.ones((2, 4)), "x": np.ones((3, 4)), "bias": np.ones(2)})
    with pytest.raises(TypeError, match="not a numeric array"):
        pm.evaluate({"w": np.ones((2, 4)), "x": np.array(["a"])})
    with pytest.raises(TypeError):
        pm.evaluate({"w": object()})
    with pytest.raises(KeyError, match="no_such_option"):
        ml.compile(model, ml.CpuBackend(), no_such_option=True)
    with pytest.raises(ValueError, match="file_path"):
        ml.compile(model, ml.CpuBackend(), file_path="model.py")
    with pytest.raises(TypeError):
        ml.compile("not a model")
    with pytest.raises(ValueError):
        ml.Adam(learning_rate=-1)
    with pytest.raises(ValueError):
        ml.DataLoader({"input": np.ones((4, 2))}, batch_size=0)
    with pytest.raises(TypeError):
        ml.DataLoader(42)
    with pytest.raises(ValueError, match="sample 1"):
        class Bad:
            def __len__(self):
                return 2

            def __getitem__(self, i):
                if i == 1:
                    raise RuntimeError("broken sample")
                return {"input": np.ones(2)}
        list(ml.DataLoader(Bad(), batch_size=1, num_workers=1))


def test_a_port_of_a_model_that_was_not_added():
    stray = Linear(2)
    model = Model()
    with pytest.raises(ValueError, match="not a submodel"):
        model |= Relu().connect(input=stray.output)


def test_add_with_a_scalar_and_an_array():
    model = Model()
    model |= Add().connect(left="x", right=2.0, output=IOKey("y"))
    model |= Buffer().connect(input=np.array([1.0, 2.0]), output=IOKey("c"))
    pm = ml.compile(model, ml.CpuBackend())
    out = pm({"x": np.array([1.0, 3.0])})
    np.testing.assert_array_equal(out["y"], [3.0, 5.0])
    np.testing.assert_array_equal(out["c"], [1.0, 2.0])
