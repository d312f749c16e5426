"""The Evaluator's faster TFMA configuration computes what the previous one computed.

`build_eval_config` now names the model type and turns off TFMA's recomputation of the metrics
compiled into the Keras model (mlpipe/pipeline/evaluation.py). TFX's own Evaluator executor runs
both configurations on the same model and eval split of a real run; every metric and plot of the
faster one equals the previous one's to 1e-6, on every slice, and the blessing is the same.

What it no longer writes are the metrics compiled into the Keras model (`loss`, and Keras's own
`auc` and `binary_accuracy`: its AUC uses 200 thresholds, 0.9455 against TFMA's 0.9461 on the
taxi run). They came under the same names as the configured metrics, told apart only by an unset
`example_weighted` in the metric key, so a reader keyed by name got one or the other by order.
"""

import json
import math

import pytest
from google.protobuf import json_format
import tensorflow_model_analysis as tfma
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from mlpipe.core import lineage
from mlpipe.pipeline.evaluation import build_eval_config
from mlpipe.pipeline.runner_settings import direct_runner_args

pytestmark = pytest.mark.slow



def _previous(eval_config: tfma.EvalConfig) -> tfma.EvalConfig:
    """The configuration before the change: no model type, TFMA's default metrics on."""
    previous = tfma.EvalConfig()
    previous.CopyFrom(eval_config)
    previous.options.ClearField("include_default_metrics")
    for spec in previous.model_specs:
        spec.ClearField("model_type")
    return previous


def _evaluator_inputs(home):
    """The examples and model the run's Evaluator read (from ML Metadata)."""
    with lineage.open_store(home.metadata_path) as store:
        run = lineage.pipeline_runs(store)[-1]
        evaluator = lineage.executions_by_node(store, run.id)["Evaluator"]
        inputs = lineage.inputs_of(store, evaluator.id)
    examples = standard_artifacts.Examples()
    examples.uri = inputs["examples"].uri
    examples.split_names = inputs["examples"].properties["split_names"].string_value
    model = standard_artifacts.Model()
    model.uri = inputs["model"].uri
    return {"examples": [examples], "model": [model]}


def _evaluate(inputs, eval_config, config, out):
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(out / "evaluation"), str(out / "blessing")
    for artifact in (evaluation, blessing):
        (out / artifact.uri.rsplit("/", 1)[-1]).mkdir(parents=True)
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=direct_runner_args(config.beam), tmp_dir=str(out / "tmp"),
        unique_id="1")
    evaluator_executor.Executor(context).Do(
        inputs, {"evaluation": [evaluation], "blessing": [blessing]},
        {"eval_config": proto_utils.proto_to_json(eval_config),
         "example_splits": json.dumps(["eval"]), "fairness_indicator_thresholds": "null"})
    return evaluation.uri, sorted(p.name for p in (out / "blessing").iterdir())


def _metrics(evaluation_uri):
    values = {}
    for record in tfma.load_metrics(evaluation_uri):
        for entry in record.metric_keys_and_values:
            key = (record.slice_key.SerializeToString(deterministic=True),
                   entry.key.SerializeToString(deterministic=True))
            values[key] = (entry.key, entry.value)
    return values


def _plots(evaluation_uri):
    return {(record.slice_key.SerializeToString(deterministic=True),
             entry.key.SerializeToString(deterministic=True)): entry.value
            for record in tfma.load_plots(evaluation_uri)
            for entry in record.plot_keys_and_values}


def _assert_close(name, previous, faster):
    _assert_same_numbers(json_format.MessageToDict(previous), json_format.MessageToDict(faster),
                         name)


def _assert_same_numbers(previous, faster, where):
    """The same structure, numbers equal to 1e-6 (relative for large counts), NaN to NaN.
    Sums over thousands of examples may add up in another order."""
    if isinstance(previous, dict):
        assert previous.keys() == faster.keys(), where
        for key in previous:
            _assert_same_numbers(previous[key], faster[key], f"{where}.{key}")
    elif isinstance(previous, list):
        assert len(previous) == len(faster), where
        for index, (a, b) in enumerate(zip(previous, faster)):
            _assert_same_numbers(a, b, f"{where}[{index}]")
    elif isinstance(previous, float) or isinstance(faster, float):
        a, b = float(previous), float(faster)
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6,
                                                                 abs_tol=1e-6), (where, a, b)
    else:
        assert previous == faster, where


@pytest.mark.parametrize("fixture", ["trained_home", "multiclass_home", "regression_home"])
def test_the_faster_evaluator_computes_the_same_metrics_plots_and_blessing(
        fixture, request, tmp_path):
    trained = request.getfixturevalue(fixture)
    config = trained["config"]
    inputs = _evaluator_inputs(trained["home"])
    faster_config = build_eval_config(config.evaluation, config.label)
    assert not faster_config.options.include_default_metrics.value
    previous_uri, previous_blessing = _evaluate(inputs, _previous(faster_config), config,
                                                tmp_path / "previous")
    faster_uri, faster_blessing = _evaluate(inputs, faster_config, config, tmp_path / "faster")

    assert faster_blessing == previous_blessing
    previous, faster = _metrics(previous_uri), _metrics(faster_uri)
    dropped = [metric_key for key, (metric_key, _) in previous.items() if key not in faster]
    # Keras's compiled metrics (TFMA's keras_util) leave `example_weighted` unset in their keys.
    assert dropped and all(not key.HasField("example_weighted") for key in dropped), dropped
    assert "loss" in {key.name for key in dropped}
    assert set(faster) <= set(previous)
    assert len(faster) >= 5  # the metrics of every slice, not an empty result
    for key, (metric_key, value) in faster.items():
        assert metric_key.HasField("example_weighted")
        _assert_close(metric_key.name, previous[key][1], value)
    previous_plots, faster_plots = _plots(previous_uri), _plots(faster_uri)
    assert previous_plots.keys() == faster_plots.keys() and faster_plots
    for key, value in faster_plots.items():
        _assert_same_numbers(json_format.MessageToDict(previous_plots[key]),
                             json_format.MessageToDict(value), "plot")
