"""ModelCard: the config section, the card's reading of TFMA's metrics (with and without
confidence intervals), its rendering (JSON -> HTML and text), the executor's writing (atomic,
nothing when not pushed), the step in the graph and `mlpipe card` (fast); a real TFMA evaluation
read with and without intervals (slow); and, on the shared `trained_home` run (e2e), the card
beside the pushed model, its numbers against TFMA's loaders, the page in headless Chromium, and
`mlpipe card` from the command line."""

import base64
import datetime
import json
import math
import pathlib
import re
import shutil
import subprocess
import types

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
import yaml
from pydantic import ValidationError
from tfx.types import standard_artifacts

from mlpipe.components.model_card import CARD_HTML, CARD_JSON
from mlpipe.components.model_card import card as card_lib
from mlpipe.components.model_card import render
from mlpipe.components.model_card.commands import CardError, load_card, show_card
from mlpipe.components.model_card.spec import CardFacts
from mlpipe.config import LabelConfig, ModelCardConfig, load_config
from mlpipe.core import lineage
from mlpipe.core.run_home import RunHome
from tests.support.configs import write_config
from tests.support.examples import example_of

NAN = float("nan")
# Slice entries as `tfma.load_eval_result(...).slicing_metrics` gives them: with confidence
# intervals a metric is a boundedValue, example_count stays a doubleValue; NaN comes as "NaN".
SLICING_METRICS = [
    ((("payment_type", "Cash"),), {"": {"": {
        "example_count": {"doubleValue": 300.0},
        "auc": {"boundedValue": {"lowerBound": 0.55, "upperBound": 0.71, "value": 0.63}},
        "binary_accuracy": {"boundedValue": {"lowerBound": 0.9, "upperBound": 0.97,
                                             "value": 0.94}}}}}),
    ((), {"": {"": {
        "example_count": {"doubleValue": 700.0},
        "auc": {"boundedValue": {"lowerBound": 0.91, "upperBound": 0.95, "value": 0.93}},
        "binary_accuracy": {"boundedValue": {"lowerBound": 0.86, "upperBound": 0.9,
                                             "value": 0.88}}}}}),
    ((("payment_type", "No Charge"),), {"": {"": {
        "example_count": {"doubleValue": 5.0}, "auc": {"doubleValue": "NaN"},
        "binary_accuracy": {"doubleValue": 1.0}}}}),
    ((("trip_start_hour", 7),), {"": {"": {
        "example_count": {"doubleValue": 395.0}, "auc": {"doubleValue": 0.95},
        "binary_accuracy": {"doubleValue": 0.9}}}}),
]
PROBLEM = CardFacts.model_validate({
    "name": "taxi-big-tipper",
    "label": {"name": "big_tipper", "derive": {"kind": "ratio_above", "numerator": "tips",
                                               "denominator": "fare", "threshold": 0.2}},
    "features": {"numeric": ["fare"], "categorical": ["payment_type"], "bucketized": {"fare": 4}},
    "train": {"epochs": 4, "batch_size": 512, "hidden_units": [64, 32], "learning_rate": 0.01,
              "seed": 0, "distribution": "auto"},
    "evaluation": {"kpi": {"auc": {"min": 0.8}}, "max_regression": {}, "main_metric": "auc",
                   "min_slice_size": 100, "slices": [["payment_type"], ["trip_start_hour"]]},
    "data_path": "/data/taxi.csv",
})
CARD_CONFIG = ModelCardConfig.model_validate({
    "name": None, "overview": "", "owners": [{"name": "ML team", "contact": "ml@example.com"}],
    "intended_use": "Rank trips for <promotions> & offers", "users": ["Marketing analysts"],
    "limitations": ["Chicago only"], "tradeoffs": [],
    "ethical_considerations": [{"name": "Areas as a proxy", "mitigation": "Per-slice review"},
                               {"name": "Unmitigated risk", "mitigation": ""}],
    "references": ["Design doc https://example.com/doc?a=1&b=2"],
})


def _evaluation(slicing=SLICING_METRICS):
    overall = lineage.slice_metrics(slicing)
    return {
        "performance_metrics": card_lib.performance_metrics(slicing),
        "confidence_intervals": {"computed": True, "level": 0.95, "method": "JACKKNIFE"},
        "roc_curve": [(0.0, 0.0), (0.1, 0.6), (0.3, 0.9), (1.0, 1.0)],
        "thresholds": [{"metric": "auc", "kind": "kpi", "value": overall["auc"], "bound": 0.8,
                        "comparison": ">=", "passed": True, "margin": overall["auc"] - 0.8},
                       {"metric": "auc", "kind": "regression", "value": None, "bound": -0.01,
                        "comparison": ">=", "passed": None, "margin": None}],
        "validation_ok": True, "baseline": None,
    }


