"""`mlpipe serve --grpc-port`: TF Serving's gRPC API, beside the REST one, on the same loop.

    tensorflow.serving.PredictionService  Predict, Classify, Regress, MultiInference,
                                          GetModelMetadata
    tensorflow.serving.ModelService       GetModelStatus

The messages and service descriptions are TF Serving's own (tensorflow-serving-api), so its
generated stubs are the client. Requests go through what the REST API uses: the model holder
(`ModelManager.find`: a version, a `version_label`, or the newest), the cross-request batcher,
the checks of the schema's SERVING environment, the counters and the request log.

Predict takes, in `inputs`, either
  - "examples": a DT_STRING tensor of serialized tf.Examples (the signature's own input), each
    parsed and checked, then fed as sent; or
  - one tensor per feature (DT_FLOAT/DT_DOUBLE for FLOAT, DT_INT64/DT_INT32 for INT, DT_STRING
    for BYTES features), shape [n] or [n, 1], one value per example, checked with numpy; a
    feature left out is missing in every row. From FEATURES_MIN_ROWS rows they go to the
    version's `serving_features` signature as they are (no tf.Example encoding here and no
    parsing in the model); fewer rows, or a version exported before that signature, are
    encoded into tf.Examples (protobuf for a few, else tfx_bsl's C++ encoder).
It answers the signature's outputs as tensors (`output_filter` picks some). Classify and Regress
take tf.Examples (`example_list`, or `example_list_with_context`), answer as TF Serving does per
task (binary: classes "0" and "1"); MultiInference runs several such tasks on one model call.

Errors are gRPC status codes whose message names the field (also sent as the trailing metadata
`field`): INVALID_ARGUMENT for a bad request, NOT_FOUND for an unknown model, version or label,
UNAVAILABLE when the queue is full (as REST's 503), RESOURCE_EXHAUSTED (by gRPC itself) for a
message over serving.grpc_max_message_bytes.
"""

import functools
import logging
from typing import Dict, List, Optional, Tuple

import grpc
import numpy as np
import pyarrow as pa
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2,
                                     get_model_status_pb2, inference_pb2, model_pb2,
                                     model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc, regression_pb2, status_pb2)

from mlpipe.core.contract import FEATURES_SIGNATURE, SERVING_SIGNATURE
from mlpipe.core.schema_io import BYTES, EXAMPLE_KINDS, FLOAT, INT
from mlpipe.serving import outputs as task_outputs
from mlpipe.serving.batching import Overloaded
from mlpipe.serving.examples import (FEW_ROWS, FLOAT32_MAX, RequestError, first_values,
                                     list_lengths, one_value_lists)
from mlpipe.serving.labels import UnknownServable
from mlpipe.serving.model import INPUT_NAME, FeatureColumns

log = logging.getLogger(__name__)

CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
# Tensor dtypes a feature of each schema type accepts, and how numpy reads their content.
ACCEPTED_DTYPES = {FLOAT: (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE),
                   INT: (types_pb2.DT_INT64, types_pb2.DT_INT32), BYTES: (types_pb2.DT_STRING,)}
NUMPY_DTYPES = {types_pb2.DT_FLOAT: np.float32, types_pb2.DT_DOUBLE: np.float64,
                types_pb2.DT_INT64: np.int64, types_pb2.DT_INT32: np.int32}
VALUE_FIELDS = {types_pb2.DT_FLOAT: "float_val", types_pb2.DT_DOUBLE: "double_val",
                types_pb2.DT_INT64: "int64_val", types_pb2.DT_INT32: "int_val",
                types_pb2.DT_STRING: "string_val"}
ARROW_TYPES = {FLOAT: pa.float32(), INT: pa.int64(), BYTES: pa.binary()}
# From this many rows, tensors go to the features signature: a call with an input per feature
# costs more than encoding one or two rows (in process, taxi model: 1 row 0.57 ms against 0.45
# encoded; 4 rows 0.56 against 0.57; 16 rows 0.57 against 0.70).
FEATURES_MIN_ROWS = 4
# What tfx_bsl's decoder makes of each kind of tf.Example feature.
ARROW_EXAMPLE_TYPES = {FLOAT: pa.float32(), INT: pa.int64(), BYTES: pa.large_binary()}


