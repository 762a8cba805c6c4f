"""One run trained straight and one killed mid-way then resumed: the pair the exact-resume tests compare."""

import pytest

from dcgan_core.checkpoints import Checkpoint, load_checkpoint
from dcgan_core.train import TrainConfig, Trainer


def tiny_run(out_dir, **overrides) -> TrainConfig:
    """A 32-px, 8-channel run on 64 rendered rooms: seconds on a CPU."""
    settings = dict(
        dataset="rooms", image_size=32, nz=16, ngf=8, ndf=8, batch_size=16, dataset_size=64,
        steps=6, log_every=2, sample_every=3, checkpoint_every=3, out_dir=str(out_dir),
        device="cpu", precision="fp32", progress=False,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def straight_and_resumed(config_for, tmp_path, kill_at: int = 5) -> tuple[Checkpoint, Checkpoint]:
    """Final checkpoints of `config_for(dir)` run straight, and run until step `kill_at` (killed), then resumed."""
    Trainer(config_for(tmp_path / "straight")).run()
    killed = Trainer(config_for(tmp_path / "killed"))

    def kill(trainer):
        if trainer.step == kill_at:
            raise KeyboardInterrupt

    killed.add_callback("on_step_end", kill)
    with pytest.raises(KeyboardInterrupt):
        killed.run()
    Trainer.resume(tmp_path / "killed").run()
    return tuple(load_checkpoint(tmp_path / name / "checkpoints" / "last.safetensors") for name in ("straight", "killed"))

