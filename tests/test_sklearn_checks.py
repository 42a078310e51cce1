"""scikit-learn's estimator checks (`parametrize_with_checks`) on the Keras estimators.

KerasClassifier, KerasRegressor and TabularRegressor take the checks' inputs (small numeric
tables); TabularRegressor, a KerasRegressor with its own net, gets the API checks only.
ImageClassifier, TextClassifier and DenoisingAutoencoder do not: the checks feed 2-D tables of
a few random features, not images or strings; their own tests cover the same contracts
(pickling, cloning, validation) on fitting inputs.

Every check fits small models; the module is marked slow.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipelines.sklearn import KerasClassifier, KerasRegressor, TabularRegressor

pytestmark = pytest.mark.slow

# A small net and a large step: the checks fit a few hundred samples dozens of times, and
# check_classifiers_train / check_regressors_train still demand a good score.
_SMALL = dict(model__widths=(16,), epochs=5, batch_size=32, optimizer__learning_rate=0.03, random_state=0)

ESTIMATORS = [KerasClassifier(**_SMALL), KerasRegressor(**_SMALL)]

# Only checks that assume bit-reproducible fits or float64 arithmetic are expected to fail.
_FLOAT32 = (
    "the net computes in float32, and permuting the rows changes how the matrix product is blocked, "
    "hence the last float32 bit of some outputs (1e-8 apart, measured); the check compares at float64 "
    "tolerance (rtol=1e-7)"
)
# On some CPUs (AMD EPYC here) the oneDNN kernels block a 20-row batch differently from the whole set.
_FLOAT32_BATCH = (
    "the net computes in float32, and predicting in batches changes how the matrix product is "
    "blocked: outputs near 0.3 differ by 1.8e-7 (measured on an AMD EPYC), above the check's "
    "atol=1e-7"
)
_SAMPLE_WEIGHT = (
    "assumes the fit is an exact function of the weighted data: mini-batch Adam on repeated rows "
    "takes other batches and more steps than on weighted rows, so the two fits are not bit-equal "
    "(scikit-learn lists this check as an expected failure of its own MLP and SGD estimators)"
)
EXPECTED_FAILURES = {
    "check_methods_sample_order_invariance": _FLOAT32,
    "check_methods_subset_invariance": _FLOAT32_BATCH,
    "check_sample_weight_equivalence_on_dense_data": _SAMPLE_WEIGHT,
}


def expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check) -> None:
    check(estimator)


# TabularRegressor is a KerasRegressor with its own net (normalization, then the MLP): it gets the
# API checks (cloning, parameters, fitted state, n_features_in_, read-only input); the learning
# checks it would share with KerasRegressor (about 45 fits, a third of this module's time) run
# above on its parent only.
@parametrize_with_checks([TabularRegressor(**_SMALL)], expected_failed_checks=expected_failed_checks, legacy=False)
def test_tabular_regressor_api(estimator, check) -> None:
    check(estimator)
