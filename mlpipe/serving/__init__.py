"""Serving a pushed model: the TF Serving-compatible REST server, batch scoring, request logging.

Modules here import TensorFlow and FastAPI lazily (inside functions), so the CLI stays fast.
"""
