"""One module per task pipeline; each registers itself with `pipelines.registry.register`."""
