"""Window boxes in COCO JSON, the format other annotation tools (CVAT, Label Studio, labelme converters) read and write.

Export: each annotated pool image is a COCO image named `NAME_seedS_IIIII.png` (the file the
generated picture would have), with what makes it reproducible in its `extra` field: pool seed and
index, its z, the model's fingerprint, and whether it was looked at and found empty (`no_object`) or
annotated by the instrument (`source`). Boxes are COCO `bbox` = [x, y, width, height] in pixels of
the model's own image (32, 64 or 128 px: `model.image_size`); the category is the object.

Annotators: a pool image appears once however many people annotated it. Each box names who drew
it in `attributes.annotator` (where CVAT keeps a box's attributes), and the image's
`extra.annotators` lists every annotator's record of it ({annotator, source, no_object}), so a
person who found no object there comes back too. `extra.annotator`, `no_object` and `source`
describe the first record, as files written before annotators were recorded did. On import a box
without `attributes.annotator` belongs to the image's `extra.annotator`, else to "instrument" when
`extra.source` says so, else to "anonymous" (`annotations.DEFAULT_ANNOTATOR`).

Import takes our own exports (checked against the weights in use, like the JSON format), and COCO
files from other tools whose image names follow the same pattern: seed and index come from the
name and z is regenerated from them (`annotations.pool_z`), so a tool that only saw the PNGs can
give its boxes back. Images listed without a box of the object count as "looked at, none here".

    coco = to_coco(store.load(identity, "window"), model_name="rooms")
    notes = from_coco(coco, identity, "window", config)      # AnnotationError (one line) when unusable
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ..models import ModelConfig
from .annotations import (
    DEFAULT_ANNOTATOR, IMAGE_SIZE, INSTRUMENT, MAX_IMPORT_BYTES, POOL_MAX, Annotation, AnnotationError,
    AnnotationSet, make_annotation, pool_z, valid_annotator_name,
)
from .user_data import ModelIdentity, parse_json, safe_name

FILE_NAME = re.compile(r"(?:.*[/\\])?(?:[A-Za-z0-9_-]*_)?seed(\d+)_(\d+)\.(?:png|jpe?g|webp)$", re.IGNORECASE)


def image_file_name(model_name: str, seed: int, index: int) -> str:
    """The name a pool image goes by in COCO files: NAME_seedS_IIIII.png."""
    return f"{safe_name(model_name, 'model')}_seed{seed}_{index:05d}.png"


def to_coco(notes: AnnotationSet, model_name: str | None = None) -> dict:
    """The annotations as a COCO detection dict (one category: the object)."""
    name = model_name or notes.model.name
    size = notes.model.image_size or IMAGE_SIZE  # an identity that records no size: the instruments' 64 px
    images, boxes = [], []
    by_image: dict[tuple[int, int], list[Annotation]] = {}
    for a in notes.images:  # records in (seed, index, annotator) order: an image's records follow each other
        by_image.setdefault(a.key, []).append(a)
    for image_id, records in enumerate(by_image.values(), start=1):
        a = records[0]
        images.append({
            "id": image_id, "file_name": image_file_name(name, a.seed, a.index), "width": size, "height": size,
            "extra": {"seed": a.seed, "index": a.index, "z": list(a.z), "model_fingerprint": notes.model.fingerprint,
                      "no_object": a.no_object, "source": a.source, "annotator": a.annotator,
                      "annotators": [{"annotator": r.annotator, "source": r.source, "no_object": r.no_object}
                                     for r in records]},
        })
        for r in records:
            for x0, y0, x1, y1 in r.boxes:
                w, h = round(x1 - x0, 4), round(y1 - y0, 4)
                boxes.append({"id": len(boxes) + 1, "image_id": image_id, "category_id": 1, "bbox": [x0, y0, w, h],
                              "area": round(w * h, 4), "iscrowd": 0, "attributes": {"annotator": r.annotator}})
    return {
        "info": {"description": f"{notes.object_name} boxes on generated images of {notes.model.describe()}",
                 "model": notes.model.to_dict(), "object": notes.object_name},
        "images": images,
        "annotations": boxes,
        "categories": [{"id": 1, "name": notes.object_name, "supercategory": "object"}],
    }


def to_coco_json(notes: AnnotationSet, model_name: str | None = None) -> str:
    return json.dumps(to_coco(notes, model_name), indent=1) + "\n"


def _category_id(categories, object_name: str, where: str) -> int:
    if not isinstance(categories, list) or not all(isinstance(c, Mapping) for c in categories):
        raise AnnotationError(f"{where}: 'categories' must be a list of {{id, name}} objects")
    matching = [c.get("id") for c in categories if c.get("name") == object_name]
    if not matching:
        names = ", ".join(repr(c.get("name")) for c in categories) or "none"
        raise AnnotationError(f"{where} has no category named {object_name!r} (it has {names}): set the object to one of them")
    return matching[0]


def _image_key(image: Mapping, where: str) -> tuple[int, int, Mapping]:
    """(seed, index, extra) of a COCO image: from our `extra` fields, else from its file name."""
    extra = image.get("extra") if isinstance(image.get("extra"), Mapping) else {}
    seed, index = extra.get("seed"), extra.get("index")
    if seed is None or index is None:
        m = FILE_NAME.match(str(image.get("file_name", "")))
        if m is None:
            raise AnnotationError(
                f"{where}: image {image.get('file_name')!r} is not a pool image (names look like rooms_seed0_00012.png, "
                "as the export writes them)")
        seed, index = int(m.group(1)), int(m.group(2))
    if not (isinstance(seed, int) and isinstance(index, int) and seed >= 0 and 0 <= index < POOL_MAX):
        raise AnnotationError(f"{where}: image {image.get('file_name')!r} has seed {seed!r} and index {index!r} "
                              f"(need seed >= 0 and 0 <= index < {POOL_MAX})")
    return seed, index, extra


def from_coco(data, model: ModelIdentity, object_name: str, config: ModelConfig, where: str = "the file") -> AnnotationSet:
    """The `object_name` boxes of a COCO dict as annotations of `model` (AnnotationError, one line, when unusable).

    Images exported for other weights (their `extra.model_fingerprint`) are refused; images from other
    tools get their z from the pool (`config` is the model's). Boxes are clipped to the image.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
        raise AnnotationError(f"{where} is not a COCO file (it needs 'images', 'annotations' and 'categories' lists)")
    category = _category_id(data.get("categories"), object_name, where)
    pool_size = config.image_size  # boxes are in pixels of the model's own images
    by_id: dict = {}
    for image in data["images"]:
        if not isinstance(image, Mapping) or "id" not in image:
            raise AnnotationError(f"{where}: every image needs an 'id'")
        seed, index, extra = _image_key(image, where)
        fingerprint = extra.get("model_fingerprint")
        if fingerprint is not None and fingerprint != model.fingerprint:
            raise AnnotationError(
                f"{where}: image {image.get('file_name')!r} was exported from other weights ({str(fingerprint)[:12]}), not "
                f"{model.describe()}: annotations only apply to the weights they were drawn on")
        size = (image.get("width", pool_size), image.get("height", pool_size))
        if size != (pool_size, pool_size):
            raise AnnotationError(f"{where}: image {image.get('file_name')!r} is {size[0]}x{size[1]}; pool images are "
                                  f"{pool_size}x{pool_size} (the size {model.name} draws)")
        by_id[image["id"]] = (seed, index, extra, {})  # annotator -> boxes
    for box in data["annotations"]:
        if not isinstance(box, Mapping) or box.get("category_id") != category:
            continue
        if box.get("image_id") not in by_id:
            raise AnnotationError(f"{where}: box {box.get('id')!r} is on image {box.get('image_id')!r}, which is not listed")
        b = box.get("bbox")
        if not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)
                and b[2] > 0 and b[3] > 0):
            raise AnnotationError(f"{where}: box {box.get('id')!r} has bbox {b!r}; COCO boxes are [x, y, width, height]")
        x, y, w, h = (float(v) for v in b)
        seed, index, extra, boxes = by_id[box["image_id"]]
        attributes = box.get("attributes") if isinstance(box.get("attributes"), Mapping) else {}
        who = _annotator(attributes.get("annotator") or _image_annotator(extra), where, f"box {box.get('id')!r}")
        boxes.setdefault(who, []).append((x, y, x + w, y + h))
    seen: set[tuple[int, int]] = set()
    images: list[Annotation] = []
    for seed, index, extra, boxes in by_id.values():
        if (seed, index) in seen:
            raise AnnotationError(f"{where}: seed {seed} #{index} is listed twice")
        seen.add((seed, index))
        z = extra.get("z")
        if z is None or len(z) != model.nz:
            z = pool_z(config, seed, [index])[0]
        listed = extra.get("annotators") if isinstance(extra.get("annotators"), list) else []
        names = [_annotator(r.get("annotator"), where, f"image {seed} #{index}") for r in listed if isinstance(r, Mapping)]
        names = list(dict.fromkeys([*names, *boxes])) or [_annotator(_image_annotator(extra), where, f"image {seed} #{index}")]
        for who in names:  # an annotator listed without a box of the object: looked at, none there
            images.append(make_annotation(seed, index, z, boxes.get(who, ()), no_object=not boxes.get(who),
                                          source="instrument" if who == INSTRUMENT else "hand", image_size=pool_size,
                                          annotator=who))
    return AnnotationSet(model=model, object_name=object_name, images=tuple(images))


