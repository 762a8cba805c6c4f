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


def annotation_curve_figure(points: Sequence, paper_boxes: int) -> go.Figure:
    """Windows removed against the number of annotated images fitted on (mean ± std over draws), beside the random
    control; a dotted line where the draws held the paper's number of boxes on average."""
    images = [p.images for p in points]
    boxes = [p.boxes_mean for p in points]
    fig = go.Figure()
    for name, mean, std, color in (("fitted maps dropped", "removed_mean", "removed_std", DROPPED_COLOR),
                                   ("random maps dropped", "random_mean", "random_std", KEPT_COLOR)):
        y = [None if getattr(p, mean) is None else 100 * getattr(p, mean) for p in points]
        err = [0 if getattr(p, std) is None else 100 * getattr(p, std) for p in points]
        fig.add_scatter(x=images, y=y, error_y=dict(type="data", array=err, visible=True), mode="lines+markers", name=name,
                        line=dict(color=color), customdata=boxes,
                        hovertemplate="%{x} images (%{customdata:.0f} boxes): %{y:.1f}%<extra>" + name + "</extra>")
    if boxes[0] <= paper_boxes <= boxes[-1]:
        at = float(np.interp(paper_boxes, boxes, images))
        fig.add_vline(x=at, line_dash="dot", line_color="grey", annotation_text=f"the paper's {paper_boxes} boxes",
                      annotation_position="top")
    fig.update_layout(
        xaxis=dict(title="annotated images fitted on (log scale)", type="log", tickvals=images,
                   ticktext=[f"{i}<br>{b:.0f} boxes" for i, b in zip(images, boxes)]),
        yaxis=dict(title="share of windows removed (%)", rangemode="tozero"), height=360,
        margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h"),
    )
    return fig
