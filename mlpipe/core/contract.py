"""Names that the trainer, the pipeline, serving and monitoring must spell the same way.

A SavedModel exported by the Trainer is read by TFMA (Evaluator), BulkInferrer, `mlpipe serve`,
`mlpipe predict` and `mlpipe monitor --evaluate`: its signatures and output key are defined once,
here. So are the schema environments that separate training columns from serving columns.
"""

# The signature a request is answered with: serialized raw tf.Examples carrying the features only.
SERVING_SIGNATURE = "serving_default"
# The signature TFMA's Evaluator uses to get the transformed features and label from raw examples.
TRANSFORM_SIGNATURE = "transform_features"
# The serving signature's one output: P(label = 1).
OUTPUT_KEY = "probability"

# Schema environments (TFDV): TRAINING has every column, SERVING lacks the label's sources.
TRAINING = "TRAINING"
SERVING = "SERVING"
