"""Procedural cartoon faces with ground-truth attributes: an offline stand-in for the DCGAN paper's faces.

Radford, Metz & Chintala (2015) trained a DCGAN on ~3M face photos scraped from the web and showed
that averaged latent vectors obey arithmetic ("smiling woman - neutral woman + neutral man = smiling
man", "man with glasses - man without glasses + woman without glasses = woman with glasses") and
that a "turn" vector rotates heads. That data set cannot be shipped or downloaded here, so this
module draws head-and-shoulders cartoons whose generating attributes are known exactly:

    glasses    bool   black rims and a bridge over the eyes (a fifth of them with tinted lenses)
    smiling    bool   open, upturned smile showing teeth; otherwise a flat closed mouth
    masculine  bool   short hair, often a beard / stubble / moustache, broad jaw, thick brows;
                      otherwise long hair down to the shoulders, finer jaw, thin brows, often lipstick
    turn       float  head yaw in [-1, 1], from the viewer's point of view: at -1 the face looks
                      towards the image's LEFT edge, at +1 towards its right edge, 0 is frontal

Everything else (skin tone, hair and eye colour, face shape and size, position, background,
lighting, shirt) is nuisance variation, so a classifier trained on the labels has to look at the
attribute itself. Each image is a pure function of an integer seed: all random choices are drawn
first, in a fixed order, and attribute overrides are applied afterwards, so `render_face(s,
glasses=True)` and `render_face(s, glasses=False)` show the same person. Drawing happens at a few
times the output resolution with PIL and is box-filtered down, which anti-aliases the shapes; a
64-px face takes about a millisecond.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

from ..images import pixels_to_unit
from .label_maps import block_mode, stack_with_labels

ATTRIBUTE_NAMES = ("glasses", "smiling", "masculine", "turn")

FACE_CLASSES: tuple[str, ...] = (
    "background", "clothes", "skin", "hair", "facial_hair", "eyebrow", "eye", "nose", "mouth", "glasses",
)
"""Classes of the per-pixel label map (`render_face(..., label_map=True).label_map`), by index.

