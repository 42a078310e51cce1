"""What a pipeline's tuning trials optimize: a metric that never reads the test set.

Each tunable pipeline registers a `TuneSpec` (`register(..., tune=TuneSpec(...))`): the
metric, where it comes from, its direction, the default search space and the settings
every trial runs with (e.g. `test_evaluation=False` and quick epochs), which the caller's
own settings override.

Example:
    >>> spec = TuneSpec("val_accuracy", "maximize", source="history", space={"learning_rate": "log:1e-4:1e-2"})
    >>> spec.score_of({"val_accuracy": [0.8, 0.9, 0.85]}, {})
    0.9
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import ConfigError

__all__ = ["TuneSpec"]


@dataclass(frozen=True)
class TuneSpec:
    """A pipeline's tuning objective and defaults.

    Attributes:
        metric: The metric's name in the run's history or metrics.
        direction: `maximize` or `minimize`.
        source: `history` (the best epoch of a validation curve) or `metrics` (a final
            metric the run computes without the test set, e.g. a cross-validated score).
        space: The default search space, `{key: SPEC}` (see `pipelines.tuning.space`), or a
            function of the resolved config giving it (when the data change the defaults).
        trial_settings: Config settings of every trial, unless the caller sets them.
        final_settings: Settings of the best configuration's final run (e.g. the test
            evaluation turned back on), over the trials' own.
    """

    metric: str
    direction: str
    source: str = "history"
    space: Mapping[str, str] | Callable[[Any], Mapping[str, str]] = field(default_factory=dict)
    trial_settings: Mapping[str, Any] = field(default_factory=dict)
    final_settings: Mapping[str, Any] = field(default_factory=dict)

    def space_for(self, config: Any) -> dict[str, str]:
        """The default search space for `config` (the trials' resolved config)."""
        return dict(self.space(config) if callable(self.space) else self.space)

    def score_of(
        self,
        history: Mapping[str, list[float]],
        metrics: Mapping[str, Any],
        metric: str | None = None,
        direction: str | None = None,
    ) -> float:
        """The trial's score: `metric` (default this spec's) from `history` (its best epoch
        in `direction`) or else `metrics`.

        Raises:
            ConfigError: The run has no such metric (a `--metric` the pipeline does not compute).
        """
        name, direction = metric or self.metric, direction or self.direction
        if self.source == "history" or name in history:
            values = [v for v in history.get(name, []) if v is not None and math.isfinite(v)]
            if values:
                return float(max(values) if direction == "maximize" else min(values))
        value = metrics.get(name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        known = sorted({*history, *(k for k, v in metrics.items() if isinstance(v, (int, float)))})
        raise ConfigError(f"the trial's run has no finite {name!r}; choose --metric from: {', '.join(known)}")
