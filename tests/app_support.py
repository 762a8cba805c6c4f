"""What the app tests share: tiny trained runs to pick in the sidebar, with the shipped models hidden."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dcgan_core import registry
from dcgan_core.train import TrainConfig, Trainer


def train_tiny_run(out: Path, image_size: int = 32, seed: int = 0, dataset_size: int = 64, sample_every: int = 2) -> None:
    """A 2-step rooms run (checkpoint, metrics.jsonl, sample grids) with 8-channel G and D: a second on a CPU."""
    Trainer(
        TrainConfig(
            dataset="rooms", image_size=image_size, nz=16, ngf=8, ndf=8, batch_size=16, dataset_size=dataset_size,
            steps=2, seed=seed, log_every=1, sample_every=sample_every, checkpoint_every=2, out_dir=str(out),
            device="cpu", precision="fp32", progress=False,
        )
    ).run()


def train_tiny_runs(tmp_path_factory, runs: dict[str, dict]) -> Path:
    """A models folder holding one tiny run per name ({name: train_tiny_run keyword arguments}); its own data cache."""
    models = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DCGAN_CACHE_DIR", str(tmp_path_factory.mktemp("train_cache")))
        for name, settings in runs.items():
            train_tiny_run(models / name, **settings)
    return models


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    """A models folder holding rooms_a, one tiny run (train_tiny_run's defaults); import it into a test module to use it."""
    return train_tiny_runs(tmp_path_factory, {"rooms_a": {}})


def show_only(models: Path, monkeypatch, tmp_path: Path) -> Path:
    """The app lists `models` as the user's models and none of the repo's shipped ones."""
    monkeypatch.setenv("DCGAN_MODELS_DIR", str(models))
    monkeypatch.setattr(registry, "REPO_MODELS_DIR", tmp_path / "no_shipped_models")
    return models


def show_generator_only(models: Path, name: str, monkeypatch, tmp_path: Path) -> Path:
    """Make the only model a copy of rooms_a's G without its D (as an import or a G-only export would be), named `name`."""
    from dcgan_core.checkpoints import Checkpoint, load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(models / "rooms_a" / "checkpoints" / "last.safetensors")
    folder = tmp_path / "models"
    save_checkpoint(folder / f"{name}.safetensors", Checkpoint(model_config=ckpt.model_config, generator=ckpt.generator))
    monkeypatch.setenv("DCGAN_MODELS_DIR", str(folder))
    return folder


TIMEOUT = 60  # seconds per AppTest run: the first run of a page loads torch models


def run_page(path: str, **state) -> AppTest:
    """Run one page file under AppTest with these session_state entries set first."""
    at = AppTest.from_file(path, default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def assert_clean(at: AppTest) -> None:
    """No exception and no error message on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
