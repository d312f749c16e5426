"""What differs between runners: where things go, how Beam runs, and where the Trainer and
Pusher execute. `create_pipeline()` reads these and nothing else besides the problem config, so
a local and a cloud graph differ exactly where these settings say."""

import dataclasses
from typing import Any, Dict, List, Literal, Optional

from mlpipe.config import BeamConfig

# How the Evaluator's baseline is found. "latest_other_blessed" (mlpipe.pipeline.baseline) keeps an
# unchanged re-run fully cached, but needs the orchestrator to run a Python resolver against ML
# Metadata; KFP v2 / Vertex compile only TFX's built-in strategies, so cloud runners use
# "latest_blessed" (TFX's LatestBlessedModelStrategy). The rest of the graph is identical.
Baseline = Literal["latest_other_blessed", "latest_blessed"]
# How the DriftGate finds the report of the span it compares with. "previous_span"
# (mlpipe.pipeline.span_resolvers): the newest report of an earlier span than the run's, a Python
# resolver like the local baseline's; "latest": TFX's LatestArtifactStrategy, the newest report
# when the run starts (what KFP v2 / Vertex compile); the gate ignores a report of a later span.
DriftBaseline = Literal["previous_span", "latest"]


# From this many estimated eval rows per worker, the local Evaluator runs on worker processes.
EVALUATOR_ROWS_PER_WORKER = 25_000
MAX_EVALUATOR_WORKERS = 4


@dataclasses.dataclass(frozen=True)
class StepResources:
    """Resources of the Trainer's own pipeline step (KFP / Vertex Pipelines container)."""

    cpu_limit: Optional[float] = None
    memory_limit: Optional[float] = None
    accelerator_type: Optional[str] = None
    accelerator_count: int = 0


@dataclasses.dataclass(frozen=True)
class VertexTraining:
    """The Trainer runs as a Vertex AI CustomJob (TFX's google_cloud_ai_platform Trainer)."""

    region: str
    job: Dict[str, Any]  # TFX's training args: project, job_spec (worker pools), labels


@dataclasses.dataclass(frozen=True)
class VertexPush:
    """The Pusher deploys each blessed model to a Vertex AI endpoint (TFX's Vertex Pusher)."""

    region: str
    serving_image: str
    serving_args: Dict[str, Any]  # TFX's serving args: project_id, endpoint_name, machines


@dataclasses.dataclass(frozen=True)
class RunnerSettings:
    pipeline_root: str
    serving_dir: str
    # The curated schema's text (core.schema_io.schema_text): carried in the pipeline itself, so
    # no runner needs the file where its schema step runs, and TFX's cache follows its content.
    schema_text: str
    # Module code is referenced by dotted path, so TFX cannot see it change: its version is an
    # input of Transform and Trainer, and a code change invalidates their cache.
    code_version: str
    data_path: Optional[str] = None  # None: the config's data.path (cloud: a gs:// copy)
    metadata_path: Optional[str] = None
    beam_args: List[str] = dataclasses.field(default_factory=list)
    # Beam arguments of the Evaluator alone, after `beam_args` (the last value of a flag wins).
    evaluator_beam_args: List[str] = dataclasses.field(default_factory=list)
    enable_cache: bool = True
    baseline: Baseline = "latest_other_blessed"
    # Data by span: the span the ExampleGen ingests (pinned with a static RangeConfig, which is
    # how TFX re-runs an older span); None: the newest span it finds when it runs.
    span: Optional[int] = None
    # The DriftGate lets a crossing through in this run (recorded on its execution and output).
    accept_drift: bool = False
    drift_baseline: DriftBaseline = "previous_span"
    trainer_resources: Optional[StepResources] = None
    vertex_training: Optional[VertexTraining] = None
    vertex_push: Optional[VertexPush] = None


def evaluator_runner_args(beam: BeamConfig, eval_rows: int, cores: int) -> List[str]:
    """The local Evaluator's own DirectRunner mode: worker processes, one per core (at most
    `MAX_EVALUATOR_WORKERS`), from `EVALUATOR_ROWS_PER_WORKER` estimated eval rows up; else
    none (the pipeline's mode). `beam.evaluator_workers` overrides the count (1: none).

    TFMA's per-example metric code is pure Python: one process computes ~700 eval rows/s on
    these machines whatever the model's speed, and two worker processes on two cores halve the
    time after the Reshuffle of mlpipe.pipeline.evaluation.custom_extractors. Each worker first
    imports TensorFlow and TFMA and loads the model (~15 s), which the taxi table's 5,000 eval
    rows would not repay (benchmarks/bench_scale.py)."""
    workers = beam.evaluator_workers or min(cores, MAX_EVALUATOR_WORKERS,
                                            max(1, eval_rows // EVALUATOR_ROWS_PER_WORKER))
    if workers < 2:
        return []
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]


def direct_runner_args(beam: BeamConfig) -> List[str]:
    """Beam arguments of the DirectRunner, local or inside a pipeline step."""
    # Beam 2.74's "DirectRunner" first tries the Prism runner, which downloads a binary from
    # the internet at run time, and falls back when that fails: naming the in-process runner
    # it would fall back to keeps a run offline and on the runner the config says.
    return ["--runner=FnApiRunner",
            f"--direct_running_mode={beam.direct_running_mode}",
            f"--direct_num_workers={beam.direct_num_workers}",
            # Without a dependency flag TFX builds an sdist of itself before every Beam
            # component (~1 s each) for remote workers; the DirectRunner stages nothing.
            "--sdk_container_image=none-direct-runner"]