def _card(**changes):
    pieces = dict(
        version="1795920254", destination="/runs/p/serving/1795920254", blessed=True,
        evaluation=_evaluation(), evaluation_uri="/runs/p/pipeline_root/Evaluator/evaluation/9",
        model_uri="/runs/p/pipeline_root/Trainer/model/7",
        datasets={"train": {"name": "train", "num_examples": 1300, "source": "/data/taxi.csv",
                            "description": "1,300 examples in the train split",
                            "features": [{"name": "fare", "type": "FLOAT", "missing_rate": 0.0,
                                          "summary": "mean 11.2"}]}},
        input_format="Serialized tf.Example protos: fare (FLOAT)",
        attributions={"metric": "auc", "unshuffled": 0.93, "rows": 700, "repeats": 5,
                      "split": "eval", "features": [
                          {"feature": "payment_type", "mean_drop": 0.2, "std_drop": 0.01},
                          {"feature": "fare", "mean_drop": -0.001, "std_drop": 0.002}]},
        fairness=None, card_config=CARD_CONFIG, problem=PROBLEM,
        written_at=datetime.datetime(2026, 11, 29, tzinfo=datetime.timezone.utc))
    pieces.update(changes)
    return json.loads(card_lib.to_json(card_lib.assemble_card(**pieces)))


# ---------------------------------------------------------------------------------------------
# The config section


def test_taxi_config_has_a_model_card_section():
    section = load_config().model_card
    assert section.owners and section.owners[0].name
    assert section.intended_use and section.limitations and section.ethical_considerations
    assert all(item.mitigation for item in section.ethical_considerations)


def test_a_config_without_the_section_gets_defaults(tmp_path):
    path = write_config(tmp_path / "no-card.yaml", edit=lambda raw: raw.pop("model_card", None))
    assert "model_card" not in yaml.safe_load(path.read_text())
    section = load_config(path).model_card
    assert section == ModelCardConfig()
    assert section.owners == [] and section.name is None


@pytest.mark.parametrize("section, field", [
    ({"owner": [{"name": "x"}]}, "owner"),                        # misspelt key
    ({"owners": [{"contact": "x@example.com"}]}, "name"),          # owner without a name
    ({"ethical_considerations": [{"mitigation": "m"}]}, "name"),   # risk without a name
    ({"limitations": "one string"}, "limitations"),               # not a list
])
def test_a_bad_section_is_a_config_error_naming_the_field(tmp_path, section, field):
    from mlpipe.config import ConfigError

    def edit(raw):
        raw["model_card"] = section
    path = write_config(tmp_path / "bad.yaml", edit=edit)
    with pytest.raises(ConfigError, match=f"model_card.*{field}"):
        load_config(path)


def test_section_validates_on_its_own():
    with pytest.raises(ValidationError):
        ModelCardConfig(name="")


# ---------------------------------------------------------------------------------------------
# Reading TFMA's metrics


def test_metric_values_reads_double_and_bounded_values():
    overall = dict(SLICING_METRICS)[()]
    assert lineage.metric_values(overall) == {"example_count": 700.0, "auc": 0.93,
                                              "binary_accuracy": 0.88}
    assert lineage.metric_bounds(overall) == {"auc": (0.91, 0.95), "binary_accuracy": (0.86, 0.9)}
    no_intervals = dict(SLICING_METRICS)[(("trip_start_hour", 7),)]
    assert lineage.metric_values(no_intervals)["auc"] == 0.95
    assert lineage.metric_bounds(no_intervals) == {}
    assert math.isnan(lineage.metric_values(dict(SLICING_METRICS)[
        (("payment_type", "No Charge"),)])["auc"])


def test_performance_metrics_overall_first_with_intervals_and_slice_keys():
    entries = card_lib.performance_metrics(SLICING_METRICS)
    assert [e["slice"] for e in entries[:3]] == ["Overall"] * 3
    auc = next(e for e in entries if e["slice"] == "Overall" and e["type"] == "auc")
    assert auc == {"type": "auc", "value": 0.93, "slice": "Overall", "slice_key": [],
                   "confidence_interval": {"lower_bound": 0.91, "upper_bound": 0.95}}
    hour = next(e for e in entries if e["slice"] == "trip_start_hour = 7" and e["type"] == "auc")
    assert hour["slice_key"] == [["trip_start_hour", 7]] and "confidence_interval" not in hour
    count = next(e for e in entries if e["slice"] == "Overall" and e["type"] == "example_count")
    assert "confidence_interval" not in count