Each pixel gets the class of what is visible there: skin covers face, neck (also inside a V neck)
and ears, and the shading lines on them (cheeks, smile lines); hair is the hair on and behind the
head; facial_hair is stubble, beard, moustache and goatee; eye is the white, iris, pupil, lid line
and lashes; nose is its shaded wedge and nostrils; mouth is lips, teeth and the inside; glasses are
rims, bridge, arms and tinted lenses (clear lenses show the eye behind them); clothes are shirt
and collar. Background first and small parts last, so ties at edges go to the parts
(see label_maps.block_mode)."""
(_BACKGROUND, _CLOTHES, _SKIN, _HAIR, _FACIAL_HAIR, _EYEBROW, _EYE, _NOSE, _MOUTH, _GLASSES) = range(len(FACE_CLASSES))

MAX_YAW = math.radians(48.0)
"""Head yaw at |turn| = 1: a three-quarter view, the far eye squeezed to about a third of its width."""

_EAR_ANGLE = math.radians(95.0)
"""Where the ears sit on the head, from the midline: just behind the widest point, so a turn hides one."""

_SEEDS_PER_DATASET = 2**32
"""`FacesDataset(seed=s)` uses render seeds s * 2**32 + i, so data sets with different seeds never share a face."""

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class FaceAttributes:
    """The labels a face was drawn with."""

    glasses: bool
    smiling: bool
    masculine: bool
    turn: float  # -1 looking towards the image's left edge ... +1 looking towards its right edge

    def as_array(self) -> np.ndarray:
        """float32 [glasses, smiling, masculine, turn], in ATTRIBUTE_NAMES order."""
        return np.array([self.glasses, self.smiling, self.masculine, self.turn], dtype=np.float32)


@dataclass(frozen=True)
class Face:
    """One rendered face: a uint8 (H, W, 3) image, the attributes it shows and optionally its label map."""

    image: np.ndarray
    attributes: FaceAttributes
    # uint8 (H, W): index into FACE_CLASSES of what each pixel shows (the class covering most
    # of the pixel); None unless rendered with label_map=True.
    label_map: np.ndarray | None = None


# ----------------------------------------------------------------------------------------------
# Random choices. Every seed draws exactly the same sequence of numbers, whatever its attributes,
# so overriding an attribute never shifts the draws that come after it.

_SKIN_TONES = np.array(
    [(255, 226, 200), (243, 202, 172), (228, 178, 140), (206, 146, 106), (170, 112, 76), (128, 84, 56), (94, 60, 42)],
    dtype=np.float64,
)
_HAIR_COLOURS = np.array(
    [
        (28, 24, 24),  # black
        (62, 40, 28),  # dark brown
        (108, 70, 42),  # brown
        (150, 108, 66),  # light brown
        (214, 178, 104),  # blond
        (236, 214, 150),  # platinum blond
        (150, 58, 28),  # auburn
        (196, 96, 40),  # ginger
        (132, 130, 128),  # grey
        (206, 204, 200),  # white
    ],
    dtype=np.float64,
)
_EYE_COLOURS = np.array(
    [(92, 56, 30), (60, 36, 22), (70, 120, 180), (90, 140, 90), (130, 110, 60), (110, 120, 130)], dtype=np.float64
)
_FRAME_COLOURS = np.array(
    [(18, 18, 20), (18, 18, 20), (18, 18, 20), (70, 40, 24), (24, 36, 96), (150, 24, 30), (30, 90, 60), (120, 30, 110)],
    dtype=np.float64,
)
# The glasses style. scripts/faces_style.py changes these to train on other styles (README: bolder
# glasses did not help the glasses arithmetic).
RIM_WIDTH = (0.018, 0.008)
"""Glasses rims: base + spread * u of the image width (about 1.2 to 1.7 px at 64 px)."""
SUNGLASSES_SHARE = 0.2
"""Share of glasses with tinted lenses."""
FRAME_COLOURS_USED = 3
"""Frame colours are drawn from the first this many of _FRAME_COLOURS (the first three are near-black,
so by default every frame is black)."""
FRAME_SKIN_CONTRAST = False
"""True lightens the frames of dark-skinned faces (see `_frame_colour`), as the data did before
2026-11-30. That split "glasses" into two looks, which G learned as two unrelated directions of z
(README: vector arithmetic); by default a frame has the same colour on every skin, as in life."""
_MOUTH_INSIDE: RGB = (118, 18, 28)
_LIPSTICK_COLOURS = np.array([(196, 30, 48), (214, 60, 110), (150, 26, 60), (232, 90, 80), (170, 40, 40)], dtype=np.float64)


def _rgb(c: np.ndarray | tuple[float, ...]) -> RGB:
    return (int(min(255, max(0, round(c[0])))), int(min(255, max(0, round(c[1])))), int(min(255, max(0, round(c[2])))))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return _rgb(tuple(a[k] + (b[k] - a[k]) * t for k in range(3)))


def _shade(c: RGB, f: float) -> RGB:
    return _rgb(tuple(v * f for v in c))


def _hsv(h: float, s: float, v: float) -> RGB:
    return _rgb(tuple(255 * x for x in colorsys.hsv_to_rgb(h % 1.0, s, v)))


@dataclass(frozen=True)
class _Look:
    """Everything about a face except its attributes (identity, pose jitter, scene)."""

    skin: RGB
    hair: RGB
    eye: RGB
    lip: RGB  # natural lip colour
    lipstick: RGB
    wears_lipstick: bool
    background_top: RGB
    background_bottom: RGB
    shirt: RGB
    collar_style: int
    frame: RGB
    frame_shape: int  # 0 round, 1 rectangular, 2 wide rectangular
    sunglasses: bool
    rim_width: float
    centre_x: float
    centre_y: float
    head_half_width: float
    head_aspect: float
    eye_height: float  # relative to the head centre, in head half-heights
    eye_angle: float  # horizontal position of each eye on the head, radians from the midline
    eye_size: float
    brow_tilt: float
    nose_length: float
    mouth_height: float
    mouth_half_width: float
    smile_openness: float
    male_hair_style: int
    male_hair_volume: float
    facial_hair: int  # 0 none, 1 stubble, 2 moustache, 3 full beard, 4 goatee, 5 stubble + moustache
    female_hair_style: int
    hair_length: float
    hair_flare: float
    part_side: float  # -1 or +1
    brightness: float
    warmth: float


def _draw_attributes(rng: np.random.Generator) -> FaceAttributes:
    """The first four draws of a seed: cheap to replay without rendering (see `FacesDataset.attribute_array`)."""
    glasses = bool(rng.random() < 0.5)
    smiling = bool(rng.random() < 0.5)
    masculine = bool(rng.random() < 0.5)
    turn = float(rng.uniform(-1.0, 1.0))
    return FaceAttributes(glasses=glasses, smiling=smiling, masculine=masculine, turn=turn)


def _ramp(colours: np.ndarray, u: float) -> np.ndarray:
    """A colour at position u in [0, 1] along a list of colours, interpolated linearly."""
    x = u * (len(colours) - 1)
    i = min(int(x), len(colours) - 2)
    return colours[i] + (colours[i + 1] - colours[i]) * (x - i)


def _luminance(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _frame_colour(frame: RGB, skin: RGB) -> RGB:
    """The frame's colour on this skin: unchanged, or with FRAME_SKIN_CONTRAST a light version where that stands out better."""
    if not FRAME_SKIN_CONTRAST:
        return frame
    light = _mix(frame, (240, 236, 226), 0.75)
    skin_lum = _luminance(skin)
    return light if abs(_luminance(light) - skin_lum) > abs(_luminance(frame) - skin_lum) else frame


