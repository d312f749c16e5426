"""The audit trail: every run of a problem (`mlpipe runs`) and the full provenance of a pushed
version or a run (`mlpipe lineage`), read from ML Metadata and the provenance records each run
writes into its run home (`mlpipe.core.run_record`)."""
