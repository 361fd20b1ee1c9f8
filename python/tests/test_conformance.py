# Mithril's model-dict conformance files run through the Python API (dict_to_model, TrainModel,
# ml.compile, evaluate) with the suite's pass rule, one test per case; the pass counts must be
# the CLI's (`mithril conformance FILE`).
import json
import os
import re
import subprocess

import numpy as np
import pytest

import mithril as ml
from mithril import models

CONFORMANCE = os.environ.get("MITHRIL_CONFORMANCE_DIR", os.path.join(os.path.dirname(__file__), "../../../shared/conformance"))
CLI = os.environ.get("MITHRIL_CLI", "")
FILES = ["models_directed_test", "integration_directed_test", "no_grad_inference_test", "error_test",
         "discard_keys_directed_test"]
TOLERANCE = 1e-14


def load(stem):
    path = os.path.join(CONFORMANCE, stem + ".json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


_CLASSES = {name.lower(): cls for name, cls in vars(models).items() if isinstance(cls, type) and issubclass(cls, models.Model)}


def model_from_spec(spec):
    if isinstance(spec, str):
        return _CLASSES[spec.lower()]()
    return _CLASSES[spec["fn"].lower()](**spec.get("params", {}))


def training_model(model, case):
    tm = models.TrainModel(model)
    for out_key, spec in case["output_specs"].items():
        if "loss" not in spec:
            continue
        ports = {"input": out_key}
        if "target_key" in spec:
            ports["target"] = spec["target_key"]
        steps = [model_from_spec(r) for r in spec.get("reduce_steps", [])]
        tm.add_loss(model_from_spec(spec["loss"]), reduce_steps=steps, **ports)
    for r in case.get("regularizations", []):
        others = {k: v for k, v in r.items() if k not in ("model", "coef", "input", "regex")}
        key = re.compile(r["input"]) if r.get("regex", False) else r["input"]
        tm.add_regularization(model_from_spec(r["model"]), r["coef"], input=key, **others)
    if "final_loss_combiner" in case:
        tm.set_loss_combiner(model_from_spec(case["final_loss_combiner"]))
    return tm


def expected(value):
    return value["numpy"] if isinstance(value, dict) and "numpy" in value else value


def data(values, is_list):
    out = {}
    for k, v in values.items():
        if k == "is_list":
            continue
        out[k] = [np.asarray(expected(t), dtype=np.float64) for t in v] if is_list else np.asarray(v, dtype=np.float64)
    return out


class Mismatch(AssertionError):
    pass


def compare(actual, want, what):
    e = np.asarray(expected(want), dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != e.shape:
        raise Mismatch(f"{what}: shape {a.shape} but expected {e.shape}")
    err = np.abs(e - a)
    if not (np.all(err < TOLERANCE) or np.all(err < TOLERANCE * np.abs(e))):
        raise Mismatch(f"{what}: max |diff| {np.max(err)}")


def compare_maps(actual, want, what, is_list):
    if set(actual) != set(want):
        raise Mismatch(f"{what} keys {sorted(actual)} but expected {sorted(want)}")
    for k, v in want.items():
        if is_list:
            ev = expected(v)
            if not isinstance(actual[k], list) or len(actual[k]) != len(ev):
                raise Mismatch(f"{what} '{k}': expected a list of {len(ev)} tensors")
            for i, t in enumerate(ev):
                compare(actual[k][i], t, f"{what} '{k}'[{i}]")
        else:
            compare(actual[k], v, f"{what} '{k}'")


def run_golden(case):
    model = models.dict_to_model(case["model"])
    training = "output_specs" in case
    if training:
        model = training_model(model, case)
    inputs_json = case.get("inputs", {})
    pm = ml.compile(model, ml.CpuBackend(), constant_keys=case.get("static_keys", {}),
                    discard_keys=case.get("discard_keys", []))
    is_list = inputs_json.get("is_list", False)
    inputs = data(inputs_json, is_list)
    cot = {"final_cost": np.array(1.0)} if training else data(case.get("output_grads", {}), False)
    outputs, grads = pm.evaluate(inputs, output_gradients=cot)
    results = case["results"]
    compare_maps(outputs, results.get("eval", {}), "output", False)
    compare_maps(grads, results.get("grad", {}), "gradient", is_list)


def run_error(case):
    info = case["error_info"]
    kind, message = info["error_type"], info.get("error_message", "")
    if len(message) >= 2 and message[0] == message[-1] == "'":
        message = message[1:-1]
    try:
        run_golden(case)
    except Mismatch:
        raise
    except Exception as e:  # noqa: BLE001  (the case names the kind)
        ok = kind == "AssertionError" or (kind == "KeyError" and isinstance(e, KeyError)) or (
            kind == "ValueError" and not isinstance(e, KeyError))
        if not ok:
            raise Mismatch(f"expected {kind} but got {type(e).__name__}: {e}")
        got = e.args[0] if e.args else str(e)
        if message and message != got:
            raise Mismatch(f"expected message '{message}' but got '{got}'")
        return
    raise Mismatch(f"expected an error of type {kind}, but the case ran")


def run_discard(case):
    model = models.dict_to_model(case["model"])
    if "output_specs" in case:
        model = training_model(model, case)
    pm = ml.compile(model, ml.CpuBackend(), inference=True, discard_keys=case.get("discard_keys", []))
    if sorted(pm.output_keys) != case["results"]["output_keys"]:
        raise Mismatch(f"output keys {sorted(pm.output_keys)}")
    if pm.discarded_keys != case["results"]["discard_keys"]:
        raise Mismatch(f"discarded keys {pm.discarded_keys}")


RUNNERS = {"error_test": run_error, "discard_keys_directed_test": run_discard}
CASES = [(stem, name) for stem in FILES for name in load(stem)]
_outcomes = {}


def run_case(stem, name):
    if ml._mithril.is_upstream_skipped(stem + ".json", name):
        return "skipped", "skipped upstream"
    try:
        RUNNERS.get(stem, run_golden)(load_cached(stem)[name])
        return "passed", ""
    except Exception as e:  # noqa: BLE001  (a failed case is reported, as the CLI does)
        return "failed", f"{type(e).__name__}: {e}"


_files = {}


def load_cached(stem):
    if stem not in _files:
        _files[stem] = load(stem)
    return _files[stem]


@pytest.mark.parametrize("stem,name", CASES, ids=[f"{s}:{n}" for s, n in CASES])
def test_case(stem, name):
    status, reason = run_case(stem, name)
    _outcomes[(stem, name)] = status
    if status == "skipped":
        pytest.skip(reason)
    assert status == "passed", reason


def cli_counts(stem):
    out = subprocess.run([CLI, "conformance", os.path.join(CONFORMANCE, stem + ".json")], capture_output=True, text=True).stdout
    m = re.search(r"(\d+) passed, (\d+) failed(?:, (\d+) skipped)?", out)
    assert m, out[-2000:]
    return tuple(int(g or 0) for g in m.groups())


@pytest.mark.skipif(not CLI, reason="MITHRIL_CLI not set")
@pytest.mark.parametrize("stem", FILES)
def test_pass_counts_equal_the_cli(stem):
    cases = load_cached(stem)
    if not cases:
        pytest.skip("file not present")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for name in cases:
        counts[_outcomes.get((stem, name)) or run_case(stem, name)[0]] += 1
    assert (counts["passed"], counts["failed"], counts["skipped"]) == cli_counts(stem)
