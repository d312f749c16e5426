"""Version labels: the --label flags and the config's serving.labels, checked before serving."""

import pytest

from mlpipe.config.serving import ServingConfig
from mlpipe.errors import BadInputError
from mlpipe.serving.labels import merged_labels, parse_label_flags


def test_flags_are_name_equals_version_and_win_over_the_config():
    assert parse_label_flags(["stable=3", "canary=4"]) == {"stable": 3, "canary": 4}
    assert merged_labels({"stable": 2, "old": 1}, ["stable=3"]) == {"stable": 3, "old": 1}


@pytest.mark.parametrize("flag", ["stable", "stable=", "=3", "stable=x", "stable=0", "3=4",
                                  "stable=-1", "sta ble=3"])
def test_a_bad_flag_is_refused_naming_it(flag):
    with pytest.raises(BadInputError, match=f"--label {flag}:"):
        parse_label_flags([flag])


@pytest.mark.parametrize("labels, words", [({"1x": 3}, "label '1x'"),
                                           ({"canary": 0}, "label 'canary': version 0")])
def test_the_config_refuses_bad_labels(labels, words):
    with pytest.raises(ValueError, match=words):
        ServingConfig(labels=labels)
