"""`create_pipeline()`: the one TFX graph that every runner (local Beam, Kubeflow, Vertex) uses.

The graph is built from the problem config; runners differ only in `RunnerSettings`: where
artifacts, metadata and pushed models go, Beam arguments, caching, the baseline strategy, and
where the Trainer and Pusher execute (their own step, a step with GPUs, a Vertex AI CustomJob, a
Vertex AI endpoint). Nothing edits the graph after it is built.
"""

from typing import Any, Dict, Optional, Sequence

from tfx import v1 as tfx
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from mlpipe.components.anomaly_gate import AnomalyGate
from mlpipe.components.atomic_pusher import executor as atomic_pusher
from mlpipe.components import attributions as feature_attributions
from mlpipe.components.csv_example_gen import executor as csv_executor
from mlpipe.components import drift_gate
from mlpipe.components.embedded_schema import EmbeddedSchemaGen
from mlpipe.components import fairness_gate
from mlpipe.components.model_card import spec as model_card
from mlpipe.components.model_card.component import ModelCard
from mlpipe.components import parquet_executor
from mlpipe.config import ProblemConfig
from mlpipe.config.span_pattern import span_kind
from mlpipe.config.tune import TUNE_CONFIG_KEY
from mlpipe.core.contract import (EVALUATOR_ID, EXAMPLE_GEN_ID, PUSHER_ID, SCHEMA_GEN_ID,
                                  SERVING_SIGNATURE, TRAINER_ID)
from mlpipe.core.drift import statistics_options
from mlpipe.pipeline import baseline, span_resolvers
from mlpipe.pipeline.span_files import input_base_and_pattern
from mlpipe.pipeline.evaluation import build_eval_config
from mlpipe.pipeline.runner_settings import RunnerSettings, StepResources
from mlpipe.trainer.features import ProblemSpec

PREPROCESSING_FN = "mlpipe.trainer.preprocessing.preprocessing_fn"
RUN_FN = "mlpipe.trainer.model.run_fn"
TUNER_FN = "mlpipe.trainer.tuning.tuner_fn"
# The module whose `custom_extractors` TFX's Evaluator runs (mlpipe.pipeline.evaluation).
EVALUATOR_MODULE = "mlpipe.pipeline.evaluation"
CODE_VERSION_KEY = "code_version"
UNLABELLED_SPLIT = "unlabelled"
UNLABELLED_EXAMPLE_GEN_ID = "UnlabelledExampleGen"
SPAN_WINDOW_ID = "span_resolver"
DRIFT_BASELINE_ID = "drift_resolver"


