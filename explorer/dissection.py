"""What the "Dissecting G" and "Paint with units" pages compute (GAN Dissection and GANPaint, Bau et al. 2019; issue 22).

The dissection of the picked model comes from the report kept beside it by
`dcgan dissect --model NAME --save models/NAME/dissection.json` (used only when it was made on
this checkpoint's step), or from `dissect` run on demand from the page (cached per weights and
n, shared by every session). The segmenter (the per-pixel room instrument) is loaded once per
process. Everything a page shows is cached per (weights, settings), except a paint edit itself:
one forward pass of G with every edit of the history applied, and one segmentation.

Library: `dcgan_core.analysis.dissection` (scores), `.interventions` (paint, layer_mask),
`.instruments` (segmenter_for, segment). Pixels are uint8 (H, W, C); z is (N, nz).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from dcgan_core.analysis.dissection import TOP_FRACTIONS, Dissection, contrast, dissect, random_generator, upsample_units
from dcgan_core.analysis.instruments import InstrumentError, Segmenter, segment, segmenter_for
from dcgan_core.analysis.interventions import DEFAULT_STRENGTH, DEFAULT_UNITS, MODES, insert_levels, layer_mask, paint
from dcgan_core.checkpoints import LoadedModel
from dcgan_core.features import check_layer, check_maps, layer_maps, set_maps
from dcgan_core.generate import generate
from dcgan_core.images import to_uint8
from dcgan_core.latent import sample_z

from . import app_state as keys

N_CHOICES = (200, 500, 2000)  # samples of an on-demand dissection (about 0.1 s each for both Gs, 2-core CPU)
DEFAULT_N = 500
SAVE_CMD = "dcgan dissect --model {name} --save {path}"
UNIT_VIEW_N = 500  # samples a unit's top activations are picked from
UNIT_VIEW_K = 12  # top activations shown per unit
POSITIONS_PER_IMAGE = 64  # sampled positions per image that set the unit view's thresholds
VALUES_PER_CHUNK = 8_000_000  # upsampled values held at once while reading a layer (32 MB)
REGION_RGB = np.array([255, 214, 0])  # the yellow of a unit's on-region and of painted strokes
TINT = 0.35  # share of yellow mixed into the pixels of an on-region
DIFF_GAIN = 3  # |after - before| is shown x3, as on the Your images page
TABLE_UNITS = 20  # units listed in a class's ranking


def keep_choice(key: str, options: list, default) -> None:
    """Before a select box over `options` is drawn: put `default` under its key when what is kept there is not an
    option (first visit, another model, another class)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


# ---------------------------------------------------------------------------- the segmenter


def dataset_of(model) -> str | None:
    """The data set the model was trained on (its train config, else its header's meta)."""
    return (model.loaded.checkpoint.train_config or {}).get("dataset") or model.entry.meta.get("dataset")


@st.cache_resource(max_entries=2, show_spinner="Loading the segmenter...")
def _shared_segmenter(dataset: str | None) -> Segmenter:
    # shared by every session: only ever run in eval mode, never trained or changed
    return segmenter_for(dataset)


def segmenter_of(model) -> tuple[Segmenter | None, str]:
    """(the segmenter for the model's data set, "") or (None, why there is none, in one line)."""
    try:
        return _shared_segmenter(dataset_of(model)), ""
    except (InstrumentError, OSError) as e:
        return None, f"Model {model.name} cannot be dissected: {e}."


def require_segmenter(model) -> Segmenter:
    """The segmenter for the model's data set; where there is none, a one-line note and the page stops there."""
    segmenter, missing = segmenter_of(model)
    if segmenter is None:
        st.info(missing, icon=":material/info:")
        st.stop()
    return segmenter


# ---------------------------------------------------------------------------- the dissection: stored or on demand


