"""Plotly figures the pages draw: pure functions of data, no Streamlit calls."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..renderer import Walk
from ..widgets import data_uri_png

SEGMENT_COLORS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d", "#bab0ac")


def walk_path_figure(walk: Walk, current_frame: int | None = None) -> go.Figure:
    """The walk's codes on their first two principal axes: one line per segment, waypoints as thumbnails.

    Every frame is a point; hovering one names it (frame, segment, position) and selecting it
    shows it in the frame viewer. `customdata` holds the frame index.
    """
    fig = go.Figure()
    xy, seg = walk.pca, walk.segment
    for s in range(int(seg.max()) + 1):
        idx = np.flatnonzero(seg == s)
        idx = np.append(idx, idx[-1] + 1) if idx[-1] + 1 < len(seg) else idx  # join to the next waypoint
        fig.add_trace(
            go.Scatter(
                x=xy[idx, 0], y=xy[idx, 1], mode="lines+markers", name=f"segment {s + 1}",
                line=dict(color=SEGMENT_COLORS[s % len(SEGMENT_COLORS)], width=2), marker=dict(size=6),
                customdata=idx,
                hovertemplate="frame %{customdata}<br>segment " + str(s + 1) + "<extra></extra>",
            )
        )
    wp = walk.waypoint_frames
    fig.add_trace(
        go.Scatter(
            x=xy[wp, 0], y=xy[wp, 1], mode="markers+text", name="waypoints", text=[f"P{i + 1}" for i in range(len(wp))],
            textposition="top center", textfont=dict(size=13, color="black"), marker=dict(size=12, color="black", symbol="circle-open", line=dict(width=2)),
            customdata=wp, hovertext=walk.waypoint_labels,
            hovertemplate="frame %{customdata}: %{hovertext}<extra></extra>",
        )
    )
    if current_frame is not None:
        fig.add_trace(
            go.Scatter(
                x=[xy[current_frame, 0]], y=[xy[current_frame, 1]], mode="markers", name=f"frame {current_frame}",
                marker=dict(size=18, color="crimson", symbol="star"), customdata=[current_frame],
                hovertemplate="frame %{customdata} (shown)<extra></extra>",
            )
        )
    span = max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-6)
    size = 0.12 * span
    for i, f in enumerate(wp):
        fig.add_layout_image(
            source=data_uri_png(walk.frames[f]), x=xy[f, 0], y=xy[f, 1], xref="x", yref="y", sizex=size, sizey=size,
            xanchor="center", yanchor="middle", layer="below", opacity=0.9,
        )
    fig.update_layout(
        xaxis_title=f"PC 1 ({walk.explained[0]:.0%} of the path's variance)",
        yaxis_title=f"PC 2 ({walk.explained[1]:.0%})",
        height=480, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.08), clickmode="event+select",
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def frame_change_figure(walk: Walk) -> go.Figure:
    """Pixel change between consecutive frames; waypoints as dotted lines, the largest step marked."""
    ch = walk.smoothness.changes
    fig = go.Figure(
        go.Bar(x=np.arange(len(ch)), y=ch, marker_color="#4c78a8",
               hovertemplate="frame %{x} -> %{x}+1: %{y:.2f}<extra></extra>")
    )
    # waypoints as shapes in one layout update: add_vline re-validates the whole figure per line (~15 ms each)
    waypoint_lines = [dict(type="line", xref="x", yref="paper", x0=f - 0.5, x1=f - 0.5, y0=0, y1=1,
                           line=dict(dash="dot", color="gray")) for f in walk.waypoint_frames[1:-1]]
    fig.update_layout(shapes=waypoint_lines)
    fig.add_hline(y=walk.smoothness.median, line_dash="dash", line_color="green", annotation_text="median",
                  annotation_position="right")  # in the right margin, beside the line's end
    # short axis titles and room for them (and for "median"): a long title on a short chart is cut off at its ends
    fig.update_layout(
        xaxis_title="frame i -> i+1", yaxis_title="pixel change", height=300,
        margin=dict(l=60, r=60, t=20, b=50), showlegend=False,
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True, hoverformat=".2f")
    return fig


def _metric_lines(records: list[dict], series: tuple[tuple[str, str], ...], yaxis_title: str, **layout) -> go.Figure:
    """One line per (metrics.jsonl key, name) over the steps of a run's log records."""
    steps = [r["step"] for r in records]
    fig = go.Figure()
    for key, name in series:
        fig.add_trace(go.Scatter(x=steps, y=[r.get(key) for r in records], mode="lines", name=name))
    fig.update_layout(xaxis_title="step", yaxis_title=yaxis_title, height=320, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=1.12), **layout)
    return fig


