"""A Pusher executor whose local pushes appear whole: TFX's Pusher runs it (see
`mlpipe.pipeline.pipeline._pusher`)."""
