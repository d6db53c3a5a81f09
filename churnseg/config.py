"""Typed configuration: pydantic models loaded from YAML by one `load_config`.

Unknown keys and wrong types are errors that name the key and the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A configuration file is unreadable, has an unknown key or a value of the wrong type."""


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# data.yaml: where tables live and how a user's own column names map onto the contract
# --------------------------------------------------------------------------------------------
class TableSource(StrictModel):
    """Where one contract table comes from.

    Attributes:
        path: file or folder (relative to `DataConfig.root`); default `<table>.parquet`,
            `<table>/` or `<table>.csv`, whichever exists.
        table: table name inside the DuckDB database (when `DataConfig.database` is set).
        columns: contract column name -> the user's column name.
    """

    path: str | None = None
    table: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)


class DataConfig(StrictModel):
    """Where the customer tables live.

    Attributes:
        root: folder of Parquet/CSV files (one file or folder per table).
        database: a DuckDB database file to read tables from instead of `root`.
        tables: per-table overrides (location, column mapping); keys are contract table names.
        horizon: the data's "now": later timestamps are quarantined. Default: the time of the run.
        extra_account_columns: static account columns (beyond the contract) to carry as features.
        quarantine_dir: where rejected rows are written, with a reason per row.
    """

    root: Path = Path("data/simulated")
    database: Path | None = None
    tables: dict[str, TableSource] = Field(default_factory=dict)
    horizon: datetime | None = None
    extra_account_columns: list[str] = Field(default_factory=list)
    quarantine_dir: Path = Path("outputs/quarantine")

    @field_validator("tables")
    @classmethod
    def _known_tables(cls, tables: dict[str, TableSource]) -> dict[str, TableSource]:
        from churnseg.data.contract import TABLES

        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown table(s) {unknown}; contract tables are {sorted(TABLES)}")
        return tables

    def source(self, table: str) -> TableSource:
        return self.tables.get(table, TableSource())


# --------------------------------------------------------------------------------------------
# simulate.yaml: the synthetic SaaS ecommerce platform
# --------------------------------------------------------------------------------------------
class CrisisConfig(StrictModel):
    """A regional payment-gateway outage that hurts new accounts in one region."""

    enabled: bool = True
    region: str = "LATAM"
    gateway: str = "PayFlow"
    start_month: int = Field(14, ge=0, description="months after the simulation start")
    weeks: int = Field(4, ge=1)
    failure_rate: float = Field(0.7, ge=0, le=1)


class InterventionsConfig(StrictModel):
    """Randomized outreach to at-risk accounts, from `start_month` on."""

    enabled: bool = True
    start_month: int = Field(16, ge=0)
    treatment_share: float = Field(0.5, gt=0, lt=1)
    risk_threshold: float = Field(
        0.004, gt=0, description="daily churn hazard at or above which an account is enrolled")
    effect_days: int = Field(120, ge=1, description="days a treatment keeps working")
    effect_scale: float = Field(
        1.0, ge=0, description="strength of every treatment effect (0 = no effect)")


class SimulateConfig(StrictModel):
    """Size, seed and switches of the simulated platform."""

    accounts: int = Field(2000, ge=10)
    months: int = Field(24, ge=3)
    seed: int = 7
    start: date = date(2024, 1, 1)
    crisis: CrisisConfig = CrisisConfig()
    interventions: InterventionsConfig = InterventionsConfig()
    chunk_accounts: int = Field(10_000, ge=100, description="accounts simulated per chunk")
    existing_share: float = Field(
        0.45, ge=0, le=1, description="share of accounts created in the 24 months before start")
    churn_scale: float = Field(1.0, gt=0, description="multiplier on every churn hazard")
    events_scale: float = Field(1.0, gt=0, description="multiplier on usage event rates")


