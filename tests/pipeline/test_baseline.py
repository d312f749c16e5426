"""latest_other_blessed: the baseline is the newest blessed model that is not the candidate."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
from tfx.types import standard_artifacts

from mlpipe.pipeline import baseline


def _model(model_id):
    model = standard_artifacts.Model()
    model.id = model_id
    return model


def _blessing(model_id, blessed=True, blessing_id=None):
    blessing = standard_artifacts.ModelBlessing()
    blessing.id = blessing_id if blessing_id is not None else 100 + model_id
    blessing.set_int_custom_property("blessed", 1 if blessed else 0)
    blessing.set_int_custom_property("current_model_id", model_id)
    return blessing


def _ids(result):
    models, blessings = result
    return [m.id for m in models], [b.get_int_custom_property("current_model_id")
                                    for b in blessings]


def test_newest_blessed_other_than_the_candidate():
    models = [_model(i) for i in (1, 2, 3, 4)]
    blessings = [_blessing(1), _blessing(2), _blessing(4)]
    result = baseline.latest_other_blessed(models, blessings, candidate_ids={4})
    assert _ids(result) == ([2], [2])
    assert result[1][0] is blessings[1]
    assert result[0][0] is models[1]


def test_newest_blessed_when_the_candidate_is_new():
    models = [_model(i) for i in (3, 1, 2)]  # order of the input does not matter
    blessings = [_blessing(2), _blessing(1)]
    assert _ids(baseline.latest_other_blessed(models, blessings, candidate_ids={5})) == ([2], [2])


def test_none_when_only_the_candidate_is_blessed():
    models = [_model(1), _model(2)]
    assert baseline.latest_other_blessed(models, [_blessing(2)], candidate_ids={2}) == ([], [])


def test_none_without_models_or_blessings():
    assert baseline.latest_other_blessed([], [], candidate_ids=set()) == ([], [])
    assert baseline.latest_other_blessed([_model(1)], [], candidate_ids=set()) == ([], [])


def test_unblessed_models_are_ignored():
    models = [_model(i) for i in (1, 2, 3)]
    blessings = [_blessing(1), _blessing(2, blessed=False), _blessing(3, blessed=False)]
    assert _ids(baseline.latest_other_blessed(models, blessings, candidate_ids={4})) == ([1], [1])


def test_all_unblessed_gives_none():
    models = [_model(1), _model(2)]
    blessings = [_blessing(1, blessed=False), _blessing(2, blessed=False)]
    assert baseline.latest_other_blessed(models, blessings, candidate_ids=set()) == ([], [])


def test_blessing_without_its_model_is_ignored():
    models = [_model(1)]
    blessings = [_blessing(1), _blessing(7)]
    assert _ids(baseline.latest_other_blessed(models, blessings, candidate_ids=set())) == ([1], [1])


@pytest.mark.parametrize("candidates, expected",
                         [(set(), 3), ({3}, 2), ({3, 2}, 1), ({1, 2, 3}, None)])
def test_candidates_are_excluded(candidates, expected):
    models = [_model(i) for i in (1, 2, 3)]
    blessings = [_blessing(i) for i in (1, 2, 3)]
    models_out, _ = baseline.latest_other_blessed(models, blessings, candidate_ids=candidates)
    assert [m.id for m in models_out] == ([] if expected is None else [expected])


def test_resolver_strategy_passes_the_candidate_through():
    candidate = _model(3)
    models = [_model(1), _model(2), candidate]
    blessings = [_blessing(1), _blessing(3)]
    strategy = baseline.LatestOtherBlessedModelStrategy()
    resolved = strategy.resolve_artifacts(None, {
        baseline.CANDIDATE_KEY: [candidate], baseline.MODEL_KEY: models,
        baseline.BLESSING_KEY: blessings})
    assert resolved[baseline.CANDIDATE_KEY] == [candidate]
    assert [m.id for m in resolved[baseline.MODEL_KEY]] == [1]
    assert resolved[baseline.BLESSING_KEY] == [blessings[0]]