def test_roc_curve_is_thinned_and_finite():
    matrices = [{"falsePositiveRate": i / 1000, "recall": min(1, 2 * i / 1000)}
                for i in range(1001)] + [{"falsePositiveRate": "NaN", "recall": 1}]
    points = card_lib.roc_curve({"": {"": {"confusionMatrixAtThresholds": {
        "matrices": matrices}}}})
    assert len(points) <= card_lib.ROC_POINTS
    assert all(math.isfinite(a) and math.isfinite(b) for a, b in points)


def test_confidence_intervals_are_a_config_switch_off_by_default():
    from mlpipe.pipeline.evaluation import build_eval_config
    evaluation = load_config().evaluation
    assert evaluation.confidence_intervals is False
    config = build_eval_config(evaluation, load_config().label)
    assert config.options.compute_confidence_intervals.value is False
    switched = evaluation.model_copy(update={"confidence_intervals": True})
    assert (build_eval_config(switched, load_config().label)
            .options.compute_confidence_intervals.value)


# ---------------------------------------------------------------------------------------------
# The card


def test_card_follows_the_model_card_toolkit_field_names():
    card = _card()
    assert set(card) >= {"model_details", "model_parameters", "quantitative_analysis",
                         "considerations", "thresholds", "fairness", "feature_attributions"}
    details = card["model_details"]
    assert details["name"] == "taxi-big-tipper"
    assert details["version"] == {"name": "1795920254", "date": "2026-11-29T02:44:14Z"}
    assert details["owners"] == [{"name": "ML team", "contact": "ml@example.com"}]
    assert details["references"] == [{"reference": CARD_CONFIG.references[0]}]
    assert set(card["model_parameters"]) >= {"model_architecture", "data", "input_format",
                                             "output_format"}
    assert "[64, 32]" in card["model_parameters"]["model_architecture"]
    assert "tips / fare > 0.2" in card["model_parameters"]["output_format"]
    considerations = card["considerations"]
    assert considerations["use_cases"] == [{"description": CARD_CONFIG.intended_use}]
    assert considerations["users"] == [{"description": "Marketing analysts"}]
    assert considerations["ethical_considerations"][0] == {
        "name": "Areas as a proxy", "mitigation_strategy": "Per-slice review"}
    # The slice under min_slice_size (No Charge, 5 examples) is added to the limitations.
    assert considerations["limitations"][0] == {"description": "Chicago only"}
    assert considerations["limitations"][1]["description"] == (
        "1 evaluated slice(s) have fewer than 100 examples, so their metrics are not reliable "
        "(payment_type: No Charge).")
    # NaN (the AUC of a one-class slice) is null in strict JSON.
    no_charge = next(e for e in card["quantitative_analysis"]["performance_metrics"]
                     if e["slice"] == "payment_type = No Charge" and e["type"] == "auc")
    assert no_charge["value"] is None


def test_small_slices_are_grouped_by_feature():
    metrics = [{"type": "example_count", "slice": f"hour = {h}", "slice_key": [["hour", h]],
                "value": 5.0} for h in (10, 2)]
    metrics += [{"type": "example_count", "slice": "pay = Cash", "slice_key": [["pay", "Cash"]],
                 "value": 500.0},
                {"type": "example_count", "slice": "pay = Dispute",
                 "slice_key": [["pay", "Dispute"]], "value": 1.0}]
    [note] = card_lib.considerations(ModelCardConfig(), metrics, 100)["limitations"]
    assert note["description"].endswith("(hour: all 2 values; pay: Dispute).")
    assert card_lib.considerations(ModelCardConfig(), metrics, 1)["limitations"] == []


def test_input_format_lists_the_features_the_model_reads_typed_by_the_schema(tmp_path):
    config = load_config()
    shutil.copy(config.schema_path, tmp_path / "schema.pbtxt")
    problem = PROBLEM.model_copy(update={"features": config.features})
    text = card_lib.input_format(str(tmp_path), problem)
    assert "reads 10 raw features: company (BYTES, may be missing), " in text
    assert "fare (FLOAT)" in text and "payment_type (BYTES)" in text
    assert "other columns of the schema's SERVING environment are accepted and ignored" in text
    assert "to the 'serving_features' signature, one tensor per feature it reads" in text
    assert "tips" not in text