class _Refused(Exception):
    """A request answered with a gRPC status code (and the field at fault)."""

    def __init__(self, code: grpc.StatusCode, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.code, self.field = code, field


async def start_grpc(state, batcher, address: str) -> Tuple[grpc.aio.Server, str]:
    """Starts the gRPC server on the running loop; (server, the bound host:port)."""
    limit = state.settings.grpc_max_message_bytes
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                      ("grpc.so_reuseport", 0)])
    service = GrpcService(state, batcher)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(service, server)
    port = server.add_insecure_port(address)
    await server.start()
    return server, f"{address.rsplit(':', 1)[0]}:{port}"


class GrpcService(prediction_service_pb2_grpc.PredictionServiceServicer,
                  model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, state, batcher):
        self.state = state
        self.batcher = batcher

    # ---- PredictionService -------------------------------------------------------------------

    async def Predict(self, request, context):
        async def run():
            model = self._model(request.model_spec)
            signature = _predict_signature(request.model_spec.signature_name)
            given, log_request = self._predict_inputs(model, request.inputs, signature)
            outputs = await self._score(model, given, log_request)
            names = list(request.output_filter) or list(outputs)
            unknown = [name for name in names if name not in outputs]
            if unknown:
                raise _Refused(grpc.StatusCode.INVALID_ARGUMENT,
                               f"output_filter: unknown output '{unknown[0]}' (the signature's "
                               f"outputs: {', '.join(outputs)})", "output_filter")
            response = predict_pb2.PredictResponse(
                model_spec=_spec(self.state, model, signature))
            for name in names:
                response.outputs[name].CopyFrom(tensor_proto(outputs[name]))
            return response
        return await self._answer(context, run)

    async def Classify(self, request, context):
        return await self._answer(context, lambda: self._one_task(request, "classify"))

    async def Regress(self, request, context):
        return await self._answer(context, lambda: self._one_task(request, "regress"))

    async def MultiInference(self, request, context):
        async def run():
            if not request.tasks:
                raise RequestError("MultiInference needs at least one task", "tasks")
            specs = [task.model_spec for task in request.tasks]
            model = self._model(specs[0])
            for i, task in enumerate(request.tasks):
                if self._model(task.model_spec) is not model:
                    raise RequestError(f"tasks[{i}]: every task must name the same model and "
                                       "version", f"tasks[{i}].model_spec")
                _check_signature(task.model_spec.signature_name, f"tasks[{i}].model_spec")
            verbs = [_verb_of_method(task.method_name, i) for i, task in
                     enumerate(request.tasks)]
            for verb in verbs:
                _check_verb(verb, model)
            outputs, count = await self._score_input(model, request.input)
            response = inference_pb2.MultiInferenceResponse()
            for task, verb in zip(request.tasks, verbs):
                result = response.results.add()
                result.model_spec.CopyFrom(_spec(self.state, model))
                if verb == "classify":
                    result.classification_result.CopyFrom(_classification(model, outputs, count))
                else:
                    result.regression_result.CopyFrom(_regression(outputs, count))
            return response
        return await self._answer(context, run)

    async def GetModelMetadata(self, request, context):
        async def run():
            model = self._model(request.model_spec)
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise RequestError(f"metadata_field must be ['signature_def'] (the only "
                                   f"metadata served), got {fields}", "metadata_field")
            response = get_model_metadata_pb2.GetModelMetadataResponse(
                model_spec=_spec(self.state, model))
            response.metadata["signature_def"].Pack(signature_defs(model.path))
            return response
        return await self._answer(context, run, counted=False)

    # ---- ModelService ------------------------------------------------------------------------

    async def GetModelStatus(self, request, context):
        async def run():
            spec = request.model_spec
            model = self._model(spec)
            named = spec.HasField("version") or bool(spec.version_label)
            response = get_model_status_pb2.GetModelStatusResponse()
            if not named:
                for number, (why, given_up) in sorted(
                        self.state.manager.failed_versions().items(), reverse=True):
                    _status(response, number, "END" if given_up else "LOADING", why)
            for number in ([model.version] if named else self.state.manager.served_versions()):
                _status(response, number, "AVAILABLE")
            return response
        return await self._answer(context, run, counted=False)

    # ---- the shared path ---------------------------------------------------------------------

    async def _answer(self, context, run, counted: bool = True):
        """Runs a call; a refusal becomes its status code, the field in trailing metadata."""
        try:
            return await run()
        except RequestError as refused:
            failure = _Refused(grpc.StatusCode.INVALID_ARGUMENT, str(refused), refused.field)
        except UnknownServable as unknown:
            failure = _Refused(grpc.StatusCode.NOT_FOUND, str(unknown), "model_spec")
        except Overloaded as overloaded:
            self.state.requests_shed += 1
            failure = _Refused(grpc.StatusCode.UNAVAILABLE,
                               f"overloaded: {overloaded}; retry shortly")
        except _Refused as refused:
            failure = refused
        if counted and failure.code == grpc.StatusCode.INVALID_ARGUMENT:
            self.state.requests_refused += 1
        if failure.field:
            context.set_trailing_metadata((("field", failure.field),))
        await context.abort(failure.code, str(failure))

    def _model(self, spec):
        if spec.name != self.state.model_name:
            raise UnknownServable(f"Servable not found for request: Latest({spec.name}) "
                                  f"(this server serves '{self.state.model_name}')")
        # version and version_label are a oneof in ModelSpec: at most one is set.
        version = spec.version.value if spec.HasField("version") else None
        return self.state.manager.find(spec.name, version, spec.version_label or None)

    def _predict_inputs(self, model, inputs, signature: str) -> Tuple[object, object]:
        """(the model's input: serialized tf.Examples, or FeatureColumns for the version's
        features signature; the function that logs the request: see `_score`). A Predict
        naming the features signature sends what TF Serving takes for it: one tensor per
        feature, whatever the number of rows."""
        if not inputs:
            raise RequestError("inputs is empty: send 'examples' (serialized tf.Examples) or "
                               "one tensor per feature", "inputs")
        named_features = signature == FEATURES_SIGNATURE
        if named_features:
            _check_features_signature(model, inputs)
        elif INPUT_NAME in inputs:
            if len(inputs) > 1:
                other = sorted(set(inputs) - {INPUT_NAME})[0]
                raise RequestError(f"inputs: '{INPUT_NAME}' (serialized tf.Examples) comes "
                                   f"alone; got '{other}' too", other)
            serialized = string_tensor(inputs[INPUT_NAME], INPUT_NAME)
            self._check_count(len(serialized), "inputs")
            return serialized, column_logger(self.columns_of_examples(serialized))
        checked, count = self.checked_tensors(inputs)
        self._check_count(count, "inputs")
        takes_features = model.takes_features(checked)
        if named_features and not takes_features:
            raise RequestError(f"inputs: version {model.version}'s '{FEATURES_SIGNATURE}' "
                               "takes other types than the schema gives these features (a "
                               f"model trained on an older schema); use '{SERVING_SIGNATURE}'",
                               "inputs")
        if named_features or (takes_features and count >= FEATURES_MIN_ROWS):
            return FeatureColumns(checked), self.tensor_logger(checked)
        if count <= FEW_ROWS:
            rows = rows_of_tensors(checked, count)
            return self.state.encoder.serialize_all(rows), row_logger(rows)
        batch, columns = self.batch_of_tensors(checked)
        return self.state.encoder.serialize_batch(batch), column_logger(columns)

    async def _one_task(self, request, verb: str):
        model = self._model(request.model_spec)
        _check_signature(request.model_spec.signature_name)
        _check_verb(verb, model)
        outputs, count = await self._score_input(model, request.input)
        if verb == "classify":
            return classification_pb2.ClassificationResponse(
                model_spec=_spec(self.state, model),
                result=_classification(model, outputs, count))
        return regression_pb2.RegressionResponse(model_spec=_spec(self.state, model),
                                                 result=_regression(outputs, count))

    async def _score_input(self, model, given) -> Tuple[Dict[str, np.ndarray], int]:
        """A Classify/Regress/MultiInference `Input` -> (the model's outputs, rows)."""
        kind = given.WhichOneof("kind")
        if kind == "example_list":
            examples, context = given.example_list.examples, None
        elif kind == "example_list_with_context":
            examples = given.example_list_with_context.examples
            context = given.example_list_with_context.context
        else:
            raise RequestError("input needs example_list or example_list_with_context",
                               "input")
        if not examples:
            raise RequestError("input lists no examples", "input.examples")
        rows = self.rows_of_examples(examples, context)
        self._check_count(len(rows), "input.examples")
        outputs = await self._score(model, self.state.encoder.serialize_all(rows),
                                    row_logger(rows))
        return outputs, len(rows)

    async def _score(self, model, given, log_request) -> Dict[str, np.ndarray]:
        """The batched model call, counted and logged like a REST request; `log_request`
        (request log, model, outputs) is run on the log's thread, only when the request is
        sampled."""
        outputs = await self.batcher.predict(model, given)
        self.state.requests_served += 1
        request_log = self.state.request_log
        if request_log is not None and request_log.sampled():
            request_log.later(functools.partial(log_request, request_log, model, outputs))
        return outputs

    def _check_count(self, count: int, field: str) -> None:
        limit = self.state.settings.max_rows_per_request
        if count > limit:
            raise RequestError(f"{count} examples in one request; at most {limit} are "
                               "accepted", field)

    # ---- checks against the schema's SERVING environment ------------------------------------

    def checked_tensors(self, inputs) -> Tuple[Dict[str, np.ndarray], int]:
        """Per-feature tensors -> (feature -> its n values (numpy, the schema's type), n),
        checked: known features, types, shapes, one count for all, the required ones present."""
        features = self.state.encoder.features
        given = {}
        for name in sorted(inputs):   # a protobuf map's order is no order: errors would vary
            info = features.get(name)
            if info is None:
                raise RequestError(f"inputs: unknown feature '{name}' (not in the schema's "
                                   f"SERVING environment, nor '{INPUT_NAME}')", name)
            given[name] = feature_tensor(inputs[name], info)
        count = _common_count(given)
        # A [n, 0] tensor is the feature missing in every row, as if left out.
        checked = {name: values for name, values in given.items() if values.ndim == 1}
        if not checked:
            raise RequestError("inputs hold no values: every tensor is [n, 0] (missing in "
                               "every row)", "inputs")
        missing = [name for name in self.state.encoder.required if name not in checked]
        if missing:
            info = features[missing[0]]
            raise RequestError(f"inputs: missing required feature '{info.name}' ({info.type})",
                               info.name)
        return checked, count

    def batch_of_tensors(self, checked: Dict[str, np.ndarray]
                         ) -> Tuple[pa.RecordBatch, Dict[str, pa.Array]]:
        """Checked tensors -> (a RecordBatch of one-value list columns for the encoder, the
        flat columns for the request log)."""
        features = self.state.encoder.features
        names, arrays, flat = [], [], {}
        for name, values in checked.items():
            names.append(name)
            flat[name] = pa.array(values, type=ARROW_TYPES[features[name].type])
            arrays.append(one_value_lists(flat[name]))
        return pa.RecordBatch.from_arrays(arrays, names), flat

    def tensor_logger(self, checked: Dict[str, np.ndarray]):
        """Logs checked tensors as flat columns, built on the log's thread when sampled."""
        features = self.state.encoder.features

        def log_tensors(request_log, model, outputs):
            columns = {name: pa.array(values, type=ARROW_TYPES[features[name].type])
                       for name, values in checked.items()}
            column_logger(columns)(request_log, model, outputs)
        return log_tensors

    def columns_of_examples(self, serialized: List[bytes]) -> Dict[str, pa.Array]:
        """Serialized tf.Examples, decoded by tfx_bsl (C++) and checked column by column with
        the rules of `rows_of_examples` -> flat columns for the log (the first value of each
        list, null when missing). An example that breaks a rule is found and named by the
        row-by-row check."""
        try:
            batch = _examples_decoder().DecodeBatch(serialized)
        except RuntimeError:
            batch = None   # some example does not parse: the row check names it
        columns = None if batch is None else self._checked_columns(batch)
        if columns is None:
            self.rows_of_examples([_parse_example(data, i)
                                   for i, data in enumerate(serialized)], None)
            raise RequestError(f"inputs['{INPUT_NAME}'] cannot be decoded", INPUT_NAME)
        return columns

    def _checked_columns(self, batch) -> Optional[Dict[str, pa.Array]]:
        """The flat columns when every rule holds, else None."""
        features = self.state.encoder.features
        for name, column in zip(batch.schema.names, batch.columns):
            if pa.types.is_null(column.type):
                continue   # a feature with no kind in every example: absent
            info = features.get(name)
            if info is None or column.type.value_type != ARROW_EXAMPLE_TYPES[info.type]:
                return None
            if info.max_values and list_lengths(column).max() > info.max_values:
                return None
            if info.type == FLOAT and not np.isfinite(column.flatten().to_numpy()).all():
                return None
        columns = first_values(batch)
        for name in self.state.encoder.required:
            if name not in columns or columns[name].null_count:
                return None
        return columns

    def rows_of_examples(self, examples, context) -> List[Dict[str, list]]:
        """tf.Example messages (plus a context's features) -> checked rows."""
        shared = self._example_row(context, "context") if context is not None else {}
        rows = []
        for i, example in enumerate(examples):
            row = self._example_row(example, f"examples[{i}]")
            both = sorted(set(row) & set(shared))
            if both:
                raise RequestError(f"examples[{i}]: feature '{both[0]}' is also in the "
                                   "context", both[0])
            row.update(shared)
            self.state.encoder.check_required(row, f"examples[{i}]")
            rows.append(row)
        return rows

    def _example_row(self, example, where: str) -> Dict[str, list]:
        features = self.state.encoder.features
        row = {}
        for name, feature in example.features.feature.items():
            info = features.get(name)
            if info is None:
                raise RequestError(f"{where}: unknown feature '{name}' (not in the schema's "
                                   "SERVING environment)", name)
            kind = feature.WhichOneof("kind")
            if kind is None:
                continue
            if kind != EXAMPLE_KINDS[info.type]:
                raise RequestError(f"{where}: feature '{name}' ({info.type}) must be a "
                                   f"{EXAMPLE_KINDS[info.type]}, got a {kind}", name)
            values = list(getattr(feature, kind).value)
            if info.max_values and len(values) > info.max_values:
                raise RequestError(f"{where}: feature '{name}' takes at most "
                                   f"{info.max_values} value(s), got {len(values)}", name)
            if info.type == FLOAT and not all(np.isfinite(values)):
                raise RequestError(f"{where}: feature '{name}' has a value that is not a "
                                   "finite number", name)
            if values:
                row[name] = values
        return row


