"""The ModelCard executor: writes `model_card.json` and `model_card.html` beside the pushed model.

Where: the Pusher's `pushed_destination` when it is a folder holding the pushed SavedModel (TFX's
filesystem Pusher: `<serving>/<version>/`); otherwise (TFX's Vertex Pusher, whose destination is
an endpoint's resource name) the PushedModel artifact's own folder, the copy of the model that
was deployed. Both files are written under temporary names in that folder and renamed into place,
the HTML first and the JSON last, so a reader never sees half a card and a card whose JSON is
there has its page too. Files go through TFX's fileio: gs:// works as a local path does.
"""

import datetime
import json
import logging
import os
import uuid
from typing import Any, Dict, List, Optional

from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from mlpipe.components.model_card import CARD_HTML, CARD_JSON
from mlpipe.components.model_card import card as model_card
from mlpipe.components.model_card import render
from mlpipe.components.model_card.spec import (ATTRIBUTIONS_KEY, BLESSING_KEY, CARD_CONFIG_KEY,
                                               CARD_URI_PROPERTY, EVALUATION_KEY, FAIRNESS_KEY,
                                               MODEL_CARD_KEY, MODEL_KEY, PROBLEM_KEY,
                                               PUSHED_MODEL_KEY, SCHEMA_KEY, STATISTICS_KEY,
                                               WRITTEN_PROPERTY, CardFacts)
from mlpipe.config import ModelCardConfig

SAVED_MODEL_FILE = "saved_model.pb"
# The PushedModel's custom properties, as TFX's Pusher writes them (tfx/components/pusher).
PUSHED_PROPERTY = "pushed"
PUSHED_DESTINATION_PROPERTY = "pushed_destination"
PUSHED_VERSION_PROPERTY = "pushed_version"


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        pushed = artifact_utils.get_single_instance(input_dict[PUSHED_MODEL_KEY])
        output = artifact_utils.get_single_instance(output_dict[MODEL_CARD_KEY])
        if pushed.get_int_custom_property(PUSHED_PROPERTY) != 1:
            logging.info("ModelCard: the Pusher pushed nothing (the model was not blessed); "
                         "no model card written")
            output.set_int_custom_property(WRITTEN_PROPERTY, 0)
            return
        destination = card_destination(pushed)
        blessing = _single(input_dict, BLESSING_KEY)
        statistics = _single(input_dict, STATISTICS_KEY)
        card = model_card.build_card(
            version=version_of(pushed, destination),
            destination=destination,
            evaluation_uri=_single(input_dict, EVALUATION_KEY).uri,
            blessed=(blessing.get_int_custom_property("blessed") == 1) if blessing else None,
            model_uri=_single(input_dict, MODEL_KEY).uri,
            statistics_uri=statistics.uri if statistics else None,
            statistics_splits=(artifact_utils.decode_split_names(statistics.split_names)
                               if statistics else []),
            schema_uri=_uri(input_dict, SCHEMA_KEY),
            attributions_uri=_uri(input_dict, ATTRIBUTIONS_KEY),
            fairness_uri=_uri(input_dict, FAIRNESS_KEY),
            card_config=ModelCardConfig.model_validate_json(exec_properties[CARD_CONFIG_KEY]),
            problem=CardFacts.model_validate_json(exec_properties[PROBLEM_KEY]),
            written_at=datetime.datetime.now(datetime.timezone.utc))
        write_card(destination, card)
        output.set_int_custom_property(WRITTEN_PROPERTY, 1)
        output.set_string_custom_property(CARD_URI_PROPERTY, os.path.join(destination, CARD_JSON))
        logging.info("ModelCard: wrote %s and %s in %s", CARD_JSON, CARD_HTML, destination)


def _single(input_dict, key):
    artifacts = input_dict.get(key) or []
    return artifacts[0] if artifacts else None


def _uri(input_dict, key) -> Optional[str]:
    artifact = _single(input_dict, key)
    return artifact.uri if artifact else None


def card_destination(pushed) -> str:
    """The folder of the pushed model: the Pusher's destination when the SavedModel is there,
    else the PushedModel artifact's folder (Vertex: the destination is an endpoint, not a path)."""
    destination = pushed.get_string_custom_property(PUSHED_DESTINATION_PROPERTY)
    if destination and _is_model_folder(destination):
        return destination
    return pushed.uri


def _is_model_folder(path: str) -> bool:
    try:
        return fileio.exists(os.path.join(path, SAVED_MODEL_FILE))
    except Exception:  # noqa: BLE001 - an endpoint resource name is not a path of any filesystem
        return False


def version_of(pushed, destination: str) -> str:
    """The Pusher's version (TFX's filesystem Pusher: the Unix time of the push), else the name of
    the folder the card goes in."""
    return (pushed.get_string_custom_property(PUSHED_VERSION_PROPERTY)
            or os.path.basename(destination.rstrip("/")))


def write_card(destination: str, card: Dict[str, Any]) -> None:
    """model_card.html then model_card.json into `destination`, each written aside and renamed
    into place (an existing card of the version is replaced whole)."""
    files = [(CARD_HTML, render.render_html(card)), (CARD_JSON, model_card.to_json(card))]
    staged = []
    try:
        for name, text in files:
            partial = os.path.join(destination, f".{name}.{uuid.uuid4().hex}.partial")
            staged.append(partial)
            with fileio.open(partial, "w") as sink:
                sink.write(text)
        for (name, _), partial in zip(files, staged):
            fileio.rename(partial, os.path.join(destination, name), overwrite=True)
    finally:
        for partial in staged:
            if fileio.exists(partial):
                fileio.remove(partial)


def read_card(folder: str) -> Optional[Dict[str, Any]]:
    """The model_card.json in a pushed version's folder, or None when it has none."""
    path = os.path.join(folder, CARD_JSON)
    if not fileio.exists(path):
        return None
    with fileio.open(path, "r") as source:
        return json.loads(source.read())
