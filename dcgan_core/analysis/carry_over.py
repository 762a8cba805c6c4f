"""Annotations carried to another checkpoint of the same run, as suggestions (issue 24: formats).

Annotations belong to the weights they were drawn on (`annotations` module): after more training the
same z draws another picture, so boxes cannot simply be reused. But the pool's codes are the same for
every checkpoint of a run (sample i of seed s is `pool_z(config, s)[i]`), so the images can be drawn
again from their z with the new weights and the old boxes offered on them, to accept, fix or drop.
Nothing is saved for the new weights until a person says so.

    from dcgan_core.analysis.carry_over import earlier_annotations, suggestions

    older = earlier_annotations(store, identity, "window")  # other weights of this model, latest step first
    hint = suggestions(older[0], identity, config).get((seed, index))  # the old record for that pool image
"""

from __future__ import annotations

from pathlib import Path

import torch

from .annotations import Annotation, AnnotationError, AnnotationSet, AnnotationStore, pool_z
from .user_data import ModelIdentity


def earlier_annotations(store: AnnotationStore, identity: ModelIdentity, object_name: str) -> list[AnnotationSet]:
    """The annotation files of the same model name and object for other weights that can be carried over
    (same z size), with at least one annotated image; the latest training step first. Damaged files are skipped."""
    found = []
    for path in store.others(identity, object_name):
        try:
            notes = AnnotationSet.from_json(Path(path).read_bytes(), expect_object=object_name, where=str(path))
        except (AnnotationError, OSError):
            continue
        if notes.model.nz == identity.nz and any(a.annotated for a in notes.images):
            found.append(notes)
    return sorted(found, key=lambda n: n.model.step, reverse=True)


def suggestions(older: AnnotationSet, identity: ModelIdentity, config) -> dict[tuple[int, int], Annotation]:
    """(pool seed, index) -> the earlier record of that pool image, for the weights `identity` (built from `config`).

    Only records whose stored z is the new model's z for the same pool image are offered (a run that changed
    its prior or z size draws other codes); records of the same weights are not suggestions.
    """
    if older.model.fingerprint == identity.fingerprint:
        return {}
    by_seed: dict[int, torch.Tensor] = {}
    out = {}
    for a in older.images:
        if not a.annotated:
            continue
        z = by_seed.setdefault(a.seed, pool_z(config, a.seed))
        if not 0 <= a.index < z.shape[0] or len(a.z) != z.shape[1]:
            continue
        if torch.allclose(torch.tensor(a.z, dtype=torch.float32), z[a.index], atol=1e-6):
            out.setdefault((a.seed, a.index), a)  # several annotators: the first record
    return out
