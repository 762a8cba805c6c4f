"""Inverting images into z (optimise, encode, hybrid), the encoder and its files, preparing images, `dcgan invert`."""

import json
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_core.checkpoints import Checkpoint, save_checkpoint
from dcgan_core.cli import EXIT_USAGE, main
from dcgan_core.data.readers import center_crop_resize, to_tensor
from dcgan_core.encoder import (
    Encoder,
    EncoderConfig,
    EncoderMismatch,
    EncoderTrainConfig,
    EncoderTrainer,
    default_encoder_path,
    find_encoder,
    load_encoder,
    save_encoder,
)
from dcgan_core.inversion import InvalidImage, invert, prepare_images, reconstruction_loss
from dcgan_core.latent import sample_z
from dcgan_core.models import Discriminator, Generator
from dcgan_core.registry import list_models
from dcgan_core.safetensors_files import CheckpointError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def nets(tiny_config):
    """A tiny random G and D in eval mode, as `load_model` gives them."""
    torch.manual_seed(0)
    g, d = Generator(tiny_config), Discriminator(tiny_config)
    return g.eval().requires_grad_(False), d.eval().requires_grad_(False)


@pytest.fixture
def model_file(tmp_path, nets):
    """The tiny nets saved as a model a command can load: models/tiny/model.safetensors."""
    g, d = nets
    path = tmp_path / "models" / "tiny" / "model.safetensors"
    save_checkpoint(path, Checkpoint(model_config=g.config, generator=g.state_dict(), discriminator=d.state_dict(), step=7))
    return path


