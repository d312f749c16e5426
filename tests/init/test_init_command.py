"""The real `mlpipe init` command on input it refuses: exit 2, one `error:` line naming the
problem, nothing written. These fail before TensorFlow is imported: a second or two each."""

import pytest

from tests.init.tables import penguin_rows, write_csv
from tests.support.cli import run_mlpipe


def _assert_refused(result, *names):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for name in names:
        assert str(name) in result.stderr, result.stderr


@pytest.fixture
def penguins(tmp_path):
    return write_csv(tmp_path / "penguins.csv", penguin_rows(n=60))


def test_init_is_a_command_without_config_or_home(tmp_path):
    result = run_mlpipe("init", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--data" in result.stdout and "--label" in result.stdout
    assert "--config" not in result.stdout and "--home" not in result.stdout


def test_other_commands_still_take_config_and_home(tmp_path):
    result = run_mlpipe("run", "--help", cwd=tmp_path)
    assert "--config" in result.stdout and "--home" in result.stdout


def test_a_label_column_that_is_not_there(tmp_path, penguins):
    result = run_mlpipe("init", "--data", penguins, "--label", "Species", cwd=tmp_path)
    _assert_refused(result, penguins, "no column 'Species' to use as the label", "species")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["penguins.csv"]


def test_a_text_label_with_too_many_values(tmp_path):
    rows = penguin_rows(n=60)
    for i, row in enumerate(rows):
        row["species"] = f"s{i % 20}"
    data = write_csv(tmp_path / "penguins.csv", rows)
    result = run_mlpipe("init", "--data", data, "--label", "species", cwd=tmp_path)
    _assert_refused(result, "label column 'species' holds text with 20 distinct values",
                    "too many to take for classes", "say so with --task multiclass")
    assert not (tmp_path / "penguins").exists()


def test_a_file_that_is_not_utf8(tmp_path, penguins):
    penguins.write_bytes(penguins.read_bytes().replace(b"Dream", b"Dr\xe9am", 1))
    result = run_mlpipe("init", "--data", penguins, "--label", "species", cwd=tmp_path)
    _assert_refused(result, penguins, "not UTF-8 text")
    assert not (tmp_path / "penguins").exists()


def test_a_missing_file(tmp_path):
    result = run_mlpipe("init", "--data", tmp_path / "nope.csv", "--label", "y", cwd=tmp_path)
    _assert_refused(result, "nope.csv: no such file")


def test_a_task_the_label_does_not_fit(tmp_path, penguins):
    result = run_mlpipe("init", "--data", penguins, "--label", "species", "--task", "regression",
                        cwd=tmp_path)
    _assert_refused(result, "--task regression: label column 'species' holds text, not numbers",
                    "'Adelie'", "a regression label is a number")
    assert not (tmp_path / "penguins").exists()


def test_existing_files_are_not_overwritten(tmp_path, penguins):
    output = tmp_path / "mine"
    output.mkdir()
    config = output / "penguins.yaml"
    config.write_text("# my edits\n")
    result = run_mlpipe("init", "--data", penguins, "--label", "species", "--output", output,
                        cwd=tmp_path)
    _assert_refused(result, config, "exists: not overwritten (use --force")
    assert config.read_text() == "# my edits\n"
    assert not (output / "schema.pbtxt").exists()


def test_an_existing_schema_is_not_overwritten_either(tmp_path, penguins):
    (tmp_path / "penguins").mkdir()
    schema = tmp_path / "penguins" / "schema.pbtxt"
    schema.write_text("# curated by hand\n")
    result = run_mlpipe("init", "--data", penguins, "--label", "species", cwd=tmp_path)
    _assert_refused(result, "schema.pbtxt exists")
    assert schema.read_text() == "# curated by hand\n"
    assert not (tmp_path / "penguins" / "penguins.yaml").exists()


def test_schema_command_without_a_curated_schema_points_at_init(tmp_path, penguins):
    config = tmp_path / "problem.yaml"
    config.write_text(
        "name: penguins\n"
        f"data: {{path: {penguins}}}\n"
        "label: {name: is_gentoo, column: species, positive_class: Gentoo}\n"
        "features: {numeric: [bill_length_mm]}\n"
        "schema: schema.pbtxt\n"
        "evaluation: {kpi: {auc: {min: 0.6}}}\n")
    result = run_mlpipe("schema", "--config", config, "--home", tmp_path / "runs", cwd=tmp_path)
    _assert_refused(result, "schema: file not found", "mlpipe init --data FILE.csv --label COLUMN")
    assert not (tmp_path / "runs").exists()
