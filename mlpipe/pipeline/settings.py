"""What differs between runners: where things go and how Beam runs. Never the graph."""

import dataclasses
from typing import List, Literal, Optional

# How the Evaluator's baseline is found. "latest_other_blessed" (mlpipe.pipeline.baseline) keeps an
# unchanged re-run fully cached, but needs the orchestrator to run a Python resolver against ML
# Metadata; KFP v2 / Vertex compile only TFX's built-in strategies, so cloud runners use
# "latest_blessed" (TFX's LatestBlessedModelStrategy). The rest of the graph is identical.
Baseline = Literal["latest_other_blessed", "latest_blessed"]


@dataclasses.dataclass(frozen=True)
class RunnerSettings:
    pipeline_root: str
    serving_dir: str
    schema_file: str
    # Module code is referenced by dotted path, so TFX cannot see it change: its version is an
    # input of Transform and Trainer, and a code change invalidates their cache.
    code_version: str
    metadata_path: Optional[str] = None
    beam_args: List[str] = dataclasses.field(default_factory=list)
    enable_cache: bool = True
    baseline: Baseline = "latest_other_blessed"
