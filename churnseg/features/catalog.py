"""The feature catalog: family, description, unit and a plain-language reason for every feature.

Fixed names are listed one by one; generated names (one per window, per event type, per key
feature) are matched by patterns, so `lookup("logins_30d")` and `lookup("events_page_view_7d")`
both work for any window or event type.

Reason templates are sentences filled with one account's value by `FeatureSpec.reason(value)`.
Placeholders:
    {value}      the account's value (a number, or the label of a category);
    {pct}        abs(value) * 100, for fractions (trends, changes, rates);
    {abs}        abs(value), for signed differences (NPS change);
    {direction}  "up" when value > 0, else "down" (trends and changes);
    {not_}       "not " when a flag is 0, else "" (flags).
Format specs apply as usual: "{value:.0f} failed payments in the last 30 days",
"logins {direction} {pct:.0f}% vs the previous 30 days".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

FAMILIES = ("onboarding", "usage", "tickets", "payments", "sentiment", "account")


@dataclass(frozen=True)
class FeatureSpec:
    """One feature.

    Attributes:
        name: column name in the feature matrix.
        family: feature family (one of `FAMILIES`), used to roll explanations up to drivers.
        description: what the column holds, with its window.
        unit: count, days, fraction, score, flag, category, currency/year, seats, value.
        reason_template: a sentence with placeholders (see the module docstring).
    """

    name: str
    family: str
    description: str
    unit: str
    reason_template: str

    def reason(self, value: object) -> str:
        """The reason sentence for one account's `value` (a short fallback when it is missing)."""
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return missing_reason(self)
        if self.unit == "category" or isinstance(value, str):
            return self.reason_template.format(
                value=str(value).replace("_", " "), pct=0.0, abs=0.0, direction="", not_=""
            )
        number = float(value)  # type: ignore[arg-type]
        return self.reason_template.format(
            value=number,
            pct=abs(number) * 100,
            abs=abs(number),
            direction="up" if number > 0 else "down",
            not_="" if number else "not ",
        )


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    family: str
    description: str
    unit: str
    reason: str

    def spec(self, name: str) -> FeatureSpec | None:
        m = self.regex.fullmatch(name)
        if m is None:
            return None
        groups = {k: _human(v) if k in ("type", "feature") else v for k, v in m.groupdict().items()}
        return FeatureSpec(
            name,
            self.family,
            self.description.format(**groups),
            self.unit,
            self.reason.format(**groups),
        )


def _human(slug: str) -> str:
    return slug.replace("_", " ")


def _static(family: str, unit: str, items: list[tuple[str, str, str]]) -> dict[str, FeatureSpec]:
    return {n: FeatureSpec(n, family, d, unit, r) for n, d, r in items}