@dataclass(frozen=True)
class Report:
    """A trained G's dissection and, for contrast, a randomly initialised G's against the same masks."""

    trained: Dissection
    random: Dissection | None
    source: str  # where it came from, for captions
    key: str  # names the numbers for st.cache_data (the report itself is passed unhashed)

    def classes_present(self) -> list[str]:
        """Classes the segmenter found in the dissected pictures (the others have no IoU worth showing)."""
        return [c for c, p in zip(self.trained.classes, self.trained.class_presence) if p > 0]

    def layers(self) -> list[int]:
        return [d.layer for d in self.trained.layers]

    def default_class(self) -> str:
        present = self.classes_present()
        return "window" if "window" in present else present[0]

    def contrast(self, class_name: str):
        """The class's best layer, IoU and top units against the random G's best (`dissection.ClassContrast`)."""
        return contrast(self.trained, self.random, class_name)

    def contrast_rows(self) -> list[dict]:
        """Per class present: its best layer and IoU, the random G's best, their ratio, and how much of the pictures it covers."""
        rows = []
        for name in self.classes_present():
            x = self.contrast(name)
            c = self.trained.class_index(name)
            rows.append({
                "class": name, "best layer": x.best_layer, "best IoU": round(x.best_iou, 3),
                "random G's best IoU": None if self.random is None else round(x.random_best_iou, 3),
                "ratio": None if self.random is None else round(x.ratio, 1),
                "pixels": f"{self.trained.class_share[c]:.1%}", "pictures with it": f"{self.trained.class_presence[c]:.0%}",
            })
        return rows

    def unit_rows(self, class_name: str, layer: int, k: int = TABLE_UNITS) -> list[dict]:
        """The top-k units of `layer` for `class_name`, best IoU first, with each unit's own best class."""
        d = self.trained.layer(layer)
        c = self.trained.class_index(class_name)
        best = d.best_class()
        return [{
            "rank": r + 1, "unit": int(u), "IoU": round(float(d.iou[u, c]), 3),
            "on at top": f"{d.top_fraction[u, c]:.1%}",
            "unit's best class": self.trained.classes[best[u]], "its IoU": round(float(d.iou[u, best[u]]), 3),
        } for r, u in enumerate(self.trained.top_units(class_name, layer, k))]


def report_path(checkpoint: str | Path) -> Path:
    """Where `dcgan dissect --save` keeps a model's report: models/NAME/dissection.json beside NAME/model.safetensors,
    else CHECKPOINT.dissection.json."""
    checkpoint = Path(checkpoint)
    if checkpoint.name == "model.safetensors":
        return checkpoint.with_name("dissection.json")
    return checkpoint.with_suffix(".dissection.json")


def save_command(model) -> str:
    return SAVE_CMD.format(name=model.name, path=report_path(model.entry.path))


@st.cache_data(max_entries=8, show_spinner=False)
def _read_report(path: str, mtime_ns: int) -> tuple[int | None, Report | None, str]:
    """(the step it was made at, the report, "") or (None, None, why it cannot be used)."""
    try:
        data = json.loads(Path(path).read_text())
        random = data.get("random")
        report = Report(Dissection.from_dict(data["trained"]), Dissection.from_dict(random) if random else None,
                        f"`{path}` (n = {data['trained']['n']:,})", f"{path}:{mtime_ns}")
        return int(data["step"]), report, ""
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, None, f"{path} cannot be read ({e})"


def stored_report(model) -> tuple[Report | None, str]:
    """The report kept beside the model if it was made on these weights (its step), and a note when one is there but unused."""
    path = report_path(model.entry.path)
    if not path.is_file():
        return None, ""
    step, report, problem = _read_report(str(path), path.stat().st_mtime_ns)
    if report is None:
        return None, f"The stored dissection {problem}; it is ignored."
    if step != model.loaded.checkpoint.step:
        return None, (f"The stored dissection `{path}` was made at step {step:,}, not this checkpoint's "
                      f"{model.loaded.checkpoint.step:,}; it is ignored.")
    return report, ""