def rows_of_tensors(checked: Dict[str, np.ndarray], count: int) -> List[Dict[str, list]]:
    """Checked tensors -> rows (feature -> [value]), as a few rows are encoded and logged."""
    lists = {name: values.tolist() for name, values in checked.items()}
    return [{name: [values[i]] for name, values in lists.items()} for i in range(count)]


def row_logger(rows):
    def log_rows(request_log, model, outputs):
        predictions, scores = task_outputs.logged_predictions(model.task, outputs, len(rows))
        request_log.log(rows, predictions, model.version, scores=scores)
    return log_rows


def column_logger(columns):
    """Logs a request from its flat columns: Arrow's CSV writer, no Python rows, except for a
    few rows, where its fixed cost (~0.25 ms) is more than Python's writer takes."""
    def log_columns(request_log, model, outputs):
        count = len(next(iter(outputs.values())))
        if count <= FEW_ROWS:
            lists = {name: column.to_pylist() for name, column in columns.items()}
            rows = [{name: [values[i]] for name, values in lists.items()
                     if values[i] is not None} for i in range(count)]
            return row_logger(rows)(request_log, model, outputs)
        if model.task.name == task_outputs.MULTICLASS:
            predictions, scores = task_outputs.logged_predictions(model.task, outputs, count)
        else:
            predictions, scores = task_outputs.single_values(outputs, count), None
        request_log.log_columns(columns, predictions, model.version, scores=scores)
    return log_columns


