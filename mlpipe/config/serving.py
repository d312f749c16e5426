"""The optional `serving:` section of a problem config."""

from typing import Optional

from pydantic import Field

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
    poll_seconds: float = Field(2.0, gt=0,
                                description="How often the server looks for a newer pushed "
                                            "version to switch to.")
