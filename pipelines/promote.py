"""Promotion job: compare a registered candidate with the champion on the candidate's holdout."""

from __future__ import annotations

import logging

from churnseg import tracking
from churnseg.config import TrackingConfig
from churnseg.model.promote import PromotionDecision, decide_promotion

log = logging.getLogger(__name__)


def run(cfg: TrackingConfig, version: str | None = None, label: str = "churned"
        ) -> PromotionDecision:
    """Set the `champion` alias on `version` (default: the latest) if it beats the champion."""
    tracking.configure(cfg)
    name = cfg.registered_model
    candidate = (tracking.get_version(name, version) if version is not None
                 else tracking.latest_version(name))
    if candidate is None:
        raise tracking.ModelNotFoundError(f"no registered versions of model '{name}'")
    champion = tracking.model_version(name, "champion")
    if champion is None:
        decision = PromotionDecision(True, "no champion yet: the candidate becomes champion",
                                     cfg.promote_metric)
    elif champion.version == candidate.version:
        decision = PromotionDecision(False, f"version {candidate.version} is already champion",
                                     cfg.promote_metric)
    else:
        holdout = tracking.load_holdout(candidate.run_id)
        y = holdout[label].to_numpy().astype(int)
        arr = holdout["arr"].to_numpy(dtype=float) if "arr" in holdout.columns else None
        p_candidate = tracking.load_churn_model(f"models:/{name}/{candidate.version}"
                                                ).predict_proba(holdout)
        p_champion = tracking.load_churn_model(f"models:/{name}/{champion.version}"
                                               ).predict_proba(holdout)
        decision = decide_promotion(y, p_candidate, p_champion, cfg.promote_metric,
                                    cfg.promote_margin, cfg.higher_is_better, arr)
    if decision.promote:
        tracking.set_alias(name, "champion", candidate.version)
    tracking.log_promotion(candidate.run_id, decision.as_dict())
    log.info("%s version %s: %s", name, candidate.version, decision.reason)
    return decision
