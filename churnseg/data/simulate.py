"""A synthetic SaaS ecommerce platform (merchants as customers) with its ground truth.

The generator is pure: `simulate_chunks(cfg)` yields one `SimulatedChunk` of tables per chunk of
accounts and never touches a file (`pipelines/simulate.py` writes them). Chunks are independent:
chunk `i` draws from `default_rng([seed, i])`, so results do not depend on processing order.

How the world works (all rates per day, all updates vectorized over the accounts of a chunk):

- Latent state per account: engagement `e` (an Ornstein-Uhlenbeck walk around a mean set by plan,
  activation and occasional downturn shocks), frustration `f` (jumps on incidents, failed
  payments and bad support, decays with a ~30-day half-life) and payment stress `s` (+1 per failed
  payment attempt, decays 5 %/day).
- Everything observable is driven by that state: usage events ~ Poisson(rate x exp(e)), tickets ~
  Poisson(rate x exp(0.9 f)), NPS ~ e - f, payment failures by a per-account fragility (plus the
  crisis outage), onboarding milestones at signup, plan changes up with e and down without.
- Churn is a competing-risks hazard: the daily rate is the sum of five cause components
    payment       = newness(tenure) x (c_pay x s + c_dun x [failed payment still unrecovered])
                    + a one-day spike when dunning is exhausted (involuntary churn)
    onboarding    = c_onb x missing milestones / 4 x fading with tenure (x renewal profile)
    disengagement = c_dis x exp(-1.5 e)                         (x renewal profile)
    support       = c_sup x f                                   (x renewal profile)
    price         = base(plan, channel, tenure) x sqrt(ARR / plan median ARR) (x renewal profile)
  Annual contracts concentrate voluntary churn in the 31 days before renewal. A churn's cause is
  drawn in proportion to the components on the churn day.
- Crisis: the crisis region's main gateway (`crisis.gateway`) fails `failure_rate` of attempts
  (gateway_timeout) for `weeks`; failed payments hit new merchants hardest (newness, and 85 %
  vs 20 % cancellation when dunning is exhausted).
- Experiments: from `interventions.start_month`, every 7 days, accounts whose true hazard is at
  least `risk_threshold` are enrolled once; the playbook follows observable signals (recent
  failed payment > not activated > recent tickets > else adoption) with 15 % noise; the arm is
  randomized. Treatment multiplies each cause component by PLAYBOOK_HAZARD_MULTIPLIER to the
  power of the account's responsiveness x `effect_scale`, for `effect_days`.

The truth written beside the tables: the daily hazard per active account-day (with its payment
part, the days to the annual renewal and the dominant cause), each churn with its cause, and the
true effect of every playbook for each account enrolled in an experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from churnseg.config import SimulateConfig

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
NEVER = np.iinfo(np.int64).max

# --------------------------------------------------------------------------------------------
# The platform's vocabulary
# --------------------------------------------------------------------------------------------
REGIONS = ("North America", "EMEA", "APAC", "LATAM")
REGION_SHARE = (0.36, 0.27, 0.15, 0.22)
REGION_PAYMENT_RISK = (0.8, 0.9, 1.1, 1.5)
COUNTRIES = (
    "US",
    "CA",
    "GB",
    "DE",
    "FR",
    "NL",
    "ES",
    "AU",
    "JP",
    "SG",
    "IN",
    "BR",
    "MX",
    "AR",
    "CO",
    "CL",
)
COUNTRY_SHARE_BY_REGION = (
    (0.85, 0.15) + (0,) * 14,
    (0, 0, 0.30, 0.25, 0.20, 0.10, 0.15) + (0,) * 9,
    (0,) * 7 + (0.35, 0.20, 0.15, 0.30) + (0,) * 5,
    (0,) * 11 + (0.45, 0.30, 0.10, 0.08, 0.07),
)
CHANNELS = ("organic", "paid_search", "partner", "app_store", "outbound_sales", "referral")
CHANNEL_SHARE = (0.30, 0.25, 0.12, 0.13, 0.08, 0.12)
CHANNEL_HAZARD = (1.0, 1.35, 0.8, 1.2, 0.9, 0.8)
CHANNEL_ACTIVATION = (0.0, -0.5, 0.5, -0.3, 0.6, 0.4)  # log-odds shift of each onboarding step
INDUSTRIES = (
    "apparel",
    "beauty",
    "electronics",
    "home_garden",
    "food_beverage",
    "sports",
    "toys",
    "jewelry",
)
INDUSTRY_ORDERS = (1.3, 1.1, 0.8, 0.9, 1.2, 0.9, 1.0, 0.7)
PLANS = ("starter", "growth", "pro", "enterprise")
PLAN_SHARE_BY_CHANNEL = (
    (0.52, 0.30, 0.14, 0.04),
    (0.60, 0.27, 0.11, 0.02),
    (0.35, 0.35, 0.22, 0.08),
    (0.65, 0.25, 0.09, 0.01),
    (0.05, 0.30, 0.40, 0.25),
    (0.45, 0.33, 0.17, 0.05),
)
PLAN_ARR_MEDIAN = np.array([480.0, 1800.0, 6000.0, 30000.0])
PLAN_ARR_SIGMA = np.array([0.35, 0.40, 0.45, 0.60])
PLAN_SEATS_MEDIAN = np.array([1.0, 3.0, 8.0, 30.0])
PLAN_ANNUAL_SHARE = np.array([0.15, 0.35, 0.60, 0.90])
PLAN_ENGAGEMENT = np.array([-0.15, 0.05, 0.20, 0.30])
PLAN_ACTIVATION = np.array([0.0, 0.1, 0.3, 0.6])
PLAN_PRICE_HAZARD = np.array([0.0035, 0.0026, 0.0019, 0.0012]) / 30.44  # monthly -> daily
PLAN_TICKETS = np.array([0.7, 1.0, 1.4, 2.5])
PLAN_ORDERS = np.array([0.1, 0.22, 0.5, 1.2])
PLAN_FEATURES = np.array([0.7, 1.0, 1.2, 1.4])
BILLING_TERMS = ("monthly", "annual")

GATEWAYS = ("PayFlow", "CardNest", "GlobePay", "SwiftPay")
GATEWAY_SHARE_BY_REGION = (
    (0.00, 0.55, 0.35, 0.10),
    (0.00, 0.20, 0.50, 0.30),
    (0.00, 0.20, 0.40, 0.40),
    (0.70, 0.10, 0.20, 0.00),
)
METHODS = ("card", "paypal", "bank_debit", "wallet")
METHOD_SHARE_BY_REGION = (
    (0.80, 0.15, 0.00, 0.05),
    (0.60, 0.20, 0.15, 0.05),
    (0.65, 0.15, 0.00, 0.20),
    (0.60, 0.10, 0.05, 0.25),
)
FAILURE_CODES = ("card_declined", "insufficient_funds", "expired_card", "gateway_timeout")
GATEWAY_TIMEOUT = 3
FAILURE_SHARE_CARD = (0.40, 0.30, 0.20, 0.10)
FAILURE_SHARE_OTHER = (0.55, 0.35, 0.00, 0.10)
RETRY_RECOVERY = np.array([0.45, 0.50, 0.30, 0.90])  # P(a retry succeeds) by failure code
RETRY_GAPS = (3, 4, 7)  # days between attempts: retries 3, 7 and 14 days after the failure
PAYMENT_STATUSES = ("succeeded", "failed", "refunded")

MILESTONES = ("store_configured", "products_imported", "payment_gateway_connected", "first_order")
STEP_PROBABILITY = np.array([0.94, 0.86, 0.86, 0.84])
STEP_DELAY_DAYS = np.array([0.1, 1.5, 2.0, 3.0])  # median days after the previous step

EVENT_TYPES = (
    "login",
    "order",
    "feature_discounts",
    "feature_email_campaigns",
    "feature_analytics",
    "feature_inventory_sync",
    "feature_abandoned_cart",
    "feature_multi_currency",
)
FEATURE_POPULARITY = np.array([0.60, 0.45, 0.50, 0.30, 0.40, 0.15])
LOGIN_RATE = 0.17
FEATURE_RATE = 0.07

TICKET_CATEGORIES = ("billing", "technical", "onboarding", "how_to")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
RESOLUTION_HOURS = np.array([24.0, 12.0, 6.0, 3.0])  # median by priority

CAUSES = ("payment", "onboarding", "disengagement", "support", "price")
PLAYBOOKS = ("payment_fix", "onboarding_session", "support_escalation", "adoption_campaign")
ARMS = ("treatment", "control")
PLAYBOOK_HAZARD_MULTIPLIER = np.array(
    [
        # payment onboarding disengagement support price: share of the cause's hazard left
        [0.10, 1.00, 0.95, 0.90, 1.00],  # payment_fix
        [1.00, 0.35, 0.80, 1.00, 1.00],  # onboarding_session
        [0.90, 1.00, 0.95, 0.35, 1.00],  # support_escalation
        [1.00, 0.85, 0.60, 1.00, 0.95],  # adoption_campaign
    ]
)
EFFECT_HORIZON_DAYS = 90

# --------------------------------------------------------------------------------------------
# Dynamics and hazard constants
# --------------------------------------------------------------------------------------------
ENGAGEMENT_REVERSION = 1 / 45
ENGAGEMENT_NOISE = 0.5 * np.sqrt(2 / 45)  # stationary sd 0.5 around the account's mean
ACTIVATED_ENGAGEMENT = 0.45
MISSING_STEP_ENGAGEMENT = -0.15
DOWNTURN_PER_DAY = 1 / 900
RECOVERY_PER_DAY = 1 / 250
FRUSTRATION_DECAY = 0.977
INCIDENT_PER_DAY = 0.004
PAYMENT_STRESS_DECAY = 0.95
C_PAYMENT = 0.0015
C_DUNNING = 0.005  # extra while a failed payment is unrecovered
C_ONBOARDING = 0.0045
C_DISENGAGEMENT = 0.0002
A_DISENGAGEMENT = 1.5
C_SUPPORT = 0.0007
NEW_ACCOUNT_DAYS = 90
INVOLUNTARY_CHURN_NEW = 0.85  # P(cancelled when dunning is exhausted), tenure < 90 days
INVOLUNTARY_CHURN_ESTABLISHED = 0.20
RENEWAL_WINDOW_DAYS = 31
RENEWAL_LOW = 0.35
RENEWAL_HIGH = 1 + (1 - RENEWAL_LOW) * 365 / RENEWAL_WINDOW_DAYS  # the year averages to 1
RESIGNUP_PROBABILITY = 0.06
RESIGNUP_PROBABILITY_PAYMENT = 0.20

COMMENTS_DETRACTOR = (
    "Too expensive for what we get.",
    "Checkout broke twice this month & support took days to answer.",
    'Support said "it\'s a known issue" <again>.',
    "Missing features we need; we're looking at alternatives.",
    "Setup was confusing and our store never went live.",
)
COMMENTS_PASSIVE = (
    "It does the job.",
    "Decent, but reports could be better.",
    "Good platform; pricing > competitors though.",
    "OK for now, the app store is hit & miss.",
)
COMMENTS_PROMOTER = (
    "Love it! Our sales are up.",
    "Great support team, fast answers.",
    'The "abandoned cart" emails pay for the plan <3',
    "Easy to use & reliable.",
    "Best decision for our shop.",
)
COMMENTS_PAYMENT = (
    "Payments keep failing & nobody explains why.",
    "Our card was declined <again>; very frustrating.",
)
COMMENTS = COMMENTS_DETRACTOR + COMMENTS_PASSIVE + COMMENTS_PROMOTER + COMMENTS_PAYMENT


@dataclass(frozen=True)
class SimulatedChunk:
    """The tables and ground truth of one chunk of accounts.

    Attributes:
        index: the chunk number (0-based); accounts are numbered across chunks.
        accounts ... interventions: contract tables (see `churnseg.data.contract.TABLES`).
        truth_hazard: one row per active account-day: account_id, day, hazard (daily rate: the
            probability of churning that day is 1 - exp(-hazard)), hazard_payment (its payment
            part), days_to_renewal (annual contracts; -1 for monthly), cause (largest component).
        truth_churn: one row per churn: account_id, churned_at, cause, involuntary.
        truth_effects: for each enrolled account and every playbook: the true reduction of the
            90-day churn probability the playbook would bring (`assigned` marks the one used).
    """

    index: int
    accounts: pd.DataFrame
    subscriptions: pd.DataFrame
    onboarding: pd.DataFrame
    events: pd.DataFrame
    tickets: pd.DataFrame
    payments: pd.DataFrame
    surveys: pd.DataFrame
    interventions: pd.DataFrame
    truth_hazard: pd.DataFrame
    truth_churn: pd.DataFrame
    truth_effects: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The contract tables by name."""
        return {
            "accounts": self.accounts,
            "subscriptions": self.subscriptions,
            "onboarding": self.onboarding,
            "events": self.events,
            "tickets": self.tickets,
            "payments": self.payments,
            "surveys": self.surveys,
            "interventions": self.interventions,
        }

    def truth(self) -> dict[str, pd.DataFrame]:
        """The ground-truth frames by name (hazard, churn, treatment_effects)."""
        return {
            "hazard": self.truth_hazard,
            "churn": self.truth_churn,
            "treatment_effects": self.truth_effects,
        }


