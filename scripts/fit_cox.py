"""Fit a Cox proportional-hazards model to the exported time-to-event table (lifelines).

    .venv/bin/python scripts/fit_cox.py time_to_event.csv [--covariates cmax_above_ceiling ...]
                                        [--plot kaplan_meier.png]

The table is ``GET /api/v1/exports/time-to-event/?endpoint=...`` (or the file the
``synthetic_cohort`` command writes): counting-process rows (start, stop] with time-varying
covariates. lifelines' CoxPHFitter fits it with ``entry_col="start"`` (each row enters the risk
set at its start: the counting-process likelihood) and robust standard errors clustered on the
subject. It prints each covariate's hazard ratio with its 95% confidence interval and, with
``--plot``, writes a Kaplan-Meier plot of time to the event by whether the subject's Cmax was ever
above the ceiling (a picture for a person; the Cox model is the analysis).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_COVARIATES = ["cmax_above_ceiling"]


def load_table(path):
    import pandas as pd

    return pd.read_csv(path)


def fit(table, covariates=None):
    """Fit the model; return lifelines' fitted CoxPHFitter."""
    from lifelines import CoxPHFitter

    covariates = covariates or DEFAULT_COVARIATES
    columns = ["start", "stop", "event", "subject_id", *covariates]
    data = table[columns].dropna()
    model = CoxPHFitter()
    model.fit(
        data,
        duration_col="stop",
        event_col="event",
        entry_col="start",
        cluster_col="subject_id",
    )
    return model


def hazard_ratios(model) -> list[tuple[str, float, float, float]]:
    """Return (covariate, hazard ratio, lower 95%, upper 95%) per covariate."""
    summary = model.summary
    return [
        (
            name,
            float(summary.loc[name, "exp(coef)"]),
            float(summary.loc[name, "exp(coef) lower 95%"]),
            float(summary.loc[name, "exp(coef) upper 95%"]),
        )
        for name in summary.index
    ]


def kaplan_meier_png(table, path) -> None:
    """Write a Kaplan-Meier plot by 'Cmax ever above the ceiling' to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    per_subject = table.groupby("subject_id").agg(
        stop=("stop", "max"), event=("event", "max"), exposed=("cmax_above_ceiling", "max")
    )
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for exposed, label in ((0, "Cmax never above the ceiling"), (1, "Cmax above the ceiling")):
        group = per_subject[per_subject["exposed"] == exposed]
        if group.empty:
            continue
        fitter = KaplanMeierFitter(label=f"{label} (n={len(group)})")
        fitter.fit(group["stop"], group["event"])
        fitter.plot_survival_function(ax=axes, ci_show=True)
    endpoint = table["endpoint"].iloc[0] if "endpoint" in table and len(table) else "any"
    axes.set_title(f"Time to the first event (endpoint: {endpoint})")
    axes.set_xlabel("Days since treatment start")
    axes.set_ylabel("Event-free probability")
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("--covariates", nargs="+", default=DEFAULT_COVARIATES)
    parser.add_argument("--plot", type=Path, help="write a Kaplan-Meier PNG here")
    args = parser.parse_args(argv)
    table = load_table(args.table)
    if table.empty:
        print("The table has no rows.", file=sys.stderr)
        return 1
    model = fit(table, args.covariates)
    subjects = table["subject_id"].nunique()
    events = int(table["event"].sum())
    print(f"Cox proportional hazards: {subjects} subjects, {len(table)} rows, {events} events")
    print(f"{'covariate':<24} {'HR':>7} {'95% CI':>17}")
    for name, ratio, low, high in hazard_ratios(model):
        print(f"{name:<24} {ratio:7.2f} {low:8.2f}-{high:<8.2f}")
    if args.plot:
        kaplan_meier_png(table, args.plot)
        print(f"Kaplan-Meier plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