@pytest.mark.parametrize("label, text", [
    ({"name": "y", "column": "churned"}, "y = column 'churned' (0/1)"),
    ({"name": "y", "column": "status", "positive_class": "left"},
     "y = 1 when column 'status' is 'left'"),
    (PROBLEM.label.model_dump(), "big_tipper = 1 when tips / fare > 0.2"),
])
def test_label_definition(label, text):
    assert card_lib.label_definition(LabelConfig.model_validate(label)) == text


def test_card_name_and_overview_from_the_section_win():
    card = _card(card_config=CARD_CONFIG.model_copy(
        update={"name": "Big tipper v2", "overview": "Ranks trips"}))
    assert card["model_details"]["name"] == "Big tipper v2"
    assert card["model_details"]["overview"] == "Ranks trips"


def test_graphics_are_base64_svg_files():
    collection = _card()["quantitative_analysis"]["graphics"]["collection"]
    assert [g["name"] for g in collection] == ["ROC curve (overall)", "auc by slice",
                                               "Feature attributions"]
    for graphic in collection:
        svg = base64.b64decode(graphic["image"]).decode()
        assert svg.startswith("<svg xmlns='http://www.w3.org/2000/svg' ") and "<script" not in svg


def test_version_date_is_the_push_time_or_the_writing_time():
    written = datetime.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=datetime.timezone.utc)
    assert card_lib.version_date("0", written) == "1970-01-01T00:00:00Z"
    assert card_lib.version_date("v-endpoint", written) == "2026-01-02T03:04:05Z"


# ---------------------------------------------------------------------------------------------
# Rendering


SECTIONS = ["model-details", "considerations", "use-cases", "users", "limitations", "ethical",
            "model-parameters", "datasets", "data-train", "quantitative-analysis", "overall",
            "thresholds", "roc", "slice-chart", "slices", "fairness", "feature-attributions",
            "attributions-chart", "attributions", "references", "reference-list"]


def test_html_has_every_section_and_nothing_that_loads_or_runs():
    page = render.render_html(_card())
    for section in SECTIONS:
        assert f"id='{section}'" in page, section
    lowered = page.lower()
    for forbidden in ("<script", "javascript:", " src=", "href=", "url(", "@import", "<link",
                      "<img", "<iframe", "<object", " on"):
        if forbidden == " on":
            assert not re.search(r"<[^>]+\son[a-z]+\s*=", lowered)
        else:
            assert forbidden not in lowered, forbidden
    # Texts from the config are escaped, references shown as text, never links.
    assert "Rank trips for &lt;promotions&gt; &amp; offers" in page
    assert "Design doc https://example.com/doc?a=1&amp;b=2" in page
    assert "no mitigation stated" in page


def test_html_shows_the_numbers_with_their_intervals():
    page = render.render_html(_card())
    assert "0.9300" in page and "[0.9100, 0.9500]" in page       # overall AUC
    assert "[0.5500, 0.7100]" in page                             # Cash AUC interval
    assert "too small to trust" in page                           # No Charge, 5 examples
    assert "BLESSED" in page and "1795920254" in page
    assert "class='interval'" in page                             # whiskers on the slice chart
    assert "+0.1300" in page                                      # KPI margin 0.93 - 0.8


def test_html_without_optional_sections_says_so():
    page = render.render_html(_card(attributions=None, fairness=None,
                                    card_config=ModelCardConfig()))
    assert "id='attributions-none'" in page and "id='fairness-none'" in page
    assert page.count(render.NOT_STATED) >= 3


def test_fairness_checks_are_rendered():
    fairness = {"passed": False, "judged_slices": 1, "min_slice_size": 100,
                "failures": ["payment_type=Cash: fpr 0.4100 > max 0.3"],
                "rows": [{"feature": "payment_type", "slice": "Cash", "example_count": 300,
                          "metric": "fpr", "value": 0.41, "overall": 0.2, "gap": 0.21,
                          "bound": "max 0.3", "margin": -0.11, "judged": True, "passed": False},
                         {"feature": "payment_type", "slice": "No Charge", "example_count": 5,
                          "metric": "fpr", "value": None, "judged": False,
                          "reason": "5 examples < 100"}]}
    card = _card(fairness=fairness)
    page = render.render_html(card)
    assert "id='fairness-table'" in page and "FAILED" in page and "-0.1100" in page
    assert "not judged: 5 examples &lt; 100" in page
    text = render.render_text(card)
    assert "Fairness: FAILED" in text and "refused: payment_type=Cash" in text


