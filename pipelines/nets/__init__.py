"""Keras architectures used by the pipelines. Each builder is a plain function of its config."""