@st.cache_data(max_entries=8, show_spinner=False)
def _computed_report(_model: LoadedModel, model_key: tuple, n: int, _segmenter: Segmenter, dataset: str | None) -> Report:
    """Dissect the trained G and a random G on n samples, with a progress bar (made here: Streamlit replays a cached
    function's elements on a hit, and only into blocks it made itself)."""
    bar = st.progress(0.0, text=f"Dissecting the trained G on {n:,} samples...")
    shown = [-1]

    def stage(start: float, name: str):
        def show(what: str, share: float) -> None:  # whole percents only: fewer messages to replay on a hit
            done = start + share / 2
            if int(100 * done) != shown[0]:
                shown[0] = int(100 * done)
                bar.progress(min(done, 1.0), text=f"{name}: {what}")
        return show

    g = _model.generator
    trained = dissect(g, _segmenter, n=n, progress=stage(0.0, "trained G"))
    random = dissect(random_generator(g), _segmenter, n=n, masks_from=g, progress=stage(0.5, "random G"))
    bar.empty()
    return Report(trained, random, f"computed here (n = {n:,})", f"computed:{model_key}:{n}")


def asked_n(model) -> int | None:
    """The n of the dissection asked for on this model in this session, if any."""
    return (st.session_state.get(keys.DISSECT_ASKED) or {}).get(str(model.key))


def ask_for_dissection(model, n: int) -> None:
    st.session_state[keys.DISSECT_ASKED] = {**(st.session_state.get(keys.DISSECT_ASKED) or {}), str(model.key): int(n)}


def report_of(model, segmenter: Segmenter) -> tuple[Report | None, str]:
    """The model's dissection: the stored report when it fits these weights, else one dissected in this session
    (computed on the first call, with a progress bar); (None, a note) when there is neither."""
    report, note = stored_report(model)
    if report is not None:
        return report, ""
    n = asked_n(model)
    if n is None:
        return None, note
    return _computed_report(model.loaded, model.key, n, segmenter, dataset_of(model)), note


# ---------------------------------------------------------------------------- one unit: what it draws


@dataclass
class LayerActivity:
    """Every unit of one layer over UNIT_VIEW_N samples: its peak per sample, and its thresholds at TOP_FRACTIONS."""

    peaks: np.ndarray  # float32 (units, n): max of the unit's upsampled map in each sample
    thresholds: np.ndarray  # float32 (len(TOP_FRACTIONS), units): the value above which the unit is in its top fraction


