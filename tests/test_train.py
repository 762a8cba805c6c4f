"""The training loop: it learns, it resumes exactly, it stops on NaN, it never loses a good checkpoint."""

import json

import pytest
import torch

from dcgan_core.checkpoints import load_checkpoint, load_model
from dcgan_core.train import TrainConfig, Trainer, TrainingDiverged, instance_noise_std
from train_support import straight_and_resumed, tiny_run


def _same_weights(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


def test_defaults_are_the_papers():
    cfg = TrainConfig()
    assert (cfg.lr, cfg.beta1, cfg.beta2, cfg.batch_size, cfg.nz, cfg.z_prior) == (2e-4, 0.5, 0.999, 128, 100, "uniform")


def test_a_run_writes_checkpoint_samples_and_metrics(tmp_path):
    result = Trainer(tiny_run(tmp_path / "run")).run()
    run = tmp_path / "run"
    assert result.step == 6
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000003.png", "step_000006.png"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3, 4, 6]
    assert all(r["img_per_s"] > 0 and 0 < r["d_real"] < 1 for r in records)
    ckpt = load_checkpoint(run / "checkpoints" / "last.safetensors")
    assert ckpt.step == 6 and ckpt.train_config["dataset"] == "rooms"
    assert ckpt.meta["images_seen"] == 96
    assert json.loads((run / "config.json").read_text())["steps"] == 6


def test_training_changes_the_weights_and_d_learns_to_tell_real_from_fake(tmp_path):
    cfg = tiny_run(tmp_path / "run", steps=40, log_every=40, sample_every=40, checkpoint_every=40)
    trainer = Trainer(cfg)
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    result = trainer.run()
    after = trainer.generator.state_dict()
    assert not torch.equal(before["blocks.0.0.weight"], after["blocks.0.0.weight"])
    # after a few steps D scores real images above generated ones
    assert result.last_record["d_real"] > result.last_record["d_fake"]


def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_weights(tmp_path):
    Trainer(tiny_run(tmp_path / "straight")).run()

    interrupted = Trainer(tiny_run(tmp_path / "killed"))

    def kill_at_step_5(trainer):
        if trainer.step == 5:
            raise KeyboardInterrupt  # dies after the step-3 checkpoint, losing steps 4-5

    interrupted.add_callback("on_step_end", kill_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    assert load_checkpoint(tmp_path / "killed" / "checkpoints" / "last.safetensors").step == 3

    Trainer.resume(tmp_path / "killed").run()
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.safetensors")
    b = load_checkpoint(tmp_path / "killed" / "checkpoints" / "last.safetensors")
    assert b.step == 6
    assert _same_weights(a.generator, b.generator)
    assert _same_weights(a.discriminator, b.discriminator)
    for name in ("generator", "discriminator"):
        sa, sb = a.optimizers[name]["state"], b.optimizers[name]["state"]
        assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    # the log has no records from the lost steps twice
    steps = [json.loads(x)["step"] for x in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]


def test_resume_can_extend_a_finished_run(tmp_path):
    Trainer(tiny_run(tmp_path / "run")).run()
    result = Trainer.resume(tmp_path / "run", steps=9).run()
    assert result.step == 9
    assert load_checkpoint(result.checkpoint).step == 9


def test_resume_refuses_to_change_the_model(tmp_path):
    Trainer(tiny_run(tmp_path / "run")).run()
    with pytest.raises(ValueError, match="cannot change ngf"):
        Trainer.resume(tmp_path / "run", ngf=16)


def test_a_new_run_will_not_overwrite_an_existing_one(tmp_path):
    Trainer(tiny_run(tmp_path / "run")).run()
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(tiny_run(tmp_path / "run"))


def test_nan_losses_stop_the_run_and_keep_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(tiny_run(tmp_path / "run", steps=12))

    def poison_weights_at_step_4(t):
        if t.step == 4:
            with torch.no_grad():
                t.generator.blocks[0][0].weight.fill_(float("nan"))

    trainer.add_callback("on_step_end", poison_weights_at_step_4)
    with pytest.raises(TrainingDiverged, match=r"NaN.*last good checkpoint .*last.safetensors \(step 3\)"):
        trainer.run()
    kept = load_model(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert kept.checkpoint.step == 3
    assert all(torch.isfinite(p).all() for p in kept.generator.parameters())


def test_bf16_autocast_runs_on_cpu(tmp_path):
    result = Trainer(tiny_run(tmp_path / "run", precision="bf16", steps=4, checkpoint_every=4, sample_every=4)).run()
    assert result.step == 4
    assert all(torch.isfinite(p).all() for p in load_model(result.checkpoint).generator.parameters())


def test_bad_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="unknown data set 'bedrooms'"):
        TrainConfig(dataset="bedrooms")
    with pytest.raises(ValueError, match="lr must be a positive number"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match="image_size must be one of"):
        TrainConfig(image_size=100)


def test_a_real_data_set_without_a_path_says_how_to_give_one(tmp_path):
    with pytest.raises(ValueError, match="--data-root"):
        Trainer(tiny_run(tmp_path / "run", dataset="folder")).run()


def _inputs_seen_by_d(trainer) -> list[torch.Tensor]:
    seen = []
    trainer.discriminator.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().float().clone()))
    return seen


