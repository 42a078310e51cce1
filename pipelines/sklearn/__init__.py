"""scikit-learn estimators around the pipelines' Keras models.

Generic wrappers take any model-building function or a pipeline net name; the task
estimators bundle a pipeline's input step and net. All of them pickle (models travel as
`.keras` bytes, reloaded with `safe_mode=True`), clone with every parameter, and route
`model__`, `fit__` and `optimizer__` parameters to the net, `keras.Model.fit` and the
optimizer.

Modules, one idea each:

- `base`: `BaseKerasEstimator`, the machinery every estimator shares (routing,
  training, prediction, pickling); `seeding` and `serialization` hold its seeding of a
  fit and its `.keras` bytes.
- `builders`: the model builders (`NETS`) and how they are called; `supervised`: the
  base of the generic wrappers; `classifier` and `regressor`: `KerasClassifier` and
  `KerasRegressor`.
- The task estimators: `image_classifier` (`ImageClassifier`), `text_classifier`
  (`TextClassifier`), `tabular_regressor` (`TabularRegressor`), `denoising_autoencoder`
  (`DenoisingAutoencoder`) and `generative` (`DCGAN`); `image_input` is the image
  layouts they accept.
- `validation`: the parameter constraints and sample-weight checks.

Adding an estimator for another pipeline is a subclass that says how inputs are checked
(`_validate_X`), how the model is built (`_build_model`) and, when training is not a
plain `keras.Model.fit` on arrays, how it trains (`_fit_keras`); pickling, seeding,
parameter routing and `warm_start` come from `BaseKerasEstimator`.

Example:
    >>> from pipelines.sklearn import KerasClassifier
    >>> KerasClassifier(model__widths=(8,), optimizer__learning_rate=0.01).get_params()["model__widths"]
    (8,)
"""

from pipelines.sklearn.base import BaseKerasEstimator
from pipelines.sklearn.builders import NETS
from pipelines.sklearn.classifier import KerasClassifier
from pipelines.sklearn.denoising_autoencoder import DenoisingAutoencoder
from pipelines.sklearn.generative import DCGAN
from pipelines.sklearn.image_classifier import ImageClassifier
from pipelines.sklearn.regressor import KerasRegressor
from pipelines.sklearn.tabular_regressor import TabularRegressor
from pipelines.sklearn.text_classifier import TextClassifier

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
