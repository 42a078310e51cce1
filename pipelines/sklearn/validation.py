"""Parameter and sample-weight checks of the estimators, built on public APIs only.

scikit-learn validates its own estimators' parameters with `sklearn.utils._param_validation`
and their sample weights with `sklearn.utils.validation._check_sample_weight`; both are
private and may move in any release. This module gives the same checks, error types and
messages for the constraints the estimators of `pipelines.sklearn` use:

- `None`: the value `None`;
- a type: its instances (`str`, `list`, `keras.optimizers.Optimizer`, ...);
- `callable`: any callable;
- `"boolean"`: `bool` or `numpy.bool_`;
- `"verbose"`: an int >= 0, `bool` or `numpy.bool_`;
- `"random_state"`: an int in [0, 2**32 - 1], a `numpy.random.RandomState` or `None`;
- `Interval(Integral | Real, left, right, closed=...)`: a number in a range;
- `StrOptions({...})`: one string of a set.

Example:
    >>> constraints = {"epochs": [Interval(Integral, 1, None, closed="left")]}
    >>> try:
    ...     validate_parameter_constraints(constraints, {"epochs": 0}, caller_name="KerasClassifier")
    ... except InvalidParameterError as e:
    ...     print(e)
    The 'epochs' parameter of KerasClassifier must be an int in the range [1, inf). Got 0 instead.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
from sklearn.utils.validation import check_array, check_non_negative

__all__ = [
    "InvalidParameterError",
    "Interval",
    "ParameterConstraints",
    "StrOptions",
    "check_sample_weight",
    "validate_parameter_constraints",
]

# `param_name: [constraint, ...]`; a value is valid when it satisfies one of them.
ParameterConstraints = dict[str, list[object]]


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or out of range.

    Both a `ValueError` and a `TypeError`, as scikit-learn's error of the same name.
    """


class Constraint:
    """One allowed kind of value of a parameter."""

    def is_satisfied_by(self, value: object) -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        raise NotImplementedError


def _type_name(kind: type) -> str:
    if kind.__module__ == "builtins":
        return kind.__qualname__
    if kind is Real:
        return "float"
    if kind is Integral:
        return "int"
    return f"{kind.__module__}.{kind.__qualname__}"


class _InstancesOf(Constraint):
    def __init__(self, kind: type) -> None:
        self.kind = kind

    def is_satisfied_by(self, value: object) -> bool:
        return isinstance(value, self.kind)

    def __str__(self) -> str:
        return f"an instance of {_type_name(self.kind)!r}"


class _IsNone(Constraint):
    def is_satisfied_by(self, value: object) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


class _Callables(Constraint):
    def is_satisfied_by(self, value: object) -> bool:
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


class _AnyOf(Constraint):
    """A named group of constraints (`"boolean"`, `"verbose"`, `"random_state"`)."""

    def __init__(self, *constraints: Constraint) -> None:
        self.constraints = constraints

    def is_satisfied_by(self, value: object) -> bool:
        return any(c.is_satisfied_by(value) for c in self.constraints)

    def __str__(self) -> str:
        return _join(self.constraints)


class Interval(Constraint):
    """Numbers of a type (`numbers.Integral` or `numbers.Real`) in a range.

    Args:
        kind: `numbers.Integral` or `numbers.Real`; values must be instances of it.
        left: The lower bound; `None` for -inf.
        right: The upper bound; `None` for +inf.
        closed: Which bounds belong to the range: `"left"` (`[left, right)`),
            `"right"`, `"both"` or `"neither"`.

    Example:
        >>> Interval(Real, 0, 1, closed="left").is_satisfied_by(1.0), str(Interval(Real, 0, 1, closed="left"))
        (False, 'a float in the range [0.0, 1.0)')
    """

    def __init__(
        self,
        kind: type,
        left: float | None,
        right: float | None,
        *,
        closed: Literal["left", "right", "both", "neither"],
    ) -> None:
        if kind not in (Integral, Real):
            raise ValueError(f"kind must be numbers.Integral or numbers.Real. Got {kind} instead.")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"closed must be either 'left', 'right', 'both' or 'neither'. Got {closed} instead.")
        if left is not None and right is not None and right <= left:
            raise ValueError(f"right can't be less than left. Got left={left} and right={right}")
        self.kind = kind
        self.left = left
        self.right = right
        self.closed = closed

    def __contains__(self, value: Any) -> bool:
        if not isinstance(value, Integral) and math.isnan(value):
            return False
        below = operator.lt if self.closed in ("left", "both") else operator.le
        above = operator.gt if self.closed in ("right", "both") else operator.ge
        left = -math.inf if self.left is None else self.left
        right = math.inf if self.right is None else self.right
        return not (below(value, left) or above(value, right))

    def is_satisfied_by(self, value: object) -> bool:
        return isinstance(value, self.kind) and value in self

    def _bound_str(self, bound: float) -> str:
        # An interval of floats shows its bounds as floats even when given as integers.
        return str(bound if self.kind is Integral else float(bound))

    def __str__(self) -> str:
        kind = "an int" if self.kind is Integral else "a float"
        left = "-inf" if self.left is None else self._bound_str(self.left)
        right = "inf" if self.right is None else self._bound_str(self.right)
        left_bracket = "[" if self.closed in ("left", "both") else "("
        right_bracket = "]" if self.closed in ("right", "both") else ")"
        return f"{kind} in the range {left_bracket}{left}, {right}{right_bracket}"


