"""Plotly figures of the vector arithmetic pages: pure functions of data, no Streamlit calls."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dcgan_core.analysis import arithmetic_benchmark, latent_geometry

from ..arithmetic import ATTRIBUTE_WORDS, standard_error

LAYOUT_BARS = (  # (field of an AttributeGeometry, label, colour)
    ("linear", "linear in z (held-out accuracy)", "#4c78a8"),
    ("kept_yes", "mean of 3 'yes' codes stays yes", "#f58518"),
    ("kept_no", "mean of 3 'no' codes stays no", "#bab0ac"),
)
BENCH_BARS = (  # (label, colour, value of an EquationResult, measured over the draws: gets +-1 standard error)
    ("in z (measured)", "#4c78a8", lambda r: r.rates()["majority"], True),
    ("pixel space", "#e45756", lambda r: r.rates()["pixel"], True),
    ("C alone (no A − B)", "#bab0ac", lambda r: r.rates().get("c_alone", 0.0), True),
    ("target among random samples", "#d8d8d8", lambda r: r.chance, False),
    ("ceiling: this model's linear part", "#72b7b2", lambda r: r.ceilings.get("fitted", float("nan")), False),
    ("ceiling: any linear z", "#54a24b", lambda r: r.ceilings.get("ideal", float("nan")), False),  # 4,000 draws: no whisker
    ("ceiling: one z axis per attribute", "#2f7d32", lambda r: r.ceilings.get("axes", float("nan")), False),
)


def attribute_layout_figure(rows: Sequence[latent_geometry.AttributeGeometry]) -> go.Figure:
    """Per attribute, its linear separability in z and whether means of 3 codes keep it (shares, 0..1)."""
    names = [ATTRIBUTE_WORDS[r.name] for r in rows]
    fig = go.Figure([
        go.Bar(name=label, x=names, y=[getattr(r, field) for r in rows], marker_color=color,
               hovertemplate="%{x}: %{y:.0%}<extra>" + label + "</extra>")
        for field, label, color in LAYOUT_BARS
    ])
    fig.update_layout(barmode="group", yaxis=dict(range=[0, 1], tickformat=".0%"), height=300,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.15))
    return fig


def benchmark_figure(done: Sequence[arithmetic_benchmark.EquationResult]) -> go.Figure:
    """Per equation (its target on the x axis), the measured success rates beside the controls and the linear ceilings.

    Measured rates carry a whisker of one standard error over the draws; the rest have none."""
    fig = go.Figure([
        go.Bar(name=label, x=[r.equation.split(" = ")[-1] for r in done], y=[value(r) for r in done], marker_color=color,
               error_y=dict(type="data", array=[standard_error(value(r), r.draws) for r in done], color="#555", thickness=1)
               if measured else None,
               hovertemplate="%{x}: %{y:.0%}<extra>" + label + "</extra>")
        for label, color, value, measured in BENCH_BARS
    ])
    fig.update_layout(barmode="group", yaxis=dict(range=[0, 1], tickformat=".0%"), height=340,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.25))
    return fig
