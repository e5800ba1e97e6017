"""Rows run with several seeds, folded into one: each metric's mean, standard deviation and count over the seeds."""

from __future__ import annotations

import statistics

SPREAD_KEYS = ("ci95", "bootstrap", "std", "splits")  # of one run's entry; a fold of several has sd and n instead


def fold(entries: list[dict]) -> dict:
    """One metric's entries from runs of several seeds -> {"value": mean, "sd", "n", "values", and the first
    entry's backbone and counts}; missing (with the first reason) when no run has a value."""
    values = [e["value"] for e in entries if e.get("value") is not None]
    base = {k: v for k, v in entries[0].items() if k not in SPREAD_KEYS and k != "value"}
    if not values:
        return {**base, "value": None, "missing": entries[0].get("missing", "no run has a value"), "n": 0}
    base.pop("missing", None)
    sd = statistics.stdev(values) if len(values) > 1 else None
    return {**base, "value": statistics.fmean(values), "sd": sd, "n": len(values), "values": values}


def fold_sets(metrics: list[dict]) -> dict:
    """set -> metric -> entries of several runs, folded (a metric some runs lack is folded over those that have it)."""
    out: dict = {}
    for subset in dict.fromkeys(s for m in metrics for s in m):
        names = dict.fromkeys(n for m in metrics for n in m.get(subset, {}))
        out[subset] = {n: fold([m[subset][n] for m in metrics if n in m.get(subset, {})]) for n in names}
    return out


def fold_ratios(ratios: list[dict]) -> dict:
    """set -> FID ratio entries of several runs, folded."""
    sets = dict.fromkeys(s for r in ratios for s in r)
    return {s: fold([r[s] for r in ratios if s in r]) for s in sets}
