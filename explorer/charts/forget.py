"""Plotly figures of the "Forgetting to draw windows" pages: pure functions of data, no Streamlit calls."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

DROPPED_COLOR = "#ff2b2b"  # the red of the drawn boxes
KEPT_COLOR = "#4c78a8"


def fit_weights_figure(relative_weights: np.ndarray, dropped_maps: Sequence[int], layer: int) -> go.Figure:
    """The logistic regression's weight per feature map of `layer`, divided by the largest |weight|; dropped maps in red."""
    n_maps = len(relative_weights)
    dropped = np.zeros(n_maps, bool)
    dropped[np.asarray(dropped_maps, dtype=np.int64)] = True
    fig = go.Figure(go.Bar(
        x=np.arange(n_maps), y=relative_weights, marker_color=np.where(dropped, DROPPED_COLOR, KEPT_COLOR),
        hovertemplate="map %{x}<br>weight %{y:.3f}<extra></extra>",
    ))
    fig.update_layout(
        xaxis_title=f"feature map of layer {layer}", yaxis_title="weight / largest |weight|", height=340,
        margin=dict(l=10, r=10, t=30, b=10), title=f"Logistic regression weights ({len(dropped_maps)} maps dropped in red)",
    )
    return fig