def create_pipeline(config: ProblemConfig, settings: RunnerSettings) -> tfx.dsl.Pipeline:
    spec = ProblemSpec(label=config.label, features=config.features, train=config.train)
    custom_config = {**spec.to_custom_config(), CODE_VERSION_KEY: settings.code_version}
    data_path = settings.data_path or config.data.path

    example_gen = _example_gen(
        config.data.format, data_path,
        tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name=name, hash_buckets=weight)
            for name, weight in sorted(config.data.split.items(), reverse=True)])),
        span=settings.span, missing_values=config.data.missing_values)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"],
                                                  stats_options=statistics_options())
    schema_gen = EmbeddedSchemaGen(schema_text=settings.schema_text).with_id(SCHEMA_GEN_ID)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomaly_gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"],
                               schema=schema_gen.outputs["schema"])
    by_span = span_kind(data_path) is not None
    drift = _drift_gate(config, settings, example_gen, statistics_gen) \
        if by_span and config.drift_gate.enabled else []
    window = _span_window(config.data.window, settings, example_gen)
    transform = tfx.components.Transform(
        # With a window, the spans' Examples; the Evaluator still reads only the run's span.
        examples=(window[0].outputs[span_resolvers.EXAMPLES_KEY] if window
                  else example_gen.outputs["examples"]),
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN, custom_config=custom_config,
        # TF1-style graph building traces preprocessing_fn once instead of per phase/export:
        # Transform 23 s -> 16 s on the taxi data, and the same transform graph for serving.
        # No analyzer cache: no run reads one (it is an input this graph does not wire), and
        # writing it costs Beam stages per analyzer (~2 s of ~31 s on the taxi data).
        disable_statistics=True, force_tf_compat_v1=True, disable_analyzer_cache=True)
    transform.add_upstream_node(anomaly_gate)
    if drift:  # nothing trains on a span the drift gate stopped
        transform.add_upstream_node(drift[-1])
    training_inputs = dict(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]))
    tuners = _tuner(config, settings, custom_config, **training_inputs)
    # The baseline is a model blessed by the node whose blessing the Pusher reads.
    blessed_by = fairness_gate.NODE_ID if config.evaluation.fairness else EVALUATOR_ID
    warm_start = _warm_start_resolver(config, settings, transform.outputs["transformed_examples"],
                                      blessed_by)
    trainer = _trainer(
        settings, custom_config,
        run_fn=RUN_FN,
        # With a `tune:` section, the Trainer trains with the Tuner's best hyperparameters.
        hyperparameters=tuners[0].outputs["best_hyperparameters"] if tuners else None,
        base_model=warm_start[0].outputs[baseline.MODEL_KEY] if warm_start else None,
        **training_inputs)
    baseline_resolver = _baseline_resolver(settings, trainer.outputs["model"], blessed_by)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs[baseline.MODEL_KEY],
        example_splits=["eval"],
        eval_config=build_eval_config(config.evaluation, config.label),
        module_path=EVALUATOR_MODULE)
    if settings.evaluator_beam_args:
        evaluator.with_beam_pipeline_args(settings.evaluator_beam_args)
    gates = _fairness_gate(config, evaluator)
    blessing = gates[0].outputs[fairness_gate.BLESSING_KEY] if gates else evaluator.outputs[
        "blessing"]
    pusher = _pusher(settings, model=trainer.outputs["model"], model_blessing=blessing)
    attributions = _attributions(config, example_gen, trainer)

    components = [example_gen, statistics_gen, schema_gen, example_validator, anomaly_gate,
                  *drift, *window, transform, *tuners, *warm_start, trainer, baseline_resolver,
                  evaluator,
                  *gates, pusher, attributions]
    if config.data.score_path:
        components += _bulk_inference(config.data.format, config.data.score_path,
                                      config.data.missing_values, trainer, blessing)
    # After the Pusher: model_card.json / .html beside the pushed model (nothing when not pushed).
    components.append(ModelCard(
        pushed_model=pusher.outputs["pushed_model"], model=trainer.outputs["model"],
        evaluation=evaluator.outputs["evaluation"], blessing=evaluator.outputs["blessing"],
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        attributions=attributions.outputs[feature_attributions.ATTRIBUTIONS_KEY],
        fairness=gates[0].outputs[fairness_gate.FAIRNESS_KEY] if gates else None,
        card_config=config.model_card.model_dump_json(),
        problem=model_card.problem_facts(config, data_path)).with_id(model_card.NODE_ID))

    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=settings.pipeline_root,
        components=components,
        enable_cache=settings.enable_cache,
        metadata_connection_config=(
            tfx.orchestration.metadata.sqlite_metadata_connection_config(settings.metadata_path)
            if settings.metadata_path else None),
        beam_pipeline_args=settings.beam_args)


def _drift_gate(config: ProblemConfig, settings: RunnerSettings, example_gen,
                statistics_gen) -> list:
    """[the resolver of the report to compare with, DriftGate]: data by span only."""
    reports = tfx.dsl.Channel(type=drift_gate.DriftReportArtifact,
                              producer_component_id=drift_gate.NODE_ID,
                              output_key=drift_gate.REPORT_KEY)
    if settings.drift_baseline == "latest":
        resolver = tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
                                    **{span_resolvers.REPORTS_KEY: reports})
    else:
        resolver = tfx.dsl.Resolver(
            strategy_class=span_resolvers.PreviousSpanReportStrategy,
            **{span_resolvers.CURRENT_KEY: example_gen.outputs["examples"],
               span_resolvers.REPORTS_KEY: reports})
    resolver = resolver.with_id(DRIFT_BASELINE_ID)
    gate = drift_gate.DriftGate(
        statistics=statistics_gen.outputs["statistics"],
        examples=example_gen.outputs["examples"],
        baseline=resolver.outputs[span_resolvers.REPORTS_KEY],
        drift_spec=drift_gate.spec_json(config.drift_gate, config.features.raw_columns,
                                        config.name),
        accept_drift=settings.accept_drift).with_id(drift_gate.NODE_ID)
    return [resolver, gate]


