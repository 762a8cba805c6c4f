"""The `dcgan` command: train, resume, sample, info, data preview, and errors people can act on."""

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import dcgan_core
from dcgan_core.cli import EXIT_USAGE, build_parser, main

TINY = ["--dataset", "rooms", "--image-size", "32", "--nz", "16", "--ngf", "8", "--ndf", "8", "--batch-size", "16",
        "--dataset-size", "64", "--log-every", "2", "--sample-every", "2", "--checkpoint-every", "2",
        "--device", "cpu", "--precision", "fp32", "--no-progress"]


def test_train_then_resume_then_sample_then_info(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--out", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 0
    assert main(["sample", "--model", str(run), "--seed", "1", "--n", "6", "--nrow", "3", "--out", str(tmp_path / "g.png")]) == 0
    grid = np.asarray(Image.open(tmp_path / "g.png"))
    assert grid.shape == (2 + 2 * 34, 2 + 3 * 34, 3)  # 2 rows x 3 columns of 32 px with 2 px padding
    capsys.readouterr()
    assert main(["info", str(run)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["step"] == 4 and info["model_config"]["image_size"] == 32 and info["resumable"]


def test_sample_is_reproducible_by_seed(tmp_path):
    run = tmp_path / "run"
    main(["train", *TINY, "--steps", "2", "--out", str(run)])
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        main(["sample", "--model", str(run), "--seed", str(seed), "--n", "4", "--out", str(tmp_path / f"{name}.png")])
    read = lambda n: np.asarray(Image.open(tmp_path / f"{n}.png"))  # noqa: E731
    assert np.array_equal(read("a"), read("b"))
    assert not np.array_equal(read("a"), read("c"))


def test_data_preview_writes_a_grid(tmp_path):
    assert main(["data", "preview", "--dataset", "faces", "--n", "4", "--nrow", "2", "--image-size", "32",
                 "--out", str(tmp_path / "f.png")]) == 0
    assert np.asarray(Image.open(tmp_path / "f.png")).shape == (70, 70, 3)


def test_errors_are_one_line_messages_not_tracebacks(tmp_path, capsys):
    assert main(["sample", "--model", str(tmp_path / "missing.safetensors")]) == EXIT_USAGE
    assert "missing.safetensors does not exist" in capsys.readouterr().err
    assert main(["train", "--dataset", "cifar10", "--out", str(tmp_path / "r")]) == EXIT_USAGE
    assert "--data-root" in capsys.readouterr().err
    assert main(["sample", "--model", "no-such-model"]) == EXIT_USAGE
    assert "no model named 'no-such-model'" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["info"], ["data", "preview"], ["import"], ["models"], ["export"], ["eval"], ["arithmetic"], ["probe"],
                                     ["train-encoder"], ["invert"], ["dissect"], ["collapse"]])
def test_every_command_has_help(command):
    out = subprocess.run([sys.executable, "-m", "dcgan_core.cli", *command, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: dcgan" in out.stdout
    assert "(default: None)" not in out.stdout  # every default is said in words, once


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Every command line that names a (sub)command of `parser`: ("units",), ("units", "measure"), ..."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield (*prefix, name)
                yield from subcommands(subparser, (*prefix, name))


@pytest.mark.parametrize("command", list(subcommands(build_parser())), ids=" ".join)
def test_every_subcommand_answers_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*command, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: dcgan {' '.join(command)} ")
    assert "(default: None)" not in out


def test_the_analysis_commands_are_dcgan_subcommands():
    names = {command[0] for command in subcommands(build_parser())}
    assert {"units", "instruments", "latent-geometry", "forget", "train-encoder", "invert"} <= names


def test_no_module_of_the_library_but_cli_imports_argparse():
    """Flags are parsed in one place, cli.py; the analysis modules compute, return and format (no mains of their own)."""
    package = Path(dcgan_core.__file__).parent
    found = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            if any(m.split(".")[0] == "argparse" for m in modules):
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert found == []


def test_models_lists_user_runs_and_files_and_names_resolve(tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    main(["train", *TINY, "--steps", "2", "--out", str(models / "my-rooms")])
    (models / "broken.safetensors").write_bytes(b"not a checkpoint")
    monkeypatch.setenv("DCGAN_MODELS_DIR", str(models))
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    captured = capsys.readouterr()
    listed = {m["name"]: m for m in json.loads(captured.out)}
    assert listed["my-rooms"]["source"] == "user" and listed["my-rooms"]["step"] == 2
    assert "broken" not in listed and "skipped" in captured.err and "broken.safetensors" in captured.err
    assert main(["sample", "--model", "my-rooms", "--n", "2", "--out", str(tmp_path / "s.png")]) == 0


def test_export_writes_a_small_model_without_optimizer_state_that_samples_alike(tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", *TINY, "--steps", "2", "--out", str(run)])
    out = tmp_path / "shipped" / "model.safetensors"
    assert main(["export", str(run), "--out", str(out)]) == 0
    full = run / "checkpoints" / "last.safetensors"
    assert out.stat().st_size < full.stat().st_size / 4  # fp16 and no Adam moments
    capsys.readouterr()
    main(["info", str(out)])
    info = json.loads(capsys.readouterr().out)
    assert info["step"] == 2 and not info["resumable"] and info["train_config"]["dataset"] == "rooms"
    for name, model in (("a", run), ("b", out)):
        main(["sample", "--model", str(model), "--n", "4", "--out", str(tmp_path / f"{name}.png")])
    a, b = (np.asarray(Image.open(tmp_path / f"{n}.png")).astype(int) for n in "ab")
    assert np.abs(a - b).max() <= 4  # fp16 weights: the same images up to rounding


def test_eval_reports_the_model_between_the_real_floor_and_an_untrained_generator(tmp_path, capsys):
    run = tmp_path / "run"
    main(["train", *TINY, "--steps", "2", "--out", str(run)])
    capsys.readouterr()
    assert main(["eval", "--model", str(run), "--n", "24", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["swd_model_per_level"]) == {"32", "16"}
    assert report["swd_floor"] < report["swd_untrained"]
    assert "never trained on" in report["real_source"]


def test_sigterm_stops_training_like_ctrl_c_and_the_run_resumes(tmp_path):
    """A scheduler preempting the job sends SIGTERM: the run stops cleanly, keeps its checkpoint, and resumes."""
    import os
    import signal
    import time

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "dcgan_core.cli", "train", "--dataset", "rooms", "--image-size", "32", "--nz", "16",
           "--ngf", "8", "--ndf", "8", "--batch-size", "8", "--dataset-size", "32", "--steps", "100000",
           "--checkpoint-every", "5", "--sample-every", "100000", "--log-every", "5", "--device", "cpu",
           "--precision", "fp32", "--no-progress", "--out", str(run)]
    proc = subprocess.Popen(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    checkpoint = run / "checkpoints" / "last.safetensors"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert checkpoint.exists(), proc.communicate(timeout=10)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "dcgan train --resume" in err and "Traceback" not in err
    stopped_at = json.loads(subprocess.run([sys.executable, "-m", "dcgan_core.cli", "info", str(run)],
                                           capture_output=True, text=True, check=True).stdout)["step"]
    assert stopped_at >= 5 and stopped_at % 5 == 0
    assert main(["train", "--resume", str(run), "--steps", str(stopped_at + 5), "--no-progress"]) == 0
