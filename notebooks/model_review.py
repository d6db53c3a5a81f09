# %% [markdown]
# # Model review on a small simulated platform
# A notebook in percent format (open it in Jupyter with jupytext, or run it as a script; the test
# suite executes it). It walks the library end to end without MLflow: simulate, validate,
# snapshots, features, time split, LightGBM, calibration, test metrics, explanations, ranking.

# %%
import tempfile
from pathlib import Path

import pandas as pd

from churnseg import explain
from churnseg.config import (
    CalibrationConfig,
    DataConfig,
    FeatureConfig,
    ModelConfig,
    ScoreConfig,
    SimulateConfig,
    SnapshotConfig,
    SplitConfig,
)
from churnseg.data.contract import validate
from churnseg.data.io import open_tables
from churnseg.features.build import build_features, feature_columns
from churnseg.features.snapshots import as_of_dates, build_snapshots, labelled_snapshots
from churnseg.model.evaluate import classification_metrics, family_importance
from churnseg.model.train import calibrate_model, fit_model, split_by_as_of
from pipelines import simulate as sim_job
from pipelines.score import score_accounts

# %% Simulate and validate
data = Path(tempfile.mkdtemp(prefix="churnseg-notebook-"))
sim_job.run(SimulateConfig(accounts=2000, seed=5), data)
tables = open_tables(DataConfig(root=data))
report = validate(tables)
print(report.summary())

# %% Snapshots and features
snap_cfg = SnapshotConfig(start="2024-04-01", end="2025-09-01")
snapshots = labelled_snapshots(build_snapshots(tables, snap_cfg, as_of_dates(snap_cfg)))
matrix = build_features(tables, snapshots, FeatureConfig())
matrix = matrix.assign(churned=matrix["churned"].astype(int))
features = [c for c in feature_columns(matrix) if c not in ("account_id", "as_of")]
print(matrix.groupby("as_of")["churned"].agg(["size", "mean"]).tail())

# %% Train on older dates, calibrate and test on later ones
split = split_by_as_of(matrix, SplitConfig(), label_days=snap_cfg.horizon_days)
model, candidates = fit_model(split.train, split.valid, features, ModelConfig())
model = calibrate_model(model, split.calib, CalibrationConfig())
print(candidates)
test_metrics = classification_metrics(split.test["churned"], model.predict_proba(split.test),
                                      arr=split.test["arr"].fillna(0))
print(pd.Series(test_metrics).round(4))

# %% What drives risk, by family
contrib = explain.shap_contributions(model, split.test)
print(family_importance(contrib, explain.feature_families(model.features)))

# %% The ranked list at the latest date
latest = matrix[matrix["as_of"] == matrix["as_of"].max()]
priority, _, _ = score_accounts(latest, model, ScoreConfig(), snap_cfg.horizon_days)
print(priority[["priority_rank", "account_id", "probability", "arr", "owner", "playbook",
                "reason_1"]].head(10).to_string(index=False))
