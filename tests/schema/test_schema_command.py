"""`mlpipe schema` as a user runs it, on data that arrives in spans."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from tests.support import spans
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config

ROWS = 300


def test_schema_proposes_from_the_newest_span(tmp_path):
    data = tmp_path / "data"
    trips = spans.taxi_by_time()
    for span in (1, 2):
        spans.write_span(data, span, spans.span_rows(span, trips, ROWS))

    def edit(raw):
        raw["data"]["path"] = f"{data}/{spans.SPAN_FOLDER}"
    config = write_config(tmp_path / "spans.yaml", edit=edit)
    completed = run_mlpipe("schema", "--config", config, "--home", tmp_path / "runs",
                           "--output", tmp_path / "proposal.pbtxt", timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"Data: span 2 (newest of 2: 1, 2): {data}/span-2/" in completed.stdout
    proposal = (tmp_path / "proposal.pbtxt").read_text()
    assert 'name: "payment_type"' in proposal