def encoder_for(g: Generator, seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(EncoderConfig.for_model(g.config, nef=8)).eval()


def identity_of(name: str, g: Generator) -> dict:
    from dcgan_core.checkpoints import generator_fingerprint

    return {"name": name, "fingerprint": generator_fingerprint(g), "step": 0, "model_config": g.config.to_dict()}


def write_png(path, size=(40, 30), colour=(200, 30, 30), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


# ----------------------------------------------------------------------------- optimise, encode, hybrid


def test_optimise_lowers_the_loss_from_its_start_and_keeps_z_in_the_prior(nets):
    g, d = nets
    with torch.no_grad():
        target = g(sample_z(3, g.config, seed=1))
    start = invert(g, d, target, method="optimise", steps=0, restarts=1, seed=5)
    found = invert(g, d, target, method="optimise", steps=40, restarts=1, seed=5)
    assert found.z.shape == (3, g.config.nz) and found.z.dtype == torch.float32
    assert found.z.abs().max() <= 1.0
    assert torch.all(found.losses < 0.7 * start.losses)
    assert torch.all(found.errors < start.errors)


def test_optimise_recovers_the_code_of_a_sample_better_than_random_codes(nets):
    g, d = nets
    true_z = sample_z(4, g.config, seed=2)
    with torch.no_grad():
        target = g(true_z)
    found = invert(g, d, target, method="optimise", steps=60, restarts=2, seed=0)
    random_z = sample_z(256, g.config, seed=3)
    random_distance = torch.cdist(true_z, random_z).mean()
    assert (found.z - true_z).norm(dim=1).mean() < 0.75 * random_distance
    assert found.errors.mean() < 0.5 * (g(random_z[:4]) - target).pow(2).flatten(1).mean(1).sqrt().mean()


def test_more_restarts_never_find_a_worse_code(nets):
    g, d = nets
    with torch.no_grad():
        target = g(sample_z(3, g.config, seed=4))
    one = invert(g, d, target, method="optimise", steps=10, restarts=1, seed=9)
    three = invert(g, d, target, method="optimise", steps=10, restarts=3, seed=9)  # its first restart is `one`'s start
    assert torch.all(three.losses <= one.losses * (1 + 1e-4))


def test_encode_gives_one_code_per_image_inside_the_prior(nets):
    g, d = nets
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    result = invert(g, d, images, method="encode", encoder=encoder_for(g))
    assert result.z.shape == (5, g.config.nz) and result.z.abs().max() <= 1.0
    assert result.steps == 0 and result.reconstructions.shape == images.shape and result.errors.shape == (5,)


def test_hybrid_starts_at_the_encoders_code_and_is_no_worse_than_encode(nets):
    g, d = nets
    encoder = encoder_for(g)
    with torch.no_grad():
        images = g(sample_z(4, g.config, seed=6))
    encoded = invert(g, d, images, method="encode", encoder=encoder)
    hybrid = invert(g, d, images, method="hybrid", encoder=encoder, steps=15)
    assert torch.all(hybrid.losses <= encoded.losses + 1e-6)
    assert hybrid.errors.mean() < encoded.errors.mean()


def test_inversion_leaves_the_models_untouched_and_reports_progress(nets):
    g, d = nets
    before = [t.clone() for t in (*g.state_dict().values(), *d.state_dict().values())]
    seen = []
    invert(g, d, torch.zeros(3, 3, 32, 32), method="optimise", steps=4, restarts=2, batch_size=2,
           progress=lambda done, total: seen.append((done, total)))
    after = [*g.state_dict().values(), *d.state_dict().values()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert all(p.grad is None for p in (*g.parameters(), *d.parameters()))
    assert seen[-1] == (8, 8) and len(seen) == 8  # 4 steps for each of 2 batches


def test_invert_refuses_what_it_cannot_use(nets):
    g, d = nets
    with pytest.raises(ValueError, match="needs an encoder"):
        invert(g, d, torch.zeros(1, 3, 32, 32), method="hybrid")
    with pytest.raises(ValueError, match="unknown inversion method"):
        invert(g, d, torch.zeros(1, 3, 32, 32), method="guess")
    with pytest.raises(ValueError, match=r"images must have shape \(N, 3, 32, 32\)"):
        invert(g, d, torch.zeros(1, 3, 64, 64), method="optimise")
    with pytest.raises(ValueError, match="train mode"):
        invert(g.train(), d, torch.zeros(1, 3, 32, 32), method="optimise")


def test_the_loss_is_pixels_only_without_a_discriminator_or_feature_weight(nets):
    g, d = nets
    a, b = torch.zeros(2, 3, 32, 32), torch.full((2, 3, 32, 32), 0.5)
    assert torch.allclose(reconstruction_loss(a, b, None), torch.full((2,), 0.25))
    assert torch.allclose(reconstruction_loss(a, b, d, feature_weight=0), torch.full((2,), 0.25))
    assert torch.all(reconstruction_loss(a, b, d) > 0.25)
    assert torch.allclose(reconstruction_loss(b, b, d), torch.zeros(2), atol=1e-6)


# ----------------------------------------------------------------------------- preparing images


def test_images_are_prepared_like_training_images(tmp_path, tiny_config):
    path = tmp_path / "wide.png"
    pixels = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    prepared = prepare_images([path], tiny_config)
    expected = to_tensor(center_crop_resize(Image.open(path), 32, channels=3))
    assert prepared.names == [str(path)] and torch.equal(prepared.images[0], expected)


def test_folders_give_their_images_in_sorted_order_and_grayscale_models_take_grayscale(tmp_path, tiny_config):
    from dataclasses import replace

    for name in ("b.png", "a.jpg", "sub/c.webp"):
        write_png(tmp_path / "pics" / name)
    (tmp_path / "pics" / "notes.txt").write_text("not an image")
    single = write_png(tmp_path / "z.png")
    prepared = prepare_images([single, tmp_path / "pics"], replace(tiny_config, channels=1))
    assert prepared.names == [str(single), *(str(tmp_path / "pics" / n) for n in ("a.jpg", "b.png", "sub/c.webp"))]
    assert prepared.images.shape == (4, 1, 32, 32)


def test_a_transparent_png_becomes_rgb_on_white_with_a_note(tmp_path, tiny_config):
    path = write_png(tmp_path / "clear.png", colour=(0, 0, 0, 0), mode="RGBA")
    prepared = prepare_images(path, tiny_config)
    assert prepared.images.shape == (1, 3, 32, 32) and torch.all(prepared.images == 1.0)
    assert len(prepared.notes) == 1 and "transparency" in prepared.notes[0]


def test_in_memory_images_and_uploads_are_accepted(tiny_config):
    import io

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 255, 0)).save(buf, format="PNG")
    prepared = prepare_images([Image.new("L", (10, 12), 128), ("upload.png", buf.getvalue())], tiny_config)
    assert prepared.names == ["image 0", "upload.png"] and prepared.images.shape == (2, 3, 32, 32)


def huge_png_header(path, width, height):
    """A PNG whose header claims width x height pixels (its data is never read)."""
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("hello") and p, "is not an image that can be read"),
    (lambda p: p.write_bytes(b"") or p, "is empty"),
    (lambda p: huge_png_header(p, 9000, 100), "9000x100 pixels"),
    (lambda p: huge_png_header(p, 8000, 8000), "8000x8000 pixels"),
    (lambda p: (p.mkdir(), (p / "readme.txt").write_text("x"), p)[-1], "holds no"),
    (lambda p: p.parent / "missing.png", "does not exist"),
    (lambda p: write_png(p, size=(300, 200)).write_bytes(p.read_bytes()[:-30]) and p, "could not be decoded"),
])
def test_bad_inputs_give_one_line_errors_that_name_them(tmp_path, tiny_config, make, message):
    path = make(tmp_path / "input.png")
    with pytest.raises(InvalidImage, match=message) as error:
        prepare_images([path], tiny_config)
    assert "\n" not in str(error.value) and path.name in str(error.value)


