"""How useful the discriminator's features are for classification (paper section 5.1, Table 1): a linear L2-SVM on D's features from all conv layers, against a randomly initialised D and raw pixels, with test accuracy and a confusion matrix.

Features: every conv layer of D max-pooled to 4x4, flattened and concatenated, as in the
paper; the SVM is scikit-learn's LinearSVC on standardised features (see
dcgan_core/analysis/feature_probe.py). Labelled sets: the procedural faces' attributes and
rooms' window counts, or CIFAR-10, MNIST or a folder of class subfolders on this machine (inside
$DCGAN_DATA_ROOTS, explorer/roots.py). A result stored beside the model (models/NAME/probe.json, from
`dcgan probe ... --save`) shows at once when the settings and the weights match it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import streamlit as st

from dcgan_core.analysis import feature_probe as fp
from dcgan_core.checkpoints import LoadedModel
from explorer import app_state as keys
from explorer import charts, roots, widgets
from explorer.model_picker import require_model

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


@st.cache_resource(max_entries=2, show_spinner=False)
def probe_data(dataset: str, task: str, root: str | None, image_size: int, channels: int, n_train: int, n_test: int) -> fp.ProbeData:
    """The labelled images, shared read-only by every session (cache_data would copy them on every hit)."""
    return fp.load_probe_data(
        dataset, image_size=image_size, channels=channels, root=root, task=task, n_train=n_train, n_test=n_test
    )


@st.cache_data(max_entries=16, show_spinner=False)
def probe_report(_model: LoadedModel, model_key: tuple, settings: tuple) -> fp.ProbeReport:
    """The table for (model weights, data settings, C), with a progress bar fed by the library's callbacks.

    The bar is made in here: Streamlit replays a cached function's elements on a hit, and can
    only replay into blocks the function made itself.
    """
    dataset, task, root, n_train, n_test, c = settings
    cfg = _model.config
    bar = st.progress(0.0, text="Preparing the labelled images...")
    shown = [-1]

    def show(fraction: float, text: str) -> None:  # whole percents only: fewer messages to replay on a cache hit
        if int(100 * fraction) != shown[0]:
            shown[0] = int(100 * fraction)
            bar.progress(min(fraction, 1.0), text=text)

    data = probe_data(dataset, task, root, cfg.image_size, cfg.channels, n_train, n_test)
    report = fp.ProbeReport(data.description, data.classes, len(data.train), len(data.test), data.chance)
    n = len(fp.FEATURE_SETS)
    for i, name in enumerate(fp.FEATURE_SETS):  # each set: features in the first half of its share, SVM fits in the second

        def features(done: int, total: int, i=i, name=name) -> None:
            show((i + 0.5 * done / total) / n, f"{name}: features of {total:,} images")

        def fits(done: int, total: int, i=i, name=name) -> None:
            show((i + 0.5 + 0.5 * done / total) / n, f"{name}: SVM fit {min(done + 1, total)} of {total}")

        svm_c = None if c == "auto" else float(c)
        report.scores.append(fp.probe_score(name, _model.discriminator, data, C=svm_c, progress=features, fit_progress=fits))
    bar.empty()
    return report


@st.cache_data(max_entries=8, show_spinner=False)
def stored_probe(model_key: tuple, stored_mtime_ns: int) -> tuple[fp.StoredProbe | None, str, str]:
    """The result kept beside the model by `dcgan probe --save`, the checkpoint's SHA-256, and why there is none."""
    checkpoint, path = Path(model_key[0]), fp.stored_probe_path(model_key[0])
    if not path.is_file():
        return None, "", ""
    try:
        return fp.load_stored_probe(path), fp.file_sha256(checkpoint), ""
    except (OSError, ValueError) as e:
        return None, "", str(e)


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
    format_func=lambda v: "auto" if v == "auto" else f"{v:g}",
    help="auto picks C per feature set from " + ", ".join(f"{v:g}" for v in fp.C_GRID) + " on a quarter of the training images",
)
root = None
if dataset not in ("faces", "rooms"):
    default_root = train_config.get("data_root") if own == dataset else ""
    typed = st.text_input(
        "Location of the data set on this machine", value=default_root or "", key=keys.PROBE_ROOT,
        placeholder={"cifar10": "e.g. ~/data/cifar-10-batches-py", "mnist": "e.g. ~/data/mnist (idx files)",
                     "folder": "e.g. ~/data/photos (one subfolder per class)"}[dataset],
        help="Inside " + ", ".join(str(r) for r in roots.data_roots()) + f" (set ${roots.DATA_ENV} for others)",
    ).strip()
    if not typed:
        st.info("Give the folder of the data set to probe with it (nothing is downloaded).", icon=":material/info:")
        st.stop()
    try:
        root = str(roots.confine_data(typed))
    except roots.OutsideRoots as e:
        st.error(str(e), icon=":material/block:")
        st.stop()
