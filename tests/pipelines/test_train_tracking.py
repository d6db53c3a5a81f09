"""Training end to end against a real `mlflow server` on 127.0.0.1 and the SQLite default."""

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from churnseg import tracking
from churnseg.config import (
    Capacity,
    DataConfig,
    EvaluationConfig,
    FeatureTableConfig,
    ModelConfig,
    SplitConfig,
    TrackingConfig,
    TrainConfig,
)
from churnseg.model.train import TrainingDataError
from pipelines import promote, train
from tests.mlflow_server import mlflow_server
from tests.synthetic import make_feature_table

pytestmark = pytest.mark.slow


def config(table_path, uri, name="churn-test", **model):
    return TrainConfig(
        feature_table=FeatureTableConfig(path=table_path),
        split=SplitConfig(),
        model=ModelConfig(capacity_grid=[Capacity(num_leaves=7, max_depth=3,
                                                  min_data_in_leaf=50)], max_rounds=150, **model),
        evaluation=EvaluationConfig(bootstrap=30),
        tracking=TrackingConfig(uri=uri, experiment="tests", registered_model=name),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("ft") / "features.parquet"
    make_feature_table(n_accounts=800, n_dates=12, seed=3).to_parquet(path)
    return path


def test_training_run_on_mlflow_server(server, table_path):
    result = train.run(DataConfig(), config(table_path, server))
    client = MlflowClient(tracking_uri=server)
    run = client.get_run(result.record.run_id)
    assert run.data.params["model.learning_rate"] == "0.05"
    assert 0.5 < run.data.metrics["test_roc_auc"] <= 1.0
    assert "logistic_baseline_roc_auc" in run.data.metrics
    assert run.data.tags["git_sha"] and "version.lightgbm" in run.data.tags
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/calibration.png", "plots/gains.png", "plots/shap_summary.png",
            "plots/family_importance.png"} <= artifacts
    assert run.inputs.dataset_inputs[0].dataset.digest
    version = client.get_model_version_by_alias("churn-test", "challenger")
    assert version.version == result.record.version

    # first promotion: no champion yet
    decision = promote.run(config(table_path, server).tracking)
    assert decision.promote
    mlflow.set_tracking_uri(server)
    loaded = mlflow.pyfunc.load_model("models:/churn-test@champion")
    holdout = result.split.test
    p = np.asarray(loaded.predict(tracking.model_input(result.model, holdout)))
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p, result.model.predict_proba(holdout), rtol=0, atol=1e-12)


def test_promotion_requires_beating_the_champion(server, table_path, tmp_path):
    cfg = config(table_path, server, name="churn-promo")
    first = train.run(DataConfig(), cfg)
    assert promote.run(cfg.tracking).promote
    # a model that only sees noise cannot beat the champion on the same holdout
    weak = config(table_path, server, name="churn-promo", include=["noise"])
    second = train.run(DataConfig(), weak)
    decision = promote.run(weak.tracking, second.record.version)
    assert not decision.promote and "not promoted" in decision.reason
    champion = MlflowClient(tracking_uri=server).get_model_version_by_alias("churn-promo",
                                                                             "champion")
    assert champion.version == first.record.version


def test_sqlite_default_store(tmp_path, table_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = train.run(DataConfig(), config(table_path, None, name="churn-local"))
    assert (tmp_path / "mlflow.db").exists()
    assert result.record.version == "1"


def test_same_config_and_seed_give_the_same_metrics(tmp_path, table_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    a = train.run(DataConfig(), config(table_path, uri), register=False)
    b = train.run(DataConfig(), config(table_path, uri), register=False)
    assert a.metrics == b.metrics


def test_feature_table_without_label_is_a_one_line_error(tmp_path):
    path = tmp_path / "f.parquet"
    make_feature_table(50, 3).drop(columns="churned").to_parquet(path)
    with pytest.raises(TrainingDataError, match="label column 'churned'"):
        train.run(DataConfig(), config(path, f"sqlite:///{tmp_path / 'm.db'}"))


def test_feature_table_without_as_of_falls_back_to_stratified(tmp_path, caplog):
    path = tmp_path / "f.parquet"
    make_feature_table(600, 4).drop(columns="as_of").to_parquet(path)
    cfg = config(path, f"sqlite:///{tmp_path / 'm.db'}")
    with caplog.at_level("WARNING"):
        result = train.run(DataConfig(), cfg, register=False)
    assert result.split.method == "stratified" and "stratified" in caplog.text
    assert isinstance(result.evaluation, pd.DataFrame)


def test_flatten_keeps_pattern_keys_as_json():
    flat = tracking.flatten({"model": {"lr": 0.1, "monotone": {r"logins_\d+d": -1}}})
    assert flat == {"model.lr": "0.1", "model.monotone": '{"logins_\\\\d+d": -1}'}