def test_text_card_reads_like_a_card():
    text = render.render_text(_card())
    for expected in ["Model card: taxi-big-tipper, version 1795920254", "Decision:  BLESSED",
                     "Owners:    ML team <ml@example.com>", "Intended use: Rank trips",
                     "Limitations:", "  - Chicago only", "Ethical considerations:",
                     "mitigation: Per-slice review", "auc", "0.9300  [0.9100, 0.9500]",
                     "PASS auc", "(margin +0.1300)", "payment_type = Cash",
                     "(too small to trust)", "Feature attributions", "References:"]:
        assert expected in text, expected
    lines = text.splitlines()
    slices = lines[lines.index("Slices, worst first by auc (higher is better):") + 1:]
    assert slices[0].lstrip().startswith("payment_type = Cash")  # worst first


# ---------------------------------------------------------------------------------------------
# The executor


def _pushed(tmp_path, pushed: int, version="1795920254", with_model=True):
    artifact = standard_artifacts.PushedModel()
    artifact.uri = str(tmp_path / "pipeline_root" / "Pusher" / "pushed_model" / "5")
    pathlib.Path(artifact.uri).mkdir(parents=True)
    artifact.set_int_custom_property("pushed", pushed)
    if pushed:
        destination = tmp_path / "serving" / version
        destination.mkdir(parents=True)
        if with_model:
            (destination / "saved_model.pb").write_bytes(b"model")
        artifact.set_string_custom_property("pushed_destination", str(destination))
        artifact.set_string_custom_property("pushed_version", version)
    return artifact


def test_executor_writes_nothing_when_the_pusher_did_not_push(tmp_path, caplog):
    from mlpipe.components.model_card.spec import ModelCardArtifact
    from mlpipe.components.model_card.executor import Executor
    pushed, output = _pushed(tmp_path, 0), ModelCardArtifact()
    output.uri = str(tmp_path / "card")
    caplog.set_level("INFO")
    Executor().Do({"pushed_model": [pushed]}, {"model_card": [output]},
                  {"card_config": "{}", "problem": "{}"})
    assert output.get_int_custom_property("written") == 0
    assert not list(tmp_path.rglob("model_card*"))
    assert "no model card written" in caplog.text


def test_card_goes_beside_the_pushed_model_or_into_the_pushed_artifact(tmp_path):
    from mlpipe.components.model_card.executor import card_destination, version_of
    pushed = _pushed(tmp_path / "a", 1)
    assert card_destination(pushed) == str(tmp_path / "a" / "serving" / "1795920254")
    assert version_of(pushed, card_destination(pushed)) == "1795920254"
    # TFX's Vertex Pusher: the destination is an endpoint resource name, not a folder.
    vertex = _pushed(tmp_path / "b", 1, with_model=False)
    vertex.set_string_custom_property("pushed_destination",
                                      "projects/1/locations/us-central1/endpoints/2")
    vertex.set_string_custom_property("pushed_version", "")
    assert card_destination(vertex) == vertex.uri
    assert version_of(vertex, vertex.uri) == "5"


def test_write_card_replaces_whole_files_and_leaves_no_partial(tmp_path, monkeypatch):
    from mlpipe.components.model_card import executor
    card = _card()
    executor.write_card(str(tmp_path), card)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CARD_HTML, CARD_JSON]
    assert json.loads((tmp_path / CARD_JSON).read_text()) == card
    assert (tmp_path / CARD_HTML).read_text() == render.render_html(card)
    assert executor.read_card(str(tmp_path)) == card

    # A failure while writing leaves the previous card whole and no partial file.
    before = (tmp_path / CARD_JSON).read_text()

    def broken(value):
        raise RuntimeError("disk full")
    monkeypatch.setattr(executor.model_card, "to_json", broken)
    with pytest.raises(RuntimeError):
        executor.write_card(str(tmp_path), _card(version="2"))
    assert (tmp_path / CARD_JSON).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [CARD_HTML, CARD_JSON]


# ---------------------------------------------------------------------------------------------
# The step in the graph


