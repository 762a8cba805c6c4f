"""The benchmark scripts run end to end (tiny settings: this checks they work, not how fast)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_train_throughput_prints_both_rates_and_their_ratio():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), "--batch-size", "4", "--ngf", "4", "--ndf", "4",
         "--rounds", "1", "--steps-per-round", "1", "--warmup", "1", "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "reference (pytorch/examples" in out.stdout and "speed-up ours / reference:" in out.stdout
    assert "torch:" in out.stdout and "threads" in out.stdout
    assert "Hessian Penalty" not in out.stdout


def test_train_throughput_times_the_hessian_penalty_beside_our_plain_step():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), "--batch-size", "4", "--ngf", "4", "--ndf", "4",
         "--rounds", "1", "--steps-per-round", "1", "--warmup", "1", "--device", "cpu", "--hessian-penalty", "0.001"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "ours + Hessian Penalty 0.001" in out.stdout and "Hessian Penalty: ours with it / ours without:" in out.stdout


def test_arithmetic_realism_scores_four_image_sets_against_real_renders():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "arithmetic_realism.py"), "--draws", "6", "--pool", "300", "--threads", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line and line[0] in "Yprf" and "px" not in line]
    names = [r[:40].strip() for r in rows]
    assert names == ["Y = G(mean(A) - mean(B) + mean(C))", "pixel space: mean images A - B + C",
                     "random samples of the model", "floor: other real renders"]
    assert all(float(v) >= 0 for r in rows for v in r[40:].split())
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "arithmetic_realism.py"), "--draws", "1"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--draws must be at least 2" in bad.stderr


def load_app_latency():
    """benchmarks/app_latency.py as a module (benchmarks/ is a folder of scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("app_latency", ROOT / "benchmarks" / "app_latency.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_app_latency_summarizes_timings_by_their_median_and_range():
    app_latency = load_app_latency()
    assert app_latency.summarize([300.0, 100.0, 200.0]) == {"median": 200.0, "min": 100.0, "max": 300.0, "n": 3}
    assert app_latency.summarize([100.0, 200.0])["median"] == 150.0


def test_app_latency_report_gives_the_seed_change_against_its_target_and_every_pages_first_render():
    app_latency = load_app_latency()
    result = {
        "app": "/repo", "machine": "2 cores, load average 1.00", "load_average_after": 1.2,
        "seed_change_ms": app_latency.summarize([180.0, 200.0, 260.0]), "seed_change_each_ms": [180.0, 200.0, 260.0],
        "seed_change_run_ended_ms": app_latency.summarize([400.0, 500.0, 600.0]),
        "first_render_ms": {"": {"cold": 5000.0, "warm": 2000.0}, "latent_walk": {"cold": 3000.0, "warm": 2500.0}},
    }
    report = app_latency.format_report(result)
    assert "median 200 ms (min 180, max 260)  target <= 250 ms: met" in report
    assert "each: 180 200 260" in report and "until that rerun ended (every tab redrawn): median 500 ms" in report
    assert "/latent_walk" in report and "3000 ms" in report and "2500 ms" in report
    result["seed_change_ms"] = app_latency.summarize([300.0])
    assert "target <= 250 ms: NOT met" in app_latency.format_report(result)


def test_app_latency_visits_the_pages_home_registers():
    pages = load_app_latency().app_pages(ROOT)
    assert pages[0] == "" and "latent_walk" in pages and len(pages) == len(set(pages)) >= 8


def tiny_procedural_model(folder: Path, dataset: str, with_encoder: bool) -> Path:
    """A tiny random 32-px model of a procedural data set saved as FOLDER/model.safetensors, maybe with an encoder beside it."""
    import torch

    from dcgan_core.checkpoints import Checkpoint, load_model, save_checkpoint
    from dcgan_core.encoder import Encoder, EncoderConfig, default_encoder_path, generator_identity, save_encoder
    from dcgan_core.models import Discriminator, Generator, ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(image_size=32, nz=16, ngf=8, ndf=8)
    path = folder / "model.safetensors"
    save_checkpoint(path, Checkpoint(model_config=config, generator=Generator(config).state_dict(),
                                     discriminator=Discriminator(config).state_dict(), step=3,
                                     train_config={"dataset": dataset, "seed": 0}))
    if with_encoder:
        save_encoder(default_encoder_path(path), Encoder(EncoderConfig.for_model(config, nef=8)),
                     generator_identity(folder.name, load_model(path)))
    return path


def run_inversion_benchmark(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "inversion.py"), *args],
                          capture_output=True, text=True, timeout=300)


