"""Finds the training statistics (StatisticsGen's output) to compare new data with.

Preferred: by lineage from the served version, in the run home's ML Metadata store: the pushed
model <- Pusher's `model` <- Trainer's `examples` <- Transform's `examples` (the raw examples),
then the statistics StatisticsGen computed on those raw examples. When lineage gives nothing (a
version pushed by hand, an older store), the newest live ExampleStatistics artifact is used.
"""

import dataclasses
import pathlib
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from mlpipe.core import lineage
from mlpipe.core.artifacts import STATISTICS_FILE, split_uri
from mlpipe.core.run_home import RunHome
from mlpipe.errors import BadInputError

STATISTICS_TYPE = "ExampleStatistics"
TRAIN_SPLIT = "train"
LIVE = 2  # metadata_store_pb2.Artifact.LIVE


class NoStatisticsError(BadInputError):
    """No training statistics to compare with (nothing run yet, or its output is gone)."""


@dataclasses.dataclass(frozen=True)
class TrainingStatistics:
    path: pathlib.Path        # FeatureStats.pb of the train split
    artifact_id: int
    found_by: str             # "lineage of version N" or "newest statistics"
    version: Optional[str]    # the pushed version being monitored (None: nothing pushed)


def find_training_statistics(home: RunHome, version: Optional[str] = None) -> TrainingStatistics:
    if not home.metadata_path.exists():
        raise NoStatisticsError(f"no metadata store at {home.metadata_path}: run `mlpipe run` "
                                "first")
    with lineage.open_store(home.metadata_path) as store:
        served = version or _newest_version(home)
        artifact = _by_lineage(store, home, served) if served else None
        found_by = f"lineage of pushed version {served}"
        if artifact is None:
            live = [a for a in store.get_artifacts_by_type(STATISTICS_TYPE) if a.state == LIVE]
            if not live:
                raise NoStatisticsError(f"no StatisticsGen output in {home.metadata_path}")
            artifact = max(live, key=lambda a: (a.create_time_since_epoch, a.id))
            found_by = "newest statistics in the metadata store"
    path = pathlib.Path(split_uri(artifact.uri, TRAIN_SPLIT)) / STATISTICS_FILE
    if not path.exists():
        raise NoStatisticsError(f"statistics artifact {artifact.id} has no {path}")
    return TrainingStatistics(path, artifact.id, found_by, served)


def _newest_version(home: RunHome) -> Optional[str]:
    versions = home.pushed_versions()
    return versions[-1].name if versions else None


def _by_lineage(store, home: RunHome, version: str):
    destination = str(home.serving_dir / version)
    pushed = [a for a in store.get_artifacts_by_type("PushedModel")
              if a.custom_properties["pushed_destination"].string_value.rstrip("/") == destination]
    for artifact in sorted(pushed, key=lambda a: -a.id):
        current, key = artifact, "model"
        for _ in range(6):   # PushedModel <- Model <- transformed Examples <- raw Examples
            inputs = _producer_inputs(store, current.id)
            if key not in inputs and "examples" not in inputs:
                break        # produced by ExampleGen: `current` holds the raw examples
            current = inputs.get(key) or inputs["examples"]
            key = "examples"
        statistics = _statistics_of(store, current.id)
        if statistics is not None:
            return statistics
    return None


def _producer_inputs(store, artifact_id: int) -> Dict[str, object]:
    producers = [e.execution_id for e in store.get_events_by_artifact_ids([artifact_id])
                 if e.type in (metadata_store_pb2.Event.OUTPUT,
                               metadata_store_pb2.Event.DECLARED_OUTPUT)]
    if not producers:
        return {}
    events = [e for e in store.get_events_by_execution_ids([producers[0]])
              if e.type == metadata_store_pb2.Event.INPUT and e.path.steps]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    return {e.path.steps[0].key: artifacts[e.artifact_id] for e in events
            if e.artifact_id in artifacts}


def _statistics_of(store, examples_id: int):
    consumers = [e.execution_id for e in store.get_events_by_artifact_ids([examples_id])
                 if e.type == metadata_store_pb2.Event.INPUT]
    found: List = []
    for execution_id in consumers:
        for artifact in lineage.outputs_of(store, execution_id).values():
            if store.get_artifact_types_by_id([artifact.type_id])[0].name == STATISTICS_TYPE:
                found.append(artifact)
    live = [a for a in found if a.state == LIVE]
    return max(live, key=lambda a: a.id) if live else None