def _span_window(num_spans: int, settings: RunnerSettings, example_gen) -> list:
    """[the resolver of the Examples of spans S-N+1 .. S] when `data.window` N > 1, else []."""
    if num_spans == 1:
        return []
    if settings.drift_baseline == "latest":
        # The same runners that compile only TFX's built-in resolvers (mlpipe compile refuses
        # the window before this, naming data.window).
        raise ValueError(f"data.window {num_spans}: the span window needs mlpipe's resolver, "
                         "which only the local runner runs")
    return [tfx.dsl.Resolver(
        strategy_class=span_resolvers.SpanWindowStrategy, config={"num_spans": num_spans},
        **{span_resolvers.CURRENT_KEY: example_gen.outputs["examples"],
           # Every Examples the ExampleGen ever wrote. No output_key (its only output): with
           # one, TFX's compiler gives this channel the same input key as the run's own
           # Examples above (_CsvExampleGen.examples) and drops one of them.
           span_resolvers.EXAMPLES_KEY: tfx.dsl.Channel(
               type=tfx.types.standard_artifacts.Examples,
               producer_component_id=EXAMPLE_GEN_ID)},
    ).with_id(SPAN_WINDOW_ID)]


def _attributions(config: ProblemConfig, example_gen, trainer):
    """Permutation importance of the raw features on the eval split, beside the Evaluator: the
    raw examples through the exported model's signatures, so the Transform graph is included."""
    return feature_attributions.FeatureAttributions(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        label_key=config.label.name, features=config.features.raw_columns,
        metric=feature_attributions.attribution_metric(config.evaluation.main_metric,
                                                       config.label.task),
        task=config.label.task, seed=config.train.seed).with_id(feature_attributions.NODE_ID)


def _fairness_gate(config: ProblemConfig, evaluator) -> list:
    """[FairnessGate] between the Evaluator and the Pusher when the config has an
    `evaluation.fairness` section (its blessing is then the one the Pusher reads), else []."""
    if config.evaluation.fairness is None:
        return []
    return [fairness_gate.FairnessGate(
        evaluation=evaluator.outputs["evaluation"], model_blessing=evaluator.outputs["blessing"],
        fairness_spec=fairness_gate.spec_json(config.evaluation)).with_id(fairness_gate.NODE_ID)]


def _tuner(config: ProblemConfig, settings: RunnerSettings, custom_config: Dict[str, Any],
           **inputs) -> list:
    """[TFX's Tuner] searching the `tune:` section's space where the Trainer runs (its own step
    with the Trainer's resources, or, with Vertex training, TFX's Vertex Tuner in a CustomJob on
    the Trainer's machine: one replica, the trials one after another), else []."""
    if config.tune is None:
        return []
    custom_config = {**custom_config, TUNE_CONFIG_KEY: config.tune.model_dump()}
    if settings.vertex_training is None:
        tuner = tfx.components.Tuner(tuner_fn=TUNER_FN, custom_config=custom_config, **inputs)
    else:
        vertex = tfx.extensions.google_cloud_ai_platform
        job = settings.vertex_training.job
        job_spec = dict(job.get("job_spec", {}))
        if job_spec.get("worker_pool_specs"):
            # The chief pool only: the trials run one after another, as in a local search
            # (with more replicas, TFX's Vertex Tuner would run parallel trials).
            job_spec["worker_pool_specs"] = job_spec["worker_pool_specs"][:1]
        tuner = vertex.Tuner(tuner_fn=TUNER_FN, custom_config={
            **custom_config,
            vertex.ENABLE_VERTEX_KEY: True,
            vertex.VERTEX_REGION_KEY: settings.vertex_training.region,
            vertex.experimental.TUNING_ARGS_KEY: {**job, "job_spec": job_spec},
        }, **inputs)
    if settings.trainer_resources is not None:
        tuner.with_platform_config(_resource_spec(settings.trainer_resources))
    return [tuner.with_id("Tuner")]


