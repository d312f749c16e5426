"""bench_evaluator's variants take away exactly the part they are named after, so the
differences it prints are what the slicing specs and the other metrics cost."""

from benchmarks.bench_evaluator import VARIANTS, _variant
from mlpipe.config import load_config
from tests.support import problems


def _slices(eval_config):
    return [list(spec.feature_keys) for spec in eval_config.slicing_specs]


def _metric_classes(eval_config):
    return [[metric.class_name for metric in spec.metrics] for spec in eval_config.metrics_specs]


def test_the_variants_take_away_the_slices_and_the_metrics_beside_the_main_one(taxi_config):
    configured, overall, main, minimum = (_variant(taxi_config, name) for name in VARIANTS)
    assert _slices(configured) == [[], ["payment_type"], ["trip_start_hour"]]
    assert "BinaryAccuracy" in _metric_classes(configured)[0]
    assert "CalibrationPlot" in _metric_classes(configured)[0]

    assert _slices(overall) == [[]]
    assert _metric_classes(overall) == _metric_classes(configured)
    assert _slices(main) == _slices(configured)
    assert _metric_classes(main) == [["ExampleCount", "AUC"]]
    assert _slices(minimum) == [[]] and _metric_classes(minimum) == [["ExampleCount", "AUC"]]
    # The model spec and the options are the pipeline's in every variant.
    for variant in (overall, main, minimum):
        assert variant.model_specs == configured.model_specs
        assert variant.options == configured.options


def test_a_multiclass_main_metric_keeps_its_class_and_drops_the_per_class_metrics(tmp_path):
    config = load_config(problems.write_problem(tmp_path, "multiclass"))
    configured = _variant(config, "configured")
    assert len(configured.metrics_specs) == 2  # the per-class precision and recall
    assert _metric_classes(_variant(config, "count + main metric")) == [
        ["ExampleCount", "SparseCategoricalAccuracy"]]
