"""The catalog describes every feature the builder makes, with a readable reason."""

import math

import pytest

from churnseg.config import FeatureConfig
from churnseg.features.build import build_features, feature_columns
from churnseg.features.catalog import FAMILIES, catalog_frame, lookup


def test_every_built_feature_is_catalogued(world, tables_of, keys):
    tables = tables_of(world, extra_account_columns=("employees",))
    x = build_features(tables, keys(), FeatureConfig(windows=[7, 14, 30, 90]))
    cols = [c for c in feature_columns(x) if c != "employees"]
    for col in cols:
        spec = lookup(col, strict=True)
        assert spec.family in FAMILIES and spec.description and spec.unit
    frame = catalog_frame(feature_columns(x))
    assert list(frame.columns) == ["name", "family", "description", "unit"]
    assert frame.set_index("name").loc["employees", "family"] == "account"
    assert set(frame["family"]) == set(FAMILIES)


def test_generated_names():
    assert lookup("logins_14d").description == "Logins in the last 14 days"
    spec = lookup("events_page_view_trend_30d")
    assert spec.family == "usage" and spec.unit == "fraction"
    assert "'page view' events" in spec.description
    assert lookup("events_page_view_7d").description == "'page view' events in the last 7 days"
    assert lookup("events_7d").description == "Events of any type in the last 7 days"
    with pytest.raises(KeyError):
        lookup("no_such_feature", strict=True)


@pytest.mark.parametrize(
    "name, value, sentence",
    [
        ("failed_payments_30d", 3.0, "3 failed payments in the last 30 days"),
        ("logins_trend_30d", -0.5, "logins down 50% vs the previous 30 days"),
        ("arr_change_90d", 0.25, "ARR up 25% in the last 90 days"),
        ("in_dunning", 1, "in dunning: a failed payment has not been recovered"),
        ("adopted_feature_discounts", 0, "not using feature discounts"),
        ("onboarding_stage", "dropped_early", "onboarding stage: dropped early"),
        ("nps_change", -3.0, "NPS down 3 points since the previous survey"),
        ("payment_failure_rate_90d", 0.6, "60% of payment attempts failed in the last 90 days"),
        ("events_order_30d", 2, "2 order events in the last 30 days"),
        ("days_since_last_login", math.nan, "no login on record"),
        ("seats", math.nan, "no data: seats of the subscriptions active at as_of"),
    ],
)
def test_reason_sentences(name, value, sentence):
    assert lookup(name).reason(value) == sentence