# --------------------------------------------------------------------------------------------
# Snapshots, labels and features (train.yaml / score.yaml sections)
# --------------------------------------------------------------------------------------------
class SnapshotConfig(StrictModel):
    """Which (account, as_of) pairs exist and how they are labelled.

    Attributes:
        churn_definition: `contractual` (subscription ended) or `inactivity` (went dormant).
        as_of: explicit as_of dates; otherwise `start`..`end` every `frequency`.
        frequency: pandas offset alias for generated dates (`MS` month start, `W-MON` weekly).
        lead_days: days between as_of and the start of the label window (time to act).
        horizon_days: length of the label window (as_of + lead, as_of + lead + horizon].
        grace_days: a re-signup within this many days of an end is not churn.
        inactivity_days: population and label window for inactivity churn: active in the last N
            days before as_of; churned when no activity in the label window.
        downgrade_threshold: ARR drop (fraction) that counts for the optional downgrade label.
        min_tenure_days: accounts younger than this at as_of are left out of the population.
    """

    churn_definition: Literal["contractual", "inactivity"] = "contractual"
    as_of: list[date] | None = None
    start: date | None = None
    end: date | None = None
    frequency: str = "MS"
    lead_days: int = Field(0, ge=0)
    horizon_days: int = Field(90, ge=1)
    grace_days: int = Field(30, ge=0)
    inactivity_days: int = Field(30, ge=1)
    downgrade_threshold: float = Field(0.2, gt=0, le=1)
    min_tenure_days: int = Field(0, ge=0)


class OnboardingFeatureConfig(StrictModel):
    """Milestone order and activation; stage thresholds."""

    milestones: list[str] = Field(default_factory=lambda: [
        "store_configured", "products_imported", "payment_gateway_connected", "first_order"])
    activation_milestone: str = "first_order"
    dropped_early_days: int = Field(
        14, ge=1, description="no milestone for this many days and < half done = dropped early")


class UsageFeatureConfig(StrictModel):
    """Which event types mean what; every other event type still gets generic counts."""

    login_event: str = "login"
    key_features: list[str] = Field(default_factory=lambda: [
        "feature_discounts", "feature_email_campaigns", "feature_analytics",
        "feature_inventory_sync", "feature_abandoned_cart", "feature_multi_currency"])
    max_generic_event_types: int = Field(
        20, ge=0, description="most frequent event types that get their own count/trend columns")


Family = Literal["onboarding", "usage", "tickets", "payments", "sentiment", "account"]
FAMILIES: tuple[Family, ...] = (
    "onboarding", "usage", "tickets", "payments", "sentiment", "account")


class FeatureConfig(StrictModel):
    """Feature families and their windows.

    Attributes:
        windows: trailing windows (days, ending strictly before as_of) for counts; the longest
            is also the window of rates, medians and distinct counts.
        families: families to build (a family whose table is absent is skipped).
        trend_days: trends compare the last `trend_days` with the `trend_days` before them.
        high_priorities: ticket priorities (case-insensitive) that count as high priority.
        arr_change_days: ARR change is measured against the ARR this many days before as_of.
        threads: DuckDB threads for the features job; default all cores.
    """

    windows: list[int] = Field(default_factory=lambda: [7, 30, 90], min_length=1)
    families: list[Family] = Field(default_factory=lambda: list(FAMILIES))
    onboarding: OnboardingFeatureConfig = OnboardingFeatureConfig()
    usage: UsageFeatureConfig = UsageFeatureConfig()
    trend_days: int = Field(30, ge=1)
    high_priorities: list[str] = Field(default_factory=lambda: ["high", "urgent"])
    arr_change_days: int = Field(90, ge=1)
    threads: int | None = Field(None, description="DuckDB threads; default all cores")

    @field_validator("windows")
    @classmethod
    def _positive_windows(cls, windows: list[int]) -> list[int]:
        if any(w < 1 for w in windows):
            raise ValueError(f"windows must be positive numbers of days, got {windows}")
        return windows


