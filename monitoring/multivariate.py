"""Multivariate drift: can a classifier tell the window's rows from the reference's?

Per-feature tests see each column alone, so they miss a change in how features move together (two features whose
correlation flips sign keep their marginal distributions). A domain classifier sees whole rows: reference rows are
labelled 0, window rows 1, and a small gradient-boosted model is cross-validated on them (5 stratified folds). The
ROC AUC of its pooled out-of-fold scores is 0.5 when the two are indistinguishable and grows towards 1 as they part;
NannyML alerts above 0.65, the default threshold here. It sees the features only: the prediction is a function of
them and adds nothing a classifier could not learn.

Both samples are bounded (`monitoring.multivariate_rows` each), the model is small and fits on one thread, so it
costs a fraction of a second whatever the traffic (measured: 15 s with OpenMP's default threads on two busy cores,
0.7 s on one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from monitoring.drift import Compared, sampled

FOLDS = 5
ITERATIONS = 25
# HistGradientBoosting takes categories as codes below its 255 bins; rarer categories share the last code
MAX_CATEGORY_CODES = 254


@dataclass(frozen=True)
class DomainDrift:
    """The domain classifier's verdict on one check."""

    auc: float
    threshold: float
    rows_reference: int
    rows_current: int
    features: int

    @property
    def drifted(self) -> bool:
        return self.auc > self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": f"domain classifier, {FOLDS}-fold out-of-fold ROC AUC",
            "auc": self.auc,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
            "features": self.features,
        }


def domain_drift(compared: Compared, *, threshold: float, rows: int, seed: int) -> DomainDrift | None:
    """Cross-validated ROC AUC of a classifier telling `compared`'s window rows from its reference rows; None when
    there are no features to compare or too few rows for the folds."""
    columns = compared.numeric + compared.categorical
    reference = sampled(compared.reference[columns], rows, seed)
    current = sampled(compared.current[columns], rows, seed)
    if not columns or min(len(reference), len(current)) < FOLDS:
        return None
    rows_x = _encoded(pd.concat([reference, current], ignore_index=True), compared.numeric, compared.categorical)
    side = np.concatenate([np.zeros(len(reference), dtype=int), np.ones(len(current), dtype=int)])
    classifier = HistGradientBoostingClassifier(
        max_iter=ITERATIONS,
        max_leaf_nodes=15,
        early_stopping=False,
        categorical_features=[name in compared.categorical for name in columns],
        random_state=seed,
    )
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    # one OpenMP thread: on a busy machine more threads make the small fits many times slower, not faster
    with threadpool_limits(limits=1, user_api="openmp"):
        scores = cross_val_predict(classifier, rows_x, side, cv=folds, method="predict_proba")[:, 1]
    return DomainDrift(
        auc=float(roc_auc_score(side, scores)),
        threshold=threshold,
        rows_reference=len(reference),
        rows_current=len(current),
        features=len(columns),
    )


def _encoded(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> np.ndarray:
    """Numbers as floats (infinite ones missing), categories as codes by frequency; missing values stay NaN."""
    encoded = np.empty((len(frame), len(numeric) + len(categorical)), dtype="float64")
    for index, name in enumerate(numeric):
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64")
        encoded[:, index] = np.where(np.isfinite(values), values, np.nan)
    for index, name in enumerate(categorical, start=len(numeric)):
        text = frame[name].astype("string")
        ranked = text.value_counts().index[:MAX_CATEGORY_CODES]
        codes = text.map({value: code for code, value in enumerate(ranked)})
        codes = codes.where(text.isna() | codes.notna(), MAX_CATEGORY_CODES)
        encoded[:, index] = codes.astype("float64").to_numpy()
    return encoded
