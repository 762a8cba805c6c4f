"""Plotly figures of the discriminator features page: pure functions of data, no Streamlit calls."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

TRAINED_COLOR = "#4c78a8"
RANDOM_COLOR = "#bab0ac"


def unit_ranking_figure(scores: dict[str, np.ndarray], order: dict[str, np.ndarray], score_name: str) -> go.Figure:
    """Each D's units by rank, their score on y; `scores`/`order` keyed "trained" and "random". `customdata` is the unit."""
    y_title = "selectivity (std above the mean, top 1%)" if score_name == "selectivity" else score_name
    fig = go.Figure()
    for w, name, color in (("trained", "trained D", TRAINED_COLOR), ("random", "random D", RANDOM_COLOR)):
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(order[w]) + 1), y=scores[w][order[w]], mode="lines+markers", name=name,
                marker=dict(size=4, color=color), line=dict(color=color), customdata=order[w],
                hovertemplate="rank %{x}: unit %{customdata}, " + score_name + " %{y:.3f}<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(
        xaxis_title="unit rank", yaxis_title=y_title, height=300, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12),
    )
    return fig


def firing_figure(units: np.ndarray, relative: np.ndarray, responses: np.ndarray) -> go.Figure:
    """Bars of the `units` that fire most for one picture: std above each unit's pool mean (`relative`), raw response on hover."""
    fig = go.Figure(
        go.Bar(
            x=[f"unit {u}" for u in units], y=relative[units], customdata=responses[units], marker_color=TRAINED_COLOR,
            hovertemplate="%{x}: %{y:.2f} std above its pool mean (response %{customdata:.2f})<extra></extra>",
        )
    )
    fig.update_layout(yaxis_title="std above the unit's pool mean", height=280, margin=dict(l=10, r=10, t=10, b=10))
    return fig
