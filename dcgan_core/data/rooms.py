"""Procedural bedroom scenes: an offline stand-in for LSUN bedrooms.

The DCGAN paper (Radford et al. 2015) trains on LSUN bedrooms. That data set is
large and needs a download, so this module draws simple bedrooms instead: a room
in one-point perspective (back wall, receding side walls, ceiling, floor) with a
bed and a random choice of windows, door, lamp, picture, rug, nightstands and a
wardrobe, under varied colours, lighting and camera placement.

Every scene also records where its objects are (`Room.boxes`) and, on request, which
class each pixel shows (`render_room(seed, size, label_map=True).label_map`, classes in
ROOM_CLASSES). Windows are made
visually distinctive on purpose - sky-coloured panes with a frame and mullions,
the only sky-blue thing in the room - because the paper's section 6.3.1
experiment ("forgetting" windows) needs windows that people can box on
generated rooms and that a simple measurement can detect.

All randomness comes from `numpy.random.default_rng(seed)`, and the scene is
sampled before anything is drawn, so one seed gives the same layout at every
image size (only the resolution differs) and identical pixels on every call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

from ..images import pixels_to_unit
from .label_maps import block_mode, stack_with_labels

WINDOW = "window"
OBJECT_NAMES: tuple[str, ...] = ("window", "bed", "door", "lamp", "picture", "rug")

# Classes of the per-pixel label map, by index. Every pixel gets the class of the surface
# that is visible there after occlusion; small details take their object's class (sky, clouds
# and mullions are window; panels and knob are door; the art is picture; baseboards are wall;
# the flush ceiling light is ceiling, not lamp, as it is in `boxes`). Contact shadows under
# furniture keep the class of the surface they darken (floor or rug). Room surfaces come first,
# so ties at edges go to the objects (see label_maps.block_mode).
ROOM_CLASSES: tuple[str, ...] = (
    "wall", "floor", "ceiling", "bed", "window", "door", "lamp", "picture", "rug",
    "curtain", "nightstand", "wardrobe",
)
(_WALL, _FLOOR, _CEILING, _BED, _WINDOW, _DOOR, _LAMP, _PICTURE, _RUG,
 _CURTAIN, _NIGHTSTAND, _WARDROBE) = range(len(ROOM_CLASSES))
_INHERIT = -1  # class-map code: polygon keeps the class of whatever it is drawn over

Box = tuple[int, int, int, int]
Color = tuple[int, int, int]
Point3 = tuple[float, float, float]

# Probabilities of 0, 1 and 2 windows in a room (the rest of the layout may make
# a requested window impossible, which very rarely lowers the count).
WINDOW_COUNT_PROBS = (0.25, 0.50, 0.25)
# A window must project to at least this fraction of the image side in both
# directions (about 8 px at 64 px), so that a 64-px DCGAN can learn it.
MIN_WINDOW_FRACTION = 0.13
# Drop an object from `boxes` when less than this fraction of the image shows it.
MIN_VISIBLE_FRACTION = 0.0015

_NEAR_Z = 0.25  # near clipping plane; the camera sits at z = 0 looking along +z
_NO_LABEL = -1  # polygon does not change the object label mask
_OCCLUDER = 0  # polygon hides labelled objects behind it but is not an object


@dataclass(frozen=True)
class Room:
    """One rendered bedroom, the boxes of the objects visible in it, and optionally its label map."""

    image: np.ndarray  # uint8, (H, W, 3), H == W
    # name -> (x0, y0, x1, y1) in pixels of `image`, x1/y1 exclusive, clipped to the
    # image, covering the visible part of each object; every OBJECT_NAMES key present.
    boxes: dict[str, list[Box]]
    # uint8 (H, W): index into ROOM_CLASSES of what each pixel shows (the class covering most
    # of the pixel); None unless rendered with label_map=True.
    label_map: np.ndarray | None = None

    @property
    def window_boxes(self) -> list[Box]:
        return self.boxes[WINDOW]


# --------------------------------------------------------------------------- colours

_WALL_COLORS: tuple[Color, ...] = (
    (236, 228, 210), (214, 196, 170), (240, 236, 228), (205, 204, 198), (190, 182, 170),
    (176, 190, 160), (236, 222, 170), (220, 186, 178), (196, 134, 104), (190, 212, 194),
    (160, 142, 126), (226, 214, 196), (120, 122, 118), (84, 108, 92), (200, 190, 200),
)
_WOOD_COLORS: tuple[Color, ...] = (
    (178, 132, 86), (205, 170, 125), (110, 76, 50), (150, 140, 128), (190, 140, 82),
    (140, 84, 56), (166, 120, 80), (90, 62, 44),
)
_CARPET_COLORS: tuple[Color, ...] = (
    (190, 175, 150), (140, 140, 136), (214, 204, 184), (120, 96, 76), (150, 158, 128),
    (170, 150, 140),
)
_BLANKET_COLORS: tuple[Color, ...] = (
    (236, 236, 232), (230, 220, 196), (160, 162, 165), (82, 84, 90), (46, 56, 96),
    (150, 170, 140), (205, 165, 70), (190, 112, 82), (206, 152, 150), (122, 42, 56),
    (42, 104, 110), (200, 180, 150), (120, 120, 72), (228, 200, 200),
)
_SHEET_COLORS: tuple[Color, ...] = ((242, 242, 238), (236, 228, 210), (214, 214, 214), (246, 240, 226))
_HEADBOARD_COLORS: tuple[Color, ...] = (
    (130, 130, 134), (196, 180, 156), (62, 56, 54), (226, 224, 218), (110, 80, 60), (150, 100, 66),
    (92, 100, 86),
)
_CURTAIN_COLORS: tuple[Color, ...] = (
    (236, 230, 214), (200, 184, 156), (150, 150, 148), (150, 168, 132), (206, 164, 72),
    (170, 90, 60), (126, 44, 54), (76, 76, 80), (244, 244, 240), (196, 150, 150),
)
_FRAME_COLORS: tuple[Color, ...] = ((240, 240, 236), (232, 228, 218), (120, 84, 56), (52, 52, 54), (70, 86, 70))
_SHADE_COLORS: tuple[Color, ...] = ((255, 238, 204), (250, 226, 180), (255, 244, 222), (246, 214, 170))
_ART_COLORS: tuple[Color, ...] = (
    (200, 70, 50), (230, 180, 60), (80, 120, 70), (40, 40, 40), (240, 230, 210), (170, 110, 70),
    (210, 130, 100), (110, 60, 80), (150, 160, 90), (230, 150, 60),
)
_PICTURE_FRAME_COLORS: tuple[Color, ...] = ((30, 28, 26), (196, 160, 80), (236, 234, 228), (110, 74, 46))
# Sky gradients (top, horizon). Windows are the only place these blues appear.
_DAY_SKIES: tuple[tuple[Color, Color], ...] = (
    ((62, 124, 212), (168, 206, 244)),
    ((86, 150, 226), (186, 218, 248)),
    ((44, 104, 196), (136, 184, 236)),
    ((110, 160, 220), (200, 222, 246)),
)
_SUNSET_SKY: tuple[Color, Color] = ((84, 112, 196), (250, 176, 120))


def _jitter(rng: np.random.Generator, color: Color, amount: int = 10) -> Color:
    """A palette colour nudged a little, so no two rooms share exact colours."""
    k = float(rng.uniform(0.93, 1.07))
    dr, dg, db = (int(v) for v in rng.integers(-amount, amount + 1, size=3))
    r, g, b = color
    return (
        int(min(255.0, max(0.0, r * k + dr))),
        int(min(255.0, max(0.0, g * k + dg))),
        int(min(255.0, max(0.0, b * k + db))),
    )


def _pick(rng: np.random.Generator, colors: tuple[Color, ...], amount: int = 10) -> Color:
    return _jitter(rng, colors[int(rng.integers(len(colors)))], amount)


def _mix(a: Color, b: Color, t: float) -> Color:
    return (int(a[0] + (b[0] - a[0]) * t), int(a[1] + (b[1] - a[1]) * t), int(a[2] + (b[2] - a[2]) * t))


# --------------------------------------------------------------------------- scene geometry


@dataclass(frozen=True)
class _Camera:
    """Pinhole camera at (x, y, 0) looking along +z; `focal` is in image widths.

    (u0, v0) is where the vanishing point lands in the image (a shifted lens), so
    the room is not always centred and the horizon is not always mid-height.
    """

    x: float
    y: float
    focal: float
    u0: float
    v0: float

    def project(self, p: Point3) -> tuple[float, float]:
        """World point -> normalised image coordinates (0..1 across the image)."""
        k = self.focal / p[2]
        return self.u0 + (p[0] - self.x) * k, self.v0 - (p[1] - self.y) * k


# One drawing instruction: polygon corners in world space, colour, label id (object
# instance for `boxes`), and the ROOM_CLASSES index it paints into the label map.
_Op = tuple[tuple[Point3, ...], Color, int, int]


class _Scene:
    """A sampled room as a list of polygons in painter's order, plus object labels.

    Sampling (all `rng` use) happens here; drawing happens later at any size, which
    is what keeps layouts identical across image sizes.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.ops: list[_Op] = []
        self.labels: list[str] = []  # label id i + 1 -> object name
        # Occupied rectangles (s0, s1, y0, y1) per wall and footprints (x0, x1, z0, z1) on the floor.
        self.wall_used: dict[str, list[tuple[float, float, float, float]]] = {"back": [], "left": [], "right": []}
        self.floor_used: list[tuple[float, float, float, float]] = []
        self.window_walls: list[str] = []
        self._sample_room()

    # ---- basic primitives --------------------------------------------------------

    def new_label(self, name: str) -> int:
        self.labels.append(name)
        return len(self.labels)

    def lit(self, color: Color, k: float = 1.0) -> Color:
        """Apply the room's light (brightness and warmth) and a local shading factor."""
        g = self.gain
        return (
            int(min(255.0, color[0] * k * g[0])),
            int(min(255.0, color[1] * k * g[1])),
            int(min(255.0, color[2] * k * g[2])),
        )

    def wall_point(self, wall: str, s: float, y: float, d: float = 0.0) -> Point3:
        """A point on a wall; `s` runs along it (x on the back wall, z on side walls), `d` out from it."""
        if wall == "back":
            return (s, y, self.depth - d)
        if wall == "left":
            return (-self.half_width + d, y, s)
        return (self.half_width - d, y, s)

    def wall_quad(self, wall: str, s0: float, s1: float, y0: float, y1: float, d: float = 0.0) -> tuple[Point3, ...]:
        w = self.wall_point
        return (w(wall, s0, y0, d), w(wall, s1, y0, d), w(wall, s1, y1, d), w(wall, s0, y1, d))

    @staticmethod
    def floor_quad(x0: float, x1: float, z0: float, z1: float, y: float = 0.0) -> tuple[Point3, ...]:
        """A horizontal rectangle at height y (floor, ceiling, tops of boxes)."""
        return ((x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1))

    @staticmethod
    def facing_quad(x0: float, x1: float, y0: float, y1: float, z: float) -> tuple[Point3, ...]:
        """A rectangle facing the camera at depth z."""
        return ((x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z))

    @staticmethod
    def side_quad(x: float, z0: float, z1: float, y0: float, y1: float) -> tuple[Point3, ...]:
        """A rectangle in the plane x = const (parallel to the side walls)."""
        return ((x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0))

    def box_ops(
        self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, color: Color, label: int, part: int,
        shades: tuple[float, float, float] = (1.0, 0.84, 0.7),
    ) -> list[_Op]:
        """The camera-facing faces of an axis-aligned box (top, front, one side), shaded."""
        cam = self.camera
        ops: list[_Op] = []
        top, front, side = shades
        if cam.x < x0:
            ops.append((self.side_quad(x0, z0, z1, y0, y1), self.lit(color, side), label, part))
        elif cam.x > x1:
            ops.append((self.side_quad(x1, z0, z1, y0, y1), self.lit(color, side), label, part))
        if cam.y > y1:
            ops.append((self.floor_quad(x0, x1, z0, z1, y1), self.lit(color, top), label, part))
        elif cam.y < y0:
            ops.append((self.floor_quad(x0, x1, z0, z1, y0), self.lit(color, side * 0.9), label, part))
        ops.append((self.facing_quad(x0, x1, y0, y1, z0), self.lit(color, front), label, part))
        return ops

    def wall_range(self, wall: str) -> tuple[float, float]:
        """The stretch of a wall (in its `s` coordinate) that is inside the picture."""
        if wall == "back":
            return -self.half_width, self.half_width
        return self.side_visible_z[wall], self.depth

    def wall_is_free(self, wall: str, s0: float, s1: float, y0: float, y1: float, margin: float = 0.12) -> bool:
        lo, hi = self.wall_range(wall)
        if s0 < lo + 0.08 or s1 > hi - 0.08:
            return False
        return all(
            s1 + margin <= a0 or s0 - margin >= a1 or y1 + margin <= b0 or y0 - margin >= b1
            for a0, a1, b0, b1 in self.wall_used[wall]
        )

    def floor_is_free(self, x0: float, x1: float, z0: float, z1: float, margin: float = 0.08) -> bool:
        if x0 < -self.half_width - 1e-6 or x1 > self.half_width + 1e-6 or z1 > self.depth + 1e-6:
            return False
        return all(
            x1 + margin <= a0 or x0 - margin >= a1 or z1 + margin <= b0 or z0 - margin >= b1
            for a0, a1, b0, b1 in self.floor_used
        )

    def on_wall_footprint(self, wall: str, s0: float, s1: float, depth: float) -> tuple[float, float, float, float]:
        """Floor footprint (x0, x1, z0, z1) of furniture standing against a wall."""
        hw, d = self.half_width, self.depth
        if wall == "back":
            return s0, s1, d - depth, d
        if wall == "left":
            return -hw, -hw + depth, s0, s1
        return hw - depth, hw, s0, s1

    def distance_key(self, footprint: tuple[float, float, float, float]) -> float:
        """Distance from the camera to the nearest point of a footprint: draw far things first."""
        x0, x1, z0, z1 = footprint
        dx = max(x0 - self.camera.x, 0.0, self.camera.x - x1)
        return math.hypot(dx, z0)

    # ---- the room ----------------------------------------------------------------

    def _sample_room(self) -> None:
        rng = self.rng
        # Camera and room shape. The back wall's projected width sets the depth, so
        # both shallow rooms (big back wall) and deep ones (long side walls) occur.
        focal = float(rng.uniform(0.55, 0.75))
        self.half_width = float(rng.uniform(1.7, 2.2))
        self.height = float(rng.uniform(2.4, 2.8))
        cam = self.camera = _Camera(
            x=float(rng.uniform(-0.4, 0.4)), y=float(rng.uniform(1.05, 1.5)), focal=focal,
            u0=float(rng.uniform(0.4, 0.6)), v0=float(rng.uniform(0.38, 0.54)),
        )
        back_fraction = float(rng.uniform(0.42, 0.78))
        # Not too shallow, or a bed against the back wall would run out of the picture.
        self.depth = max(3.3, focal * 2 * self.half_width / back_fraction)
        # Nearest depth at which each side wall, and the floor, come into the picture.
        self.side_visible_z = {
            "left": focal * (self.half_width + cam.x) / cam.u0,
            "right": focal * (self.half_width - cam.x) / (1 - cam.u0),
        }
        self.floor_visible_z = focal * cam.y / (1 - cam.v0)

        # Light: overall brightness and warmth, per-wall shading.
        brightness = float(rng.uniform(0.8, 1.07))
        warmth = float(rng.uniform(-0.04, 0.12))
        self.gain = (brightness * (1 + warmth), brightness * (1 + 0.35 * warmth), brightness * (1 - warmth))
        self.vignette = float(rng.uniform(0.05, 0.3))

        self.wall_color = _pick(rng, _WALL_COLORS)
        painted_trim = rng.random() < 0.75
        self.trim_color = _pick(rng, ((238, 236, 230), (228, 224, 214)) if painted_trim else _WOOD_COLORS)
        self.wood_color = _pick(rng, _WOOD_COLORS + ((232, 230, 224), (56, 52, 50)))

        self._sample_shell()
        bed_ops = self._sample_bed()
        furniture: list[tuple[float, list[_Op]]] = [bed_ops]
        furniture += self._sample_nightstands()
        window_ops: list[_Op] = []
        n_windows = int(rng.choice(3, p=WINDOW_COUNT_PROBS))
        for _ in range(n_windows):
            window_ops += self._sample_window()
        wall_ops: list[_Op] = list(window_ops)
        if rng.random() < 0.45:
            wall_ops += self._sample_door()
        if rng.random() < 0.25:
            furniture += self._sample_wardrobe()
        if rng.random() < 0.55:
            wall_ops += self._sample_picture()
        if rng.random() < 0.35:
            furniture += self._sample_floor_lamp()
        floor_ops: list[_Op] = self._sample_rug() if rng.random() < 0.5 else []

        self.ops += wall_ops + floor_ops
        # Contact shadows first, then furniture from far to near (painter's algorithm).
        shadow = self.lit(self.floor_base, 0.55)
        for x0, x1, z0, z1 in self.floor_used:
            self.ops.append((self.floor_quad(x0 - 0.06, x1 + 0.06, z0 - 0.08, z1, 0.001), shadow, _NO_LABEL, _INHERIT))
        for _, ops in sorted(furniture, key=lambda item: -item[0]):
            self.ops += ops

    def _sample_shell(self) -> None:
        """Back wall, side walls, ceiling and floor, with baseboards and a ceiling light."""
        rng, hw, h, d = self.rng, self.half_width, self.height, self.depth
        near = 0.3
        wall = self.wall_color
        self.ops.append((self.facing_quad(-hw, hw, 0, h, d), self.lit(wall, 1.0), _NO_LABEL, _WALL))
        # Side walls in depth bands, darker than the back wall; one side may be darker.
        left_k = float(rng.uniform(0.72, 0.9))
        right_k = float(rng.uniform(0.72, 0.9))
        front_k = float(rng.uniform(0.85, 1.05))  # how the shading changes towards the camera
        bands = (near, d * 0.45, d * 0.7, d)
        for i in range(3):
            z0, z1 = bands[i], bands[i + 1]
            t = 1.0 + (front_k - 1.0) * (1 - i / 2)
            self.ops.append((self.side_quad(-hw, z0, z1, 0, h), self.lit(wall, left_k * t), _NO_LABEL, _WALL))
            self.ops.append((self.side_quad(hw, z0, z1, 0, h), self.lit(wall, right_k * t), _NO_LABEL, _WALL))
            ceiling = _jitter(rng, (242, 240, 236), 6)
            self.ops.append((self.floor_quad(-hw, hw, z0, z1, h), self.lit(ceiling, 0.9 + 0.04 * i), _NO_LABEL, _CEILING))

        # Floor: wooden boards running away from the camera, or carpet with a depth gradient.
        if rng.random() < 0.62:
            base = _pick(rng, _WOOD_COLORS)
            self.floor_base = base
            board = float(rng.uniform(0.16, 0.3))
            x = -hw
            while x < hw - 1e-6:
                x1 = min(hw, x + board)
                tone = _jitter(rng, base, 6)
                self.ops.append((self.floor_quad(x, x1, near, d), self.lit(tone, 0.92), _NO_LABEL, _FLOOR))
                seam = self.floor_quad(x1 - 0.012, x1 + 0.012, near, d, 0.0005)
                self.ops.append((seam, self.lit(base, 0.6), _NO_LABEL, _FLOOR))
                x = x1
        else:
            base = _pick(rng, _CARPET_COLORS)
            self.floor_base = base
            steps = (near, d * 0.3, d * 0.5, d * 0.7, d * 0.85, d)
            for i in range(5):
                band = self.floor_quad(-hw, hw, steps[i], steps[i + 1])
                self.ops.append((band, self.lit(base, 0.96 - 0.04 * i), _NO_LABEL, _FLOOR))

        # Baseboards along the three walls.
        bb = float(rng.uniform(0.07, 0.12))
        trim = self.trim_color
        self.ops.append((self.wall_quad("back", -hw, hw, 0, bb, 0.001), self.lit(trim, 0.95), _NO_LABEL, _WALL))
        self.ops.append((self.wall_quad("left", near, d, 0, bb, 0.001), self.lit(trim, left_k), _NO_LABEL, _WALL))
        self.ops.append((self.wall_quad("right", near, d, 0, bb, 0.001), self.lit(trim, right_k), _NO_LABEL, _WALL))

        if rng.random() < 0.45:  # a flush ceiling light
            cx, cz = float(rng.uniform(-0.4, 0.4)), d * float(rng.uniform(0.5, 0.7))
            r = float(rng.uniform(0.18, 0.28))
            ring = tuple(
                (cx + r * math.cos(2 * math.pi * i / 10), h - 0.001, cz + r * 0.6 * math.sin(2 * math.pi * i / 10))
                for i in range(10)
            )
            self.ops.append((ring, _jitter(rng, (255, 250, 236), 4), _NO_LABEL, _CEILING))

    # ---- bed ----------------------------------------------------------------------

    def _sample_bed(self) -> tuple[float, list[_Op]]:
        """A bed with headboard, mattress, pillows and blanket against the back or a side wall."""
        rng, hw, d = self.rng, self.half_width, self.depth
        label = self.new_label("bed")
        double = rng.random() < 0.7
        width = float(rng.uniform(1.4, 1.8) if double else rng.uniform(0.9, 1.05))
        length = float(rng.uniform(1.95, 2.15))
        base_top = float(rng.uniform(0.26, 0.36))
        mattress_top = base_top + float(rng.uniform(0.18, 0.26))
        head_top = mattress_top + float(rng.uniform(0.35, 0.7))
        head_color = _pick(rng, _HEADBOARD_COLORS) if rng.random() < 0.6 else self.wood_color
        base_color = head_color if rng.random() < 0.7 else self.wood_color
        sheet = _pick(rng, _SHEET_COLORS, 6)
        blanket = _pick(rng, _BLANKET_COLORS)
        pillow = sheet if rng.random() < 0.6 else _mix(blanket, (255, 255, 255), 0.35)
        fold = sheet if rng.random() < 0.5 else _mix(blanket, (0, 0, 0), 0.2)
        throw = _pick(rng, _BLANKET_COLORS) if rng.random() < 0.35 else None
        n_pillows = 2 if double else 1

        # Where: back wall (centred-ish) or along a side wall with the head against it.
        for _ in range(12):
            if rng.random() < 0.65:
                wall = "back"
                lo, hi = -hw + 0.1, hw - 0.1 - width
                if rng.random() < 0.5:
                    s0 = float(rng.uniform(lo, hi))
                else:  # near the middle, as most beds are
                    s0 = float(np.clip(-width / 2 + rng.normal(0, 0.25), lo, hi))
            else:
                wall = "left" if rng.random() < 0.5 else "right"
                lo = max(self.side_visible_z[wall] - 0.3, 1.4)
                hi = d - 0.15 - width
                if hi <= lo:
                    continue
                s0 = float(rng.uniform(lo, hi))
            break
        else:
            wall, s0 = "back", -width / 2
        s1 = s0 + width
        self.wall_used[wall].append((s0 - 0.05, s1 + 0.05, 0.0, head_top))
        self.bed_wall, self.bed_span = wall, (s0, s1)

        ops: list[_Op] = []
        # Work in bed coordinates (across, along-from-head) and map to world boxes.
        def box(
            a0: float, a1: float, l0: float, l1: float, y0: float, y1: float, color: Color,
            shades: tuple[float, float, float] = (1.0, 0.84, 0.7),
        ) -> None:
            if wall == "back":
                x0, x1, z0, z1 = s0 + a0, s0 + a1, d - l1, d - l0
            elif wall == "left":
                x0, x1, z0, z1 = -hw + l0, -hw + l1, s0 + a0, s0 + a1
            else:
                x0, x1, z0, z1 = hw - l1, hw - l0, s0 + a0, s0 + a1
            ops.extend(self.box_ops(x0, x1, y0, y1, z0, z1, color, label, _BED, shades))

        box(-0.04, width + 0.04, 0.0, 0.08, 0.0, head_top, head_color)
        box(0.0, width, 0.08, length, 0.05, base_top, base_color, (1.0, 0.8, 0.66))
        box(0.02, width - 0.02, 0.1, length - 0.02, base_top, mattress_top, sheet, (1.0, 0.9, 0.8))
        p_len = float(rng.uniform(0.35, 0.45))
        gap = 0.06
        p_w = (width - 0.1 - gap * (n_pillows - 1)) / n_pillows
        for i in range(n_pillows):
            a0 = 0.05 + i * (p_w + gap)
            box(a0, a0 + p_w, 0.12, 0.12 + p_len, mattress_top, mattress_top + 0.12, pillow, (1.0, 0.88, 0.78))
        cover_from = 0.12 + p_len + float(rng.uniform(0.02, 0.15))
        hang = base_top - 0.06  # the blanket hangs over the mattress sides
        cloth = (1.0, 0.82, 0.68)
        box(-0.04, width + 0.04, cover_from, length + 0.03, hang, mattress_top + 0.03, blanket, cloth)
        box(-0.045, width + 0.045, cover_from, cover_from + 0.2, hang, mattress_top + 0.045, fold, (1.02, 0.86, 0.72))
        if throw is not None:
            t0 = length - float(rng.uniform(0.35, 0.55))
            box(-0.05, width + 0.05, t0, length + 0.04, hang - 0.04, mattress_top + 0.045, throw, cloth)

        footprint = self.on_wall_footprint(wall, s0 - 0.04, s1 + 0.04, length + 0.04)
        self.floor_used.append(footprint)
        return self.distance_key(footprint), ops

    def _sample_nightstands(self) -> list[tuple[float, list[_Op]]]:
        """Nightstands beside the headboard, sometimes with a bedside lamp."""
        rng = self.rng
        if rng.random() < 0.4:
            return []
        wall, (s0, s1) = self.bed_wall, self.bed_span
        color = self.wood_color if rng.random() < 0.6 else _pick(rng, _WOOD_COLORS + ((232, 230, 224),))
        size = float(rng.uniform(0.4, 0.55))
        top = float(rng.uniform(0.5, 0.65))
        both = rng.random() < 0.6
        lamp_probability = float(rng.uniform(0.3, 0.9))
        sides = [-1, 1] if both else [int(rng.choice([-1, 1]))]
        out = []
        for side in sides:
            a0 = s0 - 0.06 - size if side < 0 else s1 + 0.06
            a1 = a0 + size
            with_lamp = rng.random() < lamp_probability
            y_top = top + (0.55 if with_lamp else 0.0)
            if not self.wall_is_free(wall, a0, a1, 0.0, y_top, margin=0.02):
                continue
            footprint = self.on_wall_footprint(wall, a0, a1, size)
            if not self.floor_is_free(*footprint, margin=0.01):
                continue
            x0, x1, z0, z1 = footprint
            ops = self.box_ops(x0, x1, 0.0, top, z0, z1, color, _OCCLUDER, _NIGHTSTAND)
            # a drawer front and knob on the side facing the room
            ops += self._drawer_front(wall, footprint, top)
            if with_lamp:
                ops += self._table_lamp(x0, x1, z0, z1, top)
            self.wall_used[wall].append((a0, a1, 0.0, y_top))
            self.floor_used.append(footprint)
            out.append((self.distance_key(footprint), ops))
        return out

    def _drawer_front(self, wall: str, footprint: tuple[float, float, float, float], top: float) -> list[_Op]:
        x0, x1, z0, z1 = footprint
        dark = self.lit((40, 32, 26), 1.0)
        y = top * 0.62
        if wall == "back":
            return [(self.facing_quad(x0 + 0.03, x1 - 0.03, y, y + 0.02, z0 - 0.002), dark, _NO_LABEL, _NIGHTSTAND)]
        x = x1 + 0.002 if wall == "left" else x0 - 0.002
        return [(self.side_quad(x, z0 + 0.03, z1 - 0.03, y, y + 0.02), dark, _NO_LABEL, _NIGHTSTAND)]

    def _table_lamp(self, x0: float, x1: float, z0: float, z1: float, top: float) -> list[_Op]:
        rng = self.rng
        label = self.new_label("lamp")
        cx, cz = (x0 + x1) / 2, (z0 + z1) / 2
        base_color = _pick(rng, ((60, 56, 52), (200, 190, 170), (180, 140, 90), (230, 228, 220)))
        shade = _pick(rng, _SHADE_COLORS, 6)
        ops = self.box_ops(cx - 0.05, cx + 0.05, top, top + 0.28, cz - 0.05, cz + 0.05, base_color, label, _LAMP)
        ops += self._lamp_shade(cx, cz - 0.06, top + 0.24, top + 0.52, 0.17, 0.11, shade, label)
        return ops

    @staticmethod
    def _lamp_shade(
        cx: float, cz: float, y0: float, y1: float, r_bottom: float, r_top: float, color: Color, label: int
    ) -> list[_Op]:
        """A glowing lamp shade: a trapezoid facing the camera with a bright lower rim.

        Shades are not dimmed by the room light: the lamp is a light source.
        """
        def trapezoid(bottom: float, top: float, r0: float, r1: float, z: float) -> tuple[Point3, ...]:
            return ((cx - r0, bottom, z), (cx + r0, bottom, z), (cx + r1, top, z), (cx - r1, top, z))

        glow = _mix(color, (255, 255, 240), 0.5)
        return [
            (trapezoid(y0, y1, r_bottom, r_top, cz), color, label, _LAMP),
            (trapezoid(y0, y0 + 0.05, r_bottom, r_bottom * 0.95, cz - 0.001), glow, label, _LAMP),
        ]

    # ---- wall objects ---------------------------------------------------------------

    def _random_wall(self, p_back: float) -> str:
        if self.rng.random() < p_back:
            return "back"
        return "left" if self.rng.random() < 0.5 else "right"

    def _projected_bounds(self, quad: tuple[Point3, ...]) -> tuple[float, float, float, float, float]:
        """Image-fraction bounds (u0, v0, u1, v1) of a wall quad and the shorter of its vertical edges."""
        pts = [self.camera.project(p) for p in quad]
        us, vs = [p[0] for p in pts], [p[1] for p in pts]
        short_edge = min(abs(pts[3][1] - pts[0][1]), abs(pts[2][1] - pts[1][1]))
        return min(us), min(vs), max(us), max(vs), short_edge

    def _window_walls(self) -> tuple[list[str], list[float]]:
        """Walls long enough for a window, weighted towards the back wall and away from walls that have one."""
        walls, weights = [], []
        for wall, weight in (("back", 2.0), ("left", 1.0), ("right", 1.0)):
            lo, hi = self.wall_range(wall)
            if hi - lo < 1.2:
                continue
            if wall in self.window_walls:
                weight *= 0.6
            walls.append(wall)
            weights.append(weight)
        return walls, weights

    def _sample_window(self) -> list[_Op]:
        """A window with sky, frame, mullions and sill, maybe curtains; on the back or a side wall.

        Sizes are drawn so that the window is at least MIN_WINDOW_FRACTION of the image
        in both directions; a window that fits nowhere is left out.
        """
        rng, h = self.rng, self.height
        curtains = rng.random() < 0.5
        curtain_w = float(rng.uniform(0.22, 0.35))
        pad = curtain_w * 0.75 if curtains else 0.0
        walls, weights = self._window_walls()
        if not walls:
            return []
        p = np.asarray(weights) / sum(weights)
        # World size that projects to the minimum on the back wall (side walls are checked below).
        back_min = MIN_WINDOW_FRACTION * self.depth / self.camera.focal + 0.02
        for _ in range(40):
            wall = walls[int(rng.choice(len(walls), p=p))]
            lo, hi = self.wall_range(wall)
            least = max(0.75, back_min) if wall == "back" else 0.75
            width = float(rng.uniform(least, max(1.8, least + 0.4)))
            height = float(rng.uniform(max(0.85, least), max(1.55, least + 0.3)))
            sill = float(rng.uniform(0.7, 1.1))
            if hi - lo < width + 0.2 + 2 * pad:
                continue
            # On side walls prefer the near end, where the window is least foreshortened.
            t = float(rng.random()) ** (1.0 if wall == "back" else 2.0)
            s0 = lo + 0.1 + pad + t * (hi - lo - 0.2 - 2 * pad - width)
            s1 = s0 + width
            # Raise the sill above a headboard or bedside lamp rather than hide the window behind it.
            for a0, a1, b0, b1 in self.wall_used[wall]:
                if a1 > s0 - pad - 0.12 and a0 < s1 + pad + 0.12 and b0 < 0.05 and b1 < 1.5 and sill < b1 + 0.19:
                    sill = b1 + 0.19
            top = min(sill + height, h - 0.12)
            if top - sill < max(0.7, least):
                continue
            if not self.wall_is_free(wall, s0 - pad, s1 + pad, sill - 0.06, top + 0.12):
                continue
            u0, v0, u1, v1, short = self._projected_bounds(self.wall_quad(wall, s0, s1, sill, top))
            if u0 < 0.01 or v0 < 0.01 or u1 > 0.99 or v1 > 0.99:
                continue  # keep the whole window in the picture
            if min(u1 - u0, v1 - v0) < MIN_WINDOW_FRACTION or short < 0.6 * MIN_WINDOW_FRACTION:
                continue
            break
        else:
            return []
        self.wall_used[wall].append((s0 - pad, s1 + pad, sill - 0.06, top + 0.12))
        self.window_walls.append(wall)
        return self._window_ops(wall, s0, s1, sill, top, curtains, curtain_w)

    def _window_ops(
        self, wall: str, s0: float, s1: float, y0: float, y1: float, curtains: bool, curtain_w: float
    ) -> list[_Op]:
        rng = self.rng
        label = self.new_label(WINDOW)
        q = self.wall_quad
        frame_color = _pick(rng, _FRAME_COLORS, 6)
        frame_k = 1.0 if wall == "back" else 0.88
        frame = float(rng.uniform(0.05, 0.08))
        bar = float(rng.uniform(0.035, 0.055))
        cols = int(rng.choice([1, 2, 2, 3]))
        rows = int(rng.choice([1, 2])) if cols > 1 else 2
        ops: list[_Op] = [(q(wall, s0, s1, y0, y1, 0.002), self.lit(frame_color, frame_k), label, _WINDOW)]

        # Sky: a vertical gradient in bands, sometimes clouds, a sun glow or a far horizon.
        ps0, ps1, py0, py1 = s0 + frame, s1 - frame, y0 + frame, y1 - frame
        sunset = rng.random() < 0.07
        sky_top, sky_low = _SUNSET_SKY if sunset else _DAY_SKIES[int(rng.integers(len(_DAY_SKIES)))]
        sky_top, sky_low = _jitter(rng, sky_top, 8), _jitter(rng, sky_low, 6)
        n_bands = 5
        for i in range(n_bands):
            a, b = py1 - (py1 - py0) * i / n_bands, py1 - (py1 - py0) * (i + 1) / n_bands
            t = i / (n_bands - 1)
            if sunset:  # blue above, the warm glow only near the horizon
                t = t**3
            ops.append((q(wall, ps0, ps1, b, a, 0.003), _mix(sky_top, sky_low, t), _NO_LABEL, _WINDOW))
        pw, ph = ps1 - ps0, py1 - py0
        for _ in range(int(rng.choice([0, 0, 1, 2]))):
            cw, ch = pw * float(rng.uniform(0.2, 0.4)), ph * float(rng.uniform(0.06, 0.12))
            cs = ps0 + float(rng.uniform(0, pw - cw))
            cy = py0 + ph * float(rng.uniform(0.5, 0.85))
            cloud = _jitter(rng, (240, 244, 250), 4)
            ops.append((q(wall, cs, cs + cw, cy, cy + ch, 0.004), cloud, _NO_LABEL, _WINDOW))
            puff = q(wall, cs + cw * 0.25, cs + cw * 0.75, cy + ch * 0.8, cy + ch * 1.6, 0.004)
            ops.append((puff, cloud, _NO_LABEL, _WINDOW))
        scenery = rng.random()
        if scenery < 0.2:  # trees on the horizon
            green = _pick(rng, ((70, 110, 60), (50, 90, 56), (96, 120, 70)), 8)
            ops.append((q(wall, ps0, ps1, py0, py0 + ph * 0.12, 0.004), green, _NO_LABEL, _WINDOW))
            s = ps0
            while s < ps1 - 1e-6:
                tw = pw * float(rng.uniform(0.12, 0.25))
                tree_top = py0 + ph * float(rng.uniform(0.15, 0.28))
                ops.append((q(wall, s, min(ps1, s + tw), py0, tree_top, 0.004), _jitter(rng, green, 8), _NO_LABEL, _WINDOW))
                s += tw
        elif scenery < 0.32:  # far buildings
            s = ps0
            while s < ps1 - 1e-6:
                tw = pw * float(rng.uniform(0.1, 0.22))
                grey = _jitter(rng, (150, 150, 156), 12)
                roof = py0 + ph * float(rng.uniform(0.1, 0.3))
                ops.append((q(wall, s, min(ps1, s + tw), py0, roof, 0.004), grey, _NO_LABEL, _WINDOW))
                s += tw * float(rng.uniform(1.0, 1.4))

        # Mullions (vertical and horizontal glazing bars), then the sill.
        bar_color = self.lit(frame_color, frame_k * 0.96)
        for c in range(1, cols):
            s = ps0 + pw * c / cols
            ops.append((q(wall, s - bar / 2, s + bar / 2, py0, py1, 0.005), bar_color, _NO_LABEL, _WINDOW))
        for r in range(1, rows):
            y = py0 + ph * r / rows
            ops.append((q(wall, ps0, ps1, y - bar / 2, y + bar / 2, 0.005), bar_color, _NO_LABEL, _WINDOW))
        sill = q(wall, s0 - 0.07, s1 + 0.07, y0 - 0.07, y0 + 0.01, 0.006)
        ops.append((sill, self.lit(frame_color, frame_k * 1.05), label, _WINDOW))

        if curtains:
            color = _pick(rng, _CURTAIN_COLORS)
            k = 1.0 if wall == "back" else 0.86
            drop = float(rng.uniform(0.0, y0 - 0.12)) if rng.random() < 0.6 else y0 - 0.25
            overlap = curtain_w * float(rng.uniform(0.1, 0.3))
            top = y1 + 0.1
            rod = q(wall, s0 - curtain_w * 0.8, s1 + curtain_w * 0.8, top, top + 0.03, 0.01)
            ops.append((rod, self.lit((60, 56, 52)), _OCCLUDER, _CURTAIN))
            for a0 in (s0 - curtain_w + overlap, s1 - overlap):
                ops.append((q(wall, a0, a0 + curtain_w, drop, top, 0.008), self.lit(color, k), _OCCLUDER, _CURTAIN))
                for f in (0.3, 0.7):  # folds
                    fs = a0 + curtain_w * f
                    fold = q(wall, fs - 0.02, fs + 0.02, drop, top, 0.009)
                    ops.append((fold, self.lit(color, k * 0.82), _OCCLUDER, _CURTAIN))
        return ops

    def _sample_door(self) -> list[_Op]:
        """A panelled door with casing and a knob."""
        rng = self.rng
        width, height = float(rng.uniform(0.8, 0.95)), float(rng.uniform(1.95, 2.1))
        for _ in range(15):
            wall = self._random_wall(0.4)
            lo, hi = self.wall_range(wall)
            if hi - lo < width + 0.4:
                continue
            s0 = float(rng.uniform(lo + 0.1, hi - width - 0.1))
            if self.wall_is_free(wall, s0 - 0.1, s0 + width + 0.1, 0.0, height + 0.1):
                break
        else:
            return []
        s1 = s0 + width
        self.wall_used[wall].append((s0 - 0.1, s1 + 0.1, 0.0, height + 0.1))
        label = self.new_label("door")
        k = 1.0 if wall == "back" else 0.85
        door = _pick(rng, ((236, 234, 228), (226, 222, 212)) + _WOOD_COLORS)
        q = self.wall_quad
        ops: list[_Op] = [
            (q(wall, s0 - 0.08, s1 + 0.08, 0.0, height + 0.08, 0.002), self.lit(self.trim_color, k * 1.02), label, _DOOR),
            (q(wall, s0, s1, 0.0, height, 0.003), self.lit(door, k), label, _DOOR),
        ]
        panel = self.lit(door, k * 0.86)
        inset = 0.12
        if rng.random() < 0.6:  # two tall panels or four
            split = height * 0.55
            for a, b in ((inset, split - 0.06), (split + 0.06, height - inset)):
                ops.append((q(wall, s0 + inset, s1 - inset, a, b, 0.004), panel, _NO_LABEL, _DOOR))
        else:
            mid = (s0 + s1) / 2
            for a, b in ((inset, height * 0.45), (height * 0.52, height - inset)):
                ops.append((q(wall, s0 + inset, mid - 0.04, a, b, 0.004), panel, _NO_LABEL, _DOOR))
                ops.append((q(wall, mid + 0.04, s1 - inset, a, b, 0.004), panel, _NO_LABEL, _DOOR))
        knob_s = s1 - 0.1 if rng.random() < 0.5 else s0 + 0.06
        knob = _pick(rng, ((200, 170, 90), (60, 58, 56), (190, 190, 186)), 6)
        knob_y = height * 0.47
        ops.append((q(wall, knob_s, knob_s + 0.05, knob_y, knob_y + 0.05, 0.005), self.lit(knob, k), _NO_LABEL, _DOOR))
        return ops

    def _sample_picture(self) -> list[_Op]:
        """A framed abstract picture; warm colours only, so it never looks like a window."""
        rng = self.rng
        width, height = float(rng.uniform(0.5, 1.1)), float(rng.uniform(0.4, 0.8))
        bed_wall, (b0, b1) = self.bed_wall, self.bed_span
        for attempt in range(15):
            if attempt < 5 and rng.random() < 0.6:  # above the bed is the classic spot
                wall = bed_wall
                mid = (b0 + b1) / 2 + float(rng.normal(0, 0.1))
                s0 = mid - width / 2
            else:
                wall = self._random_wall(0.5)
                lo, hi = self.wall_range(wall)
                if hi - lo < width + 0.3:
                    continue
                s0 = float(rng.uniform(lo + 0.1, hi - width - 0.1))
            y0 = float(rng.uniform(1.35, 1.7))
            y1 = min(y0 + height, self.height - 0.2)
            if y1 - y0 < 0.3:
                continue
            if self.wall_is_free(wall, s0, s0 + width, y0, y1, margin=0.08):
                break
        else:
            return []
        s1 = s0 + width
        self.wall_used[wall].append((s0, s1, y0, y1))
        label = self.new_label("picture")
        k = 1.0 if wall == "back" else 0.86
        q = self.wall_quad
        border = float(rng.uniform(0.03, 0.06))
        ops: list[_Op] = [(q(wall, s0, s1, y0, y1, 0.002), self.lit(_pick(rng, _PICTURE_FRAME_COLORS, 6), k), label, _PICTURE)]
        mat = rng.random() < 0.4
        inner = border + (0.05 if mat else 0.0)
        if mat:
            mat_quad = q(wall, s0 + border, s1 - border, y0 + border, y1 - border, 0.003)
            ops.append((mat_quad, self.lit((236, 232, 222), k), _NO_LABEL, _PICTURE))
        a0, a1, c0, c1 = s0 + inner, s1 - inner, y0 + inner, y1 - inner
        ops.append((q(wall, a0, a1, c0, c1, 0.004), self.lit(_pick(rng, _ART_COLORS), k), _NO_LABEL, _PICTURE))
        for _ in range(int(rng.integers(1, 4))):  # a few blocks of colour
            u0, u1 = sorted(rng.uniform(0, 1, 2))
            v0, v1 = sorted(rng.uniform(0, 1, 2))
            block = q(wall, a0 + (a1 - a0) * u0, a0 + (a1 - a0) * u1, c0 + (c1 - c0) * v0, c0 + (c1 - c0) * v1, 0.005)
            ops.append((block, self.lit(_pick(rng, _ART_COLORS), k), _NO_LABEL, _PICTURE))
        return ops

    # ---- floor furniture -----------------------------------------------------------

    def _sample_wardrobe(self) -> list[tuple[float, list[_Op]]]:
        rng = self.rng
        width, height = float(rng.uniform(0.9, 1.5)), float(rng.uniform(1.9, 2.2))
        depth = float(rng.uniform(0.5, 0.65))
        for _ in range(10):
            wall = self._random_wall(0.4)
            lo, hi = self.wall_range(wall)
            if hi - lo < width + 0.3:
                continue
            s0 = float(rng.uniform(lo + 0.05, hi - width - 0.05))
            footprint = self.on_wall_footprint(wall, s0, s0 + width, depth)
            if self.wall_is_free(wall, s0, s0 + width, 0.0, height) and self.floor_is_free(*footprint):
                break
        else:
            return []
        self.wall_used[wall].append((s0, s0 + width, 0.0, height))
        self.floor_used.append(footprint)
        color = self.wood_color if rng.random() < 0.5 else _pick(rng, _WOOD_COLORS + ((234, 232, 226),))
        x0, x1, z0, z1 = footprint
        ops = self.box_ops(x0, x1, 0.0, height, z0, z1, color, _OCCLUDER, _WARDROBE, (1.0, 0.86, 0.72))
        line = self.lit(color, 0.55)
        if wall == "back":  # door gap and handles on the front face
            xm = (x0 + x1) / 2
            ops.append((self.facing_quad(xm - 0.01, xm + 0.01, 0.05, height - 0.05, z0 - 0.002), line, _NO_LABEL, _WARDROBE))
            for hx in (xm - 0.08, xm + 0.05):
                ops.append((self.facing_quad(hx, hx + 0.03, 0.95, 1.2, z0 - 0.003), line, _NO_LABEL, _WARDROBE))
        else:
            x = x1 + 0.002 if wall == "left" else x0 - 0.002
            zm = (z0 + z1) / 2
            ops.append((self.side_quad(x, zm - 0.01, zm + 0.01, 0.05, height - 0.05), line, _NO_LABEL, _WARDROBE))
        return [(self.distance_key(footprint), ops)]

    def _sample_floor_lamp(self) -> list[tuple[float, list[_Op]]]:
        """A floor lamp in a back corner, along a side wall or beside the head of the bed."""
        rng, hw, d, cam = self.rng, self.half_width, self.depth, self.camera
        height = float(rng.uniform(1.4, 1.7))
        bed_wall, (b0, b1) = self.bed_wall, self.bed_span
        for _ in range(12):
            spot = int(rng.integers(3))
            side = float(rng.choice([-1.0, 1.0]))
            if spot == 0:
                x, z = side * (hw - 0.35), d - 0.35
            elif spot == 1:
                lo = max(self.side_visible_z["left" if side < 0 else "right"], 1.5)
                x, z = side * (hw - 0.32), float(rng.uniform(lo, max(lo, d - 0.35)))
            elif bed_wall == "back":
                x, z = (b0 - 0.4 if side < 0 else b1 + 0.4), d - 0.35
            else:
                x = -hw + 0.35 if bed_wall == "left" else hw - 0.35
                z = b0 - 0.4 if side < 0 else b1 + 0.4
            u_foot, v_foot = cam.project((x, 0.0, z))
            if not (0.06 < u_foot < 0.94 and v_foot < 0.98):
                continue
            if self.floor_is_free(x - 0.2, x + 0.2, z - 0.2, z + 0.2, margin=0.05):
                break
        else:
            return []
        footprint = (x - 0.2, x + 0.2, z - 0.2, z + 0.2)
        self.floor_used.append(footprint)
        label = self.new_label("lamp")
        metal = _pick(rng, ((50, 48, 46), (190, 170, 120), (200, 200, 196)), 6)
        shade = _pick(rng, _SHADE_COLORS, 6)
        ops = self.box_ops(x - 0.16, x + 0.16, 0.0, 0.04, z - 0.16, z + 0.16, metal, label, _LAMP)
        ops += self.box_ops(x - 0.02, x + 0.02, 0.04, height - 0.3, z - 0.02, z + 0.02, metal, label, _LAMP)
        ops += self._lamp_shade(x, z - 0.05, height - 0.38, height, 0.25, 0.16, shade, label)
        return [(self.distance_key(footprint), ops)]

    def _sample_rug(self) -> list[_Op]:
        """A bordered rug in front of the bed, partly under it."""
        rng, hw, d = self.rng, self.half_width, self.depth
        wall, (s0, s1) = self.bed_wall, self.bed_span
        along = float(rng.uniform(1.2, 2.0))
        across = (s1 - s0) + float(rng.uniform(0.4, 1.0))
        mid = (s0 + s1) / 2
        if wall == "back":
            z1 = d - float(rng.uniform(0.6, 1.3))
            x0, x1, z0 = mid - across / 2, mid + across / 2, z1 - along
        else:
            depth_in = float(rng.uniform(0.6, 1.3))
            if wall == "left":
                x0 = -hw + depth_in
                x1 = x0 + along
            else:
                x1 = hw - depth_in
                x0 = x1 - along
            z0, z1 = mid - across / 2, mid + across / 2
        x0, x1 = max(x0, -hw + 0.05), min(x1, hw - 0.05)
        z1 = min(z1, d - 0.05)
        if z0 < self.floor_visible_z * 0.7 or x1 - x0 < 0.5:
            return []
        label = self.new_label("rug")
        main = _pick(rng, _CARPET_COLORS + ((150, 60, 50), (60, 70, 90), (200, 170, 110), (90, 110, 80)))
        border_color = _mix(main, (0, 0, 0) if rng.random() < 0.5 else (255, 250, 240), float(rng.uniform(0.3, 0.5)))
        b = float(rng.uniform(0.08, 0.15))
        ops: list[_Op] = [
            (self.floor_quad(x0, x1, z0, z1, 0.002), self.lit(border_color, 0.95), label, _RUG),
            (self.floor_quad(x0 + b, x1 - b, z0 + b, z1 - b, 0.003), self.lit(main, 0.95), _NO_LABEL, _RUG),
        ]
        if rng.random() < 0.5:  # stripes across the rug
            stripe = self.lit(border_color, 0.95)
            n = int(rng.integers(2, 5))
            for i in range(1, n + 1):
                z = z0 + (z1 - z0) * i / (n + 1)
                ops.append((self.floor_quad(x0 + b, x1 - b, z - 0.03, z + 0.03, 0.004), stripe, _NO_LABEL, _RUG))
        return ops


