"""The graph for data by span (fast: no run): the ExampleGen reads the span pattern (pinned to
the run's span locally), the DriftGate sits between StatisticsGen and Transform, a window feeds
Transform several spans while the Evaluator reads the run's span only; and the span resolvers'
rules on real TFX artifacts."""

import mlpipe  # noqa: F401  (process environment before TensorFlow)
import pytest
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from mlpipe.components import drift_gate
from mlpipe.config import DriftGateConfig
from mlpipe.pipeline import span_resolvers
from mlpipe.pipeline.pipeline import DRIFT_BASELINE_ID, SPAN_WINDOW_ID, create_pipeline
from mlpipe.pipeline.runner_settings import RunnerSettings

PATTERN = "/data/taxi/span-{SPAN}/"
SCHEMA_TEXT = 'feature { name: "fare" type: FLOAT }'
LOCAL = RunnerSettings(pipeline_root="/runs/p/pipeline_root", serving_dir="/runs/p/serving",
                       schema_text=SCHEMA_TEXT, code_version="abc",
                       metadata_path="/runs/p/metadata.sqlite", span=3)
CLOUD = RunnerSettings(pipeline_root="gs://b/mlpipe/p", serving_dir="gs://b/mlpipe/p/serving",
                       schema_text=SCHEMA_TEXT, code_version="abc",
                       data_path="gs://b/data/span-{SPAN}/", baseline="latest_blessed",
                       drift_baseline="latest")


def _config(taxi_config, window=1, **gate):
    return taxi_config.model_copy(update={
        "data": taxi_config.data.model_copy(update={"path": PATTERN, "window": window}),
        "drift_gate": DriftGateConfig(**gate)})


def _graph(pipeline):
    return {node.id: {upstream.id for upstream in node.upstream_nodes}
            for node in pipeline.components}


def _node(pipeline, node_id):
    return next(node for node in pipeline.components if node.id == node_id)


def _producers(node, key):
    """The node ids behind an input channel (a resolver's output counts as the resolver)."""
    channel = node.inputs[key]
    return channel.producer_component_id


@pytest.fixture(scope="module")
def local(taxi_config):
    return create_pipeline(_config(taxi_config, window=2), LOCAL)


def test_the_example_gen_reads_the_pattern_pinned_to_the_run_span(local):
    example_gen = _node(local, "CsvExampleGen")
    assert example_gen.exec_properties["input_base"] == "/data/taxi"
    assert '"pattern": "span-{SPAN}/*"' in example_gen.exec_properties["input_config"]
    assert '"start_span_number": 3' in example_gen.exec_properties["range_config"]
    assert '"end_span_number": 3' in example_gen.exec_properties["range_config"]


def test_the_drift_gate_sits_between_statistics_and_transform(local):
    graph = _graph(local)
    assert graph["DriftGate"] == {"CsvExampleGen", "StatisticsGen", DRIFT_BASELINE_ID}
    assert {"DriftGate", "AnomalyGate"} <= graph["Transform"], \
        "nothing trains on a span either gate stopped"
    assert graph[DRIFT_BASELINE_ID] == {"CsvExampleGen"}  # anchored at the run's span
    resolver = _node(local, DRIFT_BASELINE_ID)
    assert resolver.exec_properties["resolver_class"] is \
        span_resolvers.PreviousSpanReportStrategy


def test_the_window_feeds_transform_and_the_evaluator_reads_the_run_span(local):
    graph = _graph(local)
    assert graph[SPAN_WINDOW_ID] == {"CsvExampleGen"}
    assert SPAN_WINDOW_ID in graph["Transform"] and "CsvExampleGen" not in graph["Transform"]
    window = _node(local, SPAN_WINDOW_ID)
    assert window.exec_properties["resolver_class"] is span_resolvers.SpanWindowStrategy
    assert window.exec_properties["source_uri"] == {"num_spans": 2}  # TFX's name for config
    assert _producers(_node(local, "Evaluator"), "examples") == "CsvExampleGen"
    assert _producers(_node(local, "FeatureAttributions"), "examples") == "CsvExampleGen"


def _compiled_channels(ir, node_id):
    """(producer node, output key, whether limited to the run) of each input channel of a node
    in the compiled IR."""
    node = next(node.pipeline_node for node in ir.nodes
                if node.pipeline_node.node_info.id == node_id)

    def producer(channel):
        # A producer's output: its query names it; any artifact of a node: its node context.
        nodes = [query.name.field_value.string_value.split(".", 1)[-1]
                 for query in channel.context_queries if query.type.name == "node"]
        return channel.producer_node_query.id or (nodes[0] if nodes else "")
    return sorted((producer(channel), channel.output_key,
                   any(query.type.name == "pipeline_run" for query in channel.context_queries))
                  for spec in node.inputs.inputs.values() for channel in spec.channels)