def test_files_over_the_size_limit_are_refused_before_decoding(tmp_path, tiny_config):
    path = write_png(tmp_path / "big.png", size=(64, 64))
    with pytest.raises(InvalidImage, match="big.png is .* images up to 0 MB"):
        prepare_images(path, tiny_config, max_bytes=10)


# ----------------------------------------------------------------------------- the encoder and its files


def test_an_encoder_file_round_trips_and_refuses_another_generator(tmp_path, nets, tiny_config):
    g, _ = nets
    encoder = encoder_for(g)
    path = tmp_path / "e.safetensors"
    save_encoder(path, encoder, identity_of("tiny", g), step=3, report={"note": "x"})
    loaded = load_encoder(path, generator=g)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(loaded.encoder(x), encoder(x)) and loaded.step == 3 and loaded.report == {"note": "x"}
    assert not loaded.encoder.training
    torch.manual_seed(1)
    other = Generator(tiny_config).eval()
    with pytest.raises(EncoderMismatch, match="was trained for model 'tiny'"):
        load_encoder(path, generator=other)


def test_an_encoder_file_whose_header_lies_is_refused_before_loading(tmp_path, nets):
    g, _ = nets
    path = tmp_path / "e.safetensors"
    save_encoder(path, encoder_for(g), identity_of("tiny", g))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"]["encoder_config"] = json.dumps({**EncoderConfig.for_model(g.config, 8).to_dict(), "nef": 64})
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + n :])
    with pytest.raises(CheckpointError, match="has shape"):
        load_encoder(path)
    with pytest.raises(CheckpointError, match="not a dcgan-explorer encoder"):
        load_encoder(_checkpoint_file(tmp_path, g))  # a model, not an encoder


def _checkpoint_file(tmp_path, g):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, Checkpoint(model_config=g.config, generator=g.state_dict()))
    return path


def test_encoders_live_beside_their_model_and_are_not_listed_as_models(tmp_path, monkeypatch, nets):
    g, _ = nets
    assert default_encoder_path(tmp_path / "models/faces/model.safetensors") == tmp_path / "models/faces/encoder.safetensors"
    assert default_encoder_path(tmp_path / "run/checkpoints/last.safetensors") == tmp_path / "run/encoder.safetensors"
    flat = _checkpoint_file(tmp_path, g).rename(tmp_path / "mine.safetensors")
    assert find_encoder(flat) is None
    save_encoder(default_encoder_path(flat), encoder_for(g), identity_of("mine", g))
    assert find_encoder(flat) == tmp_path / "mine.encoder.safetensors"
    monkeypatch.setenv("DCGAN_MODELS_DIR", str(tmp_path))
    entries, problems = list_models()
    assert "mine" in {e.name for e in entries} and "mine.encoder" not in {e.name for e in entries} and problems == []


def tiny_encoder_run(model_file, out, **overrides):
    settings = dict(model=str(model_file), out_dir=str(out), steps=4, batch_size=8, nef=8, log_every=1,
                    checkpoint_every=2, device="cpu", precision="fp32", progress=False)
    return EncoderTrainConfig(**{**settings, **overrides})


def test_encoder_training_learns_and_resumes_exactly(tmp_path, model_file):
    straight = EncoderTrainer(tiny_encoder_run(model_file, tmp_path / "straight", steps=4))
    straight.run()
    stopped = EncoderTrainer(tiny_encoder_run(model_file, tmp_path / "resumed", steps=2))
    stopped.run()
    resumed = EncoderTrainer.resume(tmp_path / "resumed", steps=4)
    assert resumed.step == 2
    resumed.run()
    a = load_encoder(tmp_path / "straight" / "encoder.safetensors")
    b = load_encoder(tmp_path / "resumed" / "encoder.safetensors")
    assert all(torch.equal(x, y) for x, y in zip(a.encoder.state_dict().values(), b.encoder.state_dict().values()))
    records = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for name in ("training_state.safetensors", "reconstructions.png", "encoder.md"):
        assert (tmp_path / "straight" / name).is_file()
    assert a.step == 4 and "samples_latent_rmse" in a.report["validation"]


