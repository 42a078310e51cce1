"""Evaluation shared by every pipeline: metrics, figures and the run report.

- `classification`: validated scikit-learn metrics (and the ECE).
- `plots`: matplotlib figures, rendered headless without touching pyplot's backend.
- `report`: the `Report` written as JSON, Markdown and self-contained HTML.
- `classifier_report`: the standard evaluation section of a classifier's report.
"""

from pipelines.evaluation.classification import (
    best_f1_threshold,
    binary_metrics,
    classification_metrics,
    expected_calibration_error,
    per_class_table,
)
from pipelines.evaluation.classifier_report import add_classification_evaluation
from pipelines.evaluation.plots import (
    confusion_matrix_figure,
    figure_to_png,
    image_grid_figure,
    learning_curves_figure,
    pr_figure,
    reliability_figure,
    roc_figure,
)
from pipelines.evaluation.report import Report

__all__ = [
    "Report",
    "add_classification_evaluation",
    "best_f1_threshold",
    "binary_metrics",
    "classification_metrics",
    "confusion_matrix_figure",
    "expected_calibration_error",
    "figure_to_png",
    "image_grid_figure",
    "learning_curves_figure",
    "per_class_table",
    "pr_figure",
    "reliability_figure",
    "roc_figure",
]
