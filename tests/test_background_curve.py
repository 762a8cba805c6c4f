"""The removal curve grows in the background while you annotate: one low-priority job per size as it is reached."""

from dataclasses import replace

import pytest

from dcgan_core.analysis.annotations import AnnotationSet, pool_z
from dcgan_core.analysis.instruments import default_instrument_path, load_instrument
from dcgan_core.analysis.object_removal import ModelIdentity, auto_annotate
from dcgan_core.checkpoints import load_model
from dcgan_core.registry import resolve_checkpoint
from explorer import background_curve as bg

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def rooms_notes():
    loaded = load_model("rooms")
    instrument = load_instrument(default_instrument_path("rooms"), kind="rooms")
    notes = auto_annotate(loaded.generator, instrument, pool_z(loaded.config, 0, range(10)), "window")
    notes = [replace(a, source="hand", annotator="ann") for a in notes]  # as if drawn by a person
    identity = ModelIdentity.of("rooms", loaded.generator, loaded.checkpoint.step)
    return AnnotationSet(model=identity, object_name="window", images=tuple(notes))


@pytest.fixture
def light_jobs(monkeypatch):
    monkeypatch.setenv(bg.ENABLE_ENV, "1")
    monkeypatch.setattr(bg, "SIZES", (4, 8, 40))
    monkeypatch.setattr(bg, "REFITS", 1)
    monkeypatch.setattr(bg, "N_MEASURED", 20)


def first(notes: AnnotationSet, k: int) -> AnnotationSet:
    return AnnotationSet(notes.model, notes.object_name, notes.images[:k])


def test_each_size_is_fitted_once_when_reached_and_the_curve_grows(rooms_notes, tmp_path, light_jobs):
    folder = bg.curve_folder(rooms_notes.model, "window", root=tmp_path)
    model_path = resolve_checkpoint("rooms")
    assert bg.start_due(model_path, first(rooms_notes, 3), folder) is None  # 3 images: nothing due yet
    assert bg.progress(folder, 3).next_size == 4

    assert bg.start_due(model_path, first(rooms_notes, 9), folder) == 4  # the smallest due size first
    assert bg.start_due(model_path, first(rooms_notes, 9), folder) is None  # one job at a time
    assert bg.progress(folder, 9).running == 4
    bg.wait(folder, timeout_s=240)

    assert bg.start_due(model_path, first(rooms_notes, 9), folder) == 8
    bg.wait(folder, timeout_s=240)
    done = bg.progress(folder, 9)
    assert [p.images for p in done.points] == [4, 8] and done.running is None and not done.failed
    assert all(0 <= v <= 1 for p in done.points for v in p.removed + p.random if v is not None)
    assert done.next_size == 40
    assert bg.start_due(model_path, first(rooms_notes, 9), folder) is None  # both points are there: not fitted again


def test_a_failed_job_says_why_in_one_line_and_is_not_started_again(rooms_notes, tmp_path, light_jobs):
    folder = bg.curve_folder(rooms_notes.model, "window", root=tmp_path)
    missing = tmp_path / "gone.safetensors"
    assert bg.start_due(missing, first(rooms_notes, 4), folder) == 4
    bg.wait(folder, timeout_s=120)
    failed = bg.progress(folder, 4).failed
    assert list(failed) == [4] and "gone.safetensors" in failed[4] and "\n" not in failed[4]
    assert bg.start_due(missing, first(rooms_notes, 4), folder) is None


def test_jobs_are_off_when_the_environment_says_so_and_count_only_hand_annotations(rooms_notes, tmp_path, light_jobs,
                                                                                  monkeypatch):
    folder = bg.curve_folder(rooms_notes.model, "window", root=tmp_path)
    by_instrument = AnnotationSet(rooms_notes.model, "window", tuple(replace(a, source="instrument", annotator="instrument") for a in rooms_notes.images))
    assert bg.start_due(resolve_checkpoint("rooms"), by_instrument, folder) is None  # auto-annotated: not yours
    monkeypatch.setenv(bg.ENABLE_ENV, "0")
    assert bg.start_due(resolve_checkpoint("rooms"), rooms_notes, folder) is None
    assert not folder.exists()


def test_curve_folders_are_named_by_the_weights_and_object_never_by_typed_paths(rooms_notes, tmp_path):
    evil = ModelIdentity(**{**rooms_notes.model.__dict__, "name": "../../etc"})
    folder = bg.curve_folder(evil, "window", root=tmp_path)
    assert folder.parent == tmp_path / "curves" and ".." not in folder.name