def _common_count(columns: Dict[str, np.ndarray]) -> int:
    """The number of examples every tensor has; the one that differs from the most common
    count is named (one bad tensor among many is the one at fault)."""
    counts = [len(values) for values in columns.values()]
    count = max(sorted(set(counts)), key=counts.count)
    for name, values in columns.items():
        if len(values) != count:
            raise RequestError(f"inputs['{name}'] has {len(values)} values, but the other "
                               f"inputs have {count}: every input needs one per example", name)
    if not count:
        raise RequestError("inputs hold no examples (0 values)", next(iter(columns)))
    return count


@functools.lru_cache(maxsize=1)
def _examples_decoder():
    from tfx_bsl.coders import example_coder
    return example_coder.ExamplesToRecordBatchDecoder()


# ---- tensors -------------------------------------------------------------------------------

def feature_tensor(tensor: tensor_pb2.TensorProto, info) -> np.ndarray:
    """A feature's tensor, [n] or [n, 1], as n values of the schema's type (checked); [n, 0],
    the feature missing in every row, as an empty [n, 0] array."""
    name = info.name
    if tensor.dtype not in ACCEPTED_DTYPES[info.type]:
        accepted = " or ".join(types_pb2.DataType.Name(d) for d in ACCEPTED_DTYPES[info.type])
        raise RequestError(f"inputs['{name}']: feature '{name}' ({info.type}) takes "
                           f"{accepted}, got {types_pb2.DataType.Name(tensor.dtype)}", name)
    dims = [dim.size for dim in tensor.tensor_shape.dim]
    if len(dims) not in (1, 2) or (len(dims) == 2 and dims[1] not in (0, 1)):
        raise RequestError(f"inputs['{name}']: shape {dims} is not [n] or [n, 1] (one value "
                           "per example), nor [n, 0] (missing in every example)", name)
    if len(dims) == 2 and dims[1] == 0:
        return np.empty((dims[0], 0))
    if tensor.dtype == types_pb2.DT_STRING:
        return np.array(string_tensor(tensor, name), dtype=object)
    values = tensor_array(tensor, dims[0], name)
    if info.type == FLOAT:
        if not np.isfinite(values).all():
            raise RequestError(f"inputs['{name}']: feature '{name}' has a value that is not a "
                               "finite number", name)
        if values.dtype == np.float64 and (np.abs(values) > FLOAT32_MAX).any():
            raise RequestError(f"inputs['{name}']: feature '{name}' has a value out of the "
                               "FLOAT (float32) range", name)
        return values.astype(np.float32, copy=False)
    return values.astype(np.int64, copy=False)


