"""Mixed precision and XLA in fit_model, on real TFRecords through TFX's data accessor: the
model computes in 16 bits and still answers float32 (and exports float32), XLA compiles the
model or says why not before training, and the plan line says what ran."""

import logging

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
import tensorflow as tf

from mlpipe.core.contract import TRAINING_PLAN_LOG
from mlpipe.trainer import model as model_lib
from mlpipe.trainer.distribution import TrainingPlan
from tests.support import transformed


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = transformed.write_examples(tmp_path_factory.mktemp("transformed"),
                                        {"train": 2000, "eval": 10})
    return transformed.fn_args(folder)


def _plan(precision="float32", jit=False) -> TrainingPlan:
    return TrainingPlan(strategy=tf.distribute.get_strategy(), distribution="one device (test)",
                        precision=precision, precision_reason="", jit_compile=jit)


def _fit(data, plan, caplog, **train):
    spec = transformed.spec(epochs=2, batch_size=128, hidden_units=[8], **train)
    with caplog.at_level(logging.INFO, logger="absl"):
        model = model_lib.fit_model(spec, data, transformed.transform_output(), plan)
    said = [record.getMessage() for record in caplog.records
            if record.getMessage().startswith(TRAINING_PLAN_LOG)]
    return model, said


@pytest.mark.parametrize("task", ["binary", "ensemble"])
def test_mixed_precision_computes_in_bfloat16_and_answers_float32(data, caplog, tmp_path, task):
    model, said = _fit(data, _plan("mixed_bfloat16"), caplog,
                       ensemble=2 if task == "ensemble" else 1)
    assert tf.keras.mixed_precision.global_policy().name == "float32"  # restored after
    deep = next(layer for layer in model.layers if layer.name.endswith("deep_0"))
    assert (deep.compute_dtype, deep.variable_dtype) == ("bfloat16", "float32")
    assert model.output.dtype == tf.float32
    assert "mixed_bfloat16" in said[0]

    @tf.function(input_signature=[{name: tf.TensorSpec([None, 1], dtype=tensor.dtype, name=name)
                                   for name, tensor in zip(model.input_names, model.inputs)}])
    def serve(features):
        return {"probability": model(features)}

    model.save(tmp_path / "model", save_format="tf", signatures={"serving_default": serve})
    loaded = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    answer = loaded(u_z=tf.constant([[1.0]]), v_z=tf.constant([[0.0]]),
                    u_missing=tf.constant([[0.0]]), v_missing=tf.constant([[0.0]]),
                    c_id=tf.constant([[1]], dtype=tf.int64))["probability"]
    assert answer.dtype == tf.float32 and 0.5 < float(answer[0, 0]) <= 1.0


def test_xla_compiles_the_model_and_the_plan_says_so(data, caplog):
    _, said = _fit(data, _plan(jit=True), caplog)
    assert "; XLA on;" in said[0]


def test_a_model_xla_cannot_compile_is_said_before_training_not_raised(data):
    features = tf.keras.Input(shape=(1,), name="u_z")
    host = tf.keras.layers.Lambda(
        lambda x: tf.py_function(lambda t: t * 2, [x], tf.float32))(features)
    model = tf.keras.Model(inputs={"u_z": features}, outputs=host)
    dataset = tf.data.Dataset.from_tensors(({"u_z": tf.ones([4, 1])}, tf.ones([4])))
    reason = model_lib.xla_problem(model, dataset)
    assert reason.startswith("XLA cannot compile the model: ")
    assert "EagerPyFunc" in reason
    plan = _plan(jit=True).without_jit(reason)
    assert not plan.jit_compile and plan.describe().endswith(f"XLA off ({reason})")
