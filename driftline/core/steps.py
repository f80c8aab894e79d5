"""Names shared by the code that builds a version's pipeline and reference and the code that reads them back.

Training (`retrain`) writes them; the fast preprocessing replay, the served model and the drift checks read them.
Keeping them here means a renamed step or column fails in one place instead of silently turning off a fast path.
"""

from __future__ import annotations

from typing import Final

# the pipeline: a ColumnTransformer step, then the estimator
COLUMNS_STEP: Final = "columns"
ESTIMATOR_STEP: Final = "estimator"
# the ColumnTransformer's two blocks and the steps inside each
NUMERIC_BLOCK: Final = "numeric"
CATEGORICAL_BLOCK: Final = "categorical"
IMPUTE_STEP: Final = "impute"
SCALE_STEP: Final = "scale"
ENCODE_STEP: Final = "encode"

# the reference sample's column holding the model's own prediction summary (see FeatureSchema.prediction_summary)
PREDICTION_COLUMN: Final = "__prediction__"
