"""The run home's record of `mlpipe monitor` results."""

import json

from mlpipe.monitoring import history
from mlpipe.core.run_home import RunHome


def test_results_are_found_by_version_newest_first(tmp_path):
    home = RunHome.for_pipeline("taxi", str(tmp_path))
    kept = [history.record(home, {"model_version": version, "rows": rows})
            for version, rows in [("7", 1), ("8", 2), ("7", 3)]]
    assert len(set(kept)) == 3 and all(path.parent == home.monitoring_dir for path in kept)
    found = history.results_for(home, "7")
    assert [result["rows"] for result in found] == [3, 1]
    assert found[0]["file"] == str(kept[2]) and found[0]["monitored_at"]
    assert history.results_for(home, "9") == []
    assert [r["rows"] for r in history.results_for(home, "7", limit=1)] == [3]


def test_a_torn_or_foreign_file_is_skipped_and_no_partial_file_is_left(tmp_path):
    home = RunHome.for_pipeline("taxi", str(tmp_path))
    history.record(home, {"model_version": "7", "rows": 1})
    (home.monitoring_dir / "monitor-29991231-235959-000000.json").write_text('{"model_')
    (home.monitoring_dir / "monitor-29991231-235959-000001.json").write_text(
        json.dumps({"rows": 5}))
    assert [r["rows"] for r in history.results_for(home, "7")] == [1]
    assert not list(home.monitoring_dir.glob("*.partial"))


def test_no_history_yet_is_an_empty_list(tmp_path):
    assert history.results_for(RunHome.for_pipeline("taxi", str(tmp_path)), "7") == []
