"""Annotations of earlier weights of the same run come back as suggestions on the new weights' pictures."""

import torch

from dcgan_core.analysis.annotations import AnnotationSet, AnnotationStore, make_annotation, pool_z
from dcgan_core.analysis.carry_over import earlier_annotations, suggestions
from dcgan_core.analysis.user_data import ModelIdentity
from dcgan_core.models import Generator


def identity_of(config, seed: int, step: int) -> ModelIdentity:
    torch.manual_seed(seed)
    return ModelIdentity.of("run", Generator(config).eval(), step)


def test_boxes_of_an_earlier_step_are_offered_for_the_same_pool_images(tiny_config, tmp_path):
    store = AnnotationStore(tmp_path)
    old, new = identity_of(tiny_config, 0, 1000), identity_of(tiny_config, 1, 2000)
    z = pool_z(tiny_config, 3)
    drawn = [make_annotation(3, 5, z[5], [(2, 2, 10, 10)], image_size=32, annotator="ann"),
             make_annotation(3, 6, z[6], no_object=True, image_size=32, annotator="ann")]
    store.put(old, "window", drawn)

    older = earlier_annotations(store, new, "window")
    assert [n.model.step for n in older] == [1000]
    hints = suggestions(older[0], new, tiny_config)
    assert set(hints) == {(3, 5), (3, 6)}
    assert hints[(3, 5)].boxes == ((2.0, 2.0, 10.0, 10.0),) and hints[(3, 6)].no_object
    assert store.load(new, "window").n_images == 0  # nothing is saved for the new weights until accepted


def test_records_whose_z_is_not_the_new_models_are_not_offered(tiny_config, tmp_path):
    new = identity_of(tiny_config, 1, 2000)
    wrong_z = make_annotation(3, 5, torch.zeros(tiny_config.nz), [(2, 2, 10, 10)], image_size=32, annotator="ann")
    older = AnnotationSet(identity_of(tiny_config, 0, 1000), "window", (wrong_z,))
    assert suggestions(older, new, tiny_config) == {}
    assert suggestions(AnnotationSet(new, "window", (wrong_z,)), new, tiny_config) == {}  # the same weights: not a hint
