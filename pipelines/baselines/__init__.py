"""Baselines: simple, well-known models fitted beside a pipeline's Keras model.

A baseline here is a simple, well-known model fitted on the same data (the same rows, the
same folds) beside the pipeline's Keras model, so that the report shows whether the net
earns its cost.

- `ols`: closed-form ordinary least squares with the classical inference table, the
  baseline of the `advertising` pipeline.
- `tfidf`: TF-IDF n-grams + logistic regression, the baseline of the `sentiment` pipeline.

Import the modules themselves (`from pipelines.baselines.ols import ols_table`); this
package imports neither, so importing it loads neither statsmodels nor scikit-learn.
"""
