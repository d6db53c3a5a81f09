"""The features job (`churnseg features`): Parquet matrix + catalog CSV from a data folder."""

import pandas as pd

from churnseg.config import DataConfig, FeatureConfig, SnapshotConfig
from pipelines.features import catalog_path, run
from tests.features.world import AS_OF, world_frames


def test_job_writes_matrix_and_catalog(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name, df in world_frames().items():
        df.to_parquet(data / f"{name}.parquet", index=False)
    cfg = DataConfig(
        root=data, horizon=pd.Timestamp("2024-09-01"), quarantine_dir=tmp_path / "quarantine"
    )
    out = run(cfg, SnapshotConfig(), FeatureConfig(), "2024-04-01", tmp_path / "x.parquet")
    matrix = pd.read_parquet(out)
    assert matrix["account_id"].tolist() == ["A", "B", "C"]
    assert (matrix["as_of"] == AS_OF).all()
    assert matrix["churned"].tolist() == [1, 0, 0]
    assert matrix["onboarding_stage"].dtype == "category"
    assert matrix.attrs["event_types"][0] == "order"
    catalog = pd.read_csv(catalog_path(out))
    assert catalog_path(out).name == "x.catalog.csv"
    assert list(catalog.columns) == ["name", "family", "description", "unit"]
    assert catalog["name"].tolist() == matrix.attrs["feature_columns"]
    assert not (tmp_path / "quarantine").exists()