@pytest.fixture(scope="module")
def graphs(taxi_config):
    from mlpipe.pipeline.pipeline import create_pipeline
    from tests.pipeline.test_graph import CLOUD, LOCAL
    return {"local": create_pipeline(taxi_config, LOCAL),
            "cloud": create_pipeline(taxi_config, CLOUD)}


@pytest.mark.parametrize("which", ["local", "cloud"])
def test_model_card_runs_after_the_pusher_on_the_runs_artifacts(graphs, which):
    nodes = {node.id: node for node in graphs[which].components}
    card = nodes["ModelCard"]
    assert {node.id for node in card.upstream_nodes} == {
        "Pusher", "Trainer", "Evaluator", "StatisticsGen", "ImportSchemaGen",
        "FeatureAttributions"}
    assert not card.downstream_nodes
    inputs = card.inputs
    assert inputs["pushed_model"].producer_component_id == "Pusher"
    assert inputs["evaluation"].producer_component_id == "Evaluator"
    assert inputs["blessing"].producer_component_id == "Evaluator"
    assert inputs["attributions"].producer_component_id == "FeatureAttributions"
    assert json.loads(card.exec_properties["card_config"])["owners"]
    problem = json.loads(card.exec_properties["problem"])
    assert problem["name"] == "taxi-big-tipper" and problem["train"]["hidden_units"] == [64, 32]
    assert problem["evaluation"]["kpi"] == {"auc": {"min": 0.92}, "binary_accuracy": {"min": 0.85}}


def test_model_card_reads_the_fairness_checks_when_the_graph_has_a_gate(taxi_config):
    from mlpipe.pipeline.pipeline import create_pipeline
    from tests.pipeline.test_graph import LOCAL
    evaluation = taxi_config.evaluation.model_validate({
        **taxi_config.evaluation.model_dump(),
        "fairness": {"features": ["payment_type"], "metrics": {"fpr": {"max_gap": 0.2}}}})
    pipeline = create_pipeline(taxi_config.model_copy(update={"evaluation": evaluation}), LOCAL)
    card = {node.id: node for node in pipeline.components}["ModelCard"]
    assert card.inputs["fairness"].producer_component_id == "FairnessGate"
    assert card.inputs["fairness"].output_key == "fairness"


# ---------------------------------------------------------------------------------------------
# `mlpipe card` (the handler; the real command runs in the e2e test below)


def _home_with_versions(tmp_path) -> RunHome:
    home = RunHome(tmp_path / "taxi-big-tipper")
    for version in ("100", "200"):
        folder = home.serving_dir / version
        folder.mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"model")
    (home.serving_dir / "200" / CARD_JSON).write_text(json.dumps(_card(version="200")))
    return home


def _invocation(home, version, **flags):
    args = types.SimpleNamespace(version=version, html=flags.get("html"), json=flags.get("json"))
    return types.SimpleNamespace(config=None, home=home, args=args)


def test_card_command_prints_and_writes_the_card(tmp_path, capsys):
    home = _home_with_versions(tmp_path)
    page, data = tmp_path / "out" / "card.html", tmp_path / "out" / "card.json"
    assert show_card(_invocation(home, "200", html=str(page), json=str(data))) == 0
    out = capsys.readouterr().out
    assert "Model card: taxi-big-tipper, version 200" in out and "0.9300" in out
    assert page.read_text() == render.render_html(_card(version="200"))
    assert json.loads(data.read_text()) == _card(version="200")


@pytest.mark.parametrize("version, message", [
    ("999", "no pushed model version '999'.*versions with a card: 200; without one: 100"),
    ("100", "version 100 .* has no model card.*versions with a card: 200"),
    ("../200", "no pushed model version"),
])
def test_card_command_names_the_versions_there(tmp_path, version, message):
    home = _home_with_versions(tmp_path)
    with pytest.raises(CardError, match=message) as raised:
        load_card(home, version)
    assert raised.value.exit_code == 2


def test_card_command_on_an_empty_home(tmp_path):
    with pytest.raises(CardError, match="no version has been pushed"):
        load_card(RunHome(tmp_path / "empty"), "1")


def test_card_command_on_a_broken_card(tmp_path):
    home = _home_with_versions(tmp_path)
    (home.serving_dir / "200" / CARD_JSON).write_text("{not json")
    with pytest.raises(CardError, match="cannot be read as a model card"):
        load_card(home, "200")


# ---------------------------------------------------------------------------------------------
# A real TFMA evaluation (no model: labels and predictions in the examples), with and without
# confidence intervals: the same values, bounds only with intervals.


