"""Pushed model versions: load one, call its serving signatures, switch to a newer one.

A version answers serialized tf.Examples (`predict`, the `serving_default` signature) and, when
it was exported with one (core.contract.FEATURES_SIGNATURE, models trained since it exists),
checked feature values (`predict_features`): no tf.Example encoding before the call and no
parsing in it.

`ModelManager` holds the version being served. A poller thread loads a newer pushed version off
the request path, warms it up, then swaps one reference: requests already running keep the model
object they started with, so none is dropped; the old version is freed once the last one ends.
Versions named by a label (`labels.py`) are loaded at start and held beside it, whatever the
newest is, so a request may ask for any of them by number or by label.
"""

import dataclasses
import gc
import logging
import pathlib
import threading
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from mlpipe.core.contract import FEATURES_SIGNATURE
from mlpipe.core.contract import SERVING_SIGNATURE as SIGNATURE
from mlpipe.core.run_home import RunHome
from mlpipe.errors import BadInputError
from mlpipe.serving.labels import UnknownServable, servable_text
from mlpipe.serving.outputs import ModelTask

INPUT_NAME = "examples"
LOAD_ATTEMPTS = 3

log = logging.getLogger(__name__)


class NoModelError(BadInputError):
    """No pushed version (or not the one asked for) is available."""


def numbered_versions(home: RunHome) -> Dict[int, pathlib.Path]:
    """Complete pushed versions with a numeric name (the Pusher's), number -> folder."""
    return {int(path.name): path for path in home.pushed_versions() if path.name.isdigit()}


def resolve_version(home: RunHome, version: Optional[int] = None) -> (int, pathlib.Path):
    versions = numbered_versions(home)
    if not versions:
        raise NoModelError(f"no pushed model under {home.serving_dir}: run `mlpipe run` first")
    if version is None:
        version = max(versions)
    if version not in versions:
        raise NoModelError(f"version {version} is not pushed under {home.serving_dir} "
                           f"(pushed: {', '.join(str(v) for v in sorted(versions))})")
    return version, versions[version]


@dataclasses.dataclass(frozen=True)
class FeatureColumns:
    """Checked values of the features one request (or one batch of requests) gives: feature ->
    one value per row (numpy float32, int64, or an object array of bytes), in sorted order."""
    columns: Dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def batch_key(self) -> tuple:
        """Requests giving the same features can share a model call (batching.py)."""
        return tuple(self.columns)

    @classmethod
    def joined(cls, parts: List["FeatureColumns"]) -> "FeatureColumns":
        return cls({name: np.concatenate([part.columns[name] for part in parts])
                    for name in parts[0].columns})


@dataclasses.dataclass
class LoadedModel:
    version: int
    path: pathlib.Path
    loaded: object          # keeps the SavedModel's variables alive
    function: Callable
    output_names: List[str]
    task: ModelTask = ModelTask()   # read from the warm-up call's outputs
    features_function: Optional[Callable] = None
    # The features signature's inputs: feature -> the numpy dtype it takes (object: bytes).
    feature_dtypes: Dict[str, np.dtype] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, version: int, path: pathlib.Path, label=None) -> "LoadedModel":
        """Loads and warms up a version; with `label` (the config's LabelConfig), a model
        whose outputs are not those of `label.task` (or, multiclass, of `label.classes` in
        their order) is refused with a TaskMismatchError."""
        import tensorflow as tf
        loaded = tf.saved_model.load(str(path))
        if SIGNATURE not in loaded.signatures:
            raise NoModelError(f"{path} has no '{SIGNATURE}' signature")
        function = loaded.signatures[SIGNATURE]
        output_names = sorted(function.structured_outputs)
        model = cls(version, pathlib.Path(path), loaded, function, output_names)
        # Warm-up: traces nothing later, fails here if the model is broken; its outputs say
        # the task (and the class names).
        model.task = ModelTask.of_outputs(model.predict([b""]))
        model.task.check(label, f"version {version} ({path})")
        if FEATURES_SIGNATURE in loaded.signatures:
            model.features_function = loaded.signatures[FEATURES_SIGNATURE]
            model.feature_dtypes = {
                name: np.dtype(object) if spec.dtype == tf.string else spec.dtype.as_numpy_dtype
                for name, spec in model.features_function.structured_input_signature[1].items()}
            model.predict_features(FeatureColumns({}), rows=1)   # every feature missing
        return model

    def predict(self, serialized: List[bytes]) -> Dict[str, np.ndarray]:
        import tensorflow as tf
        outputs = self.function(**{INPUT_NAME: tf.constant(serialized, dtype=tf.string)})
        return {name: outputs[name].numpy() for name in self.output_names}

    def takes_features(self, given: Dict[str, np.ndarray]) -> bool:
        """Whether `predict_features` can answer these checked columns: the version has the
        features signature, and each feature it reads comes in the type it takes (a version
        trained on an older schema may not; the tf.Example path then answers as it did)."""
        return self.features_function is not None and all(
            given[name].dtype == dtype
            for name, dtype in self.feature_dtypes.items() if name in given)

    def predict_features(self, given: FeatureColumns,
                         rows: Optional[int] = None) -> Dict[str, np.ndarray]:
        """The outputs for checked feature values; a feature the version reads and the
        columns lack is missing in every row. Features it does not read are not fed."""
        import tensorflow as tf
        rows = len(given) if rows is None else rows
        feed = {}
        for name, dtype in self.feature_dtypes.items():
            values = given.columns.get(name)
            feed[name] = tf.constant(np.empty((rows, 0), dtype) if values is None
                                     else values.reshape(rows, 1))
        outputs = self.features_function(**feed)
        return {name: outputs[name].numpy() for name in self.output_names}

    def metadata(self, model_name: str) -> dict:
        """GET /v1/models/NAME/metadata, as TF Serving answers it (the SavedModel's signatures)."""
        from google.protobuf import json_format
        from tensorflow.core.protobuf import saved_model_pb2
        saved = saved_model_pb2.SavedModel.FromString((self.path / "saved_model.pb").read_bytes())
        signatures = {
            name: json_format.MessageToDict(signature, preserving_proto_field_name=True)
            for name, signature in saved.meta_graphs[0].signature_def.items()
            if not name.startswith("__")}
        return {"model_spec": {"name": model_name, "signature_name": "",
                               "version": str(self.version)},
                "metadata": {"signature_def": {"signature_def": signatures}}}