class StrOptions(Constraint):
    """One string of a set.

    Example:
        >>> StrOptions({"balanced"}).is_satisfied_by("balanced"), str(StrOptions({"balanced"}))
        (True, "a str among {'balanced'}")
    """

    def __init__(self, options: Iterable[str]) -> None:
        self.options = set(options)

    def is_satisfied_by(self, value: object) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        return f"a str among {{{', '.join(repr(o) for o in self.options)}}}"


def _make_constraint(spec: object) -> Constraint:
    if isinstance(spec, Constraint):
        return spec
    if spec is None:
        return _IsNone()
    if spec is callable:
        return _Callables()
    if isinstance(spec, type):
        return _InstancesOf(spec)
    if spec == "boolean":
        return _AnyOf(_InstancesOf(bool), _InstancesOf(np.bool_))
    if spec == "verbose":
        return _AnyOf(Interval(Integral, 0, None, closed="left"), _InstancesOf(bool), _InstancesOf(np.bool_))
    if spec == "random_state":
        return _AnyOf(Interval(Integral, 0, 2**32 - 1, closed="both"), _InstancesOf(np.random.RandomState), _IsNone())
    raise ValueError(f"Unknown constraint type: {spec}")


def _join(constraints: tuple[Constraint, ...] | list[Constraint]) -> str:
    if len(constraints) == 1:
        return str(constraints[0])
    return f"{', '.join(str(c) for c in constraints[:-1])} or {constraints[-1]}"


def validate_parameter_constraints(
    constraints: Mapping[str, list[object]], params: Mapping[str, object], caller_name: str
) -> None:
    """Checks each parameter that has constraints against them; the others pass.

    Raises:
        InvalidParameterError: A parameter satisfies none of its constraints; the
            message lists them, as scikit-learn's does.
    """
    for name, value in params.items():
        if name not in constraints:
            continue
        allowed = [_make_constraint(spec) for spec in constraints[name]]
        if not any(c.is_satisfied_by(value) for c in allowed):
            raise InvalidParameterError(
                f"The {name!r} parameter of {caller_name} must be {_join(allowed)}. Got {value!r} instead."
            )


def check_sample_weight(sample_weight: Any, X: Any, *, dtype: type = np.float32) -> np.ndarray:
    """Validated non-negative sample weights: a C-contiguous `(len(X),)` array of `dtype`.

    A scalar weight is repeated for every sample. The checks and messages are those of
    scikit-learn's private `_check_sample_weight(..., ensure_non_negative=True)`.

    Raises:
        ValueError: Weights that are not 1-D, not one per sample, all zero, negative or
            not finite.
    """
    n_samples = len(X)
    if isinstance(sample_weight, numbers.Number):
        weights: np.ndarray = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        weights = check_array(
            sample_weight, accept_sparse=False, ensure_2d=False, dtype=dtype, order="C", input_name="sample_weight"
        )
        if weights.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {weights.ndim}D array. Expected either a scalar "
                f"value or a 1D array of length {n_samples}."
            )
        if weights.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {weights.shape}, expected {(n_samples,)}!")
    if np.all(weights == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    check_non_negative(weights, "`sample_weight`")
    return weights
