"""Watching production: statistics of new data (files or the request log) against training."""