@st.cache_data(max_entries=8, show_spinner="Reading the layer's units over the samples...")
def layer_activity(_model: LoadedModel, model_key: tuple, layer: int, n: int, seed: int) -> LayerActivity:
    g, size = _model.generator, _model.config.image_size
    layer = check_layer(g, layer)
    units = g.feature_channels[layer]
    z = sample_z(n, _model.config, seed=seed)
    chunk = max(1, VALUES_PER_CHUNK // (units * size * size))
    rng = torch.Generator().manual_seed(seed)
    peaks, sampled = np.empty((units, n), np.float32), []
    with torch.no_grad():
        for s in range(0, n, chunk):
            up = upsample_units(layer_maps(g, z[s : s + chunk].to(_device(g)), layer).float().cpu(), size)  # (C, b, S, S)
            b = up.shape[1]
            peaks[:, s : s + b] = up.amax((2, 3)).numpy()
            where = torch.randint(0, size * size, (1, b, POSITIONS_PER_IMAGE), generator=rng).expand(units, -1, -1)
            sampled.append(torch.gather(up.reshape(units, b, -1), 2, where).reshape(units, -1))
    values = torch.cat(sampled, 1)
    m = values.shape[1]
    ranks = [max(1, min(m, math.ceil((1 - f) * m))) for f in TOP_FRACTIONS]
    tiny = torch.finfo(torch.float32).tiny  # "on" is never at 0, as in the dissection
    thresholds = torch.stack([values.kthvalue(r, dim=1).values.clamp_min(tiny) for r in ranks]).numpy()
    return LayerActivity(peaks, thresholds)


@dataclass
class UnitView:
    """What one unit draws: its top-activating samples with its on-region outlined, and each without the unit."""

    layer: int
    unit: int
    best_class: str
    best_iou: float
    top_fraction: float  # the on-region is the unit's top fraction of values, the one that fits its best class
    indices: np.ndarray  # int64 (k,) sample indices of the seed, strongest first
    peaks: np.ndarray  # float32 (k,)
    outlined: np.ndarray  # uint8 (k, S, S, C): the samples, the on-region tinted and outlined in yellow
    dropped: np.ndarray  # uint8 (k, S, S, C): the same z with the unit removed everywhere
    differences: np.ndarray  # uint8 (k, S, S, 1): |dropped - sample| x DIFF_GAIN
    change: float  # mean |dropped - sample| per pixel, 0-255
    on_share: float  # share of the pictures' pixels inside the on-region


@st.cache_data(max_entries=32, show_spinner=False)
def unit_view(_model: LoadedModel, model_key: tuple, _report: Report, report_key: str, layer: int, unit: int,
              n: int = UNIT_VIEW_N, k: int = UNIT_VIEW_K) -> UnitView:
    g, size, d = _model.generator, _model.config.image_size, _report.trained
    seed = d.seed
    scores = d.layer(layer)
    best = int(scores.best_class()[unit])
    fraction = float(scores.top_fraction[unit, best])
    activity = layer_activity(_model, model_key, layer, n, seed)
    threshold = activity.thresholds[int(np.argmin(np.abs(np.asarray(TOP_FRACTIONS) - fraction))), unit]
    order = np.argsort(-activity.peaks[unit], kind="stable")[:k]
    z = sample_z(n, _model.config, seed=seed)[torch.from_numpy(order)]
    with torch.no_grad():
        maps = layer_maps(g, z.to(_device(g)), layer)[:, unit : unit + 1].float().cpu()
        on = (upsample_units(maps, size)[0] >= float(threshold)).numpy()  # (k, S, S)
        pictures = to_uint8(g(z.to(_device(g))))
        dropped = to_uint8(paint(g, z, layer, [unit], mode="remove"))
    diff = np.abs(dropped.astype(np.int16) - pictures.astype(np.int16))
    return UnitView(
        layer=layer, unit=unit, best_class=d.classes[best], best_iou=float(scores.iou[unit, best]), top_fraction=fraction,
        indices=order, peaks=activity.peaks[unit, order], outlined=np.stack([outline(p, o) for p, o in zip(pictures, on)]),
        dropped=dropped, differences=gained(diff), change=float(diff.mean()), on_share=float(on.mean()),
    )


def outline(picture: np.ndarray, region: np.ndarray) -> np.ndarray:
    """uint8 (S, S, C) `picture` with bool (S, S) `region` tinted yellow and its edge drawn in yellow."""
    out = picture.astype(np.float32)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, -1)
    out[region] = (1 - TINT) * out[region] + TINT * REGION_RGB
    padded = np.pad(region, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    out[region & ~inner] = REGION_RGB
    return out.round().astype(np.uint8)


def gained(diff: np.ndarray) -> np.ndarray:
    """int (..., H, W, C) absolute differences -> uint8 (..., H, W, 1), averaged over channels, x DIFF_GAIN."""
    return np.clip(diff.mean(-1, keepdims=True) * DIFF_GAIN, 0, 255).astype(np.uint8)


def _device(g) -> torch.device:
    return next(g.parameters()).device


# ---------------------------------------------------------------------------- painting


@dataclass(frozen=True, eq=False)
class Edit:
    """One stroke of paint: the top units of a class at a layer, set on (insert: strength x their mean over the class's
    pixels) or off (remove: 0) inside a region."""

    class_name: str
    layer: int
    units: tuple[int, ...]
    region: np.ndarray = field(repr=False)  # bool (S, S) at the image size
    mode: str = "insert"
    strength: float = 3.0

    def describe(self) -> str:
        return (f"{self.mode} {self.class_name}: {len(self.units)} units of layer {self.layer}"
                + (f" at strength {self.strength:g}" if self.mode == "insert" else "") + f", {int(self.region.sum())} px")


def make_edit(report: Report, class_name: str, layer: int, k: int, region: np.ndarray | None, mode: str,
              strength: float) -> Edit:
    """The edit the page's settings describe; ValueError (one line) for an empty region or an unknown mode."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    region = np.zeros((0,), bool) if region is None else np.asarray(region, dtype=bool)
    if not region.any():
        raise ValueError("nothing is painted: paint a region on the picture first")
    units = tuple(int(u) for u in report.trained.top_units(class_name, layer, k))
    return Edit(class_name, int(layer), units, region, mode, float(strength))


@torch.no_grad()
def apply_edits(generator, z: torch.Tensor, edits: list[Edit], report: Report) -> torch.Tensor:
    """G's pictures (N, C, S, S) in [-1, 1] for z with every edit applied in one forward pass, in order.

    Edits at one layer are applied one after the other (a later stroke overrides an earlier one where they
    overlap); each is what `interventions.paint` does alone. The generator is not modified.
    """
    per_layer: dict[int, list] = {}
    for e in edits:
        layer = check_layer(generator, e.layer)
        units = check_maps(generator, layer, list(e.units))
        mask = layer_mask(e.region, generator.feature_sizes[layer])
        if e.mode == "remove":
            value: float | torch.Tensor = 0.0
        else:  # strength x each unit's mean over the class's pixels, as `paint` with `insert_levels`
            levels = insert_levels(report.trained, e.class_name, layer)
            value = torch.as_tensor(np.asarray(levels, dtype=np.float32))[units] * e.strength
        per_layer.setdefault(layer, []).append(partial(set_maps, units=units, mask=mask, value=value))

    def chain(steps, maps):
        for step in steps:
            maps = step(maps)
        return maps

    z = z.to(_device(generator))
    return generator(z, edits={layer: partial(chain, steps) for layer, steps in per_layer.items()} or None)


@st.cache_data(max_entries=64, show_spinner=False)
def picture_and_labels(_model: LoadedModel, model_key: tuple, z_bytes: bytes, _segmenter: Segmenter,
                       dataset: str | None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (S, S, C) picture of one code and the segmenter's label map (S, S) of it (z passed as float32 bytes)."""
    z = torch.from_numpy(np.frombuffer(z_bytes, dtype=np.float32).copy())[None]
    picture = generate(_model.generator, z)
    return picture[0], segment(_segmenter, picture.transpose(0, 3, 1, 2))[0]


@dataclass
class Painted:
    """A picture before and after the edits, where they differ, and the segmenter's reading of the last edit's class."""

    before: np.ndarray  # uint8 (S, S, C)
    after: np.ndarray  # uint8 (S, S, C)
    difference: np.ndarray  # uint8 (S, S, 1): |after - before| x DIFF_GAIN
    share_before: float | None  # share of the last edit's region that is its class, before any edit
    share_after: float | None  # ... after every edit
    change_inside: float | None  # mean |after - before| per pixel inside / outside the last region, 0-255
    change_outside: float | None


def painted(model, segmenter: Segmenter, z: np.ndarray, edits: list[Edit], report: Report) -> Painted:
    """Apply the edits to one code (the only step not cached: one G pass and one segmentation)."""
    z32 = np.ascontiguousarray(z, dtype=np.float32).reshape(-1)
    before, labels_before = picture_and_labels(model.loaded, model.key, z32.tobytes(), segmenter, dataset_of(model))
    if not edits:
        return Painted(before, before, np.zeros((*before.shape[:2], 1), np.uint8), None, None, None, None)
    after = to_uint8(apply_edits(model.generator, torch.from_numpy(z32)[None], edits, report))
    labels_after = segment(segmenter, after.transpose(0, 3, 1, 2))[0]
    after = after[0]
    last = edits[-1]
    c = report.trained.class_index(last.class_name)
    diff = np.abs(after.astype(np.int16) - before.astype(np.int16)).mean(-1)
    outside = diff[~last.region]
    return Painted(
        before, after, gained(np.abs(after.astype(np.int16) - before.astype(np.int16))),
        float((labels_before[last.region] == c).mean()), float((labels_after[last.region] == c).mean()),
        float(diff[last.region].mean()), float(outside.mean()) if outside.size else None,
    )
