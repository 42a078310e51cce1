"""Evaluation figures: confusion matrix, ROC, precision-recall, reliability, curves, images.

Every function returns a `matplotlib.figure.Figure`. Figures are built directly (not
through pyplot's global figure manager), so one that is never closed is still garbage
collected; `figure_to_png` renders one to PNG bytes.

- `base`: the default figure size and `figure_to_png`.
- `confusion`: the confusion matrix of predicted labels.
- `scores`: figures of predicted probabilities: ROC, precision-recall, reliability.
- `training`: learning curves from a Keras history.
- `images`: a grid of titled images.
"""

from pipelines.evaluation.plots.base import FIGSIZE, figure_to_png
from pipelines.evaluation.plots.confusion import MAX_ANNOTATED_CELLS, confusion_matrix_figure
from pipelines.evaluation.plots.images import image_grid_figure
from pipelines.evaluation.plots.scores import (
    MAX_LABELED_CLASSES,
    average_curve,
    pr_figure,
    reliability_figure,
    roc_figure,
)
from pipelines.evaluation.plots.training import learning_curves_figure

__all__ = [
    "confusion_matrix_figure",
    "roc_figure",
    "pr_figure",
    "average_curve",
    "reliability_figure",
    "learning_curves_figure",
    "image_grid_figure",
    "figure_to_png",
    "FIGSIZE",
    "MAX_LABELED_CLASSES",
    "MAX_ANNOTATED_CELLS",
]
