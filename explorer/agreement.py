"""Compute for the "Do annotators agree?" page (issue 24, item 3), cached per model weights and annotation file.

Two annotators' records of the same pool images compared at image level and box by box
(`dcgan_core.analysis.agreement`; command line: `dcgan forget agree --model rooms --a alice --b bob`),
or an annotator against the room instrument run now; and the pool images with both annotators'
boxes drawn in two colours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st
import torch

from dcgan_core.analysis import agreement as agree
from dcgan_core.analysis.annotations import AnnotationSet
from dcgan_core.data.rooms import OBJECT_NAMES
from dcgan_core.generate import generate

from .forget import room_instrument

A_RGB = (255, 43, 43)  # the first annotator's boxes: the red of hand-drawn boxes
B_RGB = (40, 120, 255)  # the second annotator's (or the instrument's) boxes
A_COLOR, B_COLOR = "#ff2b2b", "#2878ff"
RUN_INSTRUMENT = ""  # the second annotator "the room instrument, run now" (never a person's name: names are not empty)


def describe(name: str) -> str:
    """An annotator as the page names it."""
    return "the room instrument (run now)" if name == RUN_INSTRUMENT else name


@st.cache_data(max_entries=16, show_spinner="Comparing the annotations...")
def agreement_of(_model, model_key: tuple, annotations_json: str, a: str, b: str, iou: float) -> agree.Agreement:
    """`b`'s records against `a`'s; b RUN_INSTRUMENT: the room instrument, run now on a's images."""
    notes = AnnotationSet.from_json(annotations_json)
    if b == RUN_INSTRUMENT:
        return agree.instrument_agreement(_model.generator, room_instrument(), notes, a, iou)
    return agree.annotator_agreement(notes, a, b, iou)


@st.cache_data(max_entries=8, show_spinner="Comparing every pair of annotators...")
def every_pair(_model, model_key: tuple, annotations_json: str, iou: float) -> list[dict]:
    """One row of totals per pair of annotators, then one per person against the room instrument run now (for objects
    it knows)."""
    notes = AnnotationSet.from_json(annotations_json)
    pairs = agree.all_pairs(notes, iou)
    rows = [p.summary() for p in pairs]
    if notes.object_name in OBJECT_NAMES:
        rows += [{**agree.instrument_agreement(_model.generator, room_instrument(), notes, p, iou).summary(),
                  "b": describe(RUN_INSTRUMENT)} for p in notes.people]
    return rows


@st.cache_data(max_entries=16, show_spinner="Generating the pool images...")
def pictures(_model, model_key: tuple, annotations_json: str, image_keys: tuple, a_boxes: tuple, b_boxes: tuple) -> np.ndarray:
    """uint8 (N, S, S, 3): the pool images `image_keys` ((seed, index), from their stored z) with `a_boxes[i]` drawn in
    red and `b_boxes[i]` in blue (outlines, one pixel; where they overlap exactly, blue over red)."""
    notes = AnnotationSet.from_json(annotations_json)
    z_of = {a.key: a.z for a in notes.images}
    if not image_keys:
        s = _model.config.image_size
        return np.zeros((0, s, s, 3), np.uint8)
    images = generate(_model.generator, torch.tensor([z_of[k] for k in image_keys], dtype=torch.float32))
    for img, first, second in zip(images, a_boxes, b_boxes):
        draw_boxes(img, first, A_RGB)
        draw_boxes(img, second, B_RGB)
    return images


def draw_boxes(img: np.ndarray, boxes: Sequence[Sequence[float]], color: tuple[int, int, int]) -> None:
    """Outline (x0, y0, x1, y1) boxes (image pixels, x1/y1 exclusive) on a uint8 (S, S, 3) image, in place."""
    for x0, y0, x1, y1 in boxes:
        c0, r0 = int(x0), int(y0)
        c1, r1 = max(c0, int(np.ceil(x1)) - 1), max(r0, int(np.ceil(y1)) - 1)
        img[r0 : r1 + 1, [c0, c1]] = color
        img[[r0, r1], c0 : c1 + 1] = color


def shown_images(result: agree.Agreement, only_disagreements: bool, limit: int) -> list[agree.ImageAgreement]:
    """The compared images to draw: all, or those where the two disagree (at image level, or a box unmatched); at most
    `limit`, disagreements first."""
    def disagree(i: agree.ImageAgreement) -> bool:
        return not i.agree or i.n_matched < max(len(i.a_boxes), len(i.b_boxes))

    if only_disagreements:
        return [i for i in result.images if disagree(i)][:limit]
    return sorted(result.images, key=lambda i: not disagree(i))[:limit]


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def table_rows(rows: Sequence[dict]) -> list[dict]:
    """Rows of `Agreement.rows()` or `.summary()` as text: shares in percent, kappa / F1 / IoU to two decimals."""
    out = []
    for row in rows:
        text = {}
        for k, v in row.items():
            if k == "image agreement":
                text[k] = pct(v)
            elif k in ("kappa", "box F1", "mean IoU"):
                text[k] = num(v)
            elif k == "agree":
                text[k] = "yes" if v else "no"
            else:
                text[k] = v
        out.append(text)
    return out
