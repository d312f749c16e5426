"""`mlpipe init` for real (TFDV included) on generated tables: the config it writes loads and says
what it decided, and the schema it writes passes the pipeline's gate on the statistics of the
same data computed as the pipeline computes them (CsvExampleGen's examples, StatisticsGen).

About a minute: TFDV runs a Beam job per table, twice (the proposal and the gate's statistics).
"""

import contextlib
import io
import pathlib
import re

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
import tensorflow_data_validation as tfdv
import yaml

from mlpipe.cli import main
from mlpipe.config import CloudConfig, load_config
from mlpipe.core.contract import SERVING, TRAINING
from mlpipe.core.schema_io import environment_features, load_schema
from mlpipe.kubeflow.compile import cloud_runner_settings
from tests.init.gate import gate_anomalies, pipeline_statistics
from tests.init.tables import multiclass_rows, penguin_rows, regression_rows, write_csv
from tests.support.cloud import CLOUD

pytestmark = pytest.mark.slow


def _init(capsys, *args) -> tuple:
    code = main(["init", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _comments(text: str, keyword: str) -> list:
    return [match.group(1) for match in re.finditer(rf"^\s*# {keyword}: (.*)$", text, re.M)]


def _left_out(text: str) -> dict:
    return dict(line.split(": ", 1) for line in _comments(text, "left out"))


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """name -> (csv, init arguments after --data): several tables with every kind of label."""
    root = tmp_path_factory.mktemp("tables")
    penguins = penguin_rows()
    zero_one = penguin_rows(n=300, seed=3, labels=(0, 1), leak=True)
    booleans = penguin_rows(n=300, seed=5, labels=("False", "True"))
    for row in booleans:      # another token, in another column
        if row["rowid"] % 17 == 0:
            row["body_mass_g"] = "?"
    species = ["--label", "species"]
    return {
        "penguins": (write_csv(root / "penguins.csv", penguins), species),
        "zero-one": (write_csv(root / "zero-one.csv", zero_one), species),
        "booleans": (write_csv(root / "booleans.csv", booleans),
                     species + ["--positive-class", "False"]),
        "three-species": (write_csv(root / "three-species.csv", multiclass_rows(leak=True)),
                          species),
        "four-codes": (write_csv(root / "four-codes.csv",
                                 multiclass_rows(n=400, seed=2, labels=(1, 2, 3, 4))), species),
        "mass": (write_csv(root / "mass.csv", regression_rows(leak=True)),
                 ["--label", "mass_kg"]),
    }


@pytest.fixture(scope="module")
def written(tables, tmp_path_factory):
    """name -> (config file, its text, the exit code and stdout of `mlpipe init`)."""
    out = {}
    for name, (data, extra) in tables.items():
        output = tmp_path_factory.mktemp("problems") / name
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(["init", "--data", str(data), "--name", name, "--output", str(output),
                         *extra])
        config_file = output / f"{name}.yaml"
        out[name] = (config_file, config_file.read_text() if config_file.exists() else "",
                     code, stdout.getvalue())
    return out


def test_penguins_config_says_what_was_decided(written, tables):
    config_file, text, code, stdout = written["penguins"]
    assert code == 0, stdout
    assert f"Next: mlpipe run --config {config_file}" in stdout
    raw = yaml.safe_load(text)
    assert raw["label"] == {"name": "species_is_gentoo", "task": "binary", "column": "species",
                            "positive_class": "Gentoo"}
    assert raw["data"]["missing_values"] == ["NA"]
    assert pathlib.Path(config_file.parent, raw["data"]["path"]).resolve() == \
        tables["penguins"][0].resolve()
    assert raw["features"] == {
        "numeric": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"],
        "categorical": ["island", "sex", "tag"], "numeric_bins": 0}
    left_out = _left_out(text)
    assert set(left_out) == {"rowid", "year", "comment"}
    assert left_out["rowid"].startswith("row id: unique per row")
    assert left_out["year"] == "constant: always '2008'"
    assert left_out["comment"].startswith("mostly empty")
    assert _comments(text, "missing")[0].startswith("NA read as a blank cell in every column")
    assert _comments(text, "positive class") == ["'Gentoo' is label 1 (the minority class); "
                                                 "'Adelie' is 0"]
    baseline = " ".join(_comments(text, "baseline"))
    assert "AUC 0.500" in baseline and "133 held-out rows" in baseline
    accuracy = float(re.search(r"accuracy (0\.\d+)", baseline).group(1))
    assert raw["evaluation"]["kpi"] == {"auc": {"min": 0.55},
                                        "binary_accuracy": {"min": pytest.approx(accuracy,
                                                                                 abs=0.0015)}}
    assert accuracy > 0.5
    config = load_config(config_file)          # the written config loads as any other
    assert config.label.positive_class == "Gentoo"
    assert config.train.batch_size == 16 and config.train.epochs == 36
    assert (config.train.learning_rate, config.train.ensemble) == (0.003, 3)
    assert config.train.hidden_units == [64, 32]
    assert _comments(text, "hidden_units") == ["[64, 32], the default for classes"]
    # A few hundred rows: no piecewise-linear bins, and the comment says why.
    assert config.features.numeric_bins == 0
    assert _comments(text, "numeric_bins")[0].startswith("only ")


def test_a_0_1_label_and_a_leak(written):
    _, text, code, stdout = written["zero-one"]
    assert code == 0, stdout
    raw = yaml.safe_load(text)
    assert raw["label"]["positive_class"] == "1" and raw["label"]["name"] == "species_is_1"
    assert "'1' reads as the positive one" in _comments(text, "positive class")[0]
    assert _left_out(text)["tag"].startswith("likely label leak: alone it predicts 'species'")
    assert "tag" not in raw["features"]["categorical"]


def test_a_true_false_label_with_the_positive_class_chosen(written):
    _, text, code, stdout = written["booleans"]
    assert code == 0, stdout
    raw = yaml.safe_load(text)
    assert raw["label"]["positive_class"] == "False"
    assert "chosen with --positive-class" in _comments(text, "positive class")[0]
    assert raw["data"]["missing_values"] == ["?", "NA"]


@pytest.mark.parametrize("name", ["penguins", "zero-one", "booleans", "three-species",
                                  "four-codes", "mass"])
def test_the_written_schema_passes_the_gate_on_its_own_data(written, tables, name):
    config_file = written[name][0]
    config = load_config(config_file)
    schema = load_schema(config.schema_path)
    statistics = pipeline_statistics(tables[name][0], config.data.missing_values)
    assert gate_anomalies(schema, statistics) == []
    assert gate_anomalies(schema, statistics, TRAINING) == []
    serving = pipeline_statistics(tables[name][0], config.data.missing_values,
                                  drop_columns=[config.label.column])
    assert gate_anomalies(schema, serving, SERVING) == []


def test_the_schema_says_what_serving_needs(written):
    config = load_config(written["penguins"][0])
    schema = load_schema(config.schema_path)
    serving = environment_features(schema, SERVING)
    assert "species" not in serving                                # the label
    assert set(config.features.raw_columns) <= set(serving)
    # Left out: a request may carry them (a batch of the same file), and need not.
    assert not any(serving[name].required for name in ("rowid", "year", "comment"))
    # Columns with blank cells are optional, the others required.
    assert not serving["bill_depth_mm"].required and not serving["sex"].required
    assert serving["island"].required
    domains = {domain.name: list(domain.value) for domain in schema.string_domain}
    assert domains["island"] == ["Biscoe", "Dream", "Torgersen"]
    assert "species" in environment_features(schema, TRAINING)


def test_a_multiclass_text_label_and_its_domain(written):
    config_file, text, code, stdout = written["three-species"]
    assert code == 0, stdout
    assert "label:       species -> species_class: multiclass, 3 classes: 'Adelie', " \
        "'Chinstrap', 'Gentoo' (3 to 45 text values are classes, for 450 rows)" in stdout
    assert "KPI:         accuracy >= " in stdout
    assert "learning rate 0.003, 3 networks averaged" in stdout
    assert "bins:        only 300 training rows (fewer than 1000): no bins" in stdout
    raw = yaml.safe_load(text)
    assert raw["label"] == {"name": "species_class", "task": "multiclass", "column": "species",
                            "classes": ["Adelie", "Chinstrap", "Gentoo"]}
    assert _left_out(text)["tag"].startswith("likely label leak: alone it predicts 'species' "
                                             "with accuracy 1.000")
    config = load_config(config_file)
    schema = load_schema(config.schema_path)
    species = next(feature for feature in schema.feature if feature.name == "species")
    domains = {domain.name: list(domain.value) for domain in schema.string_domain}
    assert sorted(domains[species.domain]) == config.label.classes
    assert "species" not in environment_features(schema, SERVING)
    assert environment_features(schema, TRAINING)["species"].required


def test_integer_classes_and_a_regression_target(written):
    config_file, text, code, stdout = written["four-codes"]
    assert code == 0, stdout
    config = load_config(config_file)
    assert config.label.classes == ["1", "2", "3", "4"]
    assert "  classes: ['1', '2', '3', '4']" in text.splitlines()
    schema = load_schema(config.schema_path)
    assert environment_features(schema, TRAINING)["species"].type == "INT"

    config_file, text, code, stdout = written["mass"]
    assert code == 0, stdout
    assert "regression, " in stdout and "KPI:         rmse <= " in stdout
    config = load_config(config_file)
    assert config.label.task == "regression" and config.evaluation.main_metric == "rmse"
    assert set(config.evaluation.kpi) == {"rmse"} and config.evaluation.plot_range
    assert "mass_lb" in _left_out(text)
    # A linear target with noise: a linear model cross-validates as well as boosted trees, so
    # the network is the linear part alone; regression averages five networks.
    assert config.train.hidden_units == [] and config.train.ensemble == 5
    assert _comments(text, "hidden_units")[0].startswith(
        "none, the linear part alone: a linear model is as good as boosted trees (5-fold RMSE on")
    assert "  hidden:      none, the linear part alone" in stdout
    schema = load_schema(config.schema_path)
    assert "mass_kg" not in environment_features(schema, SERVING)
    assert environment_features(schema, TRAINING)["mass_kg"].type == "FLOAT"


def test_tfdvs_own_inference_fails_the_gate_the_fitted_one_passes(tables, written):
    """The bug the fit removes: TFDV's CSV inference wants one value in every example, and
    CsvExampleGen writes a blank cell as an empty value list."""
    data = tables["penguins"][0]
    blanked = data.parent / "penguins-blanked.csv"
    blanked.write_text(data.read_text().replace(",NA,", ",,"))
    raw = tfdv.infer_schema(tfdv.generate_statistics_from_csv(str(blanked)),
                            infer_feature_shape=False)
    lines = gate_anomalies(raw, pipeline_statistics(data, ["NA"]))
    assert any(line.startswith("column 'bill_depth_mm': expected FLOAT; found: Some examples "
                               "have fewer values than expected") for line in lines), lines


def test_schema_command_proposes_what_init_wrote(written, tmp_path, capsys):
    config_file = written["penguins"][0]
    code = main(["schema", "--config", str(config_file), "--home", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.rstrip().endswith("no differences"), out


def test_force_replaces_and_no_force_refuses(tables, tmp_path, capsys):
    data = tables["penguins"][0]
    output = tmp_path / "again"
    args = ["--data", data, "--label", "species", "--output", output]
    assert _init(capsys, *args)[0] == 0
    config = output / "penguins.yaml"
    config.write_text(config.read_text() + "# my edit\n")
    code, _, err = _init(capsys, *args)
    assert code == 2 and f"{config} exists: not overwritten" in err
    assert config.read_text().endswith("# my edit\n")
    code, out, _ = _init(capsys, *args, "--force")
    assert code == 0, out
    assert not config.read_text().endswith("# my edit\n")


def test_cloud_runs_read_the_tokens_as_blank_too(written):
    """The compiled ExampleGen carries the tokens: its step reads them as blank cells itself."""
    from mlpipe.components.csv_example_gen import executor as csv_executor
    from mlpipe.pipeline.pipeline import create_pipeline
    config = load_config(written["penguins"][0])
    pipeline = create_pipeline(config, cloud_runner_settings(config,
                                                             CloudConfig.model_validate(CLOUD)))
    [example_gen] = [node for node in pipeline.components if node.id == "CsvExampleGen"]
    assert csv_executor.missing_values_of(example_gen.exec_properties) == ("NA",)