# --------------------------------------------------------------------------- drawing


def _clip_near(points: tuple[Point3, ...]) -> list[Point3]:
    """Cut a polygon at the near plane so walls reaching behind the camera still project."""
    out: list[Point3] = []
    n = len(points)
    for i in range(n):
        a, b = points[i], points[(i + 1) % n]
        a_in, b_in = a[2] >= _NEAR_Z, b[2] >= _NEAR_Z
        if a_in:
            out.append(a)
        if a_in != b_in:
            t = (_NEAR_Z - a[2]) / (b[2] - a[2])
            out.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), _NEAR_Z))
    return out


def _supersampling(image_size: int) -> int:
    """Drawing scale: enough for smooth edges, small enough for the ~3 ms budget at 64 px."""
    return max(2, min(4, -(-160 // image_size)))


@lru_cache(maxsize=8)
def _radial(image_size: int) -> np.ndarray:
    """Squared distance from the image centre, 0 in the middle and about 1 in the corners."""
    c = (np.arange(image_size, dtype=np.float32) + 0.5) / image_size - 0.5
    return (c[None, :] ** 2 + c[:, None] ** 2) * 2.0


def _draw(scene: _Scene, image_size: int, label_map: bool = False) -> Room:
    """Rasterise a scene: polygons at `_supersampling` x the size, box-filtered down.

    A second, label image receives the object polygons (and occluders) in the same
    order, so each box is the extent of what is actually visible of its object. With
    `label_map`, a third receives every polygon's class, reduced to the block mode.
    """
    ss = _supersampling(image_size)
    side = image_size * ss
    image = Image.new("RGB", (side, side))
    labels = Image.new("L", (side, side), 0)
    draw, label_draw = ImageDraw.Draw(image), ImageDraw.Draw(labels)
    classes = Image.new("L", (side, side), _WALL) if label_map else None
    class_draw = ImageDraw.Draw(classes) if classes is not None else None
    cx, cy, f, u0, v0 = scene.camera.x, scene.camera.y, scene.camera.focal, scene.camera.u0, scene.camera.v0
    for points, color, label, part in scene.ops:
        if min(p[2] for p in points) < _NEAR_Z:
            points = tuple(_clip_near(points))
            if len(points) < 3:
                continue
        xy = [((u0 + (x - cx) * f / z) * side, (v0 - (y - cy) * f / z) * side) for x, y, z in points]
        draw.polygon(xy, fill=color)
        if label != _NO_LABEL:
            label_draw.polygon(xy, fill=label)
        if class_draw is not None and part != _INHERIT:
            class_draw.polygon(xy, fill=part)

    small = image.reduce(ss) if ss > 1 else image
    pixels = np.asarray(small, dtype=np.float32)
    pixels = pixels * (1.0 - scene.vignette * _radial(image_size))[:, :, None]
    rgb = np.clip(pixels + 0.5, 0, 255).astype(np.uint8)

    boxes: dict[str, list[Box]] = {name: [] for name in OBJECT_NAMES}
    label_array = np.asarray(labels)
    counts = labels.histogram()
    min_count = MIN_VISIBLE_FRACTION * side * side
    half = ss // 2
    for label_id, name in enumerate(scene.labels, start=1):
        if counts[label_id] < min_count:
            continue
        mask = label_array == label_id
        cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
        # A pixel belongs to the box when at least about half of it is covered.
        x0, x1 = (int(cols[0]) + half) // ss, (int(cols[-1]) + 1 + half) // ss
        y0, y1 = (int(rows[0]) + half) // ss, (int(rows[-1]) + 1 + half) // ss
        if x1 > x0 and y1 > y0:
            boxes[name].append((x0, y0, x1, y1))
    classes_small = block_mode(np.asarray(classes), ss, len(ROOM_CLASSES)) if classes is not None else None
    return Room(image=rgb, boxes=boxes, label_map=classes_small)


def render_room(seed: int, image_size: int = 64, *, label_map: bool = False) -> Room:
    """Render the bedroom for `seed` at `image_size` x `image_size` pixels.

    Deterministic, and the layout depends on the seed alone, so boxes at 128 px
    are twice those at 64 px (within rounding). With `label_map=True` the room also
    carries a uint8 (H, W) map of ROOM_CLASSES indices; the image is the same either way.

    Example:
        room = render_room(3, 64, label_map=True)
        window_pixels = room.label_map == ROOM_CLASSES.index("window")
    """
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16, got {image_size}")
    return _draw(_Scene(np.random.default_rng(seed)), image_size, label_map)


def render_rooms_with_labels(n: int, seed: int = 0, image_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Items 0..n-1 of RoomsDataset(seed=seed): uint8 (n, 3, S, S) images and uint8 (n, S, S) label maps.

    The images are those the data set trains on; label values index ROOM_CLASSES.
    """
    ds = RoomsDataset(image_size=image_size, length=n, seed=seed)
    return stack_with_labels(lambda i: ds.room(i, label_map=True), n, image_size)


class RoomsDataset(Dataset):
    """`length` procedural bedrooms as DCGAN training tensors in [-1, 1].

    Item `i` is rendered from `seed_of(i)`, so the data set needs no storage and
    data sets built with different `seed`s never share a room.
    """

    _SEED_STRIDE = 1_000_003  # larger than any length, so seed ranges never overlap

    def __init__(self, image_size: int = 64, length: int = 50_000, seed: int = 0) -> None:
        if image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {image_size}")
        if not 0 <= length <= self._SEED_STRIDE:
            raise ValueError(f"length must be in [0, {self._SEED_STRIDE}], got {length}")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.image_size = image_size
        self.length = length
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def _index(self, i: int) -> int:
        """`i` as a position in [0, length); negative indices count from the end, as for lists."""
        index = int(i) + self.length if int(i) < 0 else int(i)
        if not 0 <= index < self.length:
            raise IndexError(f"index {i} out of range for RoomsDataset of length {self.length}")
        return index

    def seed_of(self, i: int) -> int:
        """The render seed behind item `i`: seed * 1_000_003 + i, unique across data set seeds."""
        return self.seed * self._SEED_STRIDE + self._index(i)

    def room(self, i: int, label_map: bool = False) -> Room:
        """The full sample behind item `i`: the uint8 image, its object boxes and, if asked, its label map."""
        return render_room(self.seed_of(i), self.image_size, label_map=label_map)

    def __getitem__(self, i: int) -> torch.Tensor:
        image = self.room(i).image
        return pixels_to_unit(torch.from_numpy(image).permute(2, 0, 1).contiguous())
