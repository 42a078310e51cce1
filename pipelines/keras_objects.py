"""Importing this module registers the package's Keras layers, schedules and functions.

A run's `model.keras` then loads with plain Keras, in safe mode, in any Python process:

    import keras
    import pipelines.keras_objects  # registers the package's layers with keras.saving
    model = keras.saving.load_model("runs/m1/model.keras", safe_mode=True)
"""

from pipelines.models import register_keras_objects

register_keras_objects()