@pytest.mark.slow
def test_real_tfma_output_with_and_without_intervals(tmp_path):
    import numpy as np
    import tensorflow as tf
    import tensorflow_model_analysis as tfma
    rng = np.random.default_rng(0)
    data = tmp_path / "data.tfrecord"
    with tf.io.TFRecordWriter(str(data)) as writer:
        for i in range(600):
            label = int(rng.random() < 0.3)
            prediction = float(np.clip(0.3 * label + 0.7 * rng.random(), 0, 1))
            writer.write(example_of({"label": label, "prediction": prediction,
                                     "group": "abc"[i % 3]}, floats=["label"]).SerializeToString())
    read = {}
    for intervals in (True, False):
        config = tfma.EvalConfig(
            model_specs=[tfma.ModelSpec(label_key="label", prediction_key="prediction")],
            slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["group"])],
            metrics_specs=[tfma.MetricsSpec(metrics=[
                tfma.MetricConfig(class_name=name) for name in
                ("ExampleCount", "AUC", "BinaryAccuracy", "ConfusionMatrixPlot")])])
        config.options.compute_confidence_intervals.value = intervals
        output = tmp_path / f"evaluation-{intervals}"
        tfma.run_model_analysis(eval_config=config, data_location=str(data),
                                output_path=str(output), file_format="tfrecords")
        read[intervals] = card_lib.read_evaluation(str(output))
        raw = tfma.load_eval_result(str(output)).slicing_metrics
        entries = {(e["slice"], e["type"]): e for e in read[intervals]["performance_metrics"]}
        for key, metrics in raw:
            for name, value in metrics[""][""].items():
                expected = value.get("doubleValue", value.get("boundedValue", {}).get("value"))
                assert entries[(card_lib.slice_name(key), name)]["value"] == float(expected)
                if "boundedValue" in value:
                    assert entries[(card_lib.slice_name(key), name)]["confidence_interval"] == {
                        "lower_bound": value["boundedValue"]["lowerBound"],
                        "upper_bound": value["boundedValue"]["upperBound"]}
        assert read[intervals]["confidence_intervals"]["computed"] is intervals
        assert read[intervals]["roc_curve"]
    with_ci = {(e["slice"], e["type"]): e for e in read[True]["performance_metrics"]}
    without = {(e["slice"], e["type"]): e for e in read[False]["performance_metrics"]}
    assert with_ci.keys() == without.keys()
    for key, entry in with_ci.items():
        assert entry["value"] == pytest.approx(without[key]["value"], abs=1e-12), key
        assert "confidence_interval" not in without[key]
        if key[1] != "example_count":
            interval = entry["confidence_interval"]
            assert interval["lower_bound"] < interval["upper_bound"], key
    assert read[True]["confidence_intervals"]["method"] == "JACKKNIFE"


# ---------------------------------------------------------------------------------------------
# e2e: the card of the shared trained run (tests/support/trained_home.py)

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND"]


def _version_folder(trained_home) -> pathlib.Path:
    return trained_home["home"].serving_dir / pathlib.Path(trained_home["pushed"]).name


def _evaluation_uri(trained_home) -> str:
    version = pathlib.Path(trained_home["pushed"]).name
    home = trained_home["home"]
    with lineage.open_store(home.metadata_path) as store:
        for run in reversed(lineage.pipeline_runs(store)):
            nodes = lineage.executions_by_node(store, run.id)
            pushed = lineage.outputs_of(store, nodes["Pusher"].id).get("pushed_model") \
                if "Pusher" in nodes else None
            if pushed and pushed.custom_properties["pushed_version"].string_value == version:
                return lineage.outputs_of(store, nodes["Evaluator"].id)["evaluation"].uri
    raise AssertionError(f"no run pushed version {version}")


@pytest.mark.e2e
def test_e2e_card_is_beside_the_pushed_model(trained_home):
    folder = _version_folder(trained_home)
    assert (folder / "saved_model.pb").is_file()
    assert (folder / CARD_JSON).is_file() and (folder / CARD_HTML).is_file()
    assert not list(folder.glob(".*partial"))
    card = json.loads((folder / CARD_JSON).read_text())
    assert card["model_details"]["version"]["name"] == folder.name
    assert card["model_details"]["path"] == str(folder)
    assert card["model_details"]["owners"][0]["name"] == "ML platform team"
    assert card["evaluation"]["blessed"] is True
    data = card["model_parameters"]["data"]
    assert set(data) == {"train", "eval"}
    assert data["train"]["num_examples"] + data["eval"]["num_examples"] == 2000
    assert {f["name"] for f in data["train"]["features"]} >= {"fare", "payment_type", "tips"}
    assert card["feature_attributions"]["features"]
    assert "payment_type (BYTES" in card["model_parameters"]["input_format"]