elif own and own != dataset:
    st.caption(
        f"This model was trained on {own}; probing it on {dataset} tests how its features transfer "
        "(as the paper's ImageNet-1k to CIFAR-10)."
    )

settings = (dataset, task, root, n_train, n_test, C)
wanted = fp.ProbeSettings(dataset, task, root, n_train, n_test, None if C == "auto" else float(C))
stored_path = fp.stored_probe_path(model.entry.path)
stored, checkpoint_hash, stored_problem = stored_probe(model.key, stored_path.stat().st_mtime_ns if stored_path.is_file() else 0)
if st.button("Run the probe", type="primary", icon=":material/play_arrow:"):
    st.session_state[keys.PROBE_RUN] = settings
if st.session_state.get(keys.PROBE_RUN) == settings:
    with widgets.user_errors("run the probe"):
        report = probe_report(model.loaded, model.key, settings)
elif stored is not None and stored.matches(wanted, checkpoint_hash):
    report = stored.report
    st.success(
        f"**Stored result**, not computed now: `{stored_path.parent.name}/{stored_path.name}` beside the model, made on these "
        f"weights (step {stored.step:,}) by `{stored.command}`, with the settings above ({dataset}, {task}, "
        f"{n_train:,} training and {n_test:,} test images, C {C}). **Run the probe** computes it again here.",
        icon=":material/inventory_2:",
    )
else:
    if stored_problem:
        st.warning(stored_problem, icon=":material/warning:")
    elif stored is not None:
        st.caption(f"{stored_path.name} beside the model holds a result for other settings or other weights: "
                   f"`{stored.command}` (step {stored.step:,}).")
    st.info(
        f"Press **Run the probe**: it extracts features of {n_train + n_test:,} images with the trained and the random D "
        "and fits three SVMs (about a minute per few thousand images on a CPU; results are kept for these settings).",
        icon=":material/info:",
    )
    st.stop()

st.header("Test accuracy")
m = st.columns(len(report.scores) + 1)
for col, s in zip(m, report.scores):
    col.metric(s.features, f"{100 * s.accuracy:.1f}%", help=f"{s.dims:,} features, C = {s.C:g}")
m[-1].metric("chance", f"{100 * report.chance:.1f}%", help="always answering the most common training class")
left, right = st.columns([2, 3])
with left:
    rows = ["| features | dims | accuracy | C |", "|---|---:|---:|---:|"]
    for s in report.scores:
        rows.append(f"| {s.features} | {s.dims:,} | {100 * s.accuracy:.1f}% | {s.C:g}{'' if s.converged else ' (not converged)'} |")
    rows.append(f"| chance (majority class) | | {100 * report.chance:.1f}% | |")
    st.markdown("\n".join(rows))
    st.caption(f"{report.data}; {report.n_train:,} training and {report.n_test:,} test images · {model.describe()}")
with right:
    st.plotly_chart(charts.probe_accuracy_figure(report.scores, report.chance), width="stretch", key="probe_accuracy")

st.header("Confusion matrix")
shown = st.segmented_control("Features", fp.FEATURE_SETS, default=fp.FEATURE_SETS[0], required=True, key=keys.PROBE_SHOWN)
score = next(s for s in report.scores if s.features == shown)
st.plotly_chart(charts.probe_confusion_figure(score.confusion, report.classes), width="stretch", key="probe_confusion")
st.caption(
    f"{shown}: rows are the true classes of the {report.n_test:,} test images, columns the SVM's answers; "
    "colour is the share of the row."
)
