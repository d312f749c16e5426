"""What every part of the pipeline agrees on: shared names, the run home, schema and artifact
readers, ML Metadata lineage, the code version, and the provenance record each run writes.
Imports only `mlpipe.config` and `mlpipe.errors` of the package (see ARCHITECTURE.md)."""
