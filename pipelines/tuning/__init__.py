"""Tuning a pipeline's config: search spaces (`space`), objectives (`objective`), the
Optuna study (`study`) and its report (`report`). `pipelines.tune` is `study.tune`."""
