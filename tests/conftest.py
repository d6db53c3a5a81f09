"""Shared fixtures."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.synthetic import make_feature_table


@pytest.fixture(scope="session")
def feature_table() -> pd.DataFrame:
    return make_feature_table()
