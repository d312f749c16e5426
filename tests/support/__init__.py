"""Shared test helpers, imported normally (`from tests.support import cli`):

- `taxi`: the taxi CSV's columns, one valid trip, `write_csv`
- `configs`: the taxi config written to a file (`write_config`)
- `cli`: the real `mlpipe` command in a child process (`run_mlpipe`, `ServerProcess`)
- `cloud`: a complete `cloud:` section and `write_cloud_config`
- `trained_home`: one real pipeline run shared by a session (the `trained_home` fixture)

The fixtures built on them live in tests/conftest.py.
"""