# --------------------------------------------------------------------------------------------
# Fixed names
# --------------------------------------------------------------------------------------------
STATIC: dict[str, FeatureSpec] = {
    **_static(
        "onboarding",
        "count",
        [
            (
                "milestones_completed",
                "Configured onboarding milestones completed before as_of",
                "only {value:.0f} onboarding milestones completed",
            ),
        ],
    ),
    **_static(
        "onboarding",
        "category",
        [
            (
                "onboarding_stage",
                "Onboarding stage at as_of: completed, partial_not_activated, "
                "dropped_early or not_started",
                "onboarding stage: {value}",
            ),
        ],
    ),
    **_static(
        "onboarding",
        "flag",
        [
            (
                "activated",
                "Activation milestone completed before as_of (1/0)",
                "{not_}activated yet",
            ),
        ],
    ),
    **_static(
        "onboarding",
        "days",
        [
            (
                "days_to_activation",
                "Days from account creation to the activation milestone",
                "took {value:.0f} days to activate",
            ),
            (
                "days_since_last_milestone",
                "Days from the last onboarding milestone to as_of",
                "{value:.0f} days since the last onboarding milestone",
            ),
            ("tenure_days", "Days from account creation to as_of", "customer for {value:.0f} days"),
        ],
    ),
    **_static(
        "usage",
        "days",
        [
            (
                "days_since_last_activity",
                "Days from the last event of any type to as_of",
                "no activity for {value:.0f} days",
            ),
            (
                "days_since_last_login",
                "Days from the last login to as_of",
                "no login for {value:.0f} days",
            ),
        ],
    ),
    **_static(
        "tickets",
        "count",
        [
            (
                "open_tickets",
                "Support tickets opened before as_of and not closed before it",
                "{value:.0f} support tickets still open",
            ),
        ],
    ),
    **_static(
        "payments",
        "count",
        [
            (
                "consecutive_failed_payments",
                "Failed payment attempts since the last successful one, before as_of",
                "{value:.0f} failed payments in a row",
            ),
        ],
    ),
    **_static(
        "payments",
        "days",
        [
            (
                "days_since_last_failed_payment",
                "Days from the last failed payment attempt to as_of",
                "last failed payment {value:.0f} days ago",
            ),
        ],
    ),
    **_static(
        "payments",
        "flag",
        [
            (
                "in_dunning",
                "A failed payment not followed by a successful one before as_of (1/0)",
                "{not_}in dunning: a failed payment has not been recovered",
            ),
        ],
    ),
    **_static(
        "payments",
        "category",
        [
            (
                "gateway",
                "Payment gateway of the most recent attempt before as_of",
                "pays through {value}",
            ),
            (
                "payment_method",
                "Payment method of the most recent attempt before as_of",
                "pays by {value}",
            ),
        ],
    ),
    **_static(
        "sentiment",
        "score",
        [
            (
                "last_nps",
                "Most recent NPS score (0-10) before as_of",
                "last NPS score {value:.0f}/10",
            ),
            (
                "nps_change",
                "Most recent NPS score minus the one before it (points)",
                "NPS {direction} {abs:.0f} points since the previous survey",
            ),
        ],
    ),
    **_static(
        "sentiment",
        "category",
        [
            (
                "nps_category",
                "Most recent NPS response: detractor (0-6), passive (7-8), promoter (9-10)",
                "NPS {value}",
            ),
        ],
    ),
    **_static(
        "sentiment",
        "days",
        [
            (
                "days_since_last_nps_response",
                "Days from the most recent NPS response to as_of",
                "no NPS response for {value:.0f} days",
            ),
        ],
    ),
    **_static(
        "account",
        "currency/year",
        [
            (
                "arr",
                "Annual recurring revenue of the subscriptions active at as_of",
                "ARR {value:,.0f}",
            ),
        ],
    ),
    **_static(
        "account",
        "seats",
        [
            ("seats", "Seats of the subscriptions active at as_of", "{value:.0f} seats"),
        ],
    ),
    **_static(
        "account",
        "days",
        [
            (
                "days_to_renewal",
                "Days from as_of to the active subscription's next renewal date",
                "renewal in {value:.0f} days",
            ),
        ],
    ),
    **_static(
        "account",
        "months",
        [
            (
                "renewal_term_months",
                "Billing term of the main active subscription (1 monthly, 3, 6 or 12 annual), "
                "inferred from its start and renewal dates",
                "{value:.0f}-month billing term",
            ),
        ],
    ),
    **_static(
        "account",
        "category",
        [
            (
                "plan",
                "Plan of the main subscription active at as_of (highest ARR)",
                "on the {value} plan",
            ),
            ("region", "Account region", "region {value}"),
            ("country", "Account country", "country {value}"),
            (
                "acquisition_channel",
                "Channel the account was acquired through",
                "acquired through {value}",
            ),
            ("industry", "Account industry", "industry {value}"),
        ],
    ),
}

# --------------------------------------------------------------------------------------------
# Generated names; order matters (trend patterns before the per-type count pattern).
# --------------------------------------------------------------------------------------------
_W = r"(?P<w>\d+)"
_T = r"(?P<t>\d+)"
PATTERNS: tuple[_Pattern, ...] = tuple(
    _Pattern(re.compile(rx), fam, desc, unit, reason)
    for rx, fam, desc, unit, reason in [
        (
            rf"logins_trend_{_T}d",
            "usage",
            "Change in logins, last {t} days vs the {t} days before (fraction; -1 = stopped)",
            "fraction",
            "logins {{direction}} {{pct:.0f}}% vs the previous {t} days",
        ),
        (
            rf"events_trend_{_T}d",
            "usage",
            "Change in events of any type, last {t} days vs the {t} days before (fraction)",
            "fraction",
            "product activity {{direction}} {{pct:.0f}}% vs the previous {t} days",
        ),
        (
            rf"logins_{_W}d",
            "usage",
            "Logins in the last {w} days",
            "count",
            "{{value:.0f}} logins in the last {w} days",
        ),
        (
            rf"active_days_{_W}d",
            "usage",
            "Days (24-hour periods before as_of) with any event in the last {w} days",
            "count",
            "active on {{value:.0f}} of the last {w} days",
        ),
        (
            rf"events_{_W}d",
            "usage",
            "Events of any type in the last {w} days",
            "count",
            "{{value:.0f}} product events in the last {w} days",
        ),
        (
            rf"active_users_{_W}d",
            "usage",
            "Distinct users with an event in the last {w} days",
            "count",
            "{{value:.0f}} active users in the last {w} days",
        ),
        (
            rf"distinct_features_used_{_W}d",
            "usage",
            "Key features (config list) used in the last {w} days",
            "count",
            "only {{value:.0f}} key features used in the last {w} days",
        ),
        (
            rf"distinct_event_types_{_W}d",
            "usage",
            "Tracked event types (login, key features, generic types) seen in the last {w} days",
            "count",
            "only {{value:.0f}} kinds of activity in the last {w} days",
        ),
        (
            r"adopted_(?P<feature>.+)",
            "usage",
            "Key feature '{feature}' used before as_of (1/0)",
            "flag",
            "{{not_}}using {feature}",
        ),
        (
            rf"events_(?P<type>.+)_trend_{_T}d",
            "usage",
            "Change in '{type}' events, last {t} days vs the {t} days before (fraction)",
            "fraction",
            "{type} {{direction}} {{pct:.0f}}% vs the previous {t} days",
        ),
        (
            rf"events_(?P<type>.+)_{_W}d",
            "usage",
            "'{type}' events in the last {w} days",
            "count",
            "{{value:.0f}} {type} events in the last {w} days",
        ),
        (
            rf"tickets_trend_{_T}d",
            "tickets",
            "Change in tickets opened, last {t} days vs the {t} days before (fraction)",
            "fraction",
            "support tickets {{direction}} {{pct:.0f}}% vs the previous {t} days",
        ),
        (
            rf"tickets_{_W}d",
            "tickets",
            "Support tickets opened in the last {w} days",
            "count",
            "{{value:.0f}} support tickets in the last {w} days",
        ),
        (
            rf"high_priority_tickets_{_W}d",
            "tickets",
            "High-priority tickets opened in the last {w} days",
            "count",
            "{{value:.0f}} high-priority tickets in the last {w} days",
        ),
        (
            rf"median_resolution_days_{_W}d",
            "tickets",
            "Median days to close the tickets opened in the last {w} days and closed before as_of",
            "days",
            "tickets took a median {{value:.1f}} days to resolve",
        ),
        (
            rf"mean_csat_{_W}d",
            "tickets",
            "Mean CSAT (1-5) of tickets opened in the last {w} days and closed before as_of",
            "score",
            "support satisfaction {{value:.1f}}/5",
        ),
        (
            rf"failed_payments_{_W}d",
            "payments",
            "Failed payment attempts in the last {w} days",
            "count",
            "{{value:.0f}} failed payments in the last {w} days",
        ),
        (
            rf"payment_failure_rate_{_W}d",
            "payments",
            "Failed share of payment attempts (failed + succeeded) in the last {w} days",
            "fraction",
            "{{pct:.0f}}% of payment attempts failed in the last {w} days",
        ),
        (
            r"arr_change_(?P<n>\d+)d",
            "account",
            "Relative change in ARR over the last {n} days (fraction; -0.2 = 20% lower)",
            "fraction",
            "ARR {{direction}} {{pct:.0f}}% in the last {n} days",
        ),
    ]
)


