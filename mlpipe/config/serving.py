"""The optional `serving:` section of a problem config."""

import re
from typing import Dict, Optional

from pydantic import Field, field_validator

from mlpipe.config.base import Strict


class ServingConfig(Strict):
    log_sample_rate: float = Field(
        1.0, ge=0.0, le=1.0,
        description="Fraction of predict requests whose rows and predictions are logged.")
    log_dir: Optional[str] = Field(
        None, description="Where the request log goes (default: <run home>/request_log).")
    log_file_max_bytes: int = Field(16 * 2**20, ge=4096,
                                    description="A log file is closed and a new one started "
                                                "once it reaches this size.")
    log_max_files: int = Field(20, ge=1, description="Oldest log files beyond this are deleted, "
                                                     "bounding the log's size on disk.")
    log_flush_seconds: float = Field(1.0, gt=0,
                                     description="Logged rows are written at least this often; "
                                                 "a crash loses at most the unwritten batch.")
    log_flush_rows: int = Field(1000, ge=1, description="... or once this many rows wait.")
    max_body_bytes: int = Field(4 * 2**20, ge=1024, description="Larger requests get a 400.")
    max_rows_per_request: int = Field(10000, ge=1)
    max_batch_rows: int = Field(
        1024, ge=1, description="Concurrent requests share one model call up to this many rows "
                                "(a larger request is called alone).")
    max_queued_rows: int = Field(
        8192, ge=1, description="Rows that may wait for the model; a request beyond this gets 503 "
                                "with Retry-After at once (overload sheds requests instead of "
                                "growing every request's latency).")
    inline_rows: int = Field(
        1, ge=0, description="A request of at most this many rows that finds the model idle is "
                             "called on the server's event loop instead of a worker thread "
                             "(lower latency for single rows; 0: never).")
    poll_seconds: float = Field(2.0, gt=0,
                                description="How often the server looks for a newer pushed "
                                            "version to switch to.")
    labels: Dict[str, int] = Field(
        default_factory=dict,
        description="Version labels, as TF Serving's model config has them (stable: 3, canary: "
                    "4): each labelled version is loaded and served beside the newest one, and "
                    "a request may name the label instead of the version.")
    grpc_max_message_bytes: int = Field(
        4 * 2**20, ge=1024, description="Larger gRPC requests are refused (RESOURCE_EXHAUSTED), "
                                        "as max_body_bytes bounds REST bodies.")

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: Dict[str, int]) -> Dict[str, int]:
        for name, version in labels.items():
            if not LABEL_NAME.fullmatch(name):
                raise ValueError(f"label '{name}': letters, digits, '_' and '-' only, "
                                 "starting with a letter (TF Serving's label names)")
            if version < 1:
                raise ValueError(f"label '{name}': version {version} is not a pushed version "
                                 "number (1 or more)")
        return labels


# A label is a word; a number would be read as a version in the REST paths.
LABEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
