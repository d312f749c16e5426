"""What every part of the pipeline agrees on: shared names, the run home, schema and artifact
readers, ML Metadata lineage, and the code version. Imports only `mlpipe.config` and
`mlpipe.errors` of the package (see ARCHITECTURE.md)."""
