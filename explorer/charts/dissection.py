"""Plotly figures of the "Dissecting G" page (GAN Dissection): pure functions of `Dissection`s, no Streamlit calls."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dcgan_core.analysis.dissection import Dissection

TRAINED_COLOR = "#4c78a8"
RANDOM_COLOR = "#bab0ac"
BEST_COLOR = "#f58518"


def _present(d: Dissection) -> list[int]:
    return [i for i, p in enumerate(d.class_presence) if p > 0]


def detectors_figure(trained: Dissection, random: Dissection | None) -> go.Figure:
    """Units per layer whose best class is each class with IoU >= the detector threshold: the trained G beside a random G.

    GAN Dissection's summary of what each layer has learned to draw; a random G of the same
    architecture, scored against the same masks, shows what chance alignment gives.
    """
    cols = _present(trained)
    names = [trained.classes[c] for c in cols]
    rows = [f"layer {d.layer} ({d.size}x{d.size}, {d.n_units} units)" for d in trained.layers]
    panels = [("trained G", trained)] + ([("random G (same masks)", random)] if random is not None else [])
    counts = [d.detectors()[:, cols] for _, d in panels]
    top = max(1, max(int(c.max()) for c in counts))
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], shared_yaxes=True,
                        horizontal_spacing=0.04)
    for i, ((title, _), count) in enumerate(zip(panels, counts)):
        fig.add_trace(go.Heatmap(
            z=count, x=names, y=rows, zmin=0, zmax=top, colorscale="Blues", text=count, texttemplate="%{text}",
            showscale=i == len(panels) - 1, colorbar=dict(title="units"),
            hovertemplate=title + "<br>%{y}<br>%{x}: %{z} detector units<extra></extra>",
        ), row=1, col=i + 1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=140 + 45 * len(rows), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def unit_iou_figure(trained: Dissection, layer: int, unit: int, random_best: dict[str, float] | None = None) -> go.Figure:
    """One unit's IoU with every class present (its best class in orange), the detector threshold dotted.

    random_best: {class: a random G's best IoU over every unit}, drawn as grey markers when given.
    """
    cols = _present(trained)
    names = [trained.classes[c] for c in cols]
    iou = trained.layer(layer).iou[unit, cols]
    best = int(np.argmax(iou))
    fig = go.Figure(go.Bar(
        x=names, y=iou, name=f"unit {unit}", marker_color=[BEST_COLOR if i == best else TRAINED_COLOR for i in range(len(cols))],
        hovertemplate="%{x}: IoU %{y:.3f}<extra></extra>",
    ))
    if random_best:
        fig.add_trace(go.Scatter(
            x=names, y=[random_best.get(n) for n in names], mode="markers", name="random G's best unit",
            marker=dict(color=RANDOM_COLOR, symbol="line-ew-open", size=18, line=dict(width=3)),
            hovertemplate="%{x}: a random G's best unit %{y:.3f}<extra></extra>",
        ))
    fig.add_hline(y=trained.detector_iou, line_dash="dot", annotation_text="detector", annotation_position="top right")
    fig.update_layout(yaxis_title="IoU", height=320, margin=dict(l=10, r=10, t=50, b=10), showlegend=bool(random_best),
                      legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
                      title=dict(text=f"Unit {unit} of layer {layer}: IoU per class", y=0.97))
    return fig


def class_layers_figure(trained: Dissection, random: Dissection | None, class_name: str, k: int = 10) -> go.Figure:
    """For one class, the mean IoU of each layer's top-k units: where in G the class is drawn, against a random G."""
    fig = go.Figure()
    for name, d, color in (("trained G", trained, TRAINED_COLOR), ("random G", random, RANDOM_COLOR)):
        if d is None:
            continue
        c = d.class_index(class_name)
        scores = [float(np.sort(layer.iou[:, c])[::-1][:k].mean()) for layer in d.layers]
        fig.add_trace(go.Bar(x=[f"layer {layer.layer}" for layer in d.layers], y=scores, name=name, marker_color=color,
                             hovertemplate=name + ", %{x}: top-" + str(k) + " mean IoU %{y:.3f}<extra></extra>"))
    fig.update_layout(barmode="group", yaxis_title=f"mean IoU of the top {k}", height=300,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
                      title=dict(text=f"{class_name}: top-{k} units per layer", y=0.97))
    return fig