def tensor_array(tensor: tensor_pb2.TensorProto, count: int, name: str) -> np.ndarray:
    """A numeric tensor's values (from tensor_content, else the typed value field)."""
    dtype = NUMPY_DTYPES[tensor.dtype]
    if tensor.tensor_content:
        values = np.frombuffer(tensor.tensor_content, dtype=dtype)
    else:
        values = np.asarray(getattr(tensor, VALUE_FIELDS[tensor.dtype]), dtype=dtype)
    if len(values) != count:
        raise RequestError(f"inputs['{name}']: {len(values)} values for shape [{count}]", name)
    return values


def string_tensor(tensor: tensor_pb2.TensorProto, name: str) -> List[bytes]:
    if tensor.dtype != types_pb2.DT_STRING:
        raise RequestError(f"inputs['{name}'] must be DT_STRING, got "
                           f"{types_pb2.DataType.Name(tensor.dtype)}", name)
    dims = [dim.size for dim in tensor.tensor_shape.dim]
    values = list(tensor.string_val)
    if len(dims) > 2 or int(np.prod(dims)) != len(values) or not values:
        raise RequestError(f"inputs['{name}']: shape {dims} with {len(values)} values (expected "
                           "[n] or [n, 1], n > 0)", name)
    return values


def tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A model output (numpy) as a TensorProto: numbers as tensor_content, strings as
    string_val, as TF Serving sends them."""
    array = np.asarray(array)
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in array.shape])
    if array.dtype.kind in ("O", "S"):
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape)
        tensor.string_val.extend(array.ravel().tolist())
        return tensor
    dtype = {np.dtype(np.float32): types_pb2.DT_FLOAT, np.dtype(np.float64): types_pb2.DT_DOUBLE,
             np.dtype(np.int64): types_pb2.DT_INT64,
             np.dtype(np.int32): types_pb2.DT_INT32}[array.dtype]
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape,
                                  tensor_content=np.ascontiguousarray(array).tobytes())


# ---- answers -------------------------------------------------------------------------------

def _classification(model, outputs, count: int) -> classification_pb2.ClassificationResult:
    result = classification_pb2.ClassificationResult()
    for row in task_outputs.classify_result(model.task, outputs, count)["result"]:
        classes = result.classifications.add()
        for label, score in row:
            classes.classes.add(label=label, score=score)
    return result


def _regression(outputs, count: int) -> regression_pb2.RegressionResult:
    result = regression_pb2.RegressionResult()
    for value in task_outputs.regress_result(outputs, count)["result"]:
        result.regressions.add(value=value)
    return result


def _spec(state, model, signature: str = SERVING_SIGNATURE):
    """The ModelSpec of an answer: the model, the version that answered, the signature."""
    spec = model_pb2.ModelSpec(name=state.model_name, signature_name=signature)
    spec.version.value = model.version
    return spec


def _status(response, version: int, state: str, error: str = "") -> None:
    status = response.model_version_status.add(
        version=version,
        state=get_model_status_pb2.ModelVersionStatus.State.Value(state))
    status.status.CopyFrom(status_pb2.StatusProto(error_code=2 if error else 0,
                                                  error_message=error))


def signature_defs(path) -> get_model_metadata_pb2.SignatureDefMap:
    """The SavedModel's signatures, as GetModelMetadata's "signature_def" carries them."""
    saved = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
    result = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in saved.meta_graphs[0].signature_def.items():
        if not name.startswith("__"):
            result.signature_def[name].CopyFrom(signature)
    return result


def _check_signature(name: str, field: str = "model_spec") -> None:
    if name not in ("", SERVING_SIGNATURE):
        raise RequestError(f"{field}.signature_name: unknown signature '{name}' (this model "
                           f"serves '{SERVING_SIGNATURE}')", f"{field}.signature_name")


def _predict_signature(name: str) -> str:
    """The signature a Predict names: the default one, or the features one."""
    if name in ("", SERVING_SIGNATURE, FEATURES_SIGNATURE):
        return name or SERVING_SIGNATURE
    raise RequestError(f"model_spec.signature_name: unknown signature '{name}' (Predict "
                       f"serves '{SERVING_SIGNATURE}' and '{FEATURES_SIGNATURE}')",
                       "model_spec.signature_name")


def _check_features_signature(model, inputs) -> None:
    """What a Predict naming the features signature needs before its tensors are read."""
    if INPUT_NAME in inputs:
        raise RequestError(f"inputs: '{INPUT_NAME}' (serialized tf.Examples) goes to "
                           f"'{SERVING_SIGNATURE}'; '{FEATURES_SIGNATURE}' takes one tensor per "
                           "feature", INPUT_NAME)
    if model.features_function is None:
        raise RequestError(f"model_spec.signature_name: version {model.version} has no "
                           f"'{FEATURES_SIGNATURE}' signature (exported before it); use "
                           f"'{SERVING_SIGNATURE}'", "model_spec.signature_name")


def _check_verb(verb: str, model) -> None:
    refusal = task_outputs.verb_refusal(verb, model.task)
    if refusal:
        raise RequestError(refusal.replace(":predict", "Predict")
                           .replace(":classify", "Classify").replace(":regress", "Regress"),
                           "model_spec")


def _verb_of_method(method: str, index: int) -> str:
    verbs = {CLASSIFY_METHOD: "classify", REGRESS_METHOD: "regress"}
    if method not in verbs:
        raise RequestError(f"tasks[{index}].method_name '{method}' is not one of "
                           f"{', '.join(verbs)}", f"tasks[{index}].method_name")
    return verbs[method]


def _parse_example(data: bytes, index: int) -> example_pb2.Example:
    try:
        return example_pb2.Example.FromString(data)
    except Exception as error:  # noqa: BLE001 - protobuf's DecodeError, by implementation
        raise RequestError(f"inputs['{INPUT_NAME}'][{index}] is not a serialized tf.Example: "
                           f"{error}", INPUT_NAME) from error