def loss_figure(records: list[dict]) -> go.Figure:
    """Both players' losses over steps (log lines of metrics.jsonl)."""
    return _metric_lines(records, (("loss_d", "D loss"), ("loss_g", "G loss")), "loss (BCE)")


def d_output_figure(records: list[dict]) -> go.Figure:
    """D's mean output on real and on generated images: near 0.5 both when the game is balanced."""
    return _metric_lines(records, (("d_real", "D(x), real"), ("d_fake", "D(G(z)), generated")), "mean D output",
                         yaxis_range=[0, 1])


PROBE_COLORS = {"trained D": "#4c78a8", "random D": "#bab0ac", "raw pixels": "#f58518"}


def collapse_figure(rows: list[dict]) -> go.Figure:
    """Share of G's units per layer that are collapsed (one picture for every z; solid) or dead (dotted), over steps."""
    fig = go.Figure()
    steps = [r["step"] for r in rows]
    for i in range(len(rows[0]["layers"])):
        fig.add_scatter(x=steps, y=[100 * r["layers"][i]["collapsed"] for r in rows], mode="lines+markers",
                        name=f"layer {i} collapsed")
        fig.add_scatter(x=steps, y=[100 * r["layers"][i]["dead"] for r in rows], mode="lines", line=dict(dash="dot"),
                        name=f"layer {i} dead")
    fig.update_layout(xaxis_title="step", yaxis_title="% of the layer's units", yaxis_rangemode="tozero", height=320,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h"))
    return fig


def probe_accuracy_figure(scores: list, chance: float) -> go.Figure:
    """The feature probe's test accuracy per feature set (feature_probe.ProbeScore), chance as a dotted line.

    Scores of repeated labelled draws show their mean with the standard deviation over the draws as error bars.
    """
    spread = any(len(s.draw_accuracies) > 1 for s in scores)
    fig = go.Figure(
        go.Bar(
            x=[s.features for s in scores], y=[100 * s.accuracy for s in scores],
            marker_color=[PROBE_COLORS.get(s.features, "#4c78a8") for s in scores],
            error_y=dict(type="data", array=[100 * s.accuracy_std for s in scores], visible=True) if spread else None,
            text=[f"{100 * s.accuracy:.1f}%" + (f" ± {100 * s.accuracy_std:.1f}" if spread else "") for s in scores],
            textposition="outside", customdata=[100 * s.accuracy_std for s in scores],
            hovertemplate="%{x}: %{y:.1f}% test accuracy" + (" (mean; std %{customdata:.1f} over the draws)" if spread else "")
            + "<extra></extra>",
        )
    )
    fig.add_hline(y=100 * chance, line_dash="dot", annotation_text=f"chance {100 * chance:.1f}%", annotation_position="top right")
    fig.update_layout(yaxis_title="test accuracy (%)", yaxis_range=[0, 105], height=320, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def probe_confusion_figure(confusion: np.ndarray, classes: list[str]) -> go.Figure:
    """A (K, K) confusion matrix of counts (rows true, columns predicted), coloured by the share of each row."""
    share = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    fig = go.Figure(
        go.Heatmap(
            z=share, x=classes, y=classes, colorscale="Blues", zmin=0, zmax=1, text=confusion, texttemplate="%{text}",
            colorbar=dict(title="share of<br>true class"),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} images (%{z:.0%} of the class)<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed", height=220 + 34 * len(classes),
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return fig
