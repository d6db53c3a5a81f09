"""Fixtures of the features tests: the hand-built 3-account world (see `world.py`)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from churnseg.data.io import Tables
from tests.features.world import AS_OF, by_account, censored, make_tables, scrambled, world_frames


@pytest.fixture
def world() -> dict[str, pd.DataFrame]:
    return world_frames()


@pytest.fixture
def tables_of() -> Callable[..., Tables]:
    return make_tables


@pytest.fixture(scope="session")
def world_tables() -> Tables:
    """Read-only: shared by every test that does not change the world."""
    return make_tables(world_frames())


@pytest.fixture
def censor() -> Callable[..., dict[str, pd.DataFrame]]:
    return censored


@pytest.fixture
def scramble() -> Callable[..., dict[str, pd.DataFrame]]:
    return scrambled


@pytest.fixture
def keys() -> Callable[..., pd.DataFrame]:
    def make(accounts=("A", "B", "C"), as_of=AS_OF) -> pd.DataFrame:
        return pd.DataFrame({"account_id": list(accounts), "as_of": [as_of] * len(accounts)})

    return make


@pytest.fixture
def indexed() -> Callable[[pd.DataFrame], pd.DataFrame]:
    return by_account
