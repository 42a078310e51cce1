"""The shared Keras-wrapping machinery: routing, seeding, warm starts, weights, pickling."""

from __future__ import annotations

import copy
import pickle
import random

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression

from pipelines.errors import ConfigError, DataValidationError, ModelLoadError, TrainingDivergedError
from pipelines.sklearn import KerasClassifier, KerasRegressor
from pipelines.sklearn.base import model_from_bytes, model_to_bytes

SMALL = dict(model__widths=(8,), epochs=2, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def fitted(blobs) -> KerasClassifier:
    X, y = blobs
    return KerasClassifier(**SMALL, optimizer__learning_rate=0.01).fit(X, y)


def test_routed_parameters_are_parameters() -> None:
    clf = KerasClassifier(model__widths=(8,), fit__shuffle=False, optimizer__beta_1=0.8, epochs=3)
    params = clf.get_params()
    assert params["model__widths"] == (8,) and params["fit__shuffle"] is False and params["optimizer__beta_1"] == 0.8
    clf.set_params(model__widths=(4, 4), optimizer__learning_rate=0.1)
    assert clf.get_params()["model__widths"] == (4, 4) and clf.get_params()["optimizer__learning_rate"] == 0.1
    # `model` itself stays a plain parameter, not a nested estimator.
    assert clf.get_params()["model"] == "mlp"


def test_clone_keeps_every_parameter() -> None:
    callbacks = [keras.callbacks.EarlyStopping(monitor="loss", patience=1)]
    clf = KerasClassifier(
        model="mlp",
        optimizer="sgd",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        epochs=3,
        batch_size=7,
        validation_split=0.1,
        callbacks=callbacks,
        class_weight="balanced",
        random_state=4,
        warm_start=True,
        verbose=0,
        model__widths=(3,),
        fit__shuffle=False,
        optimizer__momentum=0.5,
    )
    cloned = clone(clf)
    original, copied = clf.get_params(deep=False), cloned.get_params(deep=False)
    assert original.keys() == copied.keys()
    for key, value in original.items():
        if key == "callbacks":
            assert [type(c) for c in copied[key]] == [type(c) for c in value]
            assert copied[key][0].patience == 1
        else:
            assert copied[key] == value, key


def test_unknown_keyword_is_refused_by_fit_not_init(blobs) -> None:
    X, y = blobs
    clf = KerasClassifier(epoch=3)  # scikit-learn's rule: __init__ stores, fit validates
    assert clone(clf).get_params()["epoch"] == 3
    with pytest.raises(ConfigError, match=r"unknown parameters \['epoch'\] of KerasClassifier"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="Invalid parameter 'compile'"):
        KerasClassifier().set_params(compile__jit=True)


def test_fit_routed_clash_names_the_parameter(blobs) -> None:
    X, y = blobs
    with pytest.raises(ConfigError, match=r"fit__ arguments \['epochs'\].*Pass epochs"):
        KerasClassifier(fit__epochs=3).fit(X, y)


def test_parameter_constraints_raise_config_error(blobs) -> None:
    X, y = blobs
    with pytest.raises(ConfigError, match="epochs"):
        KerasClassifier(epochs=0).fit(X, y)
    with pytest.raises(ConfigError, match="unknown net 'resnet'. Known nets"):
        KerasClassifier(model="resnet").fit(X, y)
    with pytest.raises(ConfigError, match="not arguments of make_mlp_net"):
        KerasClassifier(model__depth=3).fit(X, y)


def test_keras_model_instance_is_refused(blobs) -> None:
    X, y = blobs
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(ConfigError, match="Received a keras.Model instance"):
        KerasClassifier(model=net).fit(X, y)


def test_optimizer_arguments_reach_a_fresh_optimizer(blobs) -> None:
    X, y = blobs
    shared = keras.optimizers.SGD(learning_rate=0.5)
    clf = KerasClassifier(**SMALL, optimizer=shared, optimizer__momentum=0.25).fit(X, y)
    assert clf.model_.optimizer is not shared
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.5)
    assert clf.model_.optimizer.momentum == 0.25
    # The same instance serves a second fit: each fit builds its own copy.
    clf.fit(X, y)


def test_compiled_builder_keeps_its_compile_and_refuses_optimizer_args(blobs) -> None:
    X, y = blobs

    def build(n_classes: int) -> keras.Model:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(n_classes, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        return model

    clf = KerasClassifier(model=build, epochs=1, random_state=0).fit(X, y)
    assert isinstance(clf.model_.optimizer, keras.optimizers.SGD)
    assert np.allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    with pytest.raises(ConfigError, match="returned a compiled model"):
        KerasClassifier(model=build, optimizer__learning_rate=0.1).fit(X, y)


def test_builder_receives_the_meta_arguments_it_names(blobs) -> None:
    X, y = blobs
    seen = {}

    def build(input_shape, n_classes, n_features_in, hidden: int = 2) -> keras.Model:
        seen.update(input_shape=input_shape, n_classes=n_classes, n_features_in=n_features_in, hidden=hidden)
        return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(hidden), keras.layers.Dense(n_classes)])

    KerasClassifier(model=build, model__hidden=5, epochs=1).fit(X, y)
    assert seen == {"input_shape": (4,), "n_classes": 3, "n_features_in": 4, "hidden": 5}