# --------------------------------------------------------------------------------------------
# train.yaml: split, model, calibration, evaluation, tracking
# --------------------------------------------------------------------------------------------
class SplitConfig(StrictModel):
    """Time-based split by as_of date, oldest to newest: train | valid | calib | test.

    Attributes:
        valid_periods: as_of dates for early stopping and capacity choice.
        calib_periods: later dates on which the calibrator is chosen and fitted.
        test_periods: the latest matured dates; never seen by any fitting step.
        embargo: leave a gap before the blocks in `embargo_before`: earlier dates whose label
            window reaches into the block are not used (overlapping windows would share churn
            events across the boundary). Default gaps: training | valid (the model never learns
            from churn its early stopping is judged on) and calib | test (nothing fitted sees a
            test churn event).
    """

    valid_periods: int = Field(2, ge=1)
    calib_periods: int = Field(2, ge=1)
    test_periods: int = Field(2, ge=1)
    embargo: bool = True
    embargo_before: list[Literal["valid", "calib", "test"]] = Field(
        default_factory=lambda: ["valid", "test"])


class Capacity(StrictModel):
    """One LightGBM capacity setting; explanation cost grows with trees x leaves x depth^2."""

    num_leaves: int = Field(15, ge=2)
    max_depth: int = Field(4, ge=1)
    min_data_in_leaf: int = Field(100, ge=1)


