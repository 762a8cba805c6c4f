"""Plotly figure of the "Do annotators agree?" page: pure functions of data, no Streamlit calls."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

ROWS = ("image level", "box F1", "mean IoU")


def agreement_strip_figure(images: Sequence, a: str, b: str) -> go.Figure:
    """A heat strip, one column per compared pool image (`agreement.ImageAgreement`s): image-level agreement (1: both
    say the same, 0: not), box F1 and mean IoU of the matched boxes, red (0) to green (1); blank where undefined
    (no box on either side, or no match)."""
    labels = [f"{i.seed}#{i.index}" for i in images]
    z = [[1.0 if i.agree else 0.0 for i in images], [i.f1 for i in images], [i.mean_iou for i in images]]
    said = {True: "has it", False: "none"}
    hover = [[f"seed {i.seed} #{i.index}: {a} {said[i.a_has]} ({len(i.a_boxes)} boxes), {b} {said[i.b_has]} "
              f"({len(i.b_boxes)} boxes), {i.n_matched} matched" for i in images]] * len(ROWS)
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=list(ROWS), zmin=0, zmax=1, colorscale="RdYlGn", xgap=1, ygap=2, text=hover,
        hovertemplate="%{y}: %{z:.2f}<br>%{text}<extra></extra>", colorbar=dict(thickness=10, len=0.9),
    ))
    fig.update_layout(
        height=220, margin=dict(l=10, r=10, t=30, b=10), title=f"{b} against {a}, per pool image",
        xaxis=dict(title="pool image (seed#index)", type="category", showticklabels=len(images) <= 60),
        yaxis=dict(autorange="reversed"),
    )
    return fig