def test_the_resolvers_read_the_run_span_and_the_pipeline_history(local):
    from tfx.dsl.compiler import compiler
    ir = compiler.Compiler().compile(local)
    # The run's own Examples (this run only) and every Examples of the ExampleGen (all runs).
    assert _compiled_channels(ir, SPAN_WINDOW_ID) == [
        ("CsvExampleGen", "", False), ("CsvExampleGen", "examples", True)]
    assert _compiled_channels(ir, DRIFT_BASELINE_ID) == [
        ("CsvExampleGen", "examples", True), (drift_gate.NODE_ID, "report", False)]


def test_window_one_and_a_disabled_gate_leave_the_graph_as_without_spans(taxi_config):
    graph = _graph(create_pipeline(_config(taxi_config, enabled=False), LOCAL))
    assert "DriftGate" not in graph and SPAN_WINDOW_ID not in graph
    assert graph["Transform"] == {"CsvExampleGen", "ImportSchemaGen", "AnomalyGate"}


def test_data_without_spans_has_no_span_nodes(taxi_config):
    pipeline = create_pipeline(taxi_config, LOCAL)
    assert {"DriftGate", DRIFT_BASELINE_ID, SPAN_WINDOW_ID}.isdisjoint(_graph(pipeline))
    assert "range_config" not in {key for key, value in
                                  _node(pipeline, "CsvExampleGen").exec_properties.items()
                                  if value is not None}


def test_cloud_graph_takes_the_newest_span_and_tfx_latest_artifact(taxi_config):
    cloud = create_pipeline(_config(taxi_config), CLOUD)
    example_gen = _node(cloud, "CsvExampleGen")
    assert example_gen.exec_properties["input_base"] == "gs://b/data"
    assert example_gen.exec_properties.get("range_config") is None  # the newest at run time
    resolver = _node(cloud, DRIFT_BASELINE_ID)
    assert resolver.exec_properties["resolver_class"] is \
        tfx.dsl.experimental.LatestArtifactStrategy
    assert _graph(cloud)[DRIFT_BASELINE_ID] == set()
    local_graph = _graph(create_pipeline(_config(taxi_config), LOCAL))
    assert _graph(cloud) == {**local_graph, "baseline_resolver": set(),
                             DRIFT_BASELINE_ID: set()}


def test_a_window_is_refused_for_builtin_resolvers(taxi_config):
    with pytest.raises(ValueError, match="data.window 2"):
        create_pipeline(_config(taxi_config, window=2), CLOUD)


# --- the resolvers' rules --------------------------------------------------------------------

def _examples(artifact_id, span):
    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.set_int_custom_property("span", span)
    return artifact


def _report(artifact_id, span):
    artifact = drift_gate.DriftReportArtifact()
    artifact.id = artifact_id
    artifact.set_int_custom_property(drift_gate.SPAN_PROPERTY, span)
    return artifact


def _window(num_spans, current, history):
    resolved = span_resolvers.SpanWindowStrategy(num_spans).resolve_artifacts(
        None, {span_resolvers.CURRENT_KEY: [current], span_resolvers.EXAMPLES_KEY: history})
    return [(a.id, a.get_int_custom_property("span"))
            for a in resolved[span_resolvers.EXAMPLES_KEY]]


def test_window_is_the_run_span_and_the_ones_before_it_newest_ingestion_each():
    history = [_examples(1, 1), _examples(2, 2), _examples(3, 3), _examples(4, 2)]
    # Span 2 was ingested twice (its files rewritten): its newest Examples count, once.
    assert _window(2, history[2], history) == [(3, 3), (4, 2)]
    assert _window(5, history[2], history) == [(3, 3), (4, 2), (1, 1)]
    assert _window(1, history[2], history) == [(3, 3)]


def test_a_backfill_window_ends_at_the_run_span_not_the_newest():
    history = [_examples(1, 1), _examples(2, 2), _examples(3, 3)]
    backfill = _examples(9, 1)  # span 1 ingested again by `mlpipe run --span 1`
    assert _window(2, backfill, history + [backfill]) == [(9, 1)]
    assert _window(2, history[1], history) == [(2, 2), (1, 1)]


def test_spans_with_gaps_follow_tfx_rolling_range():
    """N spans = the span numbers S-N+1 .. S, as TFX's RollingRange counts them."""
    history = [_examples(1, 1), _examples(2, 4), _examples(3, 5)]
    assert _window(3, history[2], history) == [(3, 5), (2, 4)]


def test_the_drift_baseline_is_the_newest_report_of_the_highest_earlier_span():
    reports = [_report(1, 1), _report(2, 2), _report(3, 3), _report(4, 2)]
    assert [r.id for r in span_resolvers.previous_report(reports, 3)] == [4]
    assert [r.id for r in span_resolvers.previous_report(reports, 5)] == [3]
    assert span_resolvers.previous_report(reports, 1) == []
    resolved = span_resolvers.PreviousSpanReportStrategy().resolve_artifacts(
        None, {span_resolvers.CURRENT_KEY: [_examples(7, 2)],
               span_resolvers.REPORTS_KEY: reports})
    assert [r.id for r in resolved[span_resolvers.REPORTS_KEY]] == [1]
