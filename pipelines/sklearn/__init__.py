"""scikit-learn estimators around the pipelines' Keras models.

Generic wrappers take any model-building function or a pipeline net name; the task
estimators bundle a pipeline's input step and net. All of them pickle (models travel as
`.keras` bytes, reloaded with `safe_mode=True`), clone with every parameter, and route
`model__`, `fit__` and `optimizer__` parameters to the net, `keras.Model.fit` and the
optimizer.

Example:
    >>> from pipelines.sklearn import KerasClassifier
    >>> KerasClassifier(model__widths=(8,), optimizer__learning_rate=0.01).get_params()["model__widths"]
    (8,)
"""

from pipelines.sklearn.base import BaseKerasEstimator
from pipelines.sklearn.generative import DCGAN
from pipelines.sklearn.generic import NETS, KerasClassifier, KerasRegressor
from pipelines.sklearn.tasks import DenoisingAutoencoder, ImageClassifier, TabularRegressor, TextClassifier

__all__ = [
    "BaseKerasEstimator",
    "DCGAN",
    "DenoisingAutoencoder",
    "ImageClassifier",
    "KerasClassifier",
    "KerasRegressor",
    "NETS",
    "TabularRegressor",
    "TextClassifier",
]