def test_random_state_reproduces_a_fit_and_restores_global_generators(blobs) -> None:
    X, y = blobs
    random.seed(123)
    np.random.seed(123)
    expected_python, expected_numpy = random.random(), np.random.rand()
    random.seed(123)
    np.random.seed(123)
    first = KerasClassifier(**SMALL).fit(X, y).predict_proba(X)
    assert (random.random(), np.random.rand()) == (expected_python, expected_numpy)
    second = KerasClassifier(**SMALL).fit(X, y).predict_proba(X)
    other = KerasClassifier(**{**SMALL, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_warm_start_continues_the_same_model(blobs) -> None:
    X, y = blobs
    clf = KerasClassifier(**SMALL, warm_start=True).fit(X, y)
    model = clf.model_
    clf.fit(X, y)
    assert clf.model_ is model and clf.n_iter_ == 4 and len(clf.history_["loss"]) == 4
    cold = KerasClassifier(**SMALL).fit(X, y)
    first_model = cold.model_
    cold.fit(X, y)
    assert cold.model_ is not first_model and cold.n_iter_ == 2


def test_partial_fit_needs_classes_first_and_trains_one_epoch(blobs) -> None:
    X, y = blobs
    clf = KerasClassifier(**SMALL)
    with pytest.raises(DataValidationError, match="needs classes="):
        clf.partial_fit(X[:10], y[:10])
    clf.partial_fit(X[y != 2], y[y != 2], classes=[0, 1, 2])
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 2 and clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(DataValidationError, match="outside classes_"):
        clf.partial_fit(X[:3], [0, 1, 7])
    reg = KerasRegressor(**SMALL)
    Xr, yr = make_regression(n_samples=40, n_features=3, random_state=0)
    reg.partial_fit(Xr, yr).partial_fit(Xr, yr)
    assert reg.n_iter_ == 2


def test_class_weight_and_sample_weight_steer_the_fit(blobs) -> None:
    X, y = blobs
    settings = dict(SMALL, epochs=5, optimizer__learning_rate=0.05)
    weights = {0: 100.0, 1: 0.01, 2: 0.01}
    by_class = KerasClassifier(**settings, class_weight=weights).fit(X, y)
    assert np.mean(by_class.predict(X) == 0) > 0.9
    by_sample = KerasClassifier(**settings).fit(X, y, sample_weight=np.where(y == 1, 100.0, 0.01))
    assert np.mean(by_sample.predict(X) == 1) > 0.9
    with pytest.raises(ConfigError, match=r"class_weight names labels \[5\]"):
        KerasClassifier(**SMALL, class_weight={5: 1.0}).fit(X, y)
    with pytest.raises(DataValidationError, match="Negative values in data passed to `?sample_weight"):
        KerasClassifier(**SMALL).fit(X, y, sample_weight=-np.ones(len(y)))


def test_validation_split_and_metrics_fill_the_history(blobs) -> None:
    X, y = blobs
    clf = KerasClassifier(**SMALL, validation_split=0.25, metrics=["accuracy"]).fit(X, y)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(clf.history_)
    assert len(clf.history_["val_loss"]) == 2


def test_non_finite_loss_raises_training_diverged(blobs) -> None:
    X, y = blobs

    def nan_loss(y_true, y_pred):  # sqrt of a negative number: NaN from the first step
        return keras.ops.sqrt(-1.0 - keras.ops.square(y_pred))

    with pytest.raises(TrainingDivergedError, match="became non-finite"):
        KerasRegressor(**SMALL, loss=nan_loss).fit(X, y.astype(float))


def test_pickle_and_deepcopy_give_identical_predictions(fitted, blobs) -> None:
    X, _ = blobs
    expected = fitted.predict_proba(X)
    data = pickle.dumps(fitted)
    assert b"PK" in data  # the model travels as a .keras (zip) archive
    restored = pickle.loads(data)
    copied = copy.deepcopy(fitted)
    assert restored.model_ is not fitted.model_ and copied.model_ is not fitted.model_
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    np.testing.assert_array_equal(copied.predict_proba(X), expected)
    assert restored.get_params() == fitted.get_params()
    assert isinstance(fitted.model_, keras.Model)  # pickling left the original alone


def test_unfitted_estimator_pickles_without_a_model() -> None:
    restored = pickle.loads(pickle.dumps(KerasClassifier(**SMALL)))
    assert restored.get_params()["model__widths"] == (8,) and not hasattr(restored, "model_")


def test_model_bytes_reload_refuses_lambda_layers() -> None:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2)])
    with pytest.raises(ModelLoadError, match="unsafe deserialization"):
        model_from_bytes(model_to_bytes(model))
    with pytest.raises(ModelLoadError, match="expected the bytes"):
        model_from_bytes("model.keras")
