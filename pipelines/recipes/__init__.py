"""Shared stages that task modules call in order: data, model, train, evaluate.

A task module (`pipelines/tasks/`) reads like a keras.io example; what two pipelines share
(the image classifiers' data, compile, training and report) lives here, imported, never copied.
"""
