"""Crisis detection: cohorts whose signals jumped, without echoes, sharpened when a pair explains
the jump, and silent when nothing changed."""

import numpy as np
import pandas as pd
import pytest

from churnseg import monitor
from churnseg.config import MonitorConfig, SegmentsConfig

REGIONS = ("LATAM", "EMEA", "APAC", "NA")
CHANNELS = ("organic", "partner", "paid")
CFG = MonitorConfig(dimensions=["region", "acquisition_channel", "tenure"],
                    signals=["missed_payment", "high_risk"])


def population(n, seed, rate, hot=None, hot_rate=0.0):
    """Cohort frame of n accounts; `missed_payment` at `rate`, or `hot_rate` where `hot` holds."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "region": rng.choice(REGIONS, n).astype(object),
        "acquisition_channel": rng.choice(CHANNELS, n).astype(object),
        "tenure": rng.choice(["new", "established"], n, p=[0.2, 0.8]).astype(object),
    })
    p = np.full(n, rate)
    if hot is not None:
        p = np.where(hot(frame), hot_rate, p)
    frame["missed_payment"] = rng.random(n) < p
    frame["high_risk"] = rng.random(n) < 0.05
    return frame


def before_frames(n=8000, rate=0.03):
    return pd.concat([population(n, seed, rate) for seed in (1, 2, 3)], ignore_index=True), 3


def test_regional_outage_is_one_alert_not_its_echoes():
    before, dates = before_frames()
    now = population(8000, 9, 0.03, hot=lambda f: f["region"] == "LATAM", hot_rate=0.25)
    alerts = monitor.cohort_alerts(now, before, dates, CFG)
    # the outage lifts every channel's and tenure band's national rate too: only LATAM is news
    assert alerts["cohort"].tolist() == ["region=LATAM"]
    row = alerts.iloc[0]
    assert row["signal"] == "missed_payment"
    assert 0.2 < row["rate"] < 0.3 and 0.02 < row["rate_before"] < 0.04
    assert row["z"] > 10 and "missed_payment in region=LATAM" in row["alert"]


def test_pair_replaces_parent_when_it_explains_the_jump():
    before, dates = before_frames()
    def hot(f):
        return (f["region"] == "LATAM") & (f["acquisition_channel"] == "partner")

    now = population(8000, 9, 0.03, hot=hot, hot_rate=0.5)
    alerts = monitor.cohort_alerts(now, before, dates, CFG)
    assert alerts["cohort"].tolist() == ["region=LATAM & acquisition_channel=partner"]


def test_stable_world_raises_no_alert():
    before, dates = before_frames()
    for seed in (11, 12, 13):
        now = population(8000, seed, 0.03)
        assert monitor.cohort_alerts(now, before, dates, CFG).empty


def test_small_cohorts_and_mild_rises_do_not_alert():
    before, dates = before_frames()
    # a 1.5x rise in a big cohort is below min_ratio
    mild = population(8000, 9, 0.03, hot=lambda f: f["region"] == "LATAM", hot_rate=0.045)
    assert monitor.cohort_alerts(mild, before, dates, CFG).empty
    tiny = population(300, 9, 0.03, hot=lambda f: f["region"] == "LATAM", hot_rate=0.25)
    assert monitor.cohort_alerts(tiny, before, dates, CFG).empty  # < 20 accounts with signal


def test_accounts_get_the_alert_only_when_they_show_the_signal():
    before, dates = before_frames()
    now = population(8000, 9, 0.03, hot=lambda f: f["region"] == "LATAM", hot_rate=0.25)
    alerts = monitor.cohort_alerts(now, before, dates, CFG)
    flagged = monitor.alert_of_account(now, alerts)
    expected = (now["region"] == "LATAM") & now["missed_payment"]
    assert ((flagged["alert"] != "") == expected).all()
    assert set(flagged.loc[expected, "alert_signal"]) == {"missed_payment"}
    assert (flagged.loc[~expected, "alert_signal"] == "").all()


def test_empty_inputs_give_no_alerts():
    before, dates = before_frames()
    assert monitor.cohort_alerts(before.iloc[:0], before, dates, CFG).empty
    no_dims = MonitorConfig(dimensions=["country"], signals=["missed_payment"])
    assert monitor.cohort_alerts(population(100, 1, 0.5), before, dates, no_dims).empty


def test_cohort_frame_reads_features_by_name_and_skips_missing_columns():
    features = pd.DataFrame({
        "region": pd.Categorical(["LATAM", None, "EMEA"]),
        "tenure_days": [10.0, 400.0, 30.0],
        "activated": [0, 1, 1],
        "failed_payments_30d": [2, 0, 0],
    })
    cfg = MonitorConfig(dimensions=["region", "plan", "tenure"],
                        signals=["missed_payment", "stalled_onboarding", "high_risk"],
                        stalled_after_days=7)
    frame = monitor.cohort_frame(features, np.array([0.5, 0.01, 0.3]), SegmentsConfig(), cfg)
    assert list(frame.columns) == ["region", "tenure", "missed_payment", "stalled_onboarding",
                                   "high_risk"]  # no plan column in the data: skipped
    assert frame["region"].tolist() == ["LATAM", "unknown", "EMEA"]
    assert frame["tenure"].tolist() == ["new", "established", "new"]
    assert frame["missed_payment"].tolist() == [True, False, False]
    assert frame["stalled_onboarding"].tolist() == [True, False, False]
    assert frame["high_risk"].tolist() == [True, False, True]


@pytest.mark.parametrize("field,value", [("min_ratio", 1.0), ("min_z", 0.0),
                                         ("min_accounts", 0)])
def test_config_rejects_thresholds_that_would_alert_on_noise(field, value):
    with pytest.raises(ValueError):
        MonitorConfig(**{field: value})