def test_instance_noise_is_off_by_default_and_blurs_what_d_sees_when_on(tmp_path):
    plain = Trainer(tiny_run(tmp_path / "plain", steps=2))
    seen_plain = _inputs_seen_by_d(plain)
    plain.run()
    # without noise D sees real images and tanh outputs: everything inside [-1, 1]
    assert all(x.abs().max() <= 1 for x in seen_plain)

    noisy = Trainer(tiny_run(tmp_path / "noisy", steps=2, instance_noise=0.2))
    seen_noisy = _inputs_seen_by_d(noisy)
    noisy.run()
    # step 1's real batch is the same in both runs (it depends on seed and step only): D's first
    # input differs from it by the noise, N(0, 0.2)
    difference = seen_noisy[0] - seen_plain[0]
    assert difference.std().item() == pytest.approx(0.2, rel=0.05)
    assert abs(difference.mean().item()) < 0.01


def test_annealed_instance_noise_falls_linearly_to_nothing(tmp_path):
    cfg = TrainConfig(instance_noise=0.1, instance_noise_anneal=4)
    assert [round(instance_noise_std(cfg, step), 6) for step in range(6)] == [0.1, 0.075, 0.05, 0.025, 0.0, 0.0]
    assert instance_noise_std(TrainConfig(instance_noise=0.1), 10_000) == 0.1  # 0: constant, as before

    trainer = Trainer(tiny_run(tmp_path / "annealed", steps=3, instance_noise=0.2, instance_noise_anneal=2))
    plain = Trainer(tiny_run(tmp_path / "plain", steps=3))
    seen, seen_plain = _inputs_seen_by_d(trainer), _inputs_seen_by_d(plain)
    trainer.run()
    plain.run()
    # D sees the real batch first at each step (then the fakes twice): step 0 is noisy at 0.2, step 1 at 0.1, step 2 clean
    stds = [(seen[3 * k] - seen_plain[3 * k]).std().item() for k in range(3)]
    assert stds[0] == pytest.approx(0.2, rel=0.05) and stds[1] == pytest.approx(0.1, rel=0.05) and stds[2] == 0
    with pytest.raises(ValueError, match="instance_noise_anneal must be"):
        TrainConfig(instance_noise_anneal=-1)


def test_label_smoothing_keeps_d_loss_above_its_floor(tmp_path):
    # with targets 0.9 for real, D's loss on real images is at least the entropy of 0.9 (0.325 nats)
    result = Trainer(tiny_run(tmp_path / "run", steps=40, log_every=10, real_label=0.9, checkpoint_every=40, sample_every=40)).run()
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["loss_d"] > 0.325 for r in records)
    assert result.last_record["d_real"] < 0.97  # D is not pushed to full confidence


def test_resume_stays_exact_with_the_stabilisers_on(tmp_path):
    a, b = straight_and_resumed(lambda out: tiny_run(out, instance_noise=0.1, real_label=0.9), tmp_path)
    assert b.step == 6 and _same_weights(a.generator, b.generator) and _same_weights(a.discriminator, b.discriminator)


def test_stabiliser_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="real_label must be in"):
        TrainConfig(real_label=0.3)
    with pytest.raises(ValueError, match="instance_noise must be in"):
        TrainConfig(instance_noise=-0.1)


# ---------------------------------------------------------------------------- Hessian Penalty and fine-tuning


def _image_of(f):
    """A stand-in generator: (N, nz, 1, 1) codes -> (N, 1, 1, 1) 'images' f(z)."""
    return lambda z: f(z.flatten(1))[:, None, None, None]


def test_hessian_penalty_is_zero_when_each_z_coordinate_acts_alone_and_positive_when_they_interact():
    from dcgan_core.train import hessian_penalty

    z = torch.rand(16, 4, 1, 1) * 2 - 1
    noise = torch.Generator().manual_seed(0)
    # a sum of functions of one coordinate each: a diagonal Hessian, v^T H v the same for every direction v
    alone = hessian_penalty(_image_of(lambda x: (x**2).sum(1) + torch.sin(3 * x[:, 2])), z, noise)
    assert alone.item() == pytest.approx(0.0, abs=1e-3)
    # z0 * z1: v^T H v = 2 v0 v1 = +-2 by the direction, so its variance over directions is not zero
    mixed = hessian_penalty(_image_of(lambda x: x[:, 0] * x[:, 1]), z, noise)
    assert mixed.item() > 1.0


def test_hessian_penalty_trains_resumes_exactly_and_is_refused_when_negative(tmp_path):
    a, b = straight_and_resumed(lambda out: tiny_run(out, hessian_penalty=0.01), tmp_path)
    assert b.step == 6 and _same_weights(a.generator, b.generator) and _same_weights(a.discriminator, b.discriminator)
    plain = Trainer(tiny_run(tmp_path / "plain"))
    plain.run()
    assert not _same_weights(plain.generator.state_dict(), a.generator)  # the penalty changed G's updates
    with pytest.raises(ValueError, match="hessian_penalty must be a weight >= 0"):
        TrainConfig(hessian_penalty=-1.0)


def test_init_from_starts_a_new_run_from_a_trained_model(tmp_path):
    Trainer(tiny_run(tmp_path / "first")).run()
    source = load_checkpoint(tmp_path / "first" / "checkpoints" / "last.safetensors")
    tuned = Trainer(tiny_run(tmp_path / "tuned", init_from=str(tmp_path / "first" / "checkpoints" / "last.safetensors")))
    assert tuned.step == 0 and not tuned.opt_g.state  # fresh Adam, step counter at 0
    assert _same_weights({k: v.contiguous() for k, v in tuned.generator.state_dict().items()}, source.generator)
    assert _same_weights({k: v.contiguous() for k, v in tuned.discriminator.state_dict().items()}, source.discriminator)
    with pytest.raises(ValueError, match=r"architecture differs from this run's in ngf 8 \(this run: 16\)"):
        Trainer(tiny_run(tmp_path / "wide", ngf=16, init_from=str(tmp_path / "first" / "checkpoints" / "last.safetensors")))