def _trainer(settings: RunnerSettings, custom_config: Dict[str, Any], **inputs):
    """TFX's Trainer in its own step, or TFX's Vertex Trainer launching a CustomJob."""
    if settings.vertex_training is None:
        trainer = tfx.components.Trainer(custom_config=custom_config, **inputs)
    else:
        vertex = tfx.extensions.google_cloud_ai_platform
        trainer = vertex.Trainer(custom_config={
            **custom_config,
            vertex.ENABLE_VERTEX_KEY: True,
            vertex.VERTEX_REGION_KEY: settings.vertex_training.region,
            vertex.TRAINING_ARGS_KEY: settings.vertex_training.job,
        }, **inputs)
    if settings.trainer_resources is not None:
        trainer.with_platform_config(_resource_spec(settings.trainer_resources))
    return trainer.with_id(TRAINER_ID)


def _resource_spec(resources: StepResources):
    """The KFP v2 container resources of a step (read by KubeflowV2DagRunner only)."""
    from kfp.pipeline_spec import pipeline_spec_pb2  # kfp: only for a step with resources
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    if resources.cpu_limit:
        spec.cpu_limit = resources.cpu_limit
    if resources.memory_limit:
        spec.memory_limit = resources.memory_limit
    if resources.accelerator_type:
        spec.accelerator.type = resources.accelerator_type
        spec.accelerator.count = resources.accelerator_count
    return spec


def _pusher(settings: RunnerSettings, **inputs):
    """TFX's Pusher copying to `serving_dir` (a local version appears whole:
    mlpipe.components.atomic_pusher), or TFX's Vertex Pusher deploying to an endpoint."""
    if settings.vertex_push is None:
        pusher = tfx.components.Pusher(
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(
                    base_directory=settings.serving_dir)),
            custom_executor_spec=executor_spec.ExecutorClassSpec(atomic_pusher.Executor),
            **inputs)
    else:
        vertex = tfx.extensions.google_cloud_ai_platform
        push = settings.vertex_push
        pusher = vertex.Pusher(custom_config={
            vertex.ENABLE_VERTEX_KEY: True,
            vertex.VERTEX_REGION_KEY: push.region,
            vertex.VERTEX_CONTAINER_IMAGE_URI_KEY: push.serving_image,
            vertex.SERVING_ARGS_KEY: push.serving_args,
        }, **inputs)
    return pusher.with_id(PUSHER_ID)


def _baseline_resolver(settings: RunnerSettings, candidate, blessed_by: str) -> tfx.dsl.Resolver:
    """`blessed_by`: the node whose `blessing` output counts (a FairnessGate withdraws the
    Evaluator's blessing of a model it refuses, so that model is never a baseline)."""
    channels = {
        baseline.MODEL_KEY: tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        baseline.BLESSING_KEY: tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing,
                                               producer_component_id=blessed_by,
                                               output_key="blessing"),
    }
    if settings.baseline == "latest_blessed":
        strategy = tfx.dsl.experimental.LatestBlessedModelStrategy
    else:
        strategy = baseline.LatestOtherBlessedModelStrategy
        channels[baseline.CANDIDATE_KEY] = candidate
    return tfx.dsl.Resolver(strategy_class=strategy, **channels).with_id("baseline_resolver")


