"""Ordinary least squares with the classical inference table (ISLR's Tables 3.4 and 3.9).

The closed-form baseline of every tabular regression: `ols_table` fits all rows and
reports coefficient, standard error, t statistic and p-value per term, with R^2,
adjusted R^2, the residual standard error and the F statistic (statsmodels' `OLS`);
`ols_oof` gives its out-of-fold predictions for cross-validation. Interaction terms are
products of two features, named `"a:b"` as in R and patsy formulas.

Example:
    >>> x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> design, terms = design_matrix(x, ["a", "b"], [("a", "b")])
    >>> terms, design[2].tolist()
    (['Intercept', 'a', 'b', 'a:b'], [1.0, 2.0, 2.0, 4.0])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipelines.errors import ConfigError

__all__ = ["parse_interactions", "design_matrix", "ols_table", "ols_predict", "ols_oof"]


def parse_interactions(interactions: Sequence[str | Sequence[str]], features: Sequence[str]) -> list[tuple[str, str]]:
    """Normalizes interaction terms to pairs of feature names.

    Args:
        interactions: Each a pair `("TV", "radio")` or a string `"TV:radio"`.
        features: The feature names a term may use.

    Returns:
        The pairs, in order.

    Raises:
        ConfigError: A term is malformed, repeats a feature, or names an unknown one.

    Example:
        >>> parse_interactions(["TV:radio"], ["TV", "radio"])
        [('TV', 'radio')]
    """
    pairs = []
    for term in interactions:
        pair = tuple(term.split(":")) if isinstance(term, str) else tuple(term)
        if len(pair) != 2 or pair[0] == pair[1] or not all(isinstance(p, str) for p in pair):
            raise ConfigError(
                "expected each interaction to be two different feature names, ('TV', 'radio') or "
                f"'TV:radio'. Received: {term!r}"
            )
        unknown = [p for p in pair if p not in features]
        if unknown:
            raise ConfigError(
                f"interaction {term!r} names unknown features {unknown}. Known features: {list(features)}. "
                "Use names from `features`."
            )
        pairs.append(pair)
    return pairs


def design_matrix(
    x: np.ndarray, features: Sequence[str], interactions: Sequence[str | Sequence[str]] = ()
) -> tuple[np.ndarray, list[str]]:
    """The OLS design: an intercept column, the features, then each interaction product.

    Args:
        x: Features, shape `(n, len(features))`.
        features: Their names.
        interactions: Interaction terms (see `parse_interactions`). Defaults to `()`.

    Returns:
        `(design, term names)`, the design float64 of shape `(n, 1 + f + len(interactions))`.
    """
    pairs = parse_interactions(interactions, features)
    column = {name: j for j, name in enumerate(features)}
    x = np.asarray(x, dtype=np.float64)
    products = [x[:, column[a]] * x[:, column[b]] for a, b in pairs]
    design = np.column_stack([np.ones(len(x)), x, *products])
    return design, ["Intercept", *features, *(f"{a}:{b}" for a, b in pairs)]


def ols_table(
    x: np.ndarray, y: np.ndarray, features: Sequence[str], interactions: Sequence[str | Sequence[str]] = ()
) -> dict[str, Any]:
    """Fits OLS on every row and returns the inference table.

    Args:
        x: Features, shape `(n, f)`.
        y: Target, shape `(n,)`.
        features: Feature names.
        interactions: Interaction terms. Defaults to `()`.

    Returns:
        A JSON-ready dict: `terms` (one dict per term: `term`, `coef`, `std_err`, `t`,
        `p`), `r2`, `adj_r2`, `rse` (residual standard error), `f`, `f_p`, `n`, `df_resid`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.random((50, 1))
        >>> table = ols_table(x, 1.0 + 2.0 * x[:, 0] + 0.01 * rng.standard_normal(50), ["a"])
        >>> [round(row["coef"], 1) for row in table["terms"]], table["r2"] > 0.99
        ([1.0, 2.0], True)
    """
    import statsmodels.api as sm  # about a second to import; only needed here

    design, terms = design_matrix(x, features, interactions)
    fit = sm.OLS(np.asarray(y, dtype=np.float64), design).fit()
    rows = [
        {"term": term, "coef": float(c), "std_err": float(se), "t": float(t), "p": float(p)}
        for term, c, se, t, p in zip(terms, fit.params, fit.bse, fit.tvalues, fit.pvalues)
    ]
    return {
        "terms": rows,
        "r2": float(fit.rsquared),
        "adj_r2": float(fit.rsquared_adj),
        "rse": float(np.sqrt(fit.scale)),
        "f": float(fit.fvalue),
        "f_p": float(fit.f_pvalue),
        "n": int(fit.nobs),
        "df_resid": int(fit.df_resid),
    }


def ols_predict(
    table: dict[str, Any], x: np.ndarray, features: Sequence[str], interactions: Sequence[str | Sequence[str]] = ()
) -> np.ndarray:
    """Predicts with the coefficients of an `ols_table` fitted with the same terms.

    Example:
        >>> x = np.array([[0.0], [1.0], [2.0]])
        >>> ols_predict(ols_table(x, [1.0, 3.0, 5.0], ["a"]), np.array([[3.0]]), ["a"]).round(6).tolist()
        [7.0]
    """
    design, _ = design_matrix(x, features, interactions)
    return design @ np.array([row["coef"] for row in table["terms"]])


def ols_oof(
    x: np.ndarray,
    y: np.ndarray,
    fold_ids: np.ndarray,
    features: Sequence[str],
    interactions: Sequence[str | Sequence[str]] = (),
) -> np.ndarray:
    """Out-of-fold OLS predictions: each fold predicted by the fit on the other folds.

    Args:
        x: Features, shape `(n, f)`.
        y: Target, shape `(n,)`.
        fold_ids: Fold index of every row, shape `(n,)`.
        features: Feature names.
        interactions: Interaction terms. Defaults to `()`.

    Returns:
        Predictions, float64, shape `(n,)`.
    """
    design, _ = design_matrix(x, features, interactions)
    y = np.asarray(y, dtype=np.float64)
    oof = np.empty(len(y))
    for k in np.unique(fold_ids):
        held_out = fold_ids == k
        coef, *_ = np.linalg.lstsq(design[~held_out], y[~held_out], rcond=None)
        oof[held_out] = design[held_out] @ coef
    return oof
