"""What differs between runners: where things go and how Beam runs. Never the graph."""

import dataclasses
from typing import List, Optional


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
