"""`mlpipe init`: a new problem from a data file, a config and a curated schema to review.

`inference` reads the CSV once and decides (label and task, missing-value tokens, the columns to
leave out and why, feature kinds, a KPI floor from a trivial baseline, a training budget);
`writer` writes those decisions as a problem config whose comments say why. The schema comes from
`mlpipe.schema.proposal` (TFDV), the one proposal `mlpipe schema` also makes; `commands` joins
the three. Imports only `mlpipe.config` and `mlpipe.errors` of the package.
"""