def _warm_start_resolver(config: ProblemConfig, settings: RunnerSettings, training_data,
                         blessed_by: str) -> list:
    """[a Resolver of the latest blessed model not trained on `training_data`: the Trainer's
    `base_model`] with `train.warm_start`, else []. The Trainer falls back to a cold start (and
    logs why) when there is none yet or it does not fit (mlpipe.trainer.model.warm_start)."""
    if not config.train.warm_start:
        return []
    channels = {
        baseline.MODEL_KEY: tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        baseline.BLESSING_KEY: tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing,
                                               producer_component_id=blessed_by,
                                               output_key="blessing"),
    }
    if settings.baseline == "latest_blessed":   # KFP v2 / Vertex: TFX's built-in strategy only
        strategy = tfx.dsl.experimental.LatestBlessedModelStrategy
    else:
        strategy = baseline.WarmStartModelStrategy
        channels[baseline.TRAINING_DATA_KEY] = training_data
    return [tfx.dsl.Resolver(strategy_class=strategy, **channels).with_id("warm_start_resolver")]


def _bulk_inference(data_format: str, score_path: str, missing_values: Sequence[str], trainer,
                    model_blessing) -> list:
    """Unlabelled data (in the format of `data.format`) scored by the candidate model, only when
    it was blessed (by the Evaluator, or by the FairnessGate when there is one)."""
    unlabelled_gen = _example_gen(
        data_format, score_path,
        tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name=UNLABELLED_SPLIT, hash_buckets=1)])),
        node_id=UNLABELLED_EXAMPLE_GEN_ID, missing_values=missing_values)
    bulk_inferrer = tfx.components.BulkInferrer(
        examples=unlabelled_gen.outputs["examples"],
        model=trainer.outputs["model"],
        model_blessing=model_blessing,
        data_spec=tfx.proto.DataSpec(),
        model_spec=tfx.proto.ModelSpec(model_signature_name=[SERVING_SIGNATURE]))
    return [unlabelled_gen, bulk_inferrer]


def _example_gen(data_format: str, data_path: str, output_config,
                 node_id: str = EXAMPLE_GEN_ID, span: Optional[int] = None,
                 missing_values: Sequence[str] = ()):
    """The ExampleGen reading `data_path` (a file, a folder, a glob, or a span pattern) in
    `data_format`, with the node id the readers of its output look for (the same for every
    format): csv -> FileBasedExampleGen with mlpipe's CSV executor (CsvExampleGen's examples
    and split, ~30x faster; see mlpipe.components.csv_example_gen); parquet -> FileBasedExampleGen
    with mlpipe's parquet executor (TFX's own reads a 0 as a missing value; see
    mlpipe.components.parquet_executor); tfrecord -> ImportExampleGen (tf.Examples as they are;
    gzip when the file name ends in .gz).
    A span pattern ingests one span: `span` (a static range), else the newest TFX finds.
    `missing_values` (CSV only): cell texts the CSV executor reads as blank, in its
    custom_config (every runner's ExampleGen reads the data where it is)."""
    base, pattern = input_base_and_pattern(data_path)
    inputs = dict(input_base=base, input_config=tfx.proto.Input(splits=[
        tfx.proto.Input.Split(name="all", pattern=pattern)]), output_config=output_config)
    if span is not None and span_kind(data_path) is not None:
        inputs["range_config"] = tfx.proto.RangeConfig(static_range=tfx.proto.StaticRange(
            start_span_number=span, end_span_number=span))
    if missing_values and data_format != "csv":
        raise ValueError(f"data.missing_values: for CSV only, not {data_format}")
    if data_format == "csv":
        example_gen = FileBasedExampleGen(
            custom_executor_spec=executor_spec.BeamExecutorSpec(csv_executor.Executor),
            custom_config=(csv_executor.custom_config(missing_values) if missing_values
                           else None),
            **inputs)
    elif data_format == "parquet":
        example_gen = FileBasedExampleGen(
            custom_executor_spec=executor_spec.BeamExecutorSpec(parquet_executor.Executor),
            **inputs)
    elif data_format == "tfrecord":
        example_gen = tfx.components.ImportExampleGen(**inputs)
    else:
        raise ValueError(f"data.format {data_format!r}: no ExampleGen for it")
    return example_gen.with_id(node_id)


def _input_base(data_path: str) -> str:
    """The folder TFX's file pattern is relative to (see span_files.input_base_and_pattern)."""
    return input_base_and_pattern(data_path)[0]


def _input_pattern(data_path: str) -> str:
    return input_base_and_pattern(data_path)[1]
