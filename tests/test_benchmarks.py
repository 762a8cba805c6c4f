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
