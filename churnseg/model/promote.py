"""Champion/challenger: promote a candidate only if it beats the champion on the same holdout."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from churnseg.model.evaluate import classification_metrics


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    metric: str
    candidate_value: float | None = None
    champion_value: float | None = None
    margin: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def decide_promotion(
    y: np.ndarray,
    p_candidate: np.ndarray,
    p_champion: np.ndarray,
    metric: str = "roc_auc",
    margin: float = 0.0,
    higher_is_better: bool = True,
    arr: np.ndarray | None = None,
) -> PromotionDecision:
    """Compare two models' predictions for the same snapshots on `metric`.

    The candidate wins only if it is better than the champion by more than `margin`.
    """
    cand = classification_metrics(y, p_candidate, arr=arr)
    champ = classification_metrics(y, p_champion, arr=arr)
    if metric not in cand:
        raise ValueError(f"unknown promotion metric {metric!r}; choose one of {sorted(cand)}")
    c, h = float(cand[metric]), float(champ[metric])
    gain = (c - h) if higher_is_better else (h - c)
    better = "higher" if higher_is_better else "lower"
    if gain > margin:
        reason = (f"candidate {metric} {c:.4f} beats champion {h:.4f} by {gain:.4f} "
                  f"(> margin {margin}) on the same {len(y)} test snapshots")
        return PromotionDecision(True, reason, metric, c, h, margin)
    reason = (f"not promoted: candidate {metric} {c:.4f} vs champion {h:.4f} on the same "
              f"{len(y)} test snapshots; needs to be {better} by more than {margin}")
    return PromotionDecision(False, reason, metric, c, h, margin)
