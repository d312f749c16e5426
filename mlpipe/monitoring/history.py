"""Every `mlpipe monitor` result, kept in the run home so a model's report shows how it has fared.

    <run home>/monitoring/monitor-<YYYYmmdd-HHMMSS-micro>.json    one per `mlpipe monitor`

Each file is the JSON the command prints a summary of (drift, schema anomalies, and with
--evaluate the metrics on labelled data), plus `monitored_at` and `model_version`: the pushed
version whose training data was the baseline. `mlpipe report` of the run that pushed a version
lists that version's results, newest first.
"""

import datetime
import json
import os
import pathlib
from typing import List

from mlpipe.core.run_home import RunHome

GLOB = "monitor-*.json"


def record(home: RunHome, result: dict) -> pathlib.Path:
    """Writes one result (complete or not at all: written aside, then renamed)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    folder = home.monitoring_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"monitor-{now:%Y%m%d-%H%M%S-%f}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"monitored_at": now.isoformat(timespec="seconds"), **result},
                                  indent=2))
    os.replace(partial, path)
    return path


def results_for(home: RunHome, version: str, limit: int = 10) -> List[dict]:
    """The recorded results for one pushed version, newest first; unreadable files skipped."""
    results = []
    for path in sorted(home.monitoring_dir.glob(GLOB), reverse=True):
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if str(result.get("model_version")) == str(version):
            results.append({**result, "file": str(path)})
            if len(results) == limit:
                break
    return results
