"""`create_pipeline()`: the one TFX graph that every runner (local Beam, Kubeflow, Vertex) uses.

The graph is built from the problem config; runners differ only in `RunnerSettings`: where
artifacts, metadata and pushed models go, Beam arguments, caching, the baseline strategy, and
where the Trainer and Pusher execute (their own step, a step with GPUs, a Vertex AI CustomJob, a
Vertex AI endpoint). Nothing edits the graph after it is built.
"""

import os
from typing import Any, Dict

from tfx import v1 as tfx

from mlpipe.components.anomaly_gate import AnomalyGate
from mlpipe.components import attributions as feature_attributions
from mlpipe.components import fairness_gate
from mlpipe.components import model_card
from mlpipe.config import ProblemConfig
from mlpipe.core.contract import SERVING_SIGNATURE
from mlpipe.pipeline import baseline
from mlpipe.pipeline.evaluation import build_eval_config
from mlpipe.pipeline.runner_settings import RunnerSettings, StepResources
from mlpipe.trainer.features import ProblemSpec

PREPROCESSING_FN = "mlpipe.trainer.preprocessing.preprocessing_fn"
RUN_FN = "mlpipe.trainer.model.run_fn"
CODE_VERSION_KEY = "code_version"
UNLABELLED_SPLIT = "unlabelled"


def create_pipeline(config: ProblemConfig, settings: RunnerSettings) -> tfx.dsl.Pipeline:
    spec = ProblemSpec(label=config.label, features=config.features, train=config.train)
    custom_config = {**spec.to_custom_config(), CODE_VERSION_KEY: settings.code_version}
    data_path = settings.data_path or config.data.path

    example_gen = tfx.components.CsvExampleGen(
        input_base=_input_base(data_path),
        input_config=_single_input(data_path),
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name=name, hash_buckets=weight)
            for name, weight in sorted(config.data.split.items(), reverse=True)])))
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=settings.schema_file)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomaly_gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"],
                               schema=schema_gen.outputs["schema"])
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN, custom_config=custom_config,
        # TF1-style graph building traces preprocessing_fn once instead of per phase/export:
        # Transform 23 s -> 16 s on the taxi data, and the same transform graph for serving.
        disable_statistics=True, force_tf_compat_v1=True)
    transform.add_upstream_node(anomaly_gate)
    trainer = _trainer(
        settings, custom_config,
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]))
    # The baseline is a model blessed by the node whose blessing the Pusher reads.
    blessed_by = fairness_gate.NODE_ID if config.evaluation.fairness else "Evaluator"
    baseline_resolver = _baseline_resolver(settings, trainer.outputs["model"], blessed_by)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs[baseline.MODEL_KEY],
        example_splits=["eval"],
        eval_config=build_eval_config(config.evaluation, spec.label_key))
    gates = _fairness_gate(config, evaluator)
    blessing = gates[0].outputs[fairness_gate.BLESSING_KEY] if gates else evaluator.outputs[
        "blessing"]
    pusher = _pusher(settings, model=trainer.outputs["model"], model_blessing=blessing)
    attributions = _attributions(config, example_gen, trainer)

    components = [example_gen, statistics_gen, schema_gen, example_validator, anomaly_gate,
                  transform, trainer, baseline_resolver, evaluator, *gates, pusher,
                  attributions]
    if config.data.score_path:
        components += _bulk_inference(config.data.score_path, trainer, blessing)
    # After the Pusher: model_card.json / .html beside the pushed model (nothing when not pushed).
    components.append(model_card.ModelCard(
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


def _attributions(config: ProblemConfig, example_gen, trainer):
    """Permutation importance of the raw features on the eval split, beside the Evaluator: the
    raw examples through the exported model's signatures, so the Transform graph is included."""
    return feature_attributions.FeatureAttributions(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        label_key=config.label.name, features=config.features.raw_columns,
        metric=feature_attributions.attribution_metric(config.evaluation.main_metric),
        seed=config.train.seed).with_id(feature_attributions.NODE_ID)


def _fairness_gate(config: ProblemConfig, evaluator) -> list:
    """[FairnessGate] between the Evaluator and the Pusher when the config has an
    `evaluation.fairness` section (its blessing is then the one the Pusher reads), else []."""
    if config.evaluation.fairness is None:
        return []
    return [fairness_gate.FairnessGate(
        evaluation=evaluator.outputs["evaluation"], model_blessing=evaluator.outputs["blessing"],
        fairness_spec=fairness_gate.spec_json(config.evaluation)).with_id(fairness_gate.NODE_ID)]


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
    return trainer.with_id("Trainer")


def _resource_spec(resources: StepResources):
    """The KFP v2 container resources of a step (read by KubeflowV2DagRunner only)."""
    from kfp.pipeline_spec import pipeline_spec_pb2
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
    """TFX's Pusher copying to `serving_dir`, or TFX's Vertex Pusher deploying to an endpoint."""
    if settings.vertex_push is None:
        pusher = tfx.components.Pusher(push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=settings.serving_dir)), **inputs)
    else:
        vertex = tfx.extensions.google_cloud_ai_platform
        push = settings.vertex_push
        pusher = vertex.Pusher(custom_config={
            vertex.ENABLE_VERTEX_KEY: True,
            vertex.VERTEX_REGION_KEY: push.region,
            vertex.VERTEX_CONTAINER_IMAGE_URI_KEY: push.serving_image,
            vertex.SERVING_ARGS_KEY: push.serving_args,
        }, **inputs)
    return pusher.with_id("Pusher")


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


def _bulk_inference(score_path: str, trainer, model_blessing) -> list:
    """Unlabelled data scored by the candidate model, only when it was blessed (by the Evaluator,
    or by the FairnessGate when there is one)."""
    unlabelled_gen = tfx.components.CsvExampleGen(
        input_base=_input_base(score_path), input_config=_single_input(score_path),
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name=UNLABELLED_SPLIT, hash_buckets=1)])),
    ).with_id("UnlabelledExampleGen")
    bulk_inferrer = tfx.components.BulkInferrer(
        examples=unlabelled_gen.outputs["examples"],
        model=trainer.outputs["model"],
        model_blessing=model_blessing,
        data_spec=tfx.proto.DataSpec(),
        model_spec=tfx.proto.ModelSpec(model_signature_name=[SERVING_SIGNATURE]))
    return [unlabelled_gen, bulk_inferrer]


def _single_input(data_path: str):
    return tfx.proto.Input(splits=[
        tfx.proto.Input.Split(name="all", pattern=_input_pattern(data_path))])


def _input_base(data_path: str) -> str:
    return data_path if _is_folder(data_path) else os.path.dirname(data_path)


def _input_pattern(data_path: str) -> str:
    return "*" if _is_folder(data_path) else os.path.basename(data_path)


def _is_folder(data_path: str) -> bool:
    return data_path.endswith("/") or os.path.isdir(data_path)