def simulation_window(cfg: SimulateConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The simulated period [start, end); `end` is the data horizon (no timestamp reaches it)."""
    start = pd.Timestamp(cfg.start)
    return start, start + pd.DateOffset(months=cfg.months)


def chunk_count(cfg: SimulateConfig) -> int:
    """Number of chunks `simulate_chunks` yields."""
    return -(-cfg.accounts // cfg.chunk_accounts)


def simulate_chunks(cfg: SimulateConfig) -> Iterator[SimulatedChunk]:
    """Simulate the platform chunk by chunk (`cfg.chunk_accounts` accounts each); no file I/O."""
    for index in range(chunk_count(cfg)):
        yield simulate_chunk(cfg, index)


def simulate_chunk(cfg: SimulateConfig, index: int) -> SimulatedChunk:
    """Simulate chunk `index` alone; the same (cfg, index) always gives the same frames."""
    if cfg.crisis.enabled and cfg.crisis.region not in REGIONS:
        raise ValueError(
            f"crisis.region {cfg.crisis.region!r} is not a simulated region; use one of {REGIONS}"
        )
    first = index * cfg.chunk_accounts
    n = min(cfg.chunk_accounts, cfg.accounts - first)
    if n <= 0:
        raise ValueError(
            f"chunk {index} is empty: {cfg.accounts} accounts in chunks of {cfg.chunk_accounts}"
        )
    return _ChunkSimulator(cfg, index, first, n).run()


def oracle_churn_probability(
    hazard: pd.DataFrame, snapshots: pd.DataFrame, lead_days: int, horizon_days: int
) -> pd.Series:
    """The best churn probability knowable from the latent state at `as_of`, for each snapshot.

    Label window: churn in (as_of + lead_days, as_of + lead_days + horizon_days]. The oracle reads
    only the truth row of the last full day before `as_of` and projects it forward: the voluntary
    part of the hazard held at its level (re-shaped by the known annual renewal calendar), the
    payment part decaying as payment stress decays. It is P(survive the lead) x P(churn in the
    window) under that projection. It knows the latent state but none of the future (a later
    outage, shock or treatment), so a model on observable data can approach but rarely beat it.

    Args:
        hazard: the truth hazard frame (`truth/hazard`): account_id, day, hazard, hazard_payment,
            days_to_renewal; may be pre-filtered to the days before the snapshots' as_of dates.
        snapshots: account_id, as_of.

    Returns:
        Probability per snapshot (aligned on `snapshots.index`); NaN where the account has no
        truth row for the day before as_of (not active then, or before the simulation start).
    """
    as_of = pd.to_datetime(snapshots["as_of"])
    ref_day = as_of.dt.normalize().to_numpy().astype("datetime64[D]").astype(np.int64) - 1
    keys = pd.DataFrame(
        {
            "account_id": snapshots["account_id"].astype(str).to_numpy(),
            "_day": ref_day,
            "_pos": np.arange(len(snapshots)),
        }
    )
    truth_day = hazard["day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    wanted = np.isin(truth_day, np.unique(ref_day))  # filter first: the truth can be huge
    chosen = hazard.loc[wanted, ["account_id", "hazard", "hazard_payment", "days_to_renewal"]]
    rows = pd.DataFrame(
        {
            "account_id": chosen["account_id"].astype(str).to_numpy(),
            "_day": truth_day[wanted],
            "hazard": chosen["hazard"].to_numpy(np.float64),
            "hazard_payment": chosen["hazard_payment"].to_numpy(np.float64),
            "days_to_renewal": chosen["days_to_renewal"].to_numpy(np.int64),
        }
    )
    merged = keys.merge(rows, on=["account_id", "_day"], how="left", validate="many_to_one")
    merged = merged.sort_values("_pos")
    found = merged["hazard"].notna().to_numpy()
    pay = merged["hazard_payment"].fillna(0.0).to_numpy()
    dtr = merged["days_to_renewal"].fillna(-1).to_numpy(np.int64)
    voluntary = (merged["hazard"].fillna(0.0).to_numpy() - pay) / _renewal_factor(dtr)
    lead = _projected_hazard(voluntary, pay, dtr, 1, lead_days + 1)
    window = _projected_hazard(voluntary, pay, dtr, lead_days + 1, lead_days + horizon_days + 1)
    prob = np.exp(-lead) * -np.expm1(-window)
    return pd.Series(
        np.where(found, prob, np.nan), index=snapshots.index, name="oracle_probability"
    )


def _renewal_factor(days_to_renewal: np.ndarray) -> np.ndarray:
    """Multiplier of voluntary hazard: annual contracts churn mostly just before renewal."""
    annual = days_to_renewal >= 0
    window = (days_to_renewal >= 1) & (days_to_renewal <= RENEWAL_WINDOW_DAYS)
    return np.where(annual, np.where(window, RENEWAL_HIGH, RENEWAL_LOW), 1.0)


def _projected_hazard(
    voluntary: np.ndarray, payment: np.ndarray, days_to_renewal: np.ndarray, first: int, last: int
) -> np.ndarray:
    """Cumulative hazard over days first..last-1 after a reference day whose state is known.

    `voluntary` is the renewal-free voluntary rate (held), `payment` the payment rate (decays
    like payment stress); annual accounts follow their renewal calendar (365-day cycle).
    """
    n_days = max(last - first, 0)
    if n_days == 0:
        return np.zeros(len(voluntary))
    # days m = dtr0 - tau for tau in [first, last) whose dtr (m mod 365) lies in the window [1, 31]
    hi = days_to_renewal - first
    lo = days_to_renewal - last + 1
    in_window = _count_in_window(hi) - _count_in_window(lo - 1)
    renewal_sum = np.where(
        days_to_renewal >= 0,
        RENEWAL_LOW * n_days + (RENEWAL_HIGH - RENEWAL_LOW) * in_window,
        float(n_days),
    )
    d = PAYMENT_STRESS_DECAY
    payment_sum = payment * (d**first - d**last) / (1 - d)
    return voluntary * renewal_sum + payment_sum


def _count_in_window(x: np.ndarray) -> np.ndarray:
    """Count of integers m <= x (from a fixed origin) with m mod 365 in [1, RENEWAL_WINDOW_DAYS]."""
    return (x // 365) * RENEWAL_WINDOW_DAYS + np.minimum(x % 365, RENEWAL_WINDOW_DAYS)


# --------------------------------------------------------------------------------------------
# The chunk simulator: state arrays over the accounts of one chunk, a loop over days
# --------------------------------------------------------------------------------------------
class _Records:
    """Append-only per-day arrays of one output table, concatenated once at the end."""

    def __init__(self, *names: str) -> None:
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self.parts[name].append(np.asarray(values))

    def get(self, name: str, dtype: type | np.dtype) -> np.ndarray:
        parts = self.parts[name]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


class _ChunkSimulator:
    """Mutable state of one chunk while it is simulated; `run` returns the finished frames."""

    def __init__(self, cfg: SimulateConfig, index: int, first: int, n: int) -> None:
        self.cfg = cfg
        self.index = index
        self.n = n
        self.rng = np.random.default_rng([cfg.seed % 2**63, index])
        self.ids = [f"A{first + i + 1:06d}" for i in range(n)]
        start, end = simulation_window(cfg)
        self.start_us = _to_us(start)
        self.end_us = _to_us(end)
        self.n_days = (end - start).days
        calendar = pd.date_range(start, periods=self.n_days, freq="D")
        self.season = np.where(calendar.month.to_numpy() >= 11, 1.4, 1.0)
        crisis = cfg.crisis
        self.crisis_days = (-1, -1)
        if crisis.enabled:
            first_day = (start + pd.DateOffset(months=crisis.start_month) - start).days
            self.crisis_days = (first_day, first_day + 7 * crisis.weeks)
        self.intervention_day = -1
        if cfg.interventions.enabled:
            self.intervention_day = (
                start + pd.DateOffset(months=cfg.interventions.start_month) - start
            ).days
        self.gateways = _gateway_names(crisis.gateway)
        self._init_accounts()
        self.sub_log = _Records("idx", "us", "kind", "tier", "arr", "seats", "anchor", "annual")
        self.payments = _Records("idx", "us", "amount", "status", "code")
        self.events = _Records("idx", "us", "type", "user", "qty")
        self.tickets = _Records("idx", "opened", "closed", "priority", "category", "csat")
        self.surveys = _Records("idx", "us", "score", "comment")
        self.interventions = _Records("idx", "us", "playbook", "arm")
        self.effects = _Records(
            "idx", "us", "playbook", "assigned", "arm", "effect", "hazard", "cause"
        )
        self.hazard = _Records("idx", "day", "hazard", "payment", "dtr", "cause")
        self.churns = _Records("idx", "us", "cause", "involuntary")
        self._log_subscription(np.arange(n), self.created_us, 0)

    # ---------------------------------------------------------------- accounts at creation
    def _init_accounts(self) -> None:
        cfg, rng, n = self.cfg, self.rng, self.n
        existing = rng.random(n) < cfg.existing_share
        # new signups: density rising linearly to twice its initial level (a growing business)
        new_day = self.n_days * (np.sqrt(1 + 3 * rng.random(n)) - 1)
        created_day = np.where(existing, -rng.uniform(1.0, 730.0, n), new_day)
        self.created_us = self.start_us + np.floor(created_day * DAY_US).astype(np.int64)
        self.created_d = np.floor(created_day).astype(np.int64)
        self.region = _draw(rng, np.broadcast_to(REGION_SHARE, (n, 4)))
        self.country = _draw(rng, np.asarray(COUNTRY_SHARE_BY_REGION)[self.region])
        self.channel = _draw(rng, np.broadcast_to(CHANNEL_SHARE, (n, len(CHANNELS))))
        self.industry = rng.integers(0, len(INDUSTRIES), n)
        self.tier = _draw(rng, np.asarray(PLAN_SHARE_BY_CHANNEL)[self.channel])
        self.tier_at_signup = self.tier.copy()
        self.arr = _draw_arr(rng, self.tier)
        self.seats = _draw_seats(rng, self.tier)
        self.annual = rng.random(n) < PLAN_ANNUAL_SHARE[self.tier]
        gateway_share = np.asarray(GATEWAY_SHARE_BY_REGION, dtype=float)
        if cfg.crisis.enabled:
            # the crisis gateway is the crisis region's main gateway, whatever its name
            row = gateway_share[REGIONS.index(cfg.crisis.region)]
            target = self.gateways.index(cfg.crisis.gateway)
            main = int(np.argmax(row))
            row[[main, target]] = row[[target, main]]
        self.gateway = _draw(rng, gateway_share[self.region])
        self.method = _draw(rng, np.asarray(METHOD_SHARE_BY_REGION)[self.region])
        self.crisis_exposed = np.zeros(n, bool)
        if cfg.crisis.enabled:
            self.crisis_exposed = (self.region == REGIONS.index(cfg.crisis.region)) & (
                self.gateway == self.gateways.index(cfg.crisis.gateway)
            )
        self.eta = rng.normal(0.0, 0.45, n) + 0.15 * existing
        self.fragility = np.clip(
            0.025 * rng.lognormal(0.0, 0.8, n) * np.asarray(REGION_PAYMENT_RISK)[self.region],
            0.002,
            0.4,
        )
        self.responder = rng.random(n) < 0.5
        self.responsiveness = rng.uniform(0.5, 1.5, n)
        # onboarding: planned milestone times; existing accounts are survivors (onboarded more)
        logit = (
            np.log(STEP_PROBABILITY / (1 - STEP_PROBABILITY))
            + np.asarray(CHANNEL_ACTIVATION)[self.channel][:, None]
            + PLAN_ACTIVATION[self.tier][:, None]
            + 2.0 * existing[:, None]
        )
        reached = np.cumprod(rng.random((n, 4)) < 1 / (1 + np.exp(-logit)), axis=1).astype(bool)
        delay_us = (rng.lognormal(np.log(STEP_DELAY_DAYS), 0.9, (n, 4)) * DAY_US).astype(np.int64)
        self.milestone_us = np.where(
            reached, self.created_us[:, None] + 1 + np.cumsum(delay_us, axis=1), NEVER
        )
        activated = self.milestone_us[:, 3] < self.start_us
        self.adopted = activated[:, None] & (
            rng.random((n, 6)) < FEATURE_POPULARITY * PLAN_FEATURES[self.tier][:, None]
        )
        steps = (self.milestone_us < self.start_us).sum(axis=1)
        self.decline = np.zeros(n)
        self.engagement = (
            PLAN_ENGAGEMENT[self.tier]
            + self.eta
            + np.where(steps == 4, ACTIVATED_ENGAGEMENT, 0.0)
            + rng.normal(0.0, 0.4, n)
        )
        self.frustration = np.where(existing, rng.exponential(0.3, n), 0.0)
        self.stress = np.zeros(n)
        self.status = np.where(existing, 1, 0).astype(np.int8)  # 0 not yet, 1 active, 2 churned
        self.since_us = self.created_us.copy()
        self.contract_d = self.created_d.copy()
        self.anchor_us = _midnight(self.created_us)
        start_bill = _next_renewal_us(np.full(n, self.start_us - 1), self.anchor_us, self.annual)
        self.next_bill_d = np.where(existing, self._day_of(start_bill), self.created_d)
        self.dunning = np.zeros(n, bool)
        self.dunning_attempts = np.zeros(n, np.int64)
        self.dunning_next_d = np.full(n, -1, np.int64)
        self.dunning_code = np.zeros(n, np.int64)
        self.dunning_amount = np.zeros(n)
        self.manual_d = np.full(n, -1, np.int64)
        self.last_fail_d = np.full(n, -(10**6), np.int64)
        self.recent_tickets = np.zeros(n)
        self.last_survey_d = np.full(n, -(10**6), np.int64)
        self.resignup_d = np.full(n, -1, np.int64)
        self.first_churn_us = np.full(n, NEVER, np.int64)
        self.enrolled = np.zeros(n, bool)
        self.playbook = np.full(n, -1, np.int64)
        self.treated_from_d = np.full(n, -1, np.int64)

    def _day_of(self, us: np.ndarray) -> np.ndarray:
        return (us - self.start_us) // DAY_US

    def _log_subscription(self, idx: np.ndarray, us: np.ndarray, kind: int) -> None:
        self.sub_log.add(
            idx=idx,
            us=us,
            kind=np.full(len(idx), kind, np.int8),
            tier=self.tier[idx],
            arr=self.arr[idx],
            seats=self.seats[idx],
            anchor=self.anchor_us[idx],
            annual=self.annual[idx],
        )

    # ---------------------------------------------------------------- the day loop
    def run(self) -> SimulatedChunk:
        for t in range(self.n_days):
            self._step(t)
        return self._assemble()

    def _step(self, t: int) -> None:
        rng = self.rng
        day_us = self.start_us + t * DAY_US
        day_end = day_us + DAY_US
        self.status[(self.status == 0) & (self.created_d == t)] = 1
        back = np.flatnonzero((self.status == 2) & (self.resignup_d == t))
        if len(back):
            self._resign(back, t, day_us)
        a = np.flatnonzero(self.status == 1)
        if len(a) == 0:
            return
        m = len(a)
        tenure = t - self.contract_d[a]
        steps = (self.milestone_us[a] < day_us).sum(axis=1)
        activated = steps == 4
        self._update_latent(a, tenure, steps, activated)
        pay_us, failed, spike = self._payments(a, t, day_us, tenure)
        comps = self._hazard_components(a, t, tenure, steps, spike)
        total = comps.sum(axis=1)
        dtr = np.where(self.annual[a], self.next_bill_d[a] - t, -1)
        self.hazard.add(
            idx=a.astype(np.int32),
            day=np.full(m, t, np.int32),
            hazard=total.astype(np.float32),
            payment=comps[:, 0].astype(np.float32),
            dtr=dtr.astype(np.int16),
            cause=comps.argmax(axis=1).astype(np.int8),
        )
        # churn: a competing-risks draw, the cause in proportion to the components
        churned = rng.random(m) < -np.expm1(-total)
        lo = np.maximum(day_us, self.since_us[a])
        hi = np.full(m, day_end, np.int64)
        if churned.any():
            hi[churned] = self._churn(a, churned, comps, total, spike, pay_us, t, day_us)
        survivors = ~churned
        if t >= self.intervention_day >= 0 and (t - self.intervention_day) % 7 == 0:
            self._enroll(
                a[survivors],
                comps[survivors],
                total[survivors],
                activated[survivors],
                dtr[survivors],
                t,
                lo[survivors],
            )
        span = hi - lo
        self._events(a, t, lo, span, activated, hi)
        self._tickets(a, t, lo, span, tenure, activated, failed)
        self._surveys(a[survivors], t, lo[survivors], span[survivors], tenure[survivors])
        self._plan_changes(a[survivors], lo[survivors], span[survivors])
        self.stress[a] *= PAYMENT_STRESS_DECAY
        self.recent_tickets[a] *= np.exp(-1 / 30)

    def _update_latent(
        self, a: np.ndarray, tenure: np.ndarray, steps: np.ndarray, activated: np.ndarray
    ) -> None:
        rng, m = self.rng, len(a)
        onboarding = np.where(
            activated,
            ACTIVATED_ENGAGEMENT,
            MISSING_STEP_ENGAGEMENT * (4 - steps) * np.minimum(1, tenure / 21),
        )
        u = rng.random(m)
        decline = self.decline[a]
        decline -= (u < DOWNTURN_PER_DAY) * rng.uniform(0.8, 2.0, m)
        decline *= np.where(u > 1 - RECOVERY_PER_DAY, 0.3, 1.0)
        self.decline[a] = decline
        mean = PLAN_ENGAGEMENT[self.tier[a]] + self.eta[a] + onboarding + decline
        e = self.engagement[a]
        self.engagement[a] = (
            e + ENGAGEMENT_REVERSION * (mean - e) + ENGAGEMENT_NOISE * rng.standard_normal(m)
        )
        incident = rng.random(m) < INCIDENT_PER_DAY
        self.frustration[a] = self.frustration[a] * FRUSTRATION_DECAY + incident * rng.exponential(
            0.8, m
        )
        # activated accounts discover features, faster when engaged
        p_adopt = (
            0.006
            * FEATURE_POPULARITY
            * PLAN_FEATURES[self.tier[a]][:, None]
            * np.exp(0.8 * self.engagement[a])[:, None]
        )
        self.adopted[a] |= activated[:, None] & (rng.random((m, 6)) < p_adopt)

    # ---------------------------------------------------------------- payments and dunning
    def _payments(
        self, a: np.ndarray, t: int, day_us: int, tenure: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bill, retry and recover; returns (last attempt time, failures today, churn spike)."""
        rng, m = self.rng, len(a)
        pay_us = np.full(m, day_us, np.int64)
        failed = np.zeros(m, np.int64)
        spike = np.zeros(m)
        crisis_now = self.crisis_days[0] <= t < self.crisis_days[1]
        fresh = self.since_us[a] >= day_us  # the subscription starts today: pay at checkout
        # a late manual payment after dunning was exhausted (the merchant updated the card)
        manual = np.flatnonzero(self.manual_d[a] == t)
        if len(manual):
            idx = a[manual]
            us = day_us + rng.integers(8 * HOUR_US, 20 * HOUR_US, len(idx))
            self._record_payment(idx, us, self.dunning_amount[idx], 0, -1)
            self.manual_d[idx] = -1
        # dunning retries
        retry = np.flatnonzero(self.dunning[a] & (self.dunning_next_d[a] == t))
        if len(retry):
            idx = a[retry]
            us = day_us + rng.integers(0, 6 * HOUR_US, len(idx))
            outage = (
                crisis_now
                & self.crisis_exposed[idx]
                & (rng.random(len(idx)) < self.cfg.crisis.failure_rate)
            )
            code = np.where(outage, GATEWAY_TIMEOUT, self.dunning_code[idx])
            ok = ~outage & (rng.random(len(idx)) < RETRY_RECOVERY[self.dunning_code[idx]])
            self._record_payment(
                idx, us, self.dunning_amount[idx], np.where(ok, 0, 1), np.where(ok, -1, code)
            )
            pay_us[retry] = us
            self.dunning[idx[ok]] = False
            bad = ~ok
            failed[retry[bad]] += 1
            self.dunning_attempts[idx[bad]] += 1
            attempts = self.dunning_attempts[idx]
            exhausted = bad & (attempts >= len(RETRY_GAPS) + 1)
            if exhausted.any():
                p_cancel = np.where(
                    tenure[retry[exhausted]] < NEW_ACCOUNT_DAYS,
                    INVOLUNTARY_CHURN_NEW,
                    INVOLUNTARY_CHURN_ESTABLISHED,
                )
                spike[retry[exhausted]] = -np.log1p(-p_cancel)
                self.dunning[idx[exhausted]] = False
                self.manual_d[idx[exhausted]] = t + rng.integers(1, 4, int(exhausted.sum()))
            go_on = bad & ~exhausted
            gap = np.asarray(RETRY_GAPS)[np.clip(attempts[go_on] - 1, 0, len(RETRY_GAPS) - 1)]
            self.dunning_next_d[idx[go_on]] = t + gap
        # scheduled billing: monthly, or yearly for annual contracts
        due_all = np.flatnonzero(self.next_bill_d[a] == t)
        if len(due_all):
            # a bill falling inside an open dunning cycle is skipped, the calendar moves on
            self.next_bill_d[a[due_all]] = self._day_of(
                _next_renewal_us(
                    np.full(len(due_all), day_us),
                    self.anchor_us[a[due_all]],
                    self.annual[a[due_all]],
                )
            )
        due = due_all[~self.dunning[a[due_all]]]
        if len(due):
            idx = a[due]
            us = np.where(
                fresh[due],
                self.since_us[idx] + rng.integers(MINUTE_US, 10 * MINUTE_US, len(idx)),
                day_us + rng.integers(0, 6 * HOUR_US, len(idx)),
            )
            amount = np.round(np.where(self.annual[idx], self.arr[idx], self.arr[idx] / 12), 2)
            outage = (
                crisis_now
                & self.crisis_exposed[idx]
                & (rng.random(len(idx)) < self.cfg.crisis.failure_rate)
            )
            normal = rng.random(len(idx)) < self.fragility[idx]
            shares = np.where(
                (self.method[idx] == 0)[:, None], FAILURE_SHARE_CARD, FAILURE_SHARE_OTHER
            )
            code = np.where(outage, GATEWAY_TIMEOUT, _draw(rng, shares))
            fail = outage | normal
            self._record_payment(idx, us, amount, np.where(fail, 1, 0), np.where(fail, code, -1))
            pay_us[due] = np.maximum(pay_us[due], us)
            failed[due[fail]] += 1
            f_idx = idx[fail]
            self.dunning[f_idx] = True
            self.dunning_attempts[f_idx] = 1
            self.dunning_next_d[f_idx] = t + RETRY_GAPS[0]
            self.dunning_code[f_idx] = code[fail]
            self.dunning_amount[f_idx] = amount[fail]
            # a few successful payments are refunded later (more often by frustrated merchants)
            ok_idx, ok_us, ok_amount = idx[~fail], us[~fail], amount[~fail]
            p_refund = 0.008 + 0.02 * np.minimum(self.frustration[ok_idx], 3.0) / 3
            refund = rng.random(len(ok_idx)) < p_refund
            refund_us = ok_us[refund] + rng.integers(1, 11, int(refund.sum())) * DAY_US
            keep = refund_us < self.end_us
            self._record_payment(
                ok_idx[refund][keep],
                refund_us[keep],
                np.round(ok_amount[refund][keep] * rng.uniform(0.3, 1.0, int(keep.sum())), 2),
                2,
                -1,
            )
        fails = np.flatnonzero(failed)
        if len(fails):
            self.stress[a[fails]] += failed[fails]
            self.frustration[a[fails]] += 0.3 * failed[fails]
            self.last_fail_d[a[fails]] = t
        return pay_us, failed, spike

    def _record_payment(
        self,
        idx: np.ndarray,
        us: np.ndarray,
        amount: np.ndarray,
        status: int | np.ndarray,
        code: int | np.ndarray,
    ) -> None:
        k = len(idx)
        self.payments.add(
            idx=idx.astype(np.int32),
            us=us,
            amount=amount,
            status=np.broadcast_to(np.asarray(status, np.int8), (k,)),
            code=np.broadcast_to(np.asarray(code, np.int8), (k,)),
        )

    # ---------------------------------------------------------------- hazard and churn
    def _hazard_components(
        self, a: np.ndarray, t: int, tenure: np.ndarray, steps: np.ndarray, spike: np.ndarray
    ) -> np.ndarray:
        scale = self.cfg.churn_scale
        renewal = _renewal_factor(np.where(self.annual[a], self.next_bill_d[a] - t, -1))
        newness = 1 + 6 * np.exp(-tenure / 45)  # new merchants give up on failing payments
        comps = np.empty((len(a), len(CAUSES)))
        stress = self.stress[a] * C_PAYMENT + self.dunning[a] * C_DUNNING
        comps[:, 0] = newness * stress * scale + spike
        # merchants who never activated leave early; the few still paying later are dormant
        comps[:, 1] = (
            C_ONBOARDING
            * (4 - steps)
            / 4
            * np.minimum(1, tenure / 10)
            * (0.3 + 0.7 * np.exp(-tenure / 120))
        )
        comps[:, 2] = C_DISENGAGEMENT * np.exp(-A_DISENGAGEMENT * self.engagement[a])
        comps[:, 3] = C_SUPPORT * self.frustration[a]
        comps[:, 4] = (
            PLAN_PRICE_HAZARD[self.tier[a]]
            * np.asarray(CHANNEL_HAZARD)[self.channel[a]]
            * (1 + 0.8 * np.exp(-tenure / 120))
            * np.sqrt(self.arr[a] / PLAN_ARR_MEDIAN[self.tier[a]])
        )
        comps[:, 1:] *= (renewal * scale)[:, None]
        on = np.flatnonzero(
            (self.treated_from_d[a] >= 0)
            & (self.treated_from_d[a] <= t)
            & (t - self.treated_from_d[a] < self.cfg.interventions.effect_days)
        )
        if len(on):
            comps[on] *= self._multipliers(a[on], self.playbook[a[on]])
        return comps

    def _multipliers(self, idx: np.ndarray, playbook: np.ndarray) -> np.ndarray:
        power = self.responsiveness[idx] * self.cfg.interventions.effect_scale
        return PLAYBOOK_HAZARD_MULTIPLIER[playbook] ** power[:, None]

    def _churn(
        self,
        a: np.ndarray,
        churned: np.ndarray,
        comps: np.ndarray,
        total: np.ndarray,
        spike: np.ndarray,
        pay_us: np.ndarray,
        t: int,
        day_us: int,
    ) -> np.ndarray:
        rng = self.rng
        idx = a[churned]
        k = len(idx)
        cause = _draw(rng, comps[churned] / total[churned][:, None])
        involuntary = (cause == 0) & (spike[churned] > 0)
        day_end = day_us + DAY_US
        lo = np.maximum(day_us + 6 * HOUR_US, self.since_us[idx] + 15 * MINUTE_US)
        lo = np.maximum(lo, pay_us[churned] + MINUTE_US)
        lo = np.minimum(lo, day_end - 1)
        us = lo + (rng.random(k) * (day_end - lo)).astype(np.int64)
        us = np.minimum(us, day_end - 1)
        self.churns.add(
            idx=idx.astype(np.int32), us=us, cause=cause.astype(np.int8), involuntary=involuntary
        )
        self.sub_log.add(
            idx=idx,
            us=us,
            kind=np.full(k, 2, np.int8),
            tier=self.tier[idx],
            arr=self.arr[idx],
            seats=self.seats[idx],
            anchor=self.anchor_us[idx],
            annual=self.annual[idx],
        )
        self.status[idx] = 2
        self.first_churn_us[idx] = np.minimum(self.first_churn_us[idx], us)
        self.dunning[idx] = False
        self.manual_d[idx] = -1
        # a few merchants come back: some within a 30-day grace period, most later
        p_back = np.where(cause == 0, RESIGNUP_PROBABILITY_PAYMENT, RESIGNUP_PROBABILITY)
        back = rng.random(k) < p_back
        delay = np.where(rng.random(k) < 0.45, rng.integers(3, 31, k), rng.integers(31, 200, k))
        self.resignup_d[idx] = np.where(back, t + delay, -1)
        return us

    def _resign(self, idx: np.ndarray, t: int, day_us: int) -> None:
        rng, k = self.rng, len(idx)
        self.status[idx] = 1
        self.resignup_d[idx] = -1
        self.since_us[idx] = day_us + rng.integers(8 * HOUR_US, 20 * HOUR_US, k)
        self.contract_d[idx] = t
        self.anchor_us[idx] = day_us
        self.next_bill_d[idx] = t
        self.tier[idx] = np.maximum(self.tier[idx] - (rng.random(k) < 0.3), 0)
        self.arr[idx] = _draw_arr(rng, self.tier[idx])
        self.seats[idx] = _draw_seats(rng, self.tier[idx])
        self.decline[idx] *= 0.3
        self.engagement[idx] = (
            PLAN_ENGAGEMENT[self.tier[idx]] + self.eta[idx] + rng.normal(0.0, 0.3, k)
        )
        self.frustration[idx] = 0.0
        self.stress[idx] = 0.0
        self._log_subscription(idx, self.since_us[idx], 0)

    # ---------------------------------------------------------------- interventions
    def _enroll(
        self,
        a: np.ndarray,
        comps: np.ndarray,
        total: np.ndarray,
        activated: np.ndarray,
        dtr: np.ndarray,
        t: int,
        lo: np.ndarray,
    ) -> None:
        cfg, rng = self.cfg.interventions, self.rng
        pick = np.flatnonzero((total >= cfg.risk_threshold) & ~self.enrolled[a])
        if len(pick) == 0:
            return
        idx, k = a[pick], len(pick)
        # the playbook follows observable signals, with some noise in the CSM's judgement
        playbook = np.where(
            t - self.last_fail_d[idx] <= 30,
            0,
            np.where(~activated[pick], 1, np.where(self.recent_tickets[idx] >= 1.5, 2, 3)),
        )
        noisy = rng.random(k) < 0.15
        playbook = np.where(noisy, rng.integers(0, len(PLAYBOOKS), k), playbook)
        arm = np.where(rng.random(k) < cfg.treatment_share, 0, 1)
        us = lo[pick] + (rng.random(k) * (self.start_us + (t + 1) * DAY_US - lo[pick])).astype(
            np.int64
        )
        self.enrolled[idx] = True
        self.playbook[idx] = playbook
        self.treated_from_d[idx] = np.where(arm == 0, t + 1, -1)
        self.interventions.add(
            idx=idx.astype(np.int32),
            us=us,
            playbook=playbook.astype(np.int8),
            arm=arm.astype(np.int8),
        )
        # truth: the 90-day effect every playbook would have, projected from today's state
        c = comps[pick]
        d = dtr[pick]
        base = self._window_probability(c, d)
        for p in range(len(PLAYBOOKS)):
            effect = base - self._window_probability(c * self._multipliers(idx, np.full(k, p)), d)
            self.effects.add(
                idx=idx.astype(np.int32),
                us=us,
                playbook=np.full(k, p, np.int8),
                assigned=playbook == p,
                arm=arm.astype(np.int8),
                effect=effect,
                hazard=total[pick],
                cause=c.argmax(axis=1).astype(np.int8),
            )

    @staticmethod
    def _window_probability(comps: np.ndarray, dtr: np.ndarray) -> np.ndarray:
        voluntary = comps[:, 1:].sum(axis=1) / _renewal_factor(dtr)
        cum = _projected_hazard(voluntary, comps[:, 0], dtr, 1, EFFECT_HORIZON_DAYS + 1)
        return -np.expm1(-cum)

    # ---------------------------------------------------------------- observable behaviour
    def _events(
        self,
        a: np.ndarray,
        t: int,
        lo: np.ndarray,
        span: np.ndarray,
        activated: np.ndarray,
        hi: np.ndarray,
    ) -> None:
        rng, m = self.rng, len(a)
        level = np.exp(self.engagement[a]) * (span / DAY_US) * self.cfg.events_scale
        rates = np.empty((m, len(EVENT_TYPES)))
        rates[:, 0] = LOGIN_RATE * np.sqrt(self.seats[a])
        rates[:, 1] = (
            activated
            * PLAN_ORDERS[self.tier[a]]
            * np.asarray(INDUSTRY_ORDERS)[self.industry[a]]
            * self.season[t]
        )
        rates[:, 2:] = FEATURE_RATE * self.adopted[a]
        counts = rng.poisson(rates * level[:, None]).ravel()
        cells = np.flatnonzero(counts)
        reps = counts[cells]
        row = np.repeat(cells // len(EVENT_TYPES), reps)
        etype = np.repeat(cells % len(EVENT_TYPES), reps)
        k = len(row)
        us = lo[row] + (rng.random(k) * span[row]).astype(np.int64)
        seats = self.seats[a][row]
        user = np.where(etype == 1, 0, 1 + (seats * rng.random(k) ** 2).astype(np.int64))
        qty = np.where(
            etype == 1,
            1 + rng.poisson(1.0, k),
            np.where(etype == 0, np.nan, 1 + rng.poisson(1.5, k)),
        )
        # the first order (activation) is an order event at the milestone's time
        first = np.flatnonzero((self.milestone_us[a, 3] >= lo) & (self.milestone_us[a, 3] < hi))
        self.events.add(
            idx=np.concatenate([a[row], a[first]]).astype(np.int32),
            us=np.concatenate([us, self.milestone_us[a[first], 3]]),
            type=np.concatenate([etype, np.ones(len(first), np.int64)]).astype(np.int8),
            user=np.concatenate([user, np.zeros(len(first), np.int64)]).astype(np.int32),
            qty=np.concatenate([qty, np.ones(len(first))]).astype(np.float32),
        )

    def _tickets(
        self,
        a: np.ndarray,
        t: int,
        lo: np.ndarray,
        span: np.ndarray,
        tenure: np.ndarray,
        activated: np.ndarray,
        failed: np.ndarray,
    ) -> None:
        rng = self.rng
        f = self.frustration[a]
        rate = (
            0.008 * PLAN_TICKETS[self.tier[a]] * np.exp(0.9 * np.minimum(f, 4.0))
            + 0.04 * (~activated & (tenure < 60))
            + 0.25 * (failed > 0)
        ) * (span / DAY_US)
        count = rng.poisson(rate)
        row = np.repeat(np.arange(len(a)), count)
        k = len(row)
        if k == 0:
            return
        idx = a[row]
        fr = f[row]
        recent_fail = (t - self.last_fail_d[idx]) < 14
        category = _draw(
            rng,
            np.column_stack(
                [
                    0.15 + 2.0 * recent_fail,
                    0.35 + 0.15 * fr,
                    0.05 + 1.2 * ~activated[row],
                    np.full(k, 0.35),
                ]
            ),
        )
        enterprise = self.tier[idx] == 3
        priority = _draw(
            rng,
            np.column_stack(
                [
                    np.full(k, 0.25),
                    np.full(k, 0.5),
                    0.18 + 0.05 * fr,
                    0.04 + 0.04 * fr + 0.1 * enterprise,
                ]
            ),
        )
        opened = lo[row] + (rng.random(k) * span[row]).astype(np.int64)
        hours = rng.lognormal(
            np.log(RESOLUTION_HOURS[priority] * np.where(category == 1, 1.8, 1)), 1.0
        )
        closed = opened + (hours * HOUR_US).astype(np.int64) + MINUTE_US
        closed = np.where(closed < self.end_us, closed, NEVER)
        csat = np.clip(
            np.round(4.4 - 0.45 * fr - 0.35 * np.log2(hours / 12) + rng.normal(0.0, 0.7, k)), 1, 5
        )
        csat = np.where((rng.random(k) < 0.45) & (closed != NEVER), csat, np.nan)
        # a bad support experience adds to the frustration it came from
        bad = (csat <= 2) | (hours > 72)
        np.add.at(self.frustration, idx, 0.25 * bad)
        np.minimum(self.frustration, 6.0, out=self.frustration)
        np.add.at(self.recent_tickets, idx, 1.0)
        self.tickets.add(
            idx=idx.astype(np.int32),
            opened=opened,
            closed=closed,
            priority=priority.astype(np.int8),
            category=category.astype(np.int8),
            csat=csat,
        )

    def _surveys(
        self, a: np.ndarray, t: int, lo: np.ndarray, span: np.ndarray, tenure: np.ndarray
    ) -> None:
        rng = self.rng
        eligible = self.responder[a] & (tenure >= 30) & (t - self.last_survey_d[a] >= 75)
        pick = np.flatnonzero(eligible & (rng.random(len(a)) < 1 / 45))
        if len(pick) == 0:
            return
        idx, k = a[pick], len(pick)
        recent_fail = (t - self.last_fail_d[idx]) <= 30
        score = np.clip(
            np.round(
                6.9
                + 1.5 * self.engagement[idx]
                - 1.1 * self.frustration[idx]
                - 0.8 * recent_fail
                + rng.normal(0.0, 1.2, k)
            ),
            0,
            10,
        )
        n_det, n_pas, n_pro = (
            len(COMMENTS_DETRACTOR),
            len(COMMENTS_PASSIVE),
            len(COMMENTS_PROMOTER),
        )
        comment = np.where(
            score <= 6,
            rng.integers(0, n_det, k),
            np.where(
                score <= 8,
                n_det + rng.integers(0, n_pas, k),
                n_det + n_pas + rng.integers(0, n_pro, k),
            ),
        )
        about_payment = (score <= 6) & recent_fail & (rng.random(k) < 0.5)
        comment = np.where(
            about_payment,
            n_det + n_pas + n_pro + rng.integers(0, len(COMMENTS_PAYMENT), k),
            comment,
        )
        comment = np.where(rng.random(k) < 0.55, comment, -1)
        self.last_survey_d[idx] = t
        us = lo[pick] + (rng.random(k) * span[pick]).astype(np.int64)
        self.surveys.add(
            idx=idx.astype(np.int32), us=us, score=score, comment=comment.astype(np.int16)
        )

    def _plan_changes(self, a: np.ndarray, lo: np.ndarray, span: np.ndarray) -> None:
        rng = self.rng
        e = self.engagement[a]
        tier = self.tier[a]
        p_up = 0.0003 * np.exp(0.9 * e) * (tier < 3)
        p_down = 0.00025 * np.exp(-0.9 * e) * (tier > 0)
        p_seats = 0.0002 * np.exp(0.5 * e)
        u = rng.random(len(a))
        up = u < p_up
        down = ~up & (u < p_up + p_down)
        more = ~up & ~down & (u < p_up + p_down + p_seats)
        change = np.flatnonzero(up | down | more)
        if len(change) == 0:
            return
        idx = a[change]
        k = len(idx)
        step = np.where(up[change], 1, np.where(down[change], -1, 0))
        old_tier = self.tier[idx]
        new_tier = old_tier + step
        ratio = PLAN_ARR_MEDIAN[new_tier] / PLAN_ARR_MEDIAN[old_tier]
        seat_ratio = PLAN_SEATS_MEDIAN[new_tier] / PLAN_SEATS_MEDIAN[old_tier]
        added = 1 + rng.poisson(1.0, k)
        per_seat = self.arr[idx] / self.seats[idx]
        new_arr = np.where(
            step != 0,
            self.arr[idx] * ratio * rng.lognormal(0.0, 0.15, k),
            self.arr[idx] + 0.8 * per_seat * added,
        )
        new_seats = np.where(
            step != 0,
            np.maximum(1, np.round(self.seats[idx] * seat_ratio**0.7)),
            self.seats[idx] + added,
        ).astype(np.int64)
        self.tier[idx] = new_tier
        self.arr[idx] = np.round(new_arr, 2)
        self.seats[idx] = new_seats
        us = lo[change] + 1 + (rng.random(k) * (span[change] - 1)).astype(np.int64)
        self._log_subscription(idx, us, 1)

    # ---------------------------------------------------------------- frames
    def _assemble(self) -> SimulatedChunk:
        ids = pa.array(self.ids, pa.string())

        def acct(idx: np.ndarray) -> pa.Array:
            return _decode(idx, ids)

        accounts = _frame(
            {
                "account_id": ids,
                "created_at": _timestamps(self.created_us),
                "region": _decode(self.region, REGIONS),
                "country": _decode(self.country, COUNTRIES),
                "acquisition_channel": _decode(self.channel, CHANNELS),
                "industry": _decode(self.industry, INDUSTRIES),
                "plan_at_signup": _decode(self.tier_at_signup, PLANS),
                "billing_term": _decode(self.annual.astype(np.int64), BILLING_TERMS),
            }
        )
        subscriptions = self._subscriptions(acct)
        # milestones reached before the first churn and the horizon
        cutoff = np.minimum(self.first_churn_us, self.end_us)[:, None]
        reached = self.milestone_us < cutoff
        rows, steps = np.nonzero(reached)
        onboarding = _frame(
            {
                "account_id": acct(rows),
                "milestone": _decode(steps, MILESTONES),
                "completed_at": _timestamps(self.milestone_us[rows, steps]),
            }
        )

        ev = self.events
        ev_us = ev.get("us", np.int64)
        order = np.argsort(ev_us, kind="stable")
        ev_idx = ev.get("idx", np.int64)[order]
        ev_user = ev.get("user", np.int64)[order]
        events = _frame(
            {
                "account_id": acct(ev_idx),
                "occurred_at": _timestamps(ev_us[order]),
                "event_type": _decode(ev.get("type", np.int64)[order], EVENT_TYPES),
                "user_id": self._user_ids(ev_idx, ev_user),
                "quantity": _floats(ev.get("qty", np.float64)[order]),
            }
        )
        del ev_us, ev_idx, ev_user, order

        tk = self.tickets
        tk_order = np.argsort(tk.get("opened", np.int64), kind="stable")
        tickets = _frame(
            {
                "account_id": acct(tk.get("idx", np.int64)[tk_order]),
                "opened_at": _timestamps(tk.get("opened", np.int64)[tk_order]),
                "closed_at": _timestamps(tk.get("closed", np.int64)[tk_order]),
                "priority": _decode(tk.get("priority", np.int64)[tk_order], TICKET_PRIORITIES),
                "category": _decode(tk.get("category", np.int64)[tk_order], TICKET_CATEGORIES),
                "csat": _floats(tk.get("csat", np.float64)[tk_order]),
            }
        )

        py = self.payments
        py_order = np.argsort(py.get("us", np.int64), kind="stable")
        py_idx = py.get("idx", np.int64)[py_order]
        payments = _frame(
            {
                "account_id": acct(py_idx),
                "attempted_at": _timestamps(py.get("us", np.int64)[py_order]),
                "amount": pa.array(py.get("amount", np.float64)[py_order]),
                "status": _decode(py.get("status", np.int64)[py_order], PAYMENT_STATUSES),
                "failure_code": _decode(py.get("code", np.int64)[py_order], FAILURE_CODES),
                "gateway": _decode(self.gateway[py_idx], self.gateways),
                "method": _decode(self.method[py_idx], METHODS),
            }
        )

        sv = self.surveys
        sv_order = np.argsort(sv.get("us", np.int64), kind="stable")
        surveys = _frame(
            {
                "account_id": acct(sv.get("idx", np.int64)[sv_order]),
                "responded_at": _timestamps(sv.get("us", np.int64)[sv_order]),
                "score": pa.array(sv.get("score", np.float64)[sv_order]),
                "comment": _decode(sv.get("comment", np.int64)[sv_order], COMMENTS),
            }
        )

        iv = self.interventions
        interventions = _frame(
            {
                "account_id": acct(iv.get("idx", np.int64)),
                "started_at": _timestamps(iv.get("us", np.int64)),
                "playbook": _decode(iv.get("playbook", np.int64), PLAYBOOKS),
                "arm": _decode(iv.get("arm", np.int64), ARMS),
            }
        )

        hz = self.hazard
        hz_idx = hz.get("idx", np.int64)
        hz_order = np.argsort(hz_idx, kind="stable")  # account-major, days in order
        truth_hazard = _frame(
            {
                "account_id": acct(hz_idx[hz_order]),
                "day": _timestamps(self.start_us + hz.get("day", np.int64)[hz_order] * DAY_US),
                "hazard": pa.array(hz.get("hazard", np.float32)[hz_order]),
                "hazard_payment": pa.array(hz.get("payment", np.float32)[hz_order]),
                "days_to_renewal": pa.array(hz.get("dtr", np.int16)[hz_order]),
                "cause": _decode(hz.get("cause", np.int64)[hz_order], CAUSES),
            }
        )
        del hz_idx, hz_order

        ch = self.churns
        truth_churn = _frame(
            {
                "account_id": acct(ch.get("idx", np.int64)),
                "churned_at": _timestamps(ch.get("us", np.int64)),
                "cause": _decode(ch.get("cause", np.int64), CAUSES),
                "involuntary": pa.array(ch.get("involuntary", np.bool_)),
            }
        )
        ef = self.effects
        truth_effects = _frame(
            {
                "account_id": acct(ef.get("idx", np.int64)),
                "started_at": _timestamps(ef.get("us", np.int64)),
                "playbook": _decode(ef.get("playbook", np.int64), PLAYBOOKS),
                "assigned": pa.array(ef.get("assigned", np.bool_)),
                "arm": _decode(ef.get("arm", np.int64), ARMS),
                "effect": pa.array(ef.get("effect", np.float64)),
                "hazard_at_start": pa.array(ef.get("hazard", np.float64)),
                "cause_at_start": _decode(ef.get("cause", np.int64), CAUSES),
            }
        )
        return SimulatedChunk(
            index=self.index,
            accounts=accounts,
            subscriptions=subscriptions,
            onboarding=onboarding,
            events=events,
            tickets=tickets,
            payments=payments,
            surveys=surveys,
            interventions=interventions,
            truth_hazard=truth_hazard,
            truth_churn=truth_churn,
            truth_effects=truth_effects,
        )

    def _subscriptions(self, acct: Callable[[np.ndarray], pa.Array]) -> pd.DataFrame:
        log = self.sub_log
        idx, us = log.get("idx", np.int64), log.get("us", np.int64)
        order = np.lexsort((np.arange(len(idx)), us, idx))
        idx, us = idx[order], us[order]
        kind = log.get("kind", np.int64)[order]
        same_next = np.append(idx[1:] == idx[:-1], False)
        next_us = np.append(us[1:], NEVER)
        ended = np.where(same_next, next_us, NEVER)
        keep = kind != 2
        started = us[keep]
        anchor = log.get("anchor", np.int64)[order][keep]
        annual = log.get("annual", np.bool_)[order][keep]
        return _frame(
            {
                "account_id": acct(idx[keep]),
                "started_at": _timestamps(started),
                "ended_at": _timestamps(ended[keep]),
                "arr": pa.array(np.round(log.get("arr", np.float64)[order][keep], 2)),
                "plan": _decode(log.get("tier", np.int64)[order][keep], PLANS),
                "seats": pa.array(log.get("seats", np.int64)[order][keep]),
                "renews_at": _timestamps(_next_renewal_us(started, anchor, annual)),
            }
        )

    def _user_ids(self, idx: np.ndarray, user: np.ndarray) -> pa.Array:
        """`<account_id>-u<k>` per event (null where k == 0), built once per distinct user."""
        width = int(user.max()) + 1 if len(user) else 1
        code = idx * width + user
        present = np.zeros(self.n * width, bool)
        present[code] = True
        distinct = np.flatnonzero(present)
        lookup = np.full(self.n * width, -1, np.int64)
        lookup[distinct] = np.arange(len(distinct))
        names = [f"{self.ids[c // width]}-u{c % width}" for c in distinct.tolist()]
        return _decode(np.where(user > 0, lookup[code], -1), names)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def _to_us(ts: pd.Timestamp) -> int:
    return int(np.datetime64(ts.to_datetime64(), "us").astype(np.int64))


def _midnight(us: np.ndarray) -> np.ndarray:
    return (us // DAY_US) * DAY_US


def _gateway_names(crisis_gateway: str) -> tuple[str, ...]:
    """The gateways; a crisis gateway with a new name replaces the first one."""
    if crisis_gateway in GATEWAYS:
        return GATEWAYS
    return (crisis_gateway,) + GATEWAYS[1:]


def _draw(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category per row of `weights` (rows need not sum to one)."""
    weights = np.asarray(weights, dtype=float)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _draw_arr(rng: np.random.Generator, tier: np.ndarray) -> np.ndarray:
    """ARR from a skewed log-normal per plan."""
    arr = rng.lognormal(np.log(PLAN_ARR_MEDIAN[tier]), PLAN_ARR_SIGMA[tier])
    return np.round(arr, 2)


def _draw_seats(rng: np.random.Generator, tier: np.ndarray) -> np.ndarray:
    seats = rng.lognormal(np.log(PLAN_SEATS_MEDIAN[tier]), 0.5)
    return np.clip(np.round(seats), 1, 500).astype(np.int64)


def _next_renewal_us(after_us: np.ndarray, anchor_us: np.ndarray, annual: np.ndarray) -> np.ndarray:
    """The first billing date strictly after `after_us` on the anchor's calendar (midnight).

    Monthly terms renew on the anchor's day of month, annual terms on its anniversary; days that
    do not exist in a month (the 31st, 29 February) fall on the month's last day.
    """
    anchor_day = anchor_us.astype("datetime64[us]").astype("datetime64[D]")
    anchor_month = anchor_day.astype("datetime64[M]")
    dom = (anchor_day - anchor_month.astype("datetime64[D]")).astype(np.int64)
    after_month = after_us.astype("datetime64[us]").astype("datetime64[M]")
    month_of_year = anchor_month.astype(np.int64) % 12
    yearly = (after_month.astype(np.int64) // 12) * 12 + month_of_year
    base = np.where(annual, yearly, after_month.astype(np.int64))
    step = np.where(annual, 12, 1)
    result = np.full(len(after_us), NEVER, np.int64)
    for k in (-1, 0, 1, 2):
        month = (base + k * step).astype("datetime64[M]")
        length = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(
            np.int64
        )
        day = month.astype("datetime64[D]") + np.minimum(dom, length - 1)
        us = day.astype("datetime64[us]").astype(np.int64)
        result = np.where((us > after_us) & (us < result), us, result)
    return result


def _timestamps(us: np.ndarray) -> pa.Array:
    us = np.asarray(us, np.int64)
    missing = us == NEVER
    values = np.where(missing, 0, us).view("datetime64[us]")
    return pa.array(values, mask=missing if missing.any() else None)


def _floats(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, np.float64)
    missing = np.isnan(values)
    return pa.array(values, mask=missing if missing.any() else None)


def _decode(codes: np.ndarray, values: object) -> pa.Array:
    """Strings from integer codes into `values` (a pyarrow array or a sequence); -1 is null."""
    codes = np.asarray(codes, np.int64)
    dictionary = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    missing = codes < 0
    indices = pa.array(
        np.where(missing, 0, codes).astype(np.int32), mask=missing if missing.any() else None
    )
    return pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()


def _frame(columns: dict[str, pa.Array]) -> pd.DataFrame:
    """A pandas frame exactly as reading the written Parquet back gives it (pandas 2 and 3)."""
    return pa.table(columns).to_pandas()
