"""The notebooks run top to bottom against the current library."""

import runpy
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = runpy.run_path(str(path), run_name="__main__")
    assert namespace["test_metrics"]["roc_auc"] > 0.6
    assert namespace["priority"]["priority_rank"].iloc[0] == 1


def test_there_is_a_notebook():
    assert NOTEBOOKS
