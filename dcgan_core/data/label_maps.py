"""Per-pixel class maps for the procedural data sets, at the resolution of their images.

The renderers draw at a few times the output size and box-filter down, so an output pixel
averages a block of `factor` x `factor` drawn samples (the RGB of an edge pixel is a blend).
Its class is the *mode* of the same block in a class canvas drawn with the same polygons in
the same order: the object that covers most of the pixel after occlusion, i.e. the one that
contributes most to its colour. (The pixel centre is no better defined: with an even factor
it falls between samples.) Ties go to the higher class index; the class lists put the large
background surfaces first and small parts last, so thin parts are not eroded by ties.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def block_mode(fine: np.ndarray, factor: int, n_classes: int) -> np.ndarray:
    """uint8 (H/factor, W/factor): the most frequent class of each factor x factor block of `fine`.

    Args:
        fine: uint8 (H, W) class indices in [0, n_classes), H and W multiples of `factor`.
        factor: the supersampling factor the image was box-filtered down by.
        n_classes: number of classes; ties go to the highest index among the tied.
    """
    h, w = fine.shape[0] // factor, fine.shape[1] // factor
    if factor == 1:
        return np.ascontiguousarray(fine, dtype=np.uint8)
    blocks = fine.reshape(h, factor, w, factor).transpose(0, 2, 1, 3).reshape(h * w, factor * factor)
    keys = (np.arange(h * w, dtype=np.int64)[:, None] * n_classes + blocks).ravel()
    counts = np.bincount(keys, minlength=h * w * n_classes).reshape(h * w, n_classes)
    # argmax takes the first maximum; reversing the class axis makes that the highest index.
    mode = n_classes - 1 - counts[:, ::-1].argmax(axis=1)
    return mode.astype(np.uint8).reshape(h, w)


def stack_with_labels(render: Callable[[int], object], n: int, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 3, S, S) images and uint8 (n, S, S) label maps of items 0..n-1, `render(i)` giving one
    item with `.image` (S, S, 3) and `.label_map` (S, S)."""
    images = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    maps = np.empty((n, image_size, image_size), dtype=np.uint8)
    for i in range(n):
        item = render(i)
        images[i] = item.image.transpose(2, 0, 1)
        maps[i] = item.label_map
    return images, maps
