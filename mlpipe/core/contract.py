"""Names that the trainer, the pipeline, serving and monitoring must spell the same way.

A SavedModel exported by the Trainer is read by TFMA (Evaluator), BulkInferrer, `mlpipe serve`,
`mlpipe predict` and `mlpipe monitor --evaluate`: its signatures and output key are defined once,
here. So are the schema environments that separate training columns from serving columns,
and the names of a feature's kinds.
"""

# The signature a request is answered with: serialized raw tf.Examples carrying the features only.
SERVING_SIGNATURE = "serving_default"
# The signature TFMA's Evaluator uses to get the transformed features and label from raw examples.
TRANSFORM_SIGNATURE = "transform_features"
# The same model on raw feature tensors instead of serialized tf.Examples: one input per feature
# the model reads, [n, 1] when every row has the value, [n, 0] when no row has it. `mlpipe serve`
# calls it for gRPC tensor requests (no tf.Example encoding and parsing around the model).
FEATURES_SIGNATURE = "serving_features"
# The serving signature's outputs, by task. binary: P(label = 1); multiclass: a score per class
# (softmax, in the order of `label.classes`) and the class names themselves, so a response is
# readable without the config; regression: the predicted value.
OUTPUT_KEY = "probability"
SCORES_KEY = "scores"
CLASSES_KEY = "classes"
VALUE_KEY = "value"
OUTPUT_KEYS = {"binary": (OUTPUT_KEY,), "multiclass": (SCORES_KEY, CLASSES_KEY),
               "regression": (VALUE_KEY,)}
# The output TFMA, BulkInferrer's readers and the monitor evaluate, by task.
PREDICTION_KEY = {"binary": OUTPUT_KEY, "multiclass": SCORES_KEY, "regression": VALUE_KEY}

# The training data's ExampleGen node, whatever the data format: ML Metadata lineage, `mlpipe
# runs`, the report and the tests find the training examples by it (the id predates Parquet and
# TFRecord input, and renaming it would orphan the lineage of existing run homes).
EXAMPLE_GEN_ID = "CsvExampleGen"
# The node writing the run's curated schema (mlpipe.components.embedded_schema): the id of TFX's
# ImportSchemaGen, which it replaced, so lineage and the records of existing run homes still
# find it.
SCHEMA_GEN_ID = "ImportSchemaGen"
# The nodes readers look up by id (lineage, `mlpipe runs`, the report, the local runner's
# summary): TFX's default ids, which the pipeline keeps.
TRANSFORM_ID = "Transform"
TRAINER_ID = "Trainer"
EVALUATOR_ID = "Evaluator"
PUSHER_ID = "Pusher"

# The Trainer's log line that says what it trains on and how (strategy, precision, XLA, batch,
# data in memory or streamed): the local run's progress shows what follows it under the line of
# the component that logged it.
TRAINING_PLAN_LOG = "Training plan:"

# Schema environments (TFDV): TRAINING has every column, SERVING lacks the label's sources.
TRAINING = "TRAINING"
SERVING = "SERVING"
# The schema's names for a feature's kind (schema_io and the light data readers share them).
INT, FLOAT, BYTES = "INT", "FLOAT", "BYTES"