def test_encoder_training_refuses_to_overwrite_a_run(tmp_path, model_file):
    EncoderTrainer(tiny_encoder_run(model_file, tmp_path / "run", steps=2)).run()
    with pytest.raises(FileExistsError, match="--resume"):
        EncoderTrainer(tiny_encoder_run(model_file, tmp_path / "run", steps=2))


# ----------------------------------------------------------------------------- `dcgan invert`, `dcgan train-encoder`


def test_invert_writes_codes_in_the_order_of_its_index(tmp_path, model_file, capsys):
    first = write_png(tmp_path / "in" / "first.png", colour=(250, 250, 250))
    write_png(tmp_path / "in" / "folder" / "b.png", colour=(10, 10, 10))
    write_png(tmp_path / "in" / "folder" / "a.png", colour=(10, 200, 10))
    out = tmp_path / "out"
    assert main(["invert", "--model", str(model_file), "--out", str(out), "--steps", "3", "--no-progress",
                 str(first), str(tmp_path / "in" / "folder")]) == 0
    assert "no encoder" in capsys.readouterr().err  # auto fell back to optimise, and said so
    z = np.load(out / "z.npy")
    index = json.loads((out / "index.json").read_text())
    assert z.shape == (3, 16) and z.dtype == np.float32 and np.abs(z).max() <= 1
    assert [r["input"] for r in index["images"]] == [str(first), *(str(tmp_path / "in/folder" / n) for n in ("a.png", "b.png"))]
    assert [r["row"] for r in index["images"]] == [0, 1, 2] and index["method"] == "optimise"
    assert index["model"]["step"] == 7 and len(index["model"]["fingerprint"]) == 64
    assert (out / "errors.csv").read_text().splitlines()[0] == "row,input,rmse,loss"
    assert np.asarray(Image.open(out / "reconstructions.png")).shape == (2 + 2 * 34, 2 + 3 * 34, 3)


def test_invert_with_a_method_that_needs_a_missing_encoder_says_how_to_train_one(tmp_path, model_file, capsys):
    image = write_png(tmp_path / "x.png")
    assert main(["invert", "--model", str(model_file), "--out", str(tmp_path / "out"), "--method", "hybrid", str(image)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "dcgan train-encoder" in err and "--method optimise" in err
    assert not (tmp_path / "out").exists()


def test_invert_of_a_bad_file_writes_nothing(tmp_path, model_file, capsys):
    good, bad = write_png(tmp_path / "good.png"), tmp_path / "bad.png"
    bad.write_text("not a png")
    assert main(["invert", "--model", str(model_file), "--out", str(tmp_path / "out"), str(good), str(bad)]) == EXIT_USAGE
    assert "bad.png is not an image" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_train_encoder_then_invert_finds_it_beside_the_model(tmp_path, model_file, capsys):
    run = tmp_path / "enc"
    assert main(["train-encoder", "--model", str(model_file), "--out", str(run), "--steps", "2", "--batch-size", "8",
                 "--nef", "8", "--device", "cpu", "--precision", "fp32", "--no-progress"]) == 0
    assert main(["train-encoder", "--resume", "--out", str(run), "--steps", "3", "--no-progress"]) == 0
    assert load_encoder(run / "encoder.safetensors").step == 3
    card = (run / "encoder.md").read_text()
    assert "dcgan train-encoder --model" in card and "dcgan train-encoder --resume" in card  # how it was made, resumes too
    (run / "encoder.safetensors").rename(default_encoder_path(model_file))
    image = write_png(tmp_path / "x.png")
    assert main(["invert", "--model", str(model_file), "--out", str(tmp_path / "out"), "--steps", "2", "--no-progress",
                 str(image)]) == 0
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["method"] == "hybrid" and index["encoder"] == str(default_encoder_path(model_file))


@pytest.mark.parametrize("name", ["rooms", "faces"])
def test_a_shipped_encoder_belongs_to_its_shipped_model_and_has_a_card(name):
    from dcgan_core.checkpoints import load_model
    from dcgan_core.registry import REPO_MODELS_DIR

    path = REPO_MODELS_DIR / name / "encoder.safetensors"
    if not path.exists():
        pytest.skip(f"no encoder shipped beside models/{name} yet")
    model = load_model(REPO_MODELS_DIR / name / "model.safetensors")
    loaded = load_encoder(path, generator=model.generator)  # refuses an encoder of other weights
    assert find_encoder(model.path) == path and loaded.config.fits(model.config)
    assert (REPO_MODELS_DIR / name / "encoder.md").is_file()
