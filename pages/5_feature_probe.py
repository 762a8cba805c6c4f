"""How useful the discriminator's features are for classification (paper section 5.1, Table 1): a linear L2-SVM on D's features from all conv layers, against a randomly initialised D and raw pixels, with test accuracy and a confusion matrix.

Features: every conv layer of D max-pooled to 4x4, flattened and concatenated, as in the
paper; the SVM is scikit-learn's LinearSVC on standardised features (see
dcgan_core/analysis/feature_probe.py). Labelled sets: the procedural faces' attributes and
rooms' window counts, or CIFAR-10, MNIST, SVHN or a folder of class subfolders on this machine (inside
$DCGAN_DATA_ROOTS, explorer/roots.py). With labels per class, the SVM trains on seeded class-balanced
draws from the training images, repeated, and the page shows mean ± std (the paper's few-label rows). A result stored beside the model (models/NAME/probe.json, from
`dcgan probe ... --save`) shows at once when the settings and the weights match it.
"""

import streamlit as st

from dcgan_core.analysis import feature_probe as fp
from explorer import app_state as keys
from explorer import charts, probe, roots, widgets
from explorer.discriminator import require_discriminator
from explorer.model_picker import require_model

widgets.page_header(
    "Feature probe",
    "Paper section 5.1, Table 1 (DCGAN features as a feature extractor for supervised learning)",
    "Does an unsupervised discriminator learn features that help supervised tasks? Its features from every conv layer, "
    "max-pooled to 4x4 and concatenated, feed a linear L2-SVM trained on labelled images; test accuracy is compared "
    "with the same pipeline on a **randomly initialised D** of the same architecture and on **raw pixels**.",
)
model = require_model(what="the feature probe")
require_discriminator(model, "the probe reads the discriminator's features")
train_config = model.loaded.checkpoint.train_config or {}

own = train_config.get("dataset")
if st.session_state.get(keys.PROBE_DATASET) not in fp.PROBE_DATASETS:
    st.session_state[keys.PROBE_DATASET] = own if own in fp.PROBE_DATASETS else "faces"
c = st.columns([3, 4, 2, 2, 2.5])
dataset = c[0].selectbox("Labelled data set", fp.PROBE_DATASETS, key=keys.PROBE_DATASET, format_func=probe.DATASET_NAMES.get)
tasks = fp.TASKS[dataset]
if st.session_state.get(keys.PROBE_TASK) not in tasks:
    st.session_state[keys.PROBE_TASK] = tasks[0]
task = c[1].selectbox("Task", tasks, key=keys.PROBE_TASK, format_func=probe.TASK_NAMES.get, disabled=len(tasks) == 1)
n_train = int(c[2].number_input("Training images", 10, 50_000, 2000, step=500, key=keys.PROBE_N_TRAIN))
n_test = int(c[3].number_input("Test images", 10, 50_000, 1000, step=500, key=keys.PROBE_N_TEST))
C = c[4].selectbox(
    "SVM C", probe.C_CHOICES, key=keys.PROBE_C,
    format_func=lambda v: "auto" if v == "auto" else f"{v:g}",
    help="auto picks C per feature set from " + ", ".join(f"{v:g}" for v in fp.C_GRID) + " on a quarter of the training images",
)
d = st.columns([3, 3, 7])
per_class = int(d[0].number_input(
    "Labels per class", 0, 50_000, 0, step=10, key=keys.PROBE_PER_CLASS,
    help="0: the SVM trains on every training image. N: on N of each class, drawn at random from the training images "
    "(the paper: 400 per class on CIFAR-10)",
))
repeats = int(d[1].number_input("Repeats (draws)", 1, 50, 1, key=keys.PROBE_REPEATS, disabled=not per_class,
                                help="independent seeded draws of the labelled images; the page shows mean ± std (paper: 10)"))
root = None
if dataset not in ("faces", "rooms"):
    default_root = train_config.get("data_root") if own == dataset else ""
    typed = st.text_input(
        "Location of the data set on this machine", value=default_root or "", key=keys.PROBE_ROOT,
        placeholder=probe.ROOT_PLACEHOLDERS[dataset],
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

settings = (dataset, task, root, n_train, n_test, C, per_class, repeats if per_class else 1)
stored = probe.stored_result(model.key)
if st.button("Run the probe", type="primary", icon=":material/play_arrow:"):
    st.session_state[keys.PROBE_RUN] = settings
if st.session_state.get(keys.PROBE_RUN) == settings:
    with widgets.user_errors("run the probe"):
        report = probe.probe_report(model.loaded, model.key, settings)
elif stored.matches(settings):
    report = stored.probe.report
    st.success(
        f"**Stored result**, not computed now: `{stored.path.parent.name}/{stored.path.name}` beside the model, made on these "
        f"weights (step {stored.probe.step:,}) by `{stored.probe.command}`, with the settings above ({dataset}, {task}, "
        f"{probe.training_images(report) if per_class else f'{n_train:,} training'} and {n_test:,} test images, C {C}). **Run the probe** computes it again here.",
        icon=":material/inventory_2:",
    )
else:
    if stored.problem:
        st.warning(stored.problem, icon=":material/warning:")
    elif stored.probe is not None:
        st.caption(f"{stored.path.name} beside the model holds a result for other settings or other weights: "
                   f"`{stored.probe.command}` (step {stored.probe.step:,}).")
    st.info(
        f"Press **Run the probe**: it extracts features of {n_train + n_test:,} images with the trained and the random D "
        "and fits three SVMs (about a minute per few thousand images on a CPU; results are kept for these settings).",
        icon=":material/info:",
    )
    st.stop()

spread = probe.has_spread(report)
st.header("Test accuracy" + (f" (mean ± std over {report.draws.repeats} draws)" if spread else ""))
m = st.columns(len(report.scores) + 1)
for col, s in zip(m, report.scores):
    col.metric(s.features, probe.accuracy_text(s, spread), help=f"{s.dims:,} features, C = {s.C:g}")
m[-1].metric("chance", f"{100 * report.chance:.1f}%", help="always answering the most common training class")
left, right = st.columns([2, 3])
with left:
    st.markdown(probe.accuracy_table(report))
    st.caption(f"{report.data}; {probe.training_images(report)} and {report.n_test:,} test images · {model.describe()}")
with right:
    st.plotly_chart(charts.probe_accuracy_figure(report.scores, report.chance), width="stretch", key="probe_accuracy")

st.header("Confusion matrix")
shown = st.segmented_control("Features", fp.FEATURE_SETS, default=fp.FEATURE_SETS[0], required=True, key=keys.PROBE_SHOWN)
score = next(s for s in report.scores if s.features == shown)
st.plotly_chart(charts.probe_confusion_figure(score.confusion, report.classes), width="stretch", key="probe_confusion")
st.caption(
    f"{shown}: rows are the true classes of the {report.n_test:,} test images, columns the SVM's answers"
    + (f", summed over the {report.draws.repeats} draws" if spread else "") + "; colour is the share of the row."
)