@pytest.mark.e2e
def test_e2e_card_numbers_equal_what_tfma_reads(trained_home):
    import tensorflow_model_analysis as tfma
    card = json.loads((_version_folder(trained_home) / CARD_JSON).read_text())
    uri = _evaluation_uri(trained_home)
    assert card["evaluation"]["uri"] == uri
    result = tfma.load_eval_result(uri, model_name=lineage.candidate_model_name(uri))
    entries = {(e["slice"], e["type"]): e
               for e in card["quantitative_analysis"]["performance_metrics"]}
    compared = bounded = 0
    for key, metrics in result.slicing_metrics:
        values, bounds = lineage.metric_values(metrics), lineage.metric_bounds(metrics)
        for name, value in values.items():
            entry = entries[(card_lib.slice_name(key), name)]
            if math.isnan(value):
                assert entry["value"] is None
            else:
                assert entry["value"] == value, (key, name)
            compared += 1
            if name in bounds:
                interval = entry["confidence_interval"]
                for bound, expected in zip(("lower_bound", "upper_bound"), bounds[name]):
                    assert interval[bound] == (None if math.isnan(expected) else expected)
                bounded += 1
            else:
                assert "confidence_interval" not in entry
    assert compared == len(entries)
    # Intervals only when the config asks for them (off in the shared run: see the README).
    assert (bounded > 0) == card["quantitative_analysis"]["confidence_intervals"]["computed"]
    overall = lineage.slice_metrics(result.slicing_metrics)
    kpi = next(c for c in card["thresholds"] if c["metric"] == "auc" and c["kind"] == "kpi")
    assert kpi["bound"] == 0.8 and kpi["value"] == overall["auc"]
    assert kpi["margin"] == pytest.approx(overall["auc"] - 0.8) and kpi["passed"] is True
    # What the report reads (the same TFMA output) agrees with the card.
    assert lineage.overall_metrics(uri)["auc"] == entries[("Overall", "auc")]["value"]


@pytest.mark.e2e
def test_e2e_card_page_opens_offline_in_chromium(trained_home, tmp_path):
    from PIL import Image
    page = _version_folder(trained_home) / CARD_HTML
    text = page.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium is not installed (`make browser` installs Debian's chromium)")
    card = json.loads((_version_folder(trained_home) / CARD_JSON).read_text())
    auc = render.number(render.overall_metrics(card)["auc"]["value"])
    profile = tmp_path / "profile"
    url = page.resolve().as_uri()
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                          "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for expected in [auc, "taxi-big-tipper", "ML platform team", "BLESSED", "payment_type",
                     'id="roc"', 'id="slice-chart"', 'class="series"', 'id="attributions-chart"',
                     'id="ethical"', 'id="data-train"']:
        assert expected in dom.stdout, expected
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                    f"--screenshot={shot}", "--window-size=1200,2400", url],
                   capture_output=True, text=True, timeout=120, check=True)
    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "the screenshot is blank"


@pytest.mark.e2e
def test_e2e_card_command_prints_name_and_auc(trained_home, tmp_path):
    from tests.support.cli import run_mlpipe
    config_file = write_config(tmp_path / "config.yaml", trained_home["config"])
    version = _version_folder(trained_home).name
    card = json.loads((_version_folder(trained_home) / CARD_JSON).read_text())
    auc = render.number(render.overall_metrics(card)["auc"]["value"])
    page = tmp_path / "card.html"
    completed = run_mlpipe("card", version, "--config", config_file, "--home",
                           trained_home["base"], "--html", page, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert f"Model card: taxi-big-tipper, version {version}" in completed.stdout
    assert re.search(rf"^  auc\s+{re.escape(auc)}($|  \[)", completed.stdout, re.M)
    # The page the step wrote, rendered again from its JSON (by this version of the renderer).
    assert page.read_text() == render.render_html(card)
    missing = run_mlpipe("card", "123", "--config", config_file, "--home", trained_home["base"],
                         timeout=120)
    assert missing.returncode == 2
    assert "no pushed model version '123'" in missing.stderr and version in missing.stderr
