"""Task estimators and scikit-learn workflows: Pipeline, GridSearchCV, cross_val_score, real data."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from synthetic_images import colour_squares

from pipelines.errors import ConfigError, DataValidationError
from pipelines.sklearn import DenoisingAutoencoder, ImageClassifier, KerasClassifier, TabularRegressor, TextClassifier
from pipelines.sklearn.image_input import to_images

TINY_CNN = dict(model__stem_filters=4, model__filters=(8,), model__head_dropout=0.0)
TINY_AE = dict(model__stem_filters=4, model__filters=(8,), model__latent_filters=2)


def _two_class_images(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 128, (n, 28, 28)).astype("uint8")
    y = np.arange(n) % 2
    X[y == 1, :14] = 255  # class 1 has a white top half
    return X, y


# ----------------------------------------------------------------------------- images


def test_to_images_accepts_the_three_layouts() -> None:
    X, _ = _two_class_images(4)
    flat, layout = to_images(X.reshape(4, 784))
    square, _ = to_images(X)
    channel, _ = to_images(X[..., None].astype("float32") / 255)
    assert layout == (784,) and flat.shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(flat, square)
    np.testing.assert_allclose(channel, square, atol=1e-6)
    assert to_images(X.astype("int64"))[0].dtype == np.float32


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((2, 780)), "flat rows of 27 x 27"),
        (np.full((2, 28, 28), 3.0), r"float images in \[0, 1\]"),
        (np.full((2, 28, 28), 300), r"integer pixels in 0..255"),
        (np.zeros((2, 28, 28, 3)), "grayscale images"),
    ],
)
def test_to_images_rejects_with_the_fix(X, match) -> None:
    with pytest.raises(DataValidationError, match=match):
        to_images(X)


@pytest.mark.parametrize(
    "net, extra",
    [
        ("cnn", dict(TINY_CNN, optimizer__learning_rate=0.01)),
        (
            "vit",
            dict(
                model__dim=16,
                model__depth=1,
                model__heads=2,
                model__mlp_dim=16,
                model__drop_path=0.0,
                optimizer__learning_rate=0.003,
            ),
        ),
    ],
)
def test_image_classifier_learns_from_every_layout(net, extra) -> None:
    X, y = _two_class_images(96)
    clf = ImageClassifier(net=net, epochs=6, batch_size=16, random_state=0, **extra)
    clf.fit(X.reshape(len(X), 784), y)
    assert clf.image_shape_ == (28, 28, 1) and clf.n_features_in_ == 784
    assert clf.score(X.reshape(len(X), 784), y) >= 0.9
    # The other layouts of the same images give the same predictions.
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(X.reshape(len(X), 784)))
    np.testing.assert_allclose(clf.predict_proba(X[..., None]), clf.predict_proba(X))
    with pytest.raises(DataValidationError, match=r"images of shape \(28, 28, 1\) as in fit"):
        clf.predict(np.zeros((2, 14, 14), "uint8"))


@pytest.mark.parametrize(
    "net, extra",
    [
        ("cnn", dict(TINY_CNN, optimizer__learning_rate=0.01)),
        ("vit", dict(model__dim=16, model__depth=1, model__heads=2, model__mlp_dim=16, optimizer__learning_rate=0.003)),
    ],
)
def test_image_classifier_takes_colour_images(net, extra) -> None:
    X, y = colour_squares(per_class=16, size=16)  # the classes differ by colour alone
    clf = ImageClassifier(net=net, epochs=6, batch_size=16, random_state=0, **extra).fit(X, y)
    assert clf.image_shape_ == (16, 16, 3) and list(clf.classes_) == ["blue", "green", "red"]
    assert clf.score(X, y) >= 0.9
    # Flat rows of the fitted colour shape give the same numbers; grayscale images are refused.
    np.testing.assert_allclose(clf.predict_proba(X.reshape(len(X), -1)), clf.predict_proba(X), rtol=1e-6)
    with pytest.raises(DataValidationError, match=r"images of shape \(16, 16, 3\) as in fit"):
        clf.predict(X[..., 0])


def test_image_classifier_rejects_an_unknown_net() -> None:
    X, y = _two_class_images(8)
    with pytest.raises(ConfigError, match="net"):
        ImageClassifier(net="resnet").fit(X, y)


@pytest.mark.realdata
@pytest.mark.slow
def test_image_classifier_on_flat_mnist_rows(real_data_dir) -> None:
    from pipelines.inputs.mnist import load_mnist_family

    data = load_mnist_family("mnist", real_data_dir, download=False)
    X_train = data.x_train[:3000].reshape(-1, 784)  # flat rows, as fetch_openml gives them
    X_test = data.x_test[:1000].reshape(-1, 784)
    clf = ImageClassifier(
        model__stem_filters=8,
        model__filters=(16,),
        epochs=3,
        batch_size=64,
        optimizer__learning_rate=0.003,
        random_state=0,
    )
    clf.fit(X_train, data.y_train[:3000])
    accuracy = clf.score(X_test, data.y_test[:1000])
    assert accuracy >= 0.9, accuracy  # measured 0.935 (3,000 images, 3 epochs)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test[:100]), clf.predict_proba(X_test[:100]))


# ----------------------------------------------------------------------------- text

TEXTS = [
    "a good film",
    "great acting and a good plot",
    "a bad film",
    "dull plot and bad acting",
    "good good",
    "bad bad",
] * 6
LABELS = [1, 1, 0, 0, 1, 0] * 6


def test_text_classifier_learns_and_pickles() -> None:
    clf = TextClassifier(
        model__embed_dim=8, model__units=(4,), epochs=15, optimizer__learning_rate=0.02, random_state=0
    ).fit(np.array(TEXTS), LABELS)
    assert clf.score(TEXTS, LABELS) == 1.0
    assert clf.model_.output_shape == (None, 1)  # two classes: the net's single logit
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        restored.predict_proba(["good plot", "bad plot"]), clf.predict_proba(["good plot", "bad plot"])
    )
    # Words the training texts never had map to the OOV id beside the known ones; a text with no
    # known word at all (only punctuation, only unseen words) gets no prediction but an error.
    assert clf.predict(["an unseen good word"]).shape == (1,)
    with pytest.raises(DataValidationError, match=r"Received 2 texts without one, at index \[1, 2\], e.g. '\?!'"):
        clf.predict(["good", "?!", "an unseen word"])


def test_text_classifier_with_three_classes() -> None:
    texts = ["good film", "bad film", "long film"] * 10
    labels = ["pos", "neg", "meh"] * 10
    clf = TextClassifier(
        model__embed_dim=8, model__units=(4,), epochs=15, optimizer__learning_rate=0.02, random_state=0
    ).fit(texts, labels)
    assert clf.model_.output_shape == (None, 3)
    assert clf.predict(["good film", "long film"]).tolist() == ["pos", "meh"]


def test_text_classifier_keeps_the_tail_of_long_texts() -> None:
    # The verdict is the last word of texts longer than sequence_length: only a vectorizer
    # that keeps the tail can see it.
    texts = [f"{'the plot goes on ' * 3}{verdict}" for verdict in ("good", "bad", "great", "awful")] * 8
    labels = [1, 0, 1, 0] * 8
    options = dict(
        sequence_length=4,
        model__embed_dim=8,
        model__units=(4,),
        epochs=15,
        optimizer__learning_rate=0.02,
        random_state=0,
    )
    tail = TextClassifier(head_fraction=0.25, **options).fit(texts, labels)
    head_only = TextClassifier(head_fraction=1.0, **options).fit(texts, labels)
    assert tail.score(texts, labels) == 1.0
    assert head_only.score(texts, labels) == 0.5  # its first 4 tokens are the same for every text
    restored = pickle.loads(pickle.dumps(tail))
    np.testing.assert_array_equal(restored.predict_proba(texts[:4]), tail.predict_proba(texts[:4]))


@pytest.mark.parametrize(
    "X, match",
    [
        (["fine", ""], "non-empty texts"),
        ([b"bytes", "str"], "decode them first"),
        (np.array([["a", "b"]] * 2), "1-D array of strings"),
    ],
)
def test_text_classifier_rejects_bad_texts(X, match) -> None:
    with pytest.raises(DataValidationError, match=match):
        TextClassifier(epochs=1).fit(X, [0, 1])


@pytest.mark.realdata
@pytest.mark.slow
def test_text_classifier_in_a_pipeline_on_imdb(real_data_dir) -> None:
    from pipelines.inputs.text import load_imdb, strip_html

    data = load_imdb(real_data_dir, download=False)
    rng = np.random.default_rng(0)
    train = rng.choice(len(data.texts_train), 2000, replace=False)
    test = rng.choice(len(data.texts_test), 500, replace=False)
    # The vectorizer strips HTML itself; the step is there to show strings flowing through a Pipeline.
    pipe = Pipeline(
        [
            ("strip_html", FunctionTransformer(lambda texts: [strip_html(t) for t in texts])),
            (
                "rnn",
                TextClassifier(
                    max_tokens=5000,
                    sequence_length=100,
                    model__embed_dim=32,
                    model__units=(16,),
                    epochs=2,
                    batch_size=64,
                    optimizer__learning_rate=0.005,
                    random_state=0,
                ),
            ),
        ]
    )
    pipe.fit(data.texts_train[train], data.y_train[train])
    accuracy = pipe.score(data.texts_test[test], data.y_test[test])
    assert accuracy >= 0.7, accuracy  # chance is 0.5; 2,000 reviews and 2 epochs


# ----------------------------------------------------------------------------- tables


def test_tabular_regressor_names_non_numeric_columns() -> None:
    frame = pd.DataFrame({"tv": [1.0, 2.0], "city": ["a", "b"]})
    with pytest.raises(DataValidationError, match=r"non-numeric columns \['city'\].*OneHotEncoder"):
        TabularRegressor(epochs=1).fit(frame, [1.0, 2.0])


@pytest.mark.realdata
@pytest.mark.slow
def test_column_transformer_pipeline_on_advertising(real_data_dir) -> None:
    frame = pd.read_csv(real_data_dir / "advertising" / "Advertising.csv")
    # A made-up categorical column, to give the ColumnTransformer something to encode.
    frame["market"] = np.where(np.arange(len(frame)) % 2, "north", "south")
    X, y = frame[["TV", "radio", "newspaper", "market"]], frame["sales"]
    pipe = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [("market", OneHotEncoder(sparse_output=False), ["market"])],
                    remainder="passthrough",
                    verbose_feature_names_out=False,
                ),
            ),
            (
                "mlp",
                TabularRegressor(
                    model__widths=(32,), epochs=60, batch_size=16, optimizer__learning_rate=0.01, random_state=0
                ),
            ),
        ]
    )
    pipe.set_output(transform="pandas")
    scores = cross_val_score(pipe, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.mean() >= 0.9, scores  # OLS on TV, radio and newspaper reaches R^2 0.90 on all rows
    pipe.fit(X, y)
    assert pipe[-1].feature_names_in_.tolist() == ["market_north", "market_south", "TV", "radio", "newspaper"]
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X), pipe.predict(X))


# ----------------------------------------------------------------------------- search


@pytest.mark.slow
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_model_and_optimizer_parameters(n_jobs) -> None:
    X, y = make_classification(n_samples=150, n_features=5, random_state=0)
    search = GridSearchCV(
        KerasClassifier(epochs=3, random_state=0),
        {"model__widths": [(4,), (16,)], "optimizer__learning_rate": [1e-4, 0.03]},
        cv=2,
        n_jobs=n_jobs,
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    # A 300x larger step trains 3 epochs much further: the search sees the parameters.
    assert search.best_params_["optimizer__learning_rate"] == 0.03
    assert search.best_estimator_.model_.get_layer("hidden_0").units == search.best_params_["model__widths"][0]
    assert float(search.best_estimator_.model_.optimizer.learning_rate) == pytest.approx(0.03)


def test_cross_val_score_with_routed_parameters() -> None:
    X, y = make_classification(n_samples=120, n_features=5, random_state=1)
    clf = make_pipeline(KerasClassifier(model__widths=(8,), epochs=5, optimizer__learning_rate=0.02, random_state=0))
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() >= 0.8, scores


# ----------------------------------------------------------------------------- denoising


def test_denoising_autoencoder_transform_keeps_the_layout_and_denoises() -> None:
    X = np.zeros((128, 28, 28), "uint8")
    X[:, 8:20, 8:20] = 255
    ae = DenoisingAutoencoder(
        epochs=8, batch_size=16, noise_factor=0.3, optimizer__learning_rate=0.01, random_state=0, **TINY_AE
    ).fit(X)
    flat = X.reshape(128, 784)
    assert ae.transform(flat).shape == (128, 784) and ae.transform(X[..., None]).shape == (128, 28, 28, 1)
    assert ae.encode(X).shape == (128, 14 * 14 * 2)
    rng = np.random.default_rng(0)
    clean = X[:8].astype("float32") / 255
    noisy = np.clip(clean + 0.3 * rng.standard_normal(clean.shape).astype("float32"), 0, 1)
    # The autoencoder must bring noisy squares closer to the clean ones than the noise leaves
    # them (measured: 0.0003 against 0.045).
    assert np.mean((ae.transform(noisy) - clean) ** 2) < 0.2 * np.mean((noisy - clean) ** 2)
    restored = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(restored.transform(noisy), ae.transform(noisy))
    with pytest.raises(DataValidationError, match="as in fit"):
        ae.transform(np.zeros((1, 14, 14), "uint8"))
