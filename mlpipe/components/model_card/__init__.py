"""ModelCard: a model card for every pushed version, written by the pipeline itself (so Kubeflow
and Vertex AI runs write it too) beside the pushed model: `model_card.json` (Model Card Toolkit
field names) and `model_card.html` (one self-contained page). `mlpipe card VERSION` shows it.

The package imports nothing, so that `mlpipe card` (the command module and `render`) reads a card
without importing TFX: the step is `component.ModelCard`, its keys and types are in `spec`.
"""

CARD_JSON = "model_card.json"
CARD_HTML = "model_card.html"
