"""With an `evaluation.fairness` section: TFMA computes the rate metrics on every slice of the
sensitive features (no TFMA threshold on them), and the FairnessGate sits between the Evaluator
and the Pusher, whose blessing it supplies. Without one, the graph is unchanged."""

import json

import mlpipe  # noqa: F401  (process environment before TensorFlow)
import pytest

from mlpipe.components import fairness_gate
from mlpipe.pipeline import baseline
from mlpipe.pipeline.evaluation import build_eval_config
from mlpipe.pipeline.pipeline import create_pipeline
from tests.pipeline.test_graph import CLOUD, LOCAL, _graph, _nodes

FAIRNESS = {"features": ["payment_type", "company"],
            "metrics": {"fpr": {"max": 0.3, "max_gap": 0.1}, "fnr": {"max_gap": 0.2}},
            "min_slice_size": 40}


@pytest.fixture(scope="module")
def fair_config(taxi_config):
    evaluation = taxi_config.evaluation.model_validate(
        {**taxi_config.evaluation.model_dump(), "fairness": FAIRNESS})
    return taxi_config.model_copy(update={"evaluation": evaluation})


@pytest.fixture(scope="module")
def fair_local(fair_config):
    return create_pipeline(fair_config, LOCAL)


def test_eval_config_slices_each_sensitive_feature_once(fair_config):
    eval_config = build_eval_config(fair_config.evaluation, fair_config.label)
    keys = [list(spec.feature_keys) for spec in eval_config.slicing_specs]
    # payment_type is already a configured slice; company is added.
    assert keys == [[], ["payment_type"], ["trip_start_hour"], ["company"]]


def test_eval_config_computes_the_rate_metrics_without_thresholds(fair_config, taxi_config):
    [spec] = build_eval_config(fair_config.evaluation, fair_config.label).metrics_specs
    metrics = {metric.class_name: metric for metric in spec.metrics}
    assert {"FPR", "FNR"} <= set(metrics)
    for class_name in ("FPR", "FNR"):
        assert not metrics[class_name].per_slice_thresholds
        assert not metrics[class_name].HasField("threshold")
    assert not (build_eval_config(fair_config.evaluation, fair_config.label)
                .options.HasField("min_slice_size"))
    [plain] = build_eval_config(taxi_config.evaluation, taxi_config.label).metrics_specs
    assert not {"FPR", "FNR"} & {metric.class_name for metric in plain.metrics}


def test_gate_between_evaluator_and_pusher(fair_local):
    graph = _graph(fair_local)
    assert graph[fairness_gate.NODE_ID] == {"Evaluator"}
    assert graph["Pusher"] == {"Trainer", fairness_gate.NODE_ID}
    gate = _nodes(fair_local)[fairness_gate.NODE_ID]
    assert set(gate.inputs) == {"evaluation", "model_blessing"}
    assert gate.inputs["model_blessing"].producer_component_id == "Evaluator"
    pusher = _nodes(fair_local)["Pusher"]
    assert pusher.inputs["model_blessing"].producer_component_id == fairness_gate.NODE_ID


def test_gate_carries_the_section_with_min_slice_size(fair_local):
    spec = json.loads(_nodes(fair_local)[fairness_gate.NODE_ID].exec_properties["fairness_spec"])
    assert spec == {"features": ["payment_type", "company"], "min_slice_size": 40,
                    "metrics": {"fnr": {"max_gap": 0.2}, "fpr": {"max": 0.3, "max_gap": 0.1}}}


def test_cloud_graph_has_the_gate_too(fair_config, fair_local):
    local_graph, cloud_graph = _graph(fair_local), _graph(create_pipeline(fair_config, CLOUD))
    assert cloud_graph == {**local_graph, "baseline_resolver": set()}


def test_without_a_section_there_is_no_gate(taxi_config):
    graph = _graph(create_pipeline(taxi_config, LOCAL))
    assert fairness_gate.NODE_ID not in graph
    assert graph["Pusher"] == {"Trainer", "Evaluator"}


def test_bulk_inference_waits_for_the_gate(fair_config, tmp_path):
    config = fair_config.model_copy(update={"data": fair_config.data.model_copy(
        update={"score_path": str(tmp_path / "score.csv")})})
    inferrer = _nodes(create_pipeline(config, LOCAL))["BulkInferrer"]
    assert inferrer.inputs["model_blessing"].producer_component_id == fairness_gate.NODE_ID


# --- the baseline: a model the gate refused is not a baseline -----------------------------------

def _baseline_blessing_producer(pipeline):
    [resolver] = [node for node in pipeline.components if node.id == "baseline_resolver"]
    return resolver.raw_inputs[baseline.BLESSING_KEY].producer_component_id


def test_the_baseline_is_blessed_by_the_gate_when_there_is_one(fair_local, taxi_config):
    """The Evaluator blesses a model the gate then refuses: only the gate's blessing counts."""
    assert _baseline_blessing_producer(fair_local) == "FairnessGate"
    assert _baseline_blessing_producer(create_pipeline(taxi_config, LOCAL)) == "Evaluator"


# --- `mlpipe run` names the refused slices --------------------------------------------------

def test_run_prints_each_refusal(taxi_config, capsys, tmp_path):
    from mlpipe.local.commands import _print_result
    from mlpipe.local.local_runner import RunResult
    from mlpipe.local.preflight import DataSummary
    result = RunResult(components=[], data=DataSummary(files=[], rows=10, underivable_labels=0),
                       log_file=tmp_path / "run.log", metadata_path=tmp_path / "m.sqlite",
                       blessed=False, fairness_uri="/runs/p/FairnessGate/fairness/7",
                       fairness_failures=["group=b: fpr 0.6308 > max 0.25"])
    _print_result(result, taxi_config)
    out = capsys.readouterr().out
    assert "Model:        NOT BLESSED" in out
    assert "  fairness:   group=b: fpr 0.6308 > max 0.25" in out
    assert "Fairness:     /runs/p/FairnessGate/fairness/7/fairness.json" in out
    assert "Pushed model: nothing pushed by this run" in out
