"""How useful the discriminator's features are for classification (paper section 5.1, Table 1): a linear L2-SVM on D's features from all conv layers, against a randomly initialised D and raw pixels, with test accuracy and a confusion matrix.

Features: every conv layer of D max-pooled to 4x4, flattened and concatenated, as in the
paper; the SVM is scikit-learn's LinearSVC on standardised features (see
dcgan_core/analysis/feature_probe.py). Labelled sets: the procedural faces' attributes and
rooms' window counts, or CIFAR-10, MNIST or a folder of class subfolders on this machine.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run on its own (AppTest, `streamlit run pages/...`) as well as from Home.py

import numpy as np  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from dcgan_core.analysis import feature_probe as fp  # noqa: E402
from dcgan_core.checkpoints import LoadedModel  # noqa: E402
from explorer import app_state as keys  # noqa: E402
from explorer import widgets  # noqa: E402
from explorer.model_picker import require_model  # noqa: E402

C_CHOICES = ("auto", *fp.C_GRID)
TASK_NAMES = {
    "attributes": "glasses x smiling x masculine (8 classes)",
    "glasses": "glasses (2 classes)",
    "smiling": "smiling (2 classes)",
    "masculine": "masculine / feminine (2 classes)",
    "turn": "head turn: left, frontal, right (3 classes)",
    "windows": "number of windows: 0, 1, 2 (3 classes)",
    "classes": "the data set's classes",
}
SET_COLORS = {"trained D": "#4c78a8", "random D": "#bab0ac", "raw pixels": "#f58518"}


@st.cache_resource(max_entries=2, show_spinner=False)
def probe_data(dataset: str, task: str, root: str | None, image_size: int, channels: int, n_train: int, n_test: int) -> fp.ProbeData:
    """The labelled images, shared read-only by every session (cache_data would copy them on every hit)."""
    return fp.load_probe_data(
        dataset, image_size=image_size, channels=channels, root=root, task=task, n_train=n_train, n_test=n_test
    )


@st.cache_data(max_entries=32, show_spinner=False)
def probe_row(_model: LoadedModel, model_key: tuple, features: str, settings: tuple) -> fp.ProbeScore:
    """One row of the table for (model weights, feature set, data settings, C)."""
    dataset, task, root, n_train, n_test, c = settings
    cfg = _model.config
    data = probe_data(dataset, task, root, cfg.image_size, cfg.channels, n_train, n_test)
    return fp.probe_score(features, _model.discriminator, data, C=None if c == "auto" else float(c))


def confusion_figure(score: fp.ProbeScore, classes: list[str]) -> go.Figure:
    counts = score.confusion
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig = go.Figure(
        go.Heatmap(
            z=share, x=classes, y=classes, colorscale="Blues", zmin=0, zmax=1, text=counts, texttemplate="%{text}",
            colorbar=dict(title="share of<br>true class"),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} images (%{z:.0%} of the class)<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed", height=220 + 34 * len(classes),
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return fig


def accuracy_figure(scores: list[fp.ProbeScore], chance: float) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=[s.features for s in scores], y=[100 * s.accuracy for s in scores],
            marker_color=[SET_COLORS.get(s.features, "#4c78a8") for s in scores],
            text=[f"{100 * s.accuracy:.1f}%" for s in scores], textposition="outside",
            hovertemplate="%{x}: %{y:.1f}% test accuracy<extra></extra>",
        )
    )
    fig.add_hline(y=100 * chance, line_dash="dot", annotation_text=f"chance {100 * chance:.1f}%", annotation_position="top right")
    fig.update_layout(yaxis_title="test accuracy (%)", yaxis_range=[0, 105], height=320, margin=dict(l=10, r=10, t=30, b=10))
    return fig


widgets.page_header(
    "Feature probe",
    "Paper section 5.1, Table 1 (DCGAN features as a feature extractor for supervised learning)",
    "Does an unsupervised discriminator learn features that help supervised tasks? Its features from every conv layer, "
    "max-pooled to 4x4 and concatenated, feed a linear L2-SVM trained on labelled images; test accuracy is compared "
    "with the same pipeline on a **randomly initialised D** of the same architecture and on **raw pixels**.",
)
model = require_model(what="the feature probe")
if model.loaded.discriminator is None:
    st.error(
        f"Model **{model.name}** (`{model.entry.path}`) holds only a generator; the probe reads the discriminator's "
        "features. Pick a model trained with `dcgan train` (its checkpoints keep D) in the sidebar.",
        icon=":material/error:",
    )
    st.stop()
cfg = model.config
train_config = model.loaded.checkpoint.train_config or {}

own = train_config.get("dataset")
if st.session_state.get(keys.PROBE_DATASET) not in fp.PROBE_DATASETS:
    st.session_state[keys.PROBE_DATASET] = own if own in fp.PROBE_DATASETS else "faces"
c = st.columns([3, 4, 2, 2, 2.5])
dataset = c[0].selectbox(
    "Labelled data set", fp.PROBE_DATASETS, key=keys.PROBE_DATASET,
    format_func=lambda d: {"faces": "faces (procedural)", "rooms": "rooms (procedural)", "cifar10": "CIFAR-10 (local)",
                           "mnist": "MNIST / Fashion-MNIST (local)", "folder": "image folder (local)"}[d],
)
tasks = fp.TASKS[dataset]
if st.session_state.get(keys.PROBE_TASK) not in tasks:
    st.session_state[keys.PROBE_TASK] = tasks[0]
task = c[1].selectbox("Task", tasks, key=keys.PROBE_TASK, format_func=TASK_NAMES.get, disabled=len(tasks) == 1)
n_train = int(c[2].number_input("Training images", 10, 50_000, 2000, step=500, key=keys.PROBE_N_TRAIN))
n_test = int(c[3].number_input("Test images", 10, 50_000, 1000, step=500, key=keys.PROBE_N_TEST))
C = c[4].selectbox(
    "SVM C", C_CHOICES, key=keys.PROBE_C,
    format_func=lambda v: "auto (validation)" if v == "auto" else f"{v:g}",
    help="auto picks C per feature set from " + ", ".join(f"{v:g}" for v in fp.C_GRID) + " on a quarter of the training images",
)
root = None
if dataset not in ("faces", "rooms"):
    default_root = train_config.get("data_root") if own == dataset else ""
    root = st.text_input(
        "Location of the data set on this machine", value=default_root or "", key=keys.PROBE_ROOT,
        placeholder={"cifar10": "e.g. ~/data/cifar-10-batches-py", "mnist": "e.g. ~/data/mnist (idx files)",
                     "folder": "e.g. ~/photos (one subfolder per class)"}[dataset],
    ).strip() or None
    if root is None:
        st.info("Give the folder of the data set to probe with it (nothing is downloaded).", icon=":material/info:")
        st.stop()
elif own and own != dataset:
    st.caption(
        f"This model was trained on {own}; probing it on {dataset} tests how its features transfer "
        "(as the paper's ImageNet-1k to CIFAR-10)."
    )

settings = (dataset, task, root, n_train, n_test, C)
if st.button("Run the probe", type="primary", icon=":material/play_arrow:"):
    st.session_state[keys.PROBE_RUN] = settings
if st.session_state.get(keys.PROBE_RUN) != settings:
    st.info(
        f"Press **Run the probe**: it extracts features of {n_train + n_test:,} images with the trained and the random D "
        "and fits three SVMs (about a minute per few thousand images on a CPU; results are kept for these settings).",
        icon=":material/info:",
    )
    st.stop()

bar = st.progress(0.0, text="Preparing the labelled images...")
scores: list[fp.ProbeScore] = []
with widgets.user_errors("run the probe"):
    data = probe_data(dataset, task, root, cfg.image_size, cfg.channels, n_train, n_test)
    for i, name in enumerate(fp.FEATURE_SETS):
        bar.progress(i / len(fp.FEATURE_SETS), text=f"{name}: features and SVM ({i + 1} of {len(fp.FEATURE_SETS)})...")
        scores.append(probe_row(model.loaded, model.key, name, settings))
bar.empty()

st.header("Test accuracy")
m = st.columns(len(scores) + 1)
for col, s in zip(m, scores):
    col.metric(s.features, f"{100 * s.accuracy:.1f}%", help=f"{s.dims:,} features, C = {s.C:g}")
m[-1].metric("chance", f"{100 * data.chance:.1f}%", help="always answering the most common training class")
left, right = st.columns([2, 3])
with left:
    rows = ["| features | dims | accuracy | C |", "|---|---:|---:|---:|"]
    for s in scores:
        rows.append(f"| {s.features} | {s.dims:,} | {100 * s.accuracy:.1f}% | {s.C:g}{'' if s.converged else ' (not converged)'} |")
    rows.append(f"| chance (majority class) | | {100 * data.chance:.1f}% | |")
    st.markdown("\n".join(rows))
    st.caption(f"{data.description}; {len(data.train):,} training and {len(data.test):,} test images · {model.describe()}")
with right:
    st.plotly_chart(accuracy_figure(scores, data.chance), width="stretch", key="probe_accuracy")

st.header("Confusion matrix")
shown = st.segmented_control("Features", fp.FEATURE_SETS, default=fp.FEATURE_SETS[0], required=True, key=keys.PROBE_SHOWN)
score = next(s for s in scores if s.features == shown)
st.plotly_chart(confusion_figure(score, data.classes), width="stretch", key="probe_confusion")
st.caption(
    f"{shown}: rows are the true classes of the {len(data.test):,} test images, columns the SVM's answers; "
    "colour is the share of the row."
)