def _image_annotator(extra: Mapping) -> str:
    """Who an image's boxes belong to when a box does not say: `extra.annotator`, else the instrument for an
    instrument-made export, else DEFAULT_ANNOTATOR."""
    if extra.get("annotator"):
        return extra["annotator"]
    return INSTRUMENT if extra.get("source") == "instrument" else DEFAULT_ANNOTATOR


def _annotator(name, where: str, what: str) -> str:
    if not valid_annotator_name(name):
        raise AnnotationError(f"{where}: {what} has annotator {json.dumps(name)[:80]}; names are 1-64 printable characters "
                              "without leading or trailing spaces")
    return name


def read_annotations_file(text: str | bytes, model: ModelIdentity, object_name: str, config: ModelConfig,
                          where: str = "the file") -> AnnotationSet:
    """An uploaded annotations file in either format, told apart by its content: ours (its format tag) or COCO."""
    if len(text) > MAX_IMPORT_BYTES:
        raise AnnotationError(f"{where} is too large ({len(text):,} bytes; at most {MAX_IMPORT_BYTES:,})")
    data = parse_json(text, where, "an annotations file", AnnotationError, not_json="is not valid JSON")
    if isinstance(data, Mapping) and "format" in data:
        return AnnotationSet.from_dict(data, expect_model=model, expect_object=object_name, where=where)
    return coco_from_json(text, model, object_name, config, where)


def coco_from_json(text: str | bytes, model: ModelIdentity, object_name: str, config: ModelConfig,
                   where: str = "the file") -> AnnotationSet:
    """Parse a COCO JSON upload (size-checked like the JSON format's imports) into annotations of `model`."""
    if len(text) > MAX_IMPORT_BYTES:
        raise AnnotationError(f"{where} is too large ({len(text):,} bytes; at most {MAX_IMPORT_BYTES:,})")
    data = parse_json(text, where, "a COCO file", AnnotationError, not_json="is not valid JSON")
    try:
        return from_coco(data, model, object_name, config, where)
    except AnnotationError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError) as e:
        raise AnnotationError(f"{where} is not a valid COCO file ({type(e).__name__}: {str(e)[:200]})") from None