def lookup(name: str, strict: bool = False) -> FeatureSpec:
    """The catalog entry of a feature column.

    Unknown names are static account columns carried from the accounts table (see
    `DataConfig.extra_account_columns`) and get a generic account entry, unless `strict`.

    Raises:
        KeyError: `strict` and the name is neither a fixed feature nor a generated one.
    """
    if name in STATIC:
        return STATIC[name]
    for pattern in PATTERNS:
        spec = pattern.spec(name)
        if spec is not None:
            return spec
    if strict:
        raise KeyError(f"feature {name!r} is not in the catalog")
    return FeatureSpec(
        name,
        "account",
        f"Account attribute '{name}' (static, accounts table)",
        "value",
        f"{_human(name)}: {{value}}",
    )


MISSING_REASONS: tuple[tuple[str, str], ...] = (
    (r"days_to_activation", "not activated yet"),
    (r"days_since_last_milestone", "no onboarding milestone completed"),
    (r"days_since_last_login", "no login on record"),
    (r"days_since_last_activity", "no product activity on record"),
    (r"days_since_last_failed_payment", "no failed payment on record"),
    (r"(last_nps|nps_change|nps_category|days_since_last_nps_response)", "no NPS response yet"),
    (r"mean_csat_\d+d", "no rated support ticket recently"),
    (r"median_resolution_days_\d+d", "no resolved support ticket recently"),
    (r"(logins|events)(_.+)?_trend_\d+d", "no activity in the previous period to compare with"),
    (r"tickets_trend_\d+d", "no tickets in the previous period to compare with"),
    (r"payment_failure_rate_\d+d", "no payment attempt recently"),
    (r"days_to_renewal", "no renewal date on record"),
    (r"arr_change_\d+d", "no ARR on record for the comparison date"),
)
"""Plain sentences for features whose missing value itself carries the signal."""


def missing_reason(spec: FeatureSpec) -> str:
    """The sentence for a feature without a value (e.g. `not activated yet`)."""
    for pattern, sentence in MISSING_REASONS:
        if re.fullmatch(pattern, spec.name):
            return sentence
    return f"no data: {spec.description[:1].lower()}{spec.description[1:]}"


def is_known(name: str) -> bool:
    """Whether `name` is a fixed or generated feature name (not a carried account column)."""
    return name in STATIC or any(p.regex.fullmatch(name) for p in PATTERNS)


def catalog_frame(columns: Sequence[str]) -> pd.DataFrame:
    """One row per feature column: name, family, description, unit (for documentation)."""
    specs = [lookup(c) for c in columns]
    return pd.DataFrame(
        {
            "name": [s.name for s in specs],
            "family": [s.family for s in specs],
            "description": [s.description for s in specs],
            "unit": [s.unit for s in specs],
        }
    )
