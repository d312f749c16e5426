"""gRPC Classify, Regress and Predict by task, with the real multiclass (penguin species) and
regression (taxi fare) models of tests/support/problems.py and TF Serving's stubs, equal to the
SavedModel called directly."""

import re

import grpc
import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config.serving import ServingConfig
from tests.serving.test_tasks import PENGUIN_CLASSES, Problem
from tests.support.cli import ServerProcess
from tests.support.configs import write_config
from tests.support.examples import example_of_checked

pytestmark = pytest.mark.e2e


class Served:
    def __init__(self, problem: Problem):
        from tensorflow_serving.apis import prediction_service_pb2_grpc
        config_file = write_config(problem.folder / "config.yaml", problem.config,
                                   serving=ServingConfig(log_sample_rate=0.0))
        self.problem = problem
        self.process = ServerProcess(config_file, problem.home["base"], "--grpc-port", "0")
        address = re.search(r"^  grpc:\s+(\S+)", self.process.output(), re.M)[1]
        self.channel = grpc.insecure_channel(address)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.checked = problem.checked(problem.csv_rows[::37][:7])

    def request(self, kind):
        """A Classify/Regress request of the checked rows as tf.Examples."""
        request = kind()
        request.model_spec.name = self.problem.config.name
        for row in self.checked:
            request.input.example_list.examples.add().CopyFrom(
                example_of_checked(row, self.problem.encoder))
        return request

    def close(self):
        self.channel.close()
        self.process.stop()


@pytest.fixture(scope="module")
def penguins(multiclass_home, tmp_path_factory):
    served = Served(Problem(multiclass_home, tmp_path_factory.mktemp("grpc-multiclass")))
    yield served
    served.close()


@pytest.fixture(scope="module")
def fares(regression_home, tmp_path_factory):
    served = Served(Problem(regression_home, tmp_path_factory.mktemp("grpc-regression")))
    yield served
    served.close()


def test_multiclass_classify_and_predict_answer_the_classes_in_label_order(penguins):
    import tensorflow as tf
    from tensorflow_serving.apis import classification_pb2, predict_pb2, regression_pb2
    expected = penguins.problem.direct(penguins.checked)["scores"]
    answer = penguins.stub.Classify(penguins.request(classification_pb2.ClassificationRequest),
                                    timeout=60)
    for classes, scores in zip(answer.result.classifications, expected):
        assert [c.label for c in classes.classes] == PENGUIN_CLASSES
        np.testing.assert_allclose([c.score for c in classes.classes], scores, rtol=1e-5)

    serialized = [e.SerializeToString() for e in
                  penguins.request(classification_pb2.ClassificationRequest)
                  .input.example_list.examples]
    predict = predict_pb2.PredictRequest(model_spec={"name": penguins.problem.config.name})
    predict.inputs["examples"].CopyFrom(tf.make_tensor_proto(serialized, dtype=tf.string))
    outputs = penguins.stub.Predict(predict, timeout=60).outputs
    np.testing.assert_allclose(tf.make_ndarray(outputs["scores"]), expected, rtol=1e-5)
    assert tf.make_ndarray(outputs["classes"]).tolist() == \
        [[name.encode() for name in PENGUIN_CLASSES]] * len(expected)

    with pytest.raises(grpc.RpcError) as refused:
        penguins.stub.Regress(penguins.request(regression_pb2.RegressionRequest), timeout=60)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "multiclass model" in refused.value.details()


def test_regression_regress_answers_the_value(fares):
    from tensorflow_serving.apis import classification_pb2, regression_pb2
    expected = fares.problem.direct(fares.checked)["value"][:, 0]
    answer = fares.stub.Regress(fares.request(regression_pb2.RegressionRequest), timeout=60)
    np.testing.assert_allclose([r.value for r in answer.result.regressions], expected,
                               rtol=1e-5)
    with pytest.raises(grpc.RpcError) as refused:
        fares.stub.Classify(fares.request(classification_pb2.ClassificationRequest), timeout=60)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
