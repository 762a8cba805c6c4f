"""What the feature probe page computes (paper section 5.1, Table 1), cached per (model weights, data settings, C).

Features of D's conv layers, max-pooled to 4x4 and concatenated, feed a linear L2-SVM
(dcgan_core/analysis/feature_probe.py), against a random D and raw pixels. A result kept beside
the model by `dcgan probe ... --save` is read here too, so the page can show it at once.
Settings travel as one tuple, (dataset, task, root, n_train, n_test, C, per_class, repeats): C a
float or "auto"; per_class 0 trains on every training image once, else each of `repeats` seeded
draws takes per_class labelled images of each class (the paper's few-label rows, mean ± std).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dcgan_core.analysis import feature_probe as fp
from dcgan_core.checkpoints import LoadedModel

C_CHOICES = ("auto", *fp.C_GRID)
DATASET_NAMES = {
    "faces": "faces (procedural)",
    "rooms": "rooms (procedural)",
    "cifar10": "CIFAR-10 (local)",
    "mnist": "MNIST / Fashion-MNIST (local)",
    "svhn": "SVHN digits (local)",
    "folder": "image folder (local)",
}
TASK_NAMES = {
    "attributes": "glasses x smiling x masculine (8 classes)",
    "glasses": "glasses (2 classes)",
    "smiling": "smiling (2 classes)",
    "masculine": "masculine / feminine (2 classes)",
    "turn": "head turn: left, frontal, right (3 classes)",
    "windows": "number of windows: 0, 1, 2 (3 classes)",
    "classes": "the data set's classes",
}
ROOT_PLACEHOLDERS = {  # examples of where a local data set might be, for its text box
    "cifar10": "e.g. ~/data/cifar-10-batches-py",
    "mnist": "e.g. ~/data/mnist (idx files)",
    "svhn": "e.g. ~/data/svhn (train_32x32.mat, test_32x32.mat)",
    "folder": "e.g. ~/data/photos (one subfolder per class)",
}


@st.cache_resource(max_entries=2, show_spinner=False)
def probe_data(dataset: str, task: str, root: str | None, image_size: int, channels: int, n_train: int, n_test: int) -> fp.ProbeData:
    """The labelled images, shared read-only by every session (cache_data would copy them on every hit)."""
    return fp.load_probe_data(
        dataset, image_size=image_size, channels=channels, root=root, task=task, n_train=n_train, n_test=n_test
    )


def svm_c(c: str | float) -> float | None:
    """The SVM's C from the page's choice: None ("auto") lets the probe pick it from fp.C_GRID."""
    return None if c == "auto" else float(c)


def probe_settings(settings: tuple) -> fp.ProbeSettings:
    """The library's settings for the page's tuple (what `dcgan probe` would be given)."""
    dataset, task, root, n_train, n_test, c, per_class, repeats = settings
    return fp.ProbeSettings(dataset, task, root, n_train, n_test, svm_c(c), per_class=per_class or None,
                            repeats=repeats if per_class else 1)


@st.cache_data(max_entries=16, show_spinner=False)
def probe_report(_model: LoadedModel, model_key: tuple, settings: tuple) -> fp.ProbeReport:
    """The table for (model weights, data settings, C), with a progress bar fed by the library's callbacks.

    The bar is made in here: Streamlit replays a cached function's elements on a hit, and can
    only replay into blocks the function made itself.
    """
    wanted = probe_settings(settings)
    draws = wanted.draws  # checks the label budget before any image is rendered
    cfg = _model.config
    bar = st.progress(0.0, text="Preparing the labelled images...")
    shown = [-1]

    def show(fraction: float, text: str) -> None:  # whole percents only: fewer messages to replay on a cache hit
        if int(100 * fraction) != shown[0]:
            shown[0] = int(100 * fraction)
            bar.progress(min(fraction, 1.0), text=text)

    data = probe_data(wanted.dataset, wanted.task, wanted.data_root, cfg.image_size, cfg.channels, wanted.n_train, wanted.n_test)
    report = fp.ProbeReport.for_data(data, draws)
    n = len(fp.FEATURE_SETS)
    for i, name in enumerate(fp.FEATURE_SETS):  # each set: features in the first half of its share, SVM fits in the second

        def features(done: int, total: int, i=i, name=name) -> None:
            show((i + 0.5 * done / total) / n, f"{name}: features of {total:,} images")

        def fits(done: int, total: int, i=i, name=name) -> None:
            show((i + 0.5 + 0.5 * done / total) / n, f"{name}: SVM fit {min(done + 1, total)} of {total}")

        report.scores.append(
            fp.probe_score(name, _model.discriminator, data, C=wanted.C, draws=draws, progress=features, fit_progress=fits)
        )
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


@dataclass(frozen=True)
class Stored:
    """What lies beside the model: a stored probe result (or None), and why it could not be read ("" when it could)."""

    path: Path  # where `dcgan probe --save` keeps it for this checkpoint
    probe: fp.StoredProbe | None
    checkpoint_sha256: str  # of the checkpoint now, to tell whether the result was made on these weights
    problem: str

    def matches(self, settings: tuple) -> bool:
        """Whether the result was made on these weights with these page settings."""
        return self.probe is not None and self.probe.matches(probe_settings(settings), self.checkpoint_sha256)


def stored_result(model_key: tuple) -> Stored:
    """The stored probe of the checkpoint `model_key` names, read again only when its file changes."""
    path = fp.stored_probe_path(model_key[0])
    return Stored(path, *stored_probe(model_key, path.stat().st_mtime_ns if path.is_file() else 0))


def training_images(report: fp.ProbeReport) -> str:
    """What the SVM trained on, to go before "and N test images": "2,000 training", or the labelled draws."""
    return f"{report.n_train:,} training" if report.draws.whole_pool else report.labels


def has_spread(report: fp.ProbeReport) -> bool:
    """Whether the report's scores are means over several labelled draws (so each has a std to show)."""
    return report.draws.repeats > 1


def accuracy_text(score: fp.ProbeScore, spread: bool) -> str:
    """"83.7%", or "83.7% ± 0.4" (mean ± std over the draws, in points) when the probe was repeated."""
    return f"{100 * score.accuracy:.1f}%" + (f" ± {100 * score.accuracy_std:.1f}" if spread else "")


def accuracy_table(report: fp.ProbeReport) -> str:
    """The report as a Markdown table (the paper's Table 1 layout): features, dimensions, test accuracy (and error), C.

    With repeated draws, accuracy and error are mean ± std over the draws and C is the draws' median.
    """
    spread = has_spread(report)
    rows = (["| features | dims | accuracy (mean ± std) | error (mean ± std) | C (median) |", "|---|---:|---:|---:|---:|"]
            if spread else ["| features | dims | accuracy | C |", "|---|---:|---:|---:|"])
    for s in report.scores:
        error = f" {100 - round(100 * s.accuracy, 1):.1f}% ± {100 * s.accuracy_std:.1f} |" if spread else ""
        rows.append(f"| {s.features} | {s.dims:,} | {accuracy_text(s, spread)} |{error} {s.C:g}{'' if s.converged else ' (not converged)'} |")
    rows.append(f"| chance (majority class) | | {100 * report.chance:.1f}% |{' |' if spread else ''} |")
    return "\n".join(rows)
