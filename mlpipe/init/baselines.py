"""The first two models a data scientist fits on a table, with scikit-learn: a regularized linear
model (RidgeCV; LogisticRegressionCV for classes) and boosted trees (HistGradientBoosting).

`mlpipe init` cross-validates both on the training rows of a regression table to choose the
network's shape (`choose_shape`), and `benchmarks/bench_problems.py` holds the pipeline's model
to them on the pipeline's own split. Both build the models here: the yardstick and the decision
are one.

Columns arrive as text cells ("" or None for blank), as CSV and TFRecord rows give them.
"""

from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.metrics import accuracy_score, mean_squared_error, roc_auc_score
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from mlpipe.init.inference import Shape

FOLDS = 5
SEED = 0
MAX_ROWS = 20_000         # rows the init-time comparison fits on (a sample of larger tables)
# HistGradientBoosting takes at most 255 bins per feature, one of them for missing values.
MAX_CATEGORIES = 254
# A regression network is the linear "wide" part alone when a linear model's cross-validated
# RMSE is within this fraction of boosted trees': hidden layers then have little to learn that
# the linear part on the same encodings misses, and on a few hundred rows they fit noise
# (scikit-learn's diabetes table, 442 rows: eval RMSE 59.7 [59.3-60.0] over three seeds without
# hidden layers, 63.5 [62.8-64.4] with [64, 32]; RidgeCV 60.2; bench_problems.py).
LINEAR_RMSE_MARGIN = 0.01
DEEP_UNITS = [64, 32]


def frame(rows: Sequence[Dict[str, Optional[str]]], numeric: Sequence[str],
          categorical: Sequence[str]) -> pd.DataFrame:
    """Numbers as floats (NaN when blank), categories as text (NaN when blank)."""
    columns = list(numeric) + list(categorical)
    table = pd.DataFrame([{name: row.get(name) for name in columns} for row in rows],
                         columns=columns)
    for name in numeric:
        table[name] = pd.to_numeric(table[name].map(_blank_as_nan), errors="coerce").astype(float)
    for name in categorical:
        table[name] = table[name].map(lambda cell: np.nan if _blank(cell) else str(cell))
    return table


def _blank(cell) -> bool:
    return cell is None or cell == ""


def _blank_as_nan(cell):
    return np.nan if _blank(cell) else cell


def linear_model(task: str, numeric: Sequence[str], categorical: Sequence[str]):
    """RidgeCV / LogisticRegressionCV (strength chosen by cross-validation on what it is fitted
    on) after median imputation with missing indicators and scaling of numbers, and one-hot
    categories with blank as a category of its own."""
    prepare = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True,
                                                keep_empty_features=True),
                                  StandardScaler()), list(numeric)),
        ("categories", make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="ignore")), list(categorical))])
    if task == "regression":
        return make_pipeline(prepare, RidgeCV(alphas=np.logspace(-3, 3, 13)))
    return make_pipeline(prepare, LogisticRegressionCV(Cs=10, max_iter=5000))


def boosted_model(task: str, numeric: Sequence[str], categorical: Sequence[str]):
    """HistGradientBoosting with its native handling of blanks and categories."""
    prepare = ColumnTransformer([
        ("numbers", "passthrough", list(numeric)),
        ("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                      encoded_missing_value=np.nan,
                                      max_categories=MAX_CATEGORIES), list(categorical))])
    mask = [False] * len(numeric) + [True] * len(categorical)
    if task == "regression":
        model = HistGradientBoostingRegressor(categorical_features=mask, random_state=SEED)
    else:
        model = HistGradientBoostingClassifier(categorical_features=mask, random_state=SEED)
    return make_pipeline(prepare, model)


def score(task: str, model, table: pd.DataFrame, y) -> float:
    """RMSE of values; AUC of a binary model's P(1); accuracy of a multiclass model."""
    if task == "regression":
        return float(np.sqrt(mean_squared_error(y, model.predict(table))))
    probabilities = model.predict_proba(table)
    if task == "binary":
        return float(roc_auc_score(y, probabilities[:, 1]))
    return float(accuracy_score(y, model.classes_[probabilities.argmax(axis=1)]))


def cross_validated(task: str, build, table: pd.DataFrame, y: np.ndarray) -> float:
    """The mean score of `build(task, numeric, categorical)` over FOLDS folds of `table` (a
    `frame`: its float columns are the numbers)."""
    numeric = [name for name in table.columns if table[name].dtype.kind == "f"]
    categorical = [name for name in table.columns if name not in set(numeric)]
    scores = []
    # One OpenMP thread: boosted trees on a few thousand rows gain little from more, and on a
    # busy machine their spinning threads made 5 folds of 300 rows take 6 s instead of 0.6 s.
    with threadpool_limits(limits=1, user_api="openmp"):
        for fit_rows, score_rows in KFold(FOLDS, shuffle=True, random_state=SEED).split(table):
            model = build(task, numeric, categorical)
            model.fit(table.iloc[fit_rows], y[fit_rows])
            scores.append(score(task, model, table.iloc[score_rows], y[score_rows]))
    return float(np.mean(scores))


def choose_shape(task: str, examples: Callable[[], Tuple[Sequence[Dict[str, Optional[str]]],
                                                         Sequence]],
                 numeric: Sequence[str], categorical: Sequence[str]) -> Shape:
    """The hidden layers init writes. Regression: none when a linear model is as good as boosted
    trees on the rows `examples()` gives (rows, labels; built only for regression: a copy of
    every training row), cross-validated, else DEEP_UNITS. Classes: DEEP_UNITS (on the
    penguins, wine and breast cancer tables a linear model matches boosted trees, yet the
    network without hidden layers was no better than with them, and on the penguins worse:
    accuracy 0.986 against 1.0 over three seeds)."""
    if task != "regression":
        return Shape(DEEP_UNITS, f"{DEEP_UNITS}, the default for classes")
    rows, y = examples()
    y = np.asarray(y, dtype=float)
    if len(y) > MAX_ROWS:
        sample = np.sort(np.random.default_rng(SEED).choice(len(y), MAX_ROWS, replace=False))
        rows, y = [rows[index] for index in sample], y[sample]
    if len(y) < 2 * FOLDS:
        return Shape(DEEP_UNITS, f"{DEEP_UNITS}: too few rows to compare a linear model with "
                                 "boosted trees")
    table = frame(rows, numeric, categorical)
    linear = cross_validated(task, linear_model, table, y)
    boosted = cross_validated(task, boosted_model, table, y)
    figures = (f"{FOLDS}-fold RMSE on {len(y)} training rows: linear {linear:.4g}, "
               f"boosted trees {boosted:.4g}")
    if linear <= boosted * (1 + LINEAR_RMSE_MARGIN):
        return Shape([], f"none, the linear part alone: a linear model is as good as boosted "
                         f"trees ({figures})")
    return Shape(DEEP_UNITS, f"{DEEP_UNITS}: boosted trees beat a linear model ({figures})")