def _draw_look(rng: np.random.Generator) -> _Look:
    """All nuisance choices, always in this order and always all of them."""
    r = rng.random(48)  # one block of uniforms, consumed by position: adding a field never reorders old ones
    skin = _rgb(_ramp(_SKIN_TONES, r[0]) + (r[1] - 0.5) * 16)
    hair = _rgb(_HAIR_COLOURS[int(r[2] * len(_HAIR_COLOURS))] * (0.9 + 0.2 * r[3]))
    eye = _rgb(_EYE_COLOURS[int(r[4] * len(_EYE_COLOURS))])
    lip = _mix(skin, (150, 60, 60), 0.35)
    lipstick = _rgb(_LIPSTICK_COLOURS[int(r[5] * len(_LIPSTICK_COLOURS))])
    bg_h, bg_s, bg_v = r[6], 0.12 + 0.5 * r[7], 0.5 + 0.45 * r[8]
    background_top = _hsv(bg_h, bg_s, bg_v)
    gradient = r[9] < 0.65
    background_bottom = _hsv(bg_h + (r[10] - 0.5) * 0.25, bg_s, bg_v * (0.6 + 0.25 * r[11])) if gradient else background_top
    shirt = _hsv(r[12], 0.15 + 0.7 * r[13], 0.22 + 0.7 * r[14])
    return _Look(
        skin=skin,
        hair=hair,
        eye=eye,
        lip=lip,
        lipstick=lipstick,
        wears_lipstick=bool(r[15] < 0.65),
        background_top=background_top,
        background_bottom=background_bottom,
        shirt=shirt,
        collar_style=int(r[16] * 3),
        frame=_frame_colour(_rgb(_FRAME_COLOURS[int(r[17] * FRAME_COLOURS_USED)]), skin),
        frame_shape=int(r[18] * 3),
        sunglasses=bool(r[19] < SUNGLASSES_SHARE),
        rim_width=RIM_WIDTH[0] + RIM_WIDTH[1] * r[20],
        centre_x=0.5 + (r[21] - 0.5) * 0.08,
        centre_y=0.43 + (r[22] - 0.5) * 0.05,
        head_half_width=0.2 + 0.035 * r[23],
        head_aspect=1.18 + 0.17 * r[24],
        eye_height=-0.06 + 0.08 * r[25],
        eye_angle=0.40 + 0.06 * r[26],
        eye_size=0.9 + 0.25 * r[27],
        brow_tilt=(r[28] - 0.5) * 0.06,
        nose_length=0.85 + 0.3 * r[29],
        mouth_height=0.50 + 0.08 * r[30],
        mouth_half_width=0.30 + 0.08 * r[31],
        smile_openness=0.85 + 0.35 * r[32],
        male_hair_style=int(r[33] * 4),
        male_hair_volume=r[34],
        facial_hair=int(r[35] * 6),
        female_hair_style=int(r[36] * 3),
        hair_length=r[37],
        hair_flare=r[38],
        part_side=-1.0 if r[39] < 0.5 else 1.0,
        brightness=0.82 + 0.3 * r[40],
        warmth=(r[41] - 0.5) * 0.12,
    )


# ----------------------------------------------------------------------------------------------
# Drawing. Geometry is in unit canvas coordinates (0..1, y down) so a seed has the same layout at
# every size; `_Pen` scales to pixels of the supersampled canvas.