class ModelConfig(StrictModel):
    """LightGBM settings shared by every capacity candidate."""

    learning_rate: float = Field(0.05, gt=0, le=1)
    max_rounds: int = Field(1000, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    capacity_grid: list[Capacity] = Field(default_factory=lambda: [
        Capacity(num_leaves=7, max_depth=3, min_data_in_leaf=200),
        Capacity(num_leaves=15, max_depth=4, min_data_in_leaf=100),
        Capacity(num_leaves=31, max_depth=6, min_data_in_leaf=50),
    ])
    tie_tolerance: float = Field(
        0.002, ge=0, description="validation AUC within this of the best counts as a tie: the "
        "cheaper model wins")
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    class_balance: Literal["none", "sqrt", "balanced"] = "sqrt"
    monotone: dict[str, Literal[-1, 1]] = Field(
        default_factory=lambda: {
            r"failed_payments_\d+d": 1, "consecutive_failed_payments": 1, "in_dunning": 1,
            r"payment_failure_rate_\d+d": 1, "days_since_last_failed_payment": -1,
            r"logins_\d+d": -1, r"active_days_\d+d": -1,
            "days_since_last_activity": 1, "days_since_last_login": 1,
        },
        description="feature name pattern (full match) -> +1 risk never falls as it grows, -1 "
        "never rises; domain knowledge that keeps the model and its explanations sane")
    include: list[str] | None = Field(None, description="use only these features")
    exclude: list[str] = Field(default_factory=list)
    seed: int = 42
    threads: int = Field(0, ge=0, description="0 = LightGBM default (all cores)")


class CalibrationConfig(StrictModel):
    method: Literal["auto", "isotonic", "platt"] = "auto"
    folds: int = Field(5, ge=2, description="folds used by `auto` to compare the two methods")


class EvaluationConfig(StrictModel):
    bootstrap: int = Field(200, ge=0)
    ks: list[float] = Field(default_factory=lambda: [0.05, 0.1, 0.2])
    seed: int = 0


class TrackingConfig(StrictModel):
    """MLflow: where runs go and how models are registered/promoted.

    Attributes:
        uri: tracking URI; default `MLFLOW_TRACKING_URI` or `sqlite:///mlflow.db` in the cwd.
        experiment: experiment name (one per config by default).
        registered_model: name in the model registry.
        promote_metric / promote_margin: a challenger replaces the champion only if its metric on
            the same test snapshots beats the champion's by more than the margin.
    """

    uri: str | None = None
    experiment: str = "churnseg"
    registered_model: str = "churnseg-churn"
    promote_metric: str = "roc_auc"
    promote_margin: float = 0.0
    higher_is_better: bool = True


class FeatureTableConfig(StrictModel):
    """A precomputed feature table (one row per account or account/as_of) instead of raw tables."""

    path: Path
    id_column: str = "account_id"
    label_column: str = "churned"
    as_of_column: str | None = "as_of"
    arr_column: str | None = "arr"


class TrainConfig(StrictModel):
    snapshots: SnapshotConfig = SnapshotConfig(start=date(2024, 4, 1))
    features: FeatureConfig = FeatureConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    tracking: TrackingConfig = TrackingConfig()
    feature_table: FeatureTableConfig | None = None


# --------------------------------------------------------------------------------------------
# score.yaml: value, segments, priority
# --------------------------------------------------------------------------------------------
class ValueConfig(StrictModel):
    """LTV settings (score.yaml `value:`)."""

    margin: float = Field(0.8, gt=0, le=1, description="gross margin on ARR")
    discount_rate: float = Field(0.10, ge=0, description="annual discount rate")
    max_months: int = Field(60, ge=1, description="lifetime cap in months")
    ltv_column: str | None = Field(None, description="use this input column as LTV when present")
    use_ltv: bool = Field(False, description="rank by LTV at risk instead of ARR at risk")


class Tiers(StrictModel):
    """Bins of a number: values < thresholds[0] get labels[0], ..., the rest the last label."""

    thresholds: list[float]
    labels: list[str]

    @field_validator("labels")
    @classmethod
    def _one_more_label(cls, labels: list[str], info: Any) -> list[str]:
        thresholds = info.data.get("thresholds", [])
        if len(labels) != len(thresholds) + 1:
            raise ValueError(f"need {len(thresholds) + 1} labels for {len(thresholds)} thresholds")
        return labels


class TriggerConfig(StrictModel):
    """Events that call for action now, each from feature columns (absent columns: never fires)."""

    missed_payment_min: float = Field(1, description="failed_payments_30d at least this")
    detractor_within_days: int = 90
    downgrade_change: float = Field(-0.05, description="arr_change_90d at most this")
    ticket_surge_7d: float = Field(2, description="tickets_7d at least this")


class SegmentsConfig(StrictModel):
    """Segment families written as columns of the priority list (segments.yaml)."""

    min_segment_size: int = Field(20, ge=1, description="smaller segments fold into 'other'")
    risk_tiers: Tiers = Tiers(thresholds=[0.10, 0.25], labels=["low", "medium", "high"])
    value_tiers: Tiers = Tiers(thresholds=[3000, 15000, 60000],
                               labels=["small", "mid", "large", "strategic"])
    ltv_tiers: Tiers = Tiers(thresholds=[20000], labels=["low_ltv", "high_ltv"])
    risk_level_failed_payments: Tiers = Tiers(thresholds=[1, 2], labels=["normal", "elevated",
                                                                        "high"])
    risk_level_tickets: Tiers = Tiers(thresholds=[2, 4], labels=["normal", "elevated", "high"])
    new_account_days: int = 90
    dormant_days: int = 30
    at_risk_trend: float = Field(-0.5, description="logins_trend_30d at most this = at risk")
    adoption_breadth: Tiers = Tiers(thresholds=[1, 2, 4], labels=["none", "light", "core",
                                                                  "power"])
    adoption_frequency_days: int = Field(8, description="active_days_30d below this caps at light")
    early_adopter_features: list[str] = Field(default_factory=lambda: ["feature_multi_currency"])
    renewal_windows: list[int] = Field(default_factory=lambda: [30, 60, 90])
    triggers: TriggerConfig = TriggerConfig()


class OwnerQueue(StrictModel):
    """A named CSM queue: takes actionable accounts of these value tiers, up to capacity/week."""

    name: str
    capacity: int = Field(ge=0)
    value_tiers: list[str]


class PriorityConfig(StrictModel):
    """How risk x value becomes a ranked list with owners and playbooks."""

    renewal_boost: float = Field(0.5, ge=0, description="x(1 + boost) when renewing soon")
    renewal_boost_days: int = 60
    actionable_risk_tiers: list[str] = Field(default_factory=lambda: ["medium", "high"])
    queues: list[OwnerQueue] = Field(default_factory=lambda: [
        OwnerQueue(name="csm_strategic", capacity=25, value_tiers=["strategic"]),
        OwnerQueue(name="csm_growth", capacity=75, value_tiers=["large", "mid"]),
    ])
    automated_owner: str = "automated_campaign"
    playbooks: dict[str, str] = Field(default_factory=lambda: {
        "payments": "payment_fix", "onboarding": "onboarding_session",
        "tickets": "support_escalation", "usage": "adoption_campaign",
        "sentiment": "feedback_call", "account": "renewal_review", "none": "monitor"})
    pin_alerts: bool = Field(True, description="actionable accounts of a crisis alert rank first")
    signal_playbooks: dict[str, str] = Field(
        default_factory=lambda: {
            "missed_payment": "payment_fix", "stalled_onboarding": "onboarding_session",
            "ticket_surge": "support_escalation", "detractor_response": "feedback_call",
            "downgrade": "renewal_review", "feature_inactivity": "adoption_campaign"},
        description="playbook of an account pinned by an alert on this signal (else: driver's)")


class MonitorConfig(StrictModel):
    """Crisis detection at scoring time: cohorts whose warning signals jumped (monitor.py)."""

    enabled: bool = True
    baseline_days: list[int] = Field(
        default_factory=lambda: [28, 56, 84],
        description="compare with the population at as_of minus these many days")
    dimensions: list[str] = Field(
        default_factory=lambda: ["region", "acquisition_channel", "plan", "tenure"],
        description="feature columns (or `tenure`: new/established) that define cohorts")
    max_combination: int = Field(2, ge=1, description="cohorts of up to this many dimensions")
    signals: list[str] = Field(
        default_factory=lambda: ["missed_payment", "stalled_onboarding", "ticket_surge",
                                 "detractor_response", "downgrade", "feature_inactivity",
                                 "high_risk"],
        description="trigger names, `high_risk` (top risk tier) or `stalled_onboarding`")
    stalled_after_days: int = Field(14, ge=0, description="not activated after this many days")
    min_accounts: int = Field(20, ge=1, description="accounts showing the signal now, at least")
    min_ratio: float = Field(2.0, gt=1.0, description="share now / share before, at least")
    min_z: float = Field(4.0, gt=0.0, description="two-proportion z, at least")
    min_refinement: float = Field(1.25, ge=1.0,
                                  description="a pair cohort must beat its parents' ratio by this")


class SegmentRules(StrictModel):
    """segments.yaml: segment families, owner queues and playbooks."""

    segments: SegmentsConfig = SegmentsConfig()
    priority: PriorityConfig = PriorityConfig()


class ScoreConfig(StrictModel):
    """score.yaml: how a scoring run explains, values, segments and ranks accounts."""

    model_uri: str | None = Field(None, description="default models:/<registered>@champion")
    explain: Literal["actionable", "all"] = "actionable"
    explain_chunk_size: int = Field(2000, ge=1)
    reasons: int = Field(3, ge=1)
    value: ValueConfig = ValueConfig()
    segments: SegmentsConfig = SegmentsConfig()
    priority: PriorityConfig = PriorityConfig()
    monitor: MonitorConfig = MonitorConfig()


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
M = TypeVar("M", bound=BaseModel)


def load_config(
    path: str | Path | None,
    model: type[M],
    overrides: Mapping[str, Any] | None = None,
) -> M:
    """Load a YAML file into `model`, applying dotted-key overrides on top.

    Args:
        path: the YAML file; None means the model's defaults.
        model: the pydantic model the file describes.
        overrides: e.g. {"crisis.enabled": False, "accounts": 500}; applied after the file.

    Raises:
        ConfigError: unreadable file, unknown key or wrong type, naming the key and the file.
    """
    where = str(path) if path is not None else "<defaults>"
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        raw = loaded
    for dotted, value in (overrides or {}).items():
        raw = _set_dotted(raw, dotted.split("."), value)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "<root>"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError(f"{where}: " + "; ".join(problems)) from None


def _set_dotted(raw: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any]:
    out = dict(raw)
    head, rest = keys[0], keys[1:]
    if rest:
        child = out.get(head) or {}
        if not isinstance(child, dict):
            child = {}
        out[head] = _set_dotted(child, rest, value)
    else:
        out[head] = value
    return out


ChurnDefinition = Literal["contractual", "inactivity"]
