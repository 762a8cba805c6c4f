"""The sidebar model picker, the model card, and loading models once per process.

Every page calls `sidebar_model_picker()` (pages that generate call `require_model()`,
which also loads the weights), so a page works on its own as well as under
Home.py's navigation, and the choice follows the user across pages.

Models are loaded with `st.cache_resource`: one copy per process, shared by every user
session at once, moved to the GPU when there is one. Treat it as read-only: generate
with `dcgan_core.generate.generate` (eval mode, no grad, feature drops by argument).
The cache key is (checkpoint path, modification time), so a checkpoint rewritten by a
training run is loaded afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import streamlit as st

from dcgan_core.checkpoints import LoadedModel, load_model
from dcgan_core.device import resolve_device
from dcgan_core.models import ModelConfig
from dcgan_core.registry import ModelEntry, list_models, models_dirs
from dcgan_core.safetensors_files import CheckpointError

from . import app_state, session
from .runs import read_metrics

DEFAULT_MODEL = "rooms"  # the shipped model the app opens on

NO_MODEL_HELP = """No model found. Looked in: {dirs}.

Train one (about 4 minutes on a 2-core CPU at 32 px; most pages want 64 px, which takes hours):

    dcgan train --dataset rooms --image-size 32 --steps 1000 --out runs/rooms32

then start the app with the folder that holds it: `DCGAN_MODELS_DIR=runs streamlit run explorer/Home.py`
(or copy a checkpoint to models/NAME/model.safetensors)."""


@dataclass(frozen=True)
class ActiveModel:
    """The picked model, loaded. `key` names its weights for `st.cache_data` (pass the model as `_model`)."""

    entry: ModelEntry
    loaded: LoadedModel
    key: tuple[str, int]  # (checkpoint path, modification time in ns)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def config(self) -> ModelConfig:
        return self.loaded.config

    @property
    def generator(self):
        return self.loaded.generator

    def describe(self) -> str:
        """One line for captions: which weights an image came from."""
        return f"model {self.name} (step {self.loaded.checkpoint.step:,}, {self.entry.path})"


@lru_cache(maxsize=1)
def app_device() -> str:
    """Where models run: CUDA, then MPS, then CPU; decided once per process."""
    return str(resolve_device("auto"))


@st.cache_resource(max_entries=6, show_spinner="Loading the model...")
def _load_shared(path: str, mtime_ns: int, device: str) -> LoadedModel:
    # mtime_ns is only part of the cache key: a rewritten checkpoint loads again
    return load_model(path, device=device)


def model_key(entry: ModelEntry) -> tuple[str, int]:
    return (str(entry.path), entry.path.stat().st_mtime_ns)


def load_entry(entry: ModelEntry) -> ActiveModel:
    """The model behind a registry entry, from the shared cache. Raises CheckpointError / OSError."""
    key = model_key(entry)
    return ActiveModel(entry=entry, loaded=_load_shared(key[0], key[1], app_device()), key=key)


def _label(entry: ModelEntry) -> str:
    size = entry.config.get("image_size", "?")
    dataset = entry.meta.get("dataset", "?")
    return f"{entry.name} · {dataset} · {size} px"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _card_lines(entry: ModelEntry) -> list[str]:
    cfg, meta = entry.config, entry.meta
    lines = [
        f"**Data set** {meta.get('dataset', 'unknown')}",
        f"**Size** {cfg.get('image_size')} px, {cfg.get('channels', 3)} channels · z {cfg.get('nz')}-d {cfg.get('z_prior', 'uniform')}"
        f" · G width {cfg.get('ngf')}",
        f"**Trained** {entry.step:,} steps"
        + (f", {meta['images_seen']:,} images" if isinstance(meta.get("images_seen"), int) else "")
        + (f", {_duration(meta['train_seconds'])} on {meta['device']}" if meta.get("train_seconds") and meta.get("device") else ""),
    ]
    metrics = dict(meta.get("metrics") or {})
    if entry.path.parent.name == "checkpoints":  # inside a run folder: its latest log record
        records = read_metrics(entry.path.parent.parent)
        if records:
            last = records[-1]
            metrics.update({k: last[k] for k in ("loss_d", "loss_g", "d_real", "d_fake") if k in last})
    if metrics:
        shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
        lines.append(f"**Metrics** {shown}")
    lines.append(f"**File** `{entry.path}` ({entry.source})")
    return lines


def sidebar_model_picker() -> ModelEntry | None:
    """Draw the model picker and card in the sidebar; the picked entry (weights not loaded), or None."""
    entries, problems = list_models()  # headers only: fast enough for every rerun
    with st.sidebar:
        st.subheader("Model")
        for problem in problems:
            st.warning(problem, icon=":material/warning:")
        if not entries:
            st.info(NO_MODEL_HELP.format(dirs=", ".join(f"`{d}`" for d in models_dirs())), icon=":material/info:")
            return None
        by_name = {e.name: e for e in entries}
        if st.session_state.get(app_state.MODEL) not in by_name:
            st.session_state[app_state.MODEL] = DEFAULT_MODEL if DEFAULT_MODEL in by_name else entries[0].name
        name = st.selectbox(
            "Model",
            list(by_name),
            format_func=lambda n: _label(by_name[n]),
            label_visibility="collapsed",
            **session.bound(app_state.MODEL, DEFAULT_MODEL),  # never persist_state: see explorer/session.py
        )
        entry = by_name[name]
        st.markdown("  \n".join(_card_lines(entry)))
        if entry.card is not None:
            with st.expander("Model card"):
                try:
                    st.markdown(entry.card.read_text())
                except OSError as e:
                    st.caption(f"could not read {entry.card}: {e}")
    return entry


def require_model(image_size: int | None = None, what: str = "this page") -> ActiveModel:
    """Picker + loaded model; shows a clear message and stops the page when there is none or it does not fit."""
    entry = sidebar_model_picker()
    if entry is None:
        st.info("Pick a model to use this page: none was found (see the sidebar for how to get one).", icon=":material/info:")
        st.stop()
    try:
        active = load_entry(entry)
    except (CheckpointError, OSError, ValueError) as e:
        st.error(
            f"Could not load model **{entry.name}** from `{entry.path}`: {e}\n\n"
            "Pick another model in the sidebar, or replace the file (e.g. `dcgan train --resume RUN` writes a fresh checkpoint).",
            icon=":material/error:",
        )
        st.stop()
    if image_size is not None and active.config.image_size != image_size:
        st.error(
            f"Model **{entry.name}** (`{entry.path}`) was trained at {active.config.image_size} px; "
            f"{what} needs a {image_size}-px model. Pick one in the sidebar.",
            icon=":material/error:",
        )
        st.stop()
    return active


def entries_of_dataset(dataset: str, image_size: int | None = None) -> list[str]:
    """Names of the models found that were trained on `dataset` (at `image_size` px when given), in the picker's order."""
    entries, _ = list_models()
    return [
        e.name
        for e in entries
        if e.meta.get("dataset") == dataset and (image_size is None or e.config.get("image_size") == image_size)
    ]


def switch_model(name: str) -> None:
    """Pick model `name` in the sidebar (a button callback: runs before the picker is drawn again)."""
    st.session_state[app_state.MODEL] = name


def compatible_entries(active: ActiveModel) -> list[ModelEntry]:
    """Other models whose z means the same numbers (same nz and prior): the same z can be fed to all."""
    entries, _ = list_models()
    cfg = active.config
    return [
        e
        for e in entries
        if e.name != active.name and e.config.get("nz") == cfg.nz and e.config.get("z_prior", "uniform") == cfg.z_prior
    ]