def model_section(stdout: str, name: str) -> list[str]:
    """The lines of one model's block of the report, from its '== name:' header to the next one."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"== {name}:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== ")), len(lines))
    return lines[start:end]


def table_rows(section: list[str]) -> dict[str, list[str]]:
    """Rows of a section's table by image-set name (the first 34 characters), each as its figures."""
    start = next(i for i, line in enumerate(section) if line.startswith("image set"))
    end = next(i for i in range(start, len(section)) if section[i].startswith("targets"))
    return {line[:34].strip(): line[34:].split() for line in section[start + 1 : end]}


def test_inversion_benchmark_compares_the_methods_with_the_nearest_sample_on_held_out_renders(tmp_path):
    faces = tiny_procedural_model(tmp_path / "models" / "tinyfaces", "faces", with_encoder=True)
    rooms = tiny_procedural_model(tmp_path / "models" / "tinyrooms", "rooms", with_encoder=False)
    out = run_inversion_benchmark("--model", str(faces), "--model", str(rooms), "--n", "4", "--steps", "2", "--samples", "64",
                                  "--direction-samples", "40", "--threads", "1", "--no-progress")
    assert out.returncode == 0, out.stderr
    head = out.stdout.splitlines()
    assert head[0].startswith("command: python ") and head[0].endswith("--direction-samples 40 --threads 1 --no-progress")
    assert head[1].startswith("machine: CPU ") and "cores" in head[1] and "1 thread(s)" in head[1]
    assert "data set seed 60006" in head[2] and "0 (the GANs' training renders" in head[2]

    face_block = model_section(out.stdout, "tinyfaces")
    assert any(line.startswith("encoder: ") and "tinyfaces/encoder.safetensors" in line for line in face_block)
    header = next(line for line in face_block if line.startswith("image set"))
    assert header.split()[-8:] == ["glasses", "masculine", "smiling", "turn", "sign", "s", "/", "image"]
    rows = table_rows(face_block)
    assert list(rows) == ["originals (instrument's ceiling)", "optimise (2 steps, 4 restarts)", "encode",
                          "hybrid (2 steps, 1 restart)", "nearest of 64 samples", "floor: other held-out renders"]
    for method in ("optimise (2 steps, 4 restarts)", "encode", "hybrid (2 steps, 1 restart)"):
        rmse, rmse_255, swd, *shares, seconds = rows[method]
        assert 0 < float(rmse) <= 2 and abs(float(rmse_255) - 127.5 * float(rmse)) < 0.1 and float(swd) >= 0
        assert len(shares) == 4 and all(s == "-" or 0 <= int(s.rstrip("%")) <= 100 for s in shares)
        assert float(seconds) > 0
    # the baseline is the nearest sample, so no random code beats it; the inversions are measured against it
    assert float(rows["nearest of 64 samples"][0]) > 0 and rows["nearest of 64 samples"][-1] == "-"
    targets = [line for line in face_block if line.startswith("  ") and "target" in line]
    assert any("hybrid RMSE" in t and "below" in t for t in targets)
    assert all(t.endswith(": met") or t.endswith(": NOT met") for t in targets)
    assert any(t.startswith("  encode alone: ") and "ms per image" in t for t in targets)
    assert any(line.startswith("edit: ") for line in face_block)  # measured, or why not (a random G has no glasses direction)

    room_block = model_section(out.stdout, "tinyrooms")
    assert any(line.startswith("encoder: none (looked for ") for line in room_block)
    rows = table_rows(room_block)
    assert rows["encode"] == ["no", "encoder"] and rows["hybrid"] == ["no", "encoder"]
    assert len(rows["optimise (2 steps, 4 restarts)"]) == 5  # RMSE, 0-255, SWD, window, s / image
    assert any(line == "targets (optimise):" for line in room_block)
    assert not any(line.startswith("edit:") for line in room_block)


def test_inversion_benchmark_refuses_a_bad_encoder_option_and_a_model_it_cannot_render_for(tmp_path):
    bad = run_inversion_benchmark("--encoder", "runs/encoders/faces/encoder.safetensors")
    assert bad.returncode == 2 and "give MODEL=PATH" in bad.stderr
    cifar = tiny_procedural_model(tmp_path / "models" / "tinycifar", "cifar10", with_encoder=False)
    out = run_inversion_benchmark("--model", str(cifar), "--n", "2", "--no-progress")
    assert out.returncode == 2 and "give an RGB rooms or faces model" in out.stderr and out.stdout == ""


def test_dissection_benchmark_prints_every_figure_with_its_target():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "dissection.py"), "--n", "20", "--tries", "30", "--random-draws", "1",
         "--threads", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    for line in ("dissection: trained G", "window: best layer", "insertion at layer", "success", "locality",
                 "removal at layer 3", "the paper's logistic-regression maps", "paint edit"):
        assert line in out.stdout, line
    assert out.stdout.count("(target") >= 5
