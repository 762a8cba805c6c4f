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