class ModelManager:
    """The served version; follows the newest pushed one unless a version is pinned."""

    def __init__(self, home: RunHome, version: Optional[int] = None, poll_seconds: float = 2.0,
                 on_switch: Callable[[int, int], None] = lambda old, new: None, label=None,
                 labels: Optional[Dict[str, int]] = None):
        """`label`: the config's LabelConfig; a version whose outputs do not fit it is not
        served (the first one: an error; a newer push: logged, the current one kept).
        `labels`: version labels (name -> version), each version loaded and held."""
        self.home = home
        self.label = label
        self.pinned = version
        self.poll_seconds = poll_seconds
        self.on_switch = on_switch
        # version -> (failed loads, why the last one failed)
        self._failed: Dict[int, Tuple[int, str]] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._refreeze = False
        self.current = LoadedModel.load(*resolve_version(home, version), label=label)
        self.labels = dict(labels or {})
        # Labelled versions other than the current one; never switched away from.
        self._held: Dict[int, LoadedModel] = {}
        for number in sorted(set(self.labels.values()) - {self.current.version}):
            self._held[number] = LoadedModel.load(*resolve_version(home, number), label=label)
        _freeze_heap()

    def find(self, model_name: str, version: Optional[int] = None,
             label: Optional[str] = None) -> LoadedModel:
        """The served model a request names (by version, by label, or the newest); raises
        UnknownServable with TF Serving's wording otherwise. Read once per request."""
        current = self.current
        if label:
            if label not in self.labels:
                raise UnknownServable(f"Unrecognized servable version label: {label} "
                                      f"({servable_text(model_name, label=label)}; labels: "
                                      f"{', '.join(sorted(self.labels)) or 'none'})")
            version = self.labels[label]
        if version is None or version == current.version:
            return current
        held = self._held.get(version)
        if held is None:
            raise UnknownServable(f"Servable not found for request: "
                                  f"{servable_text(model_name, version)}; serving version(s) "
                                  f"{', '.join(str(v) for v in self.served_versions())}")
        return held

    def served_versions(self) -> List[int]:
        """Every version loaded and answering, newest first."""
        return sorted({self.current.version, *self._held}, reverse=True)

    def labels_of(self, version: int) -> List[str]:
        return sorted(name for name, number in self.labels.items() if number == version)

    def check_for_newer(self) -> bool:
        """Loads and switches to a newer pushed version, if any; True when it switched."""
        if self.pinned is not None:
            return False
        newer = [v for v in numbered_versions(self.home)
                 if v > self.current.version and self._attempts(v) < LOAD_ATTEMPTS]
        if not newer:
            return False
        version = max(newer)
        try:
            model = LoadedModel.load(version, numbered_versions(self.home)[version],
                                     label=self.label)
        except Exception as error:  # noqa: BLE001 - a broken push must not stop serving
            # Maybe still being copied: tried again at the next polls, then given up.
            self._failed[version] = (self._attempts(version) + 1,
                                     f"{type(error).__name__}: {error}")
            log.error("version %s cannot be loaded (attempt %d of %d); still serving %s: %s",
                      version, self._attempts(version), LOAD_ATTEMPTS, self.current.version,
                      error)
            return False
        if self.current.version in self.labels.values():   # a label still names it
            self._held[self.current.version] = self.current
        old, self.current = self.current, model
        self._refreeze = True
        self.on_switch(old.version, model.version)
        return True

    def failed_versions(self) -> Dict[int, Tuple[str, bool]]:
        """Newer pushed versions that failed to load: version -> (why, given up)."""
        return {version: (error, attempts >= LOAD_ATTEMPTS)
                for version, (attempts, error) in self._failed.items()
                if version > self.current.version}

    def _attempts(self, version: int) -> int:
        return self._failed.get(version, (0, ""))[0]

    def start(self) -> None:
        if self.pinned is None and self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="model-poller", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            if self._refreeze:
                # One poll after a switch the requests that held the old version are done:
                # unfrozen, it can be collected; then the new one is frozen in its place.
                self._refreeze = False
                gc.unfreeze()
                _freeze_heap()
            try:
                self.check_for_newer()
            except Exception:  # noqa: BLE001 - keep polling; the error is logged
                log.exception("looking for a newer model version failed")


def _freeze_heap() -> None:
    """Moves every object alive now (TensorFlow's and the model's, some 400,000) out of the
    cyclic garbage collector's reach. A full collection over them pauses the whole server for
    about 0.2 s, which was the p99 latency of a busy server; the request path's own garbage is
    still collected as usual."""
    gc.collect()
    gc.freeze()
