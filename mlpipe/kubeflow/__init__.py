"""Cloud runners: compile `create_pipeline()` for Kubeflow Pipelines / Vertex AI Pipelines, submit
runs, and deploy models to Vertex AI endpoints. See README.md beside this file.

Heavy clients (TFX, kfp, google-cloud-aiplatform) are imported inside the functions that use them,
so `mlpipe --help` and config validation stay fast.
"""