class _Pen:
    """ImageDraw in unit coordinates.

    With a `classes` canvas (mode "L", same size), every shape is drawn there too, with the
    same geometry, filled with the FACE_CLASSES index in `part`: that canvas then holds the
    class of whatever is visible at each sample, as the image holds its colour.
    """

    def __init__(self, image: Image.Image, classes: Image.Image | None = None):
        self.draw = ImageDraw.Draw(image)
        self.class_draw = ImageDraw.Draw(classes) if classes is not None else None
        self.part = 0  # FACE_CLASSES index of what is being drawn
        self.s = float(image.size[0])

    def _w(self, width: float) -> int:
        return max(1, round(width * self.s))

    def _ink(self, colour: RGB | None) -> int | None:
        """The class canvas's ink for a colour argument: the part where the image gets paint, none where it gets none."""
        return None if colour is None else self.part

    def ellipse(
        self, cx: float, cy: float, rx: float, ry: float, fill: RGB | None = None, outline: RGB | None = None, width: float = 0.0
    ) -> None:
        s = self.s
        box = ((cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s)
        w = self._w(width) if outline is not None else 0
        self.draw.ellipse(box, fill=fill, outline=outline, width=w)
        if self.class_draw is not None:
            self.class_draw.ellipse(box, fill=self._ink(fill), outline=self._ink(outline), width=w)

    def polygon(self, points: list[tuple[float, float]], fill: RGB) -> None:
        s = self.s
        xy = [(x * s, y * s) for x, y in points]
        self.draw.polygon(xy, fill=fill)
        if self.class_draw is not None:
            self.class_draw.polygon(xy, fill=self.part)

    def line(self, points: list[tuple[float, float]], fill: RGB, width: float, round_joints: bool = True) -> None:
        s = self.s
        xy, w, joint = [(x * s, y * s) for x, y in points], self._w(width), "curve" if round_joints else None
        self.draw.line(xy, fill=fill, width=w, joint=joint)
        if self.class_draw is not None:
            self.class_draw.line(xy, fill=self.part, width=w, joint=joint)

    def rounded_box(self, cx: float, cy: float, rx: float, ry: float, radius: float, fill: RGB | None, outline: RGB, width: float) -> None:
        s = self.s
        box = ((cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s)
        self.draw.rounded_rectangle(box, radius=radius * s, fill=fill, outline=outline, width=self._w(width))
        if self.class_draw is not None:
            self.class_draw.rounded_rectangle(box, radius=radius * s, fill=self._ink(fill), outline=self.part, width=self._w(width))


class _Head:
    """A head as an ellipsoid seen from the front and yawed: where a point on its surface lands on the canvas."""

    def __init__(self, cx: float, cy: float, rw: float, rh: float, yaw: float):
        self.cx, self.cy, self.rw, self.rh, self.yaw = cx, cy, rw, rh, yaw

    def half_width(self, y: float) -> float:
        v = (y - self.cy) / self.rh
        return self.rw * math.sqrt(max(0.0, 1.0 - v * v))

    def x(self, angle: float, y: float, depth: float = 1.0) -> float:
        """Canvas x of the surface point at `angle` (radians from the midline, + = image right) and height y."""
        a = max(-math.pi / 2, min(math.pi / 2, angle + self.yaw))
        return self.cx + depth * self.half_width(y) * math.sin(a)

    def squeeze(self, angle: float) -> float:
        """Horizontal foreshortening of a flat feature at `angle`, relative to the frontal view."""
        return max(0.08, math.cos(angle + self.yaw)) / math.cos(angle)


def _background(size: int, top: RGB, bottom: RGB) -> Image.Image:
    if top == bottom:
        return Image.new("RGB", (size, size), top)
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None]
    column = (np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(np.broadcast_to(column[:, None, :], (size, size, 3))))


def _face_outline(head: _Head, masculine: bool, turn: float) -> list[tuple[float, float]]:
    """Head silhouette: round cranium, square jaw (masculine) or tapered chin (feminine); the chin follows the turn."""
    pts = []
    n = 40
    for k in range(n):
        t = 2 * math.pi * k / n
        c, s = math.cos(t), math.sin(t)
        if s > 0:  # lower half: jaw
            if masculine:
                e = 2 / 2.9  # superellipse: squarer jaw
                x = math.copysign(abs(c) ** e, c) * (1 - 0.06 * s**3)
                y = math.copysign(abs(s) ** e, s)
            else:
                x = c * (1 - 0.22 * s**2.5)
                y = s
            x += 0.2 * turn * s**2  # the chin juts forward, so it swings with the turn
        else:
            x, y = c, s
        pts.append((head.cx + head.rw * x, head.cy + head.rh * y))
    return pts


def _render(look: _Look, attrs: FaceAttributes, image_size: int, label_map: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Paint back to front on a supersampled canvas, box-filter it down, then apply the lighting.

    Returns the uint8 (H, W, 3) image and, with `label_map`, the uint8 (H, W) FACE_CLASSES map
    (the block mode of a class canvas drawn alongside; see label_maps.block_mode), else None.
    """
    supersample = 4 if image_size <= 32 else 3 if image_size <= 64 else 2
    canvas_size = image_size * supersample
    image = _background(canvas_size, look.background_top, look.background_bottom)
    classes = Image.new("L", (canvas_size, canvas_size), _BACKGROUND) if label_map else None
    pen = _Pen(image, classes)

    turn = attrs.turn
    masc = attrs.masculine
    yaw = turn * MAX_YAW
    rw = look.head_half_width * (1.04 if masc else 0.97)
    rh = rw * look.head_aspect
    head = _Head(look.centre_x, look.centre_y, rw, rh, yaw)
    cx, cy = head.cx, head.cy
    skin, hair = look.skin, look.hair
    skin_shadow = _shade(skin, 0.84)
    hair_dark = _shade(hair, 0.72)
    back_shift = -math.sin(yaw) * 0.14 * rw  # the back of the head shows on the side the face turns away from

    # Shirt and shoulders.
    pen.part = _CLOTHES
    shoulder_top = cy + rh + 0.05
    shoulder_rx = 0.44 if masc else 0.38
    pen.ellipse(cx + back_shift * 0.3, shoulder_top + 0.3, shoulder_rx, 0.3, fill=look.shirt)

    # Long hair behind the head, falling beside the neck onto the shoulders.
    if not masc:
        pen.part = _HAIR
        bx = cx + back_shift
        top_y = cy - 0.08 * rh
        bottom_y = cy + rh * (1.4 + 0.45 * look.hair_length)  # always reaches the shoulders
        side = rw * 1.2
        flare = rw * (1.3 + 0.3 * look.hair_flare)
        pen.ellipse(bx, top_y, side, rh * 1.1, fill=hair)
        pts = [(bx - side, top_y), (bx - flare, bottom_y - 0.04), (bx - flare * 0.7, bottom_y)]
        pts += [(bx, bottom_y - 0.015), (bx + flare * 0.7, bottom_y), (bx + flare, bottom_y - 0.04), (bx + side, top_y)]
        pen.polygon(pts, hair)

    # Neck, with a collar on top of it.
    neck_w = rw * (0.5 if masc else 0.4)
    neck_x = cx + 0.3 * back_shift
    pen.part = _SKIN
    pen.polygon(
        [
            (neck_x - neck_w, cy + 0.4 * rh),
            (neck_x + neck_w, cy + 0.4 * rh),
            (neck_x + neck_w * 1.1, shoulder_top + 0.04),
            (neck_x - neck_w * 1.1, shoulder_top + 0.04),
        ],
        skin_shadow,
    )
    collar_y = shoulder_top + 0.02
    if look.collar_style == 0:  # V neck
        pen.polygon([(neck_x - neck_w * 1.6, collar_y), (neck_x + neck_w * 1.6, collar_y), (neck_x, collar_y + 0.09)], skin_shadow)
    elif look.collar_style == 1:  # crew neck band
        pen.part = _CLOTHES
        band = [(neck_x - neck_w * 1.3, collar_y + 0.005), (neck_x, collar_y + 0.025), (neck_x + neck_w * 1.3, collar_y + 0.005)]
        pen.line(band, _shade(look.shirt, 0.7), 0.02)
    else:  # shirt collar points
        pen.part = _CLOTHES
        white = _mix(look.shirt, (245, 245, 245), 0.7)
        pen.polygon([(neck_x - neck_w * 1.4, collar_y - 0.01), (neck_x, collar_y + 0.035), (neck_x - neck_w * 0.6, collar_y + 0.07)], white)
        pen.polygon([(neck_x + neck_w * 1.4, collar_y - 0.01), (neck_x, collar_y + 0.035), (neck_x + neck_w * 0.6, collar_y + 0.07)], white)

    # Ears: behind the head while near the silhouette, on top of it once the turn brings one round the front.
    ear_y = cy + look.eye_height * rh + 0.12 * rh
    ear_angle = _EAR_ANGLE
    ears_front = []
    pen.part = _SKIN
    for side_sign in (-1.0, 1.0):
        a = side_sign * ear_angle + yaw
        if abs(a) > math.radians(125):
            continue  # round the back, hidden
        if abs(a) >= math.pi / 2:
            x = cx + side_sign * rw * (0.97 + 0.12 * math.cos(abs(a) - math.pi / 2) - 0.5 * (abs(a) - math.pi / 2))
            pen.ellipse(x, ear_y, rw * 0.17, rh * 0.16, fill=skin)
            pen.ellipse(x + side_sign * rw * 0.02, ear_y, rw * 0.08, rh * 0.09, fill=skin_shadow)
        else:
            ears_front.append(side_sign)

    outline = _face_outline(head, masc, turn)
    pen.polygon(outline, skin)

    def draw_front_ears() -> None:
        pen.part = _SKIN
        for side_sign in ears_front:
            a = side_sign * ear_angle + yaw
            x = cx + rw * 0.92 * math.sin(a)
            width = rw * (0.12 + 0.1 * math.cos(a))
            pen.ellipse(x, ear_y, width, rh * 0.16, fill=skin, outline=skin_shadow, width=0.008)
            pen.ellipse(x, ear_y, width * 0.5, rh * 0.09, fill=skin_shadow)

    if not masc:
        draw_front_ears()  # long hair then covers them

    eye_y = cy + look.eye_height * rh
    mouth_y = cy + look.mouth_height * rh
    nose_y = eye_y + (mouth_y - eye_y) * 0.6 * look.nose_length

    # Facial hair (masculine only): stubble or beard over the jaw, drawn before the mouth.
    if masc and look.facial_hair in (1, 3, 5):
        beard = hair if look.facial_hair == 3 else _mix(skin, hair_dark, 0.45)
        lower = sorted((p for p in outline if p[1] > cy + 0.12 * rh), key=lambda p: -p[0])  # jaw, right to left
        cheek_y = cy + 0.15 * rh
        inner = [
            (head.x(-1.2, cheek_y), cheek_y),
            (head.x(-0.75, nose_y + 0.03 * rh), nose_y + 0.15 * rh),
            (head.x(-0.4, nose_y), nose_y + 0.08 * rh),
            (head.x(0.0, nose_y), nose_y + 0.06 * rh),
            (head.x(0.4, nose_y), nose_y + 0.08 * rh),
            (head.x(0.75, nose_y + 0.03 * rh), nose_y + 0.15 * rh),
            (head.x(1.2, cheek_y), cheek_y),
        ]
        pen.part = _FACIAL_HAIR
        pen.polygon(inner + lower, beard)

    # Hair on top of the head.
    pen.part = _HAIR
    if masc:
        _draw_short_hair(pen, head, look, turn, eye_y)
        draw_front_ears()  # an ear turned towards the viewer sits on the sideburn
    else:
        _draw_front_hair(pen, head, look, turn, eye_y)

    # Eyebrows.
    brow_colour = _shade(hair, 0.55) if sum(hair) > 330 else hair_dark
    brow_y = eye_y - rh * (0.24 if masc else 0.29)
    pen.part = _EYEBROW
    for side_sign in (-1.0, 1.0):
        a0, a1 = side_sign * (look.eye_angle - 0.17), side_sign * (look.eye_angle + 0.2)
        if masc:
            tilt = look.brow_tilt * rh
            pts = [(head.x(a0, brow_y), brow_y + tilt), (head.x(a1, brow_y), brow_y - tilt)]
            pen.line(pts, brow_colour, 0.024)
        else:
            mid = side_sign * (look.eye_angle + 0.02)
            pts = [
                (head.x(a0, brow_y), brow_y + 0.02 * rh),
                (head.x(mid, brow_y), brow_y - 0.05 * rh),
                (head.x(a1, brow_y), brow_y + 0.03 * rh),
            ]
            pen.line(pts, brow_colour, 0.011)

    # Eyes.
    smiling = attrs.smiling
    ew0 = rw * 0.2 * look.eye_size
    eh = ew0 * (0.62 if smiling else 0.72) * (1.0 if masc else 1.08)
    eye_centres = []
    for side_sign in (-1.0, 1.0):
        pen.part = _EYE
        a = side_sign * look.eye_angle
        ex, ew = head.x(a, eye_y, depth=0.93), ew0 * head.squeeze(a)
        eye_centres.append((ex, ew))
        pen.ellipse(ex, eye_y, ew, eh, fill=(246, 246, 242))
        ir = eh * 0.95
        # the eyes look where the head points: irises slide towards the turn, within the eye
        gaze = 0.25 * head.half_width(eye_y) * (math.sin(a + yaw) - math.sin(a))
        ix = ex + max(-0.55 * ew, min(0.55 * ew, gaze))
        pen.ellipse(ix, eye_y, min(ir * head.squeeze(a), ew * 0.9), ir, fill=look.eye)
        pen.ellipse(ix, eye_y, min(ir * 0.5 * head.squeeze(a), ew * 0.5), ir * 0.5, fill=(14, 10, 10))
        lid = [(ex - ew, eye_y), (ex - ew * 0.5, eye_y - eh * 0.95), (ex + ew * 0.5, eye_y - eh * 0.95), (ex + ew, eye_y)]
        pen.line(lid, (38, 26, 24), 0.008 if masc else 0.011)
        if not masc:  # lashes at the outer corner
            ox = ex + side_sign * ew
            pen.line([(ox, eye_y - eh * 0.3), (ox + side_sign * ew * 0.45, eye_y - eh * 0.75)], (30, 20, 20), 0.008)
        if smiling:  # raised cheek under the eye
            pen.part = _SKIN
            pen.line([(ex - ew * 0.8, eye_y + eh * 1.35), (ex, eye_y + eh * 1.05), (ex + ew * 0.8, eye_y + eh * 1.35)], skin_shadow, 0.008)

    # Nose: a wedge that points the way the face turns, and a shadow under it.
    nose_top = eye_y + 0.12 * rh
    tip_x = head.x(0.0, nose_y, depth=1.18)
    base_x = head.x(0.0, nose_y, depth=0.95)
    nose_w = rw * 0.14
    far = -1.0 if turn >= 0 else 1.0  # the side of the nose turned away from the viewer, in shadow
    pen.part = _NOSE
    pen.polygon(
        [
            (head.x(0.0, nose_top), nose_top),
            (tip_x + far * nose_w * 0.2, nose_y),
            (base_x + far * nose_w * (0.9 - 0.4 * abs(turn)), nose_y + 0.02 * rh),
        ],
        skin_shadow,
    )
    nostrils = [(base_x - nose_w, nose_y + 0.02 * rh), (tip_x, nose_y + 0.05 * rh), (base_x + nose_w, nose_y + 0.02 * rh)]
    pen.line(nostrils, _shade(skin, 0.7), 0.009)

    # Mouth.
    lipstick = not masc and look.wears_lipstick
    lips = look.lipstick if lipstick else look.lip
    mouth_r = head.half_width(mouth_y)
    phi_m = math.asin(min(0.95, look.mouth_half_width * (1.2 if smiling else 1.0) * rw / mouth_r))
    steps = [k / 6 for k in range(-6, 7)]
    pen.part = _MOUTH
    if smiling:
        lift = 0.10 * rh
        opening = 0.25 * rh * look.smile_openness
        upper = [(head.x(s * phi_m, mouth_y, 1.02), mouth_y - 0.02 * rh - lift * s * s) for s in steps]
        lower = [(head.x(s * phi_m, mouth_y, 1.02), mouth_y - 0.02 * rh - lift * s * s + opening * (1 - s * s) ** 0.8) for s in steps]
        teeth = [(head.x(s * phi_m, mouth_y, 1.02), mouth_y - 0.02 * rh - lift * s * s + 0.5 * opening * (1 - s * s) ** 0.8) for s in steps]
        pen.polygon(upper + lower[::-1], _MOUTH_INSIDE)
        pen.polygon(upper + teeth[::-1], (250, 250, 246))
        pen.line(upper, lips, 0.01)
        pen.line(lower, lips, 0.016 if lipstick else 0.012)
        pen.part = _SKIN
        for side_sign in (-1.0, 1.0):  # smile lines beside the corners
            corner = upper[0] if side_sign < 0 else upper[-1]
            a = side_sign * phi_m * 1.25
            pen.line([(head.x(a, mouth_y), corner[1] - 0.08 * rh), (head.x(a * 1.05, mouth_y), corner[1] + 0.03 * rh)], skin_shadow, 0.008)
    else:
        line = [(head.x(s * phi_m * 0.85, mouth_y, 1.02), mouth_y) for s in steps[::3]]
        if lipstick:
            upper = [(x, mouth_y - 0.035 * rh * (1 - abs(s))) for (x, _), s in zip(line, steps[::3])]
            lower = [(x, mouth_y + 0.05 * rh * (1 - abs(s)) ** 0.7) for (x, _), s in zip(line, steps[::3])]
            pen.polygon(upper + lower[::-1], lips)
        pen.line(line, _shade(lips, 0.65), 0.012)

    if masc and look.facial_hair in (2, 4, 5):  # moustache, and for 4 a goatee
        tache = hair_dark if look.facial_hair != 5 else _mix(skin, hair_dark, 0.8)
        pen.part = _FACIAL_HAIR
        top_y, bottom_y = mouth_y - 0.17 * rh, mouth_y - 0.025 * rh
        span = phi_m * (1.0 if smiling else 1.15)
        top = [(head.x(s * span, mouth_y), top_y + 0.09 * rh * s * s) for s in steps]
        bottom = [(head.x(s * span, mouth_y), bottom_y + 0.02 * rh * s * s - (0.1 * rh * s * s if smiling else 0.0)) for s in steps]
        tips = [(head.x(span * 1.15, mouth_y), mouth_y + (0.0 if smiling else 0.05) * rh)]
        pen.polygon(top + tips + bottom[::-1] + [(head.x(-span * 1.15, mouth_y), mouth_y + (0.0 if smiling else 0.05) * rh)], tache)
        if look.facial_hair == 4:  # goatee: from under the lower lip down over the chin
            top_y = mouth_y + (0.26 * rh * look.smile_openness if smiling else 0.08 * rh)
            chin_y = cy + 0.98 * rh
            top_x, chin_x = head.x(0.0, mouth_y, 1.02), cx + 0.2 * turn * rw
            top_w, chin_w = 0.3 * rw * head.squeeze(0.0), 0.16 * rw
            pen.polygon(
                [
                    (top_x - top_w, top_y),
                    (top_x + top_w, top_y),
                    (chin_x + chin_w, chin_y - 0.05 * rh),
                    (chin_x, chin_y),
                    (chin_x - chin_w, chin_y - 0.05 * rh),
                ],
                hair_dark,
            )

    if attrs.glasses:
        pen.part = _GLASSES
        _draw_glasses(pen, head, look, eye_y, eye_centres, ew0, eh, ear_y)

    out = image.resize((image_size, image_size), Image.BOX)
    pixels = np.asarray(out, dtype=np.float32)
    light = look.brightness * np.array([1.0 + look.warmth, 1.0, 1.0 - look.warmth], dtype=np.float32)
    rgb = np.clip(pixels * light + 0.5, 0, 255).astype(np.uint8)
    return rgb, (block_mode(np.asarray(classes), supersample, len(FACE_CLASSES)) if classes is not None else None)


def _hairline(head: _Head, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Project (angle, height in head half-heights) points of a hairline onto the canvas."""
    return [(head.x(a, head.cy + v * head.rh), head.cy + v * head.rh) for a, v in points]


def _crown(head: _Head, turn: float, rx: float, ry: float, lowest: float, n: int = 14) -> list[tuple[float, float]]:
    """Outer edge of the hair over the top of the head, left side to right side; bulges on the back-of-head side."""
    pts = []
    start = math.pi - math.asin(lowest)  # left side, at height `lowest` (in half-heights, negative = above centre)
    end = 2 * math.pi + math.asin(lowest)
    for k in range(n + 1):
        t = start + (end - start) * k / n
        c = math.cos(t)
        bulge = 1.0 + 0.10 * max(0.0, -turn if c > 0 else turn)
        pts.append((head.cx + head.rw * rx * c * bulge, head.cy - 0.03 * head.rh + head.rh * ry * math.sin(t)))
    return pts


def _draw_short_hair(pen: _Pen, head: _Head, look: _Look, turn: float, eye_y: float) -> None:
    """Masculine hair: a cap over the crown with sideburns, ending above the ears (crop, quiff, side part, curls)."""
    hair = look.hair
    vol = look.male_hair_volume
    rx, ry = 1.05 + 0.05 * vol, 1.07 + 0.06 * vol
    style = look.male_hair_style
    ev = (eye_y - head.cy) / head.rh
    front = -0.58 if style != 2 else -0.5
    hairline = [
        (1.38, ev + 0.12),
        (1.3, ev - 0.12),
        (1.05, -0.42),
        (0.5, front - 0.02),
        (0.0, front),
        (-0.5, front - 0.02),
        (-1.05, -0.42),
        (-1.3, ev - 0.12),
        (-1.38, ev + 0.12),
    ]
    if style == 2:  # side-swept fringe: lower on one side
        p = look.part_side
        hairline[3 if p > 0 else 5] = (p * 0.5, -0.40)
        hairline[4] = (0.0, -0.46)
    crown = _crown(head, turn, rx, ry, lowest=ev + 0.02)
    pen.polygon(crown + _hairline(head, hairline), hair)
    if style == 1:  # quiff at the front
        qx = head.x(0.25 * look.part_side, head.cy - 0.8 * head.rh)
        pen.ellipse(qx, head.cy - 0.93 * head.rh, head.rw * 0.62, head.rh * 0.2, fill=hair)
    elif style == 3:  # curls along the crown
        for k in range(1, len(crown) - 1, 2):
            x, y = crown[k]
            pen.ellipse(x, y, head.rw * 0.16, head.rw * 0.16, fill=hair)
    if style == 2:  # parting line
        px = head.x(0.55 * look.part_side, head.cy - 0.7 * head.rh)
        pen.line([(px, head.cy - 0.97 * head.rh), (px, head.cy - 0.68 * head.rh)], _shade(hair, 0.7), 0.007)


def _draw_front_hair(pen: _Pen, head: _Head, look: _Look, turn: float, eye_y: float) -> None:
    """Feminine hair in front of the head: fringe or parting, and locks down both sides of the face."""
    hair = look.hair
    style = look.female_hair_style
    p = look.part_side
    low = 0.75  # the locks reach down to the jaw
    if style == 0:  # middle parting, curtains
        forehead = [(0.55, -0.5), (0.2, -0.6), (0.0, -0.72), (-0.2, -0.6), (-0.55, -0.5)]
    elif style == 1:  # straight bangs to just above the brows
        forehead = [(0.95, -0.38), (0.5, -0.42), (0.0, -0.43), (-0.5, -0.42), (-0.95, -0.38)]
    else:  # swept to one side
        forehead = [(p * 0.9, -0.36), (p * 0.45, -0.45), (0.0, -0.55), (-p * 0.4, -0.64), (-p * 0.8, -0.58)]
        if p < 0:
            forehead = forehead[::-1]
    hairline = [(1.4, low), (1.22, 0.3), (1.08, -0.2)] + forehead + [(-1.08, -0.2), (-1.22, 0.3), (-1.4, low)]
    crown = _crown(head, turn, 1.14, 1.1, lowest=0.0)
    left_out = (crown[0][0], head.cy + low * head.rh)
    right_out = (crown[-1][0], head.cy + low * head.rh)
    pen.polygon([left_out] + crown + [right_out] + _hairline(head, hairline), hair)
    if style == 0:
        pen.line(_hairline(head, [(0.0, -0.72), (0.0, -1.02)]), _shade(hair, 0.7), 0.007)


def _draw_glasses(
    pen: _Pen,
    head: _Head,
    look: _Look,
    eye_y: float,
    eye_centres: list[tuple[float, float]],
    ew0: float,
    eh: float,
    ear_y: float,
) -> None:
    """Rims round both eyes (foreshortened like them), a bridge, and the temple arms that face the viewer."""
    frame = look.frame
    width = look.rim_width
    lens = _mix(frame, (20, 20, 30), 0.6) if look.sunglasses else None
    ry = max(eh * 1.55, ew0 * 0.95)
    boxes = []
    for (ex, ew), side_sign in zip(eye_centres, (-1.0, 1.0)):
        a = side_sign * look.eye_angle
        rx = ew0 * 1.45 * head.squeeze(a)
        boxes.append((ex, rx))
        if look.frame_shape == 0:
            pen.ellipse(ex, eye_y, rx, ry, fill=lens, outline=frame, width=width)
        else:
            tall = ry if look.frame_shape == 1 else ry * 0.85
            pen.rounded_box(ex, eye_y + 0.1 * ry, rx, tall, min(rx, tall) * 0.45, fill=lens, outline=frame, width=width)
        if lens is not None:  # glint on tinted lenses
            pen.line([(ex - rx * 0.4, eye_y - ry * 0.2), (ex - rx * 0.05, eye_y - ry * 0.55)], _mix(lens, (255, 255, 255), 0.45), 0.008)
    (lx, lrx), (rx_, rrx) = boxes
    bridge_y = eye_y - ry * 0.25
    pen.line([(lx + lrx, bridge_y), ((lx + lrx + rx_ - rrx) / 2, bridge_y - ry * 0.15), (rx_ - rrx, bridge_y)], frame, width * 1.1)
    # Temple arms run back to the ears; only the ones on the visible side of the head show.
    for (ex, rx), side_sign in zip(boxes, (-1.0, 1.0)):
        ear_angle = side_sign * _EAR_ANGLE + head.yaw
        if abs(ear_angle) > math.radians(110):
            continue
        end_x = head.cx + head.rw * min(1.0, max(-1.0, math.sin(ear_angle))) * 0.98
        start_x = ex + side_sign * rx
        if side_sign * (end_x - start_x) > 0:
            pen.line([(start_x, eye_y - ry * 0.3), (end_x, ear_y - 0.03 * head.rh)], frame, width * 0.9)


# ----------------------------------------------------------------------------------------------
# Public API


def render_face(
    seed: int,
    image_size: int = 64,
    *,
    glasses: bool | None = None,
    smiling: bool | None = None,
    masculine: bool | None = None,
    turn: float | None = None,
    label_map: bool = False,
) -> Face:
    """Draw the face of `seed` at `image_size` px, deterministically.

    Attributes not given are drawn from the seed. Overrides are applied after every random choice
    is made, so the same seed with a different override is the same person (skin, hair colour,
    background...) with only that attribute changed. The layout is the same at every size.
    With `label_map=True` the face also carries a uint8 (H, W) map of FACE_CLASSES indices; the
    image is the same either way.

    Example:
        face = render_face(3, 64, glasses=True, label_map=True)
        glasses_pixels = face.label_map == FACE_CLASSES.index("glasses")
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    if turn is not None and not -1.0 <= turn <= 1.0:
        raise ValueError(f"turn must be in [-1, 1], got {turn}")
    rng = np.random.default_rng(seed)
    drawn = _draw_attributes(rng)
    look = _draw_look(rng)
    attrs = FaceAttributes(
        glasses=drawn.glasses if glasses is None else bool(glasses),
        smiling=drawn.smiling if smiling is None else bool(smiling),
        masculine=drawn.masculine if masculine is None else bool(masculine),
        turn=drawn.turn if turn is None else float(turn),
    )
    image, classes = _render(look, attrs, image_size, label_map)
    return Face(image=image, attributes=attrs, label_map=classes)


def face_attributes(seed: int) -> FaceAttributes:
    """The attributes `render_face(seed)` would draw, without drawing the image."""
    return _draw_attributes(np.random.default_rng(seed))


class FacesDataset(Dataset):
    """`length` procedural faces as float32 (3, H, W) tensors in [-1, 1], with attribute labels on the side."""

    def __init__(self, image_size: int = 64, length: int = 50_000, seed: int = 0):
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        if not 0 <= length <= _SEEDS_PER_DATASET:
            raise ValueError(f"length must be in [0, 2**32], got {length}")
        self.image_size, self.length, self.seed = image_size, length, seed

    def __len__(self) -> int:
        return self.length

    def _check(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for a data set of {self.length} faces")
        return i

    def seed_of(self, i: int) -> int:
        """Render seed of item i: distinct for every (data set seed, index), so data sets never overlap."""
        return self.seed * _SEEDS_PER_DATASET + self._check(i)

    def face(self, i: int, label_map: bool = False) -> Face:
        """The full sample behind item `i`: the uint8 image, its attributes and, if asked, its label map."""
        return render_face(self.seed_of(i), self.image_size, label_map=label_map)

    def __getitem__(self, i: int) -> torch.Tensor:
        return pixels_to_unit(torch.from_numpy(self.face(i).image).permute(2, 0, 1))

    def attribute_array(self, indices: Iterable[int] | None = None) -> np.ndarray:
        """float32 (n, 4) labels in ATTRIBUTE_NAMES order, replayed from the seeds without rendering."""
        if indices is None:
            indices = range(self.length)
        rows = [face_attributes(self.seed_of(i)).as_array() for i in indices]
        return np.stack(rows) if rows else np.zeros((0, len(ATTRIBUTE_NAMES)), dtype=np.float32)


def render_faces_with_labels(n: int, seed: int = 0, image_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Items 0..n-1 of FacesDataset(seed=seed): uint8 (n, 3, S, S) images and uint8 (n, S, S) label maps.

    The images are those the data set trains on; label values index FACE_CLASSES.
    """
    ds = FacesDataset(image_size=image_size, length=n, seed=seed)
    return stack_with_labels(lambda i: ds.face(i, label_map=True), n, image_size)
