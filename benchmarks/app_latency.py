"""How fast the app answers in a real browser: a seed change on the Latent walk page, and each page's first render.

Target (the slider-speed issue): changing the walk's seed shows the new grid in at most
250 ms (median) on a 2-core CPU.

What is timed is what a user sees. The script starts `streamlit run explorer/Home.py` on
a free loopback port with the shipped models, and drives Debian's Chromium through
Playwright (no browser is downloaded):

  (a) seed change: on /latent_walk, click the seed's "+" button and time, in the page's own
      clock, from the click to the grid <img> having a new src that is loaded and decoded
      (nothing is slept on: a MutationObserver and load events decide); and, beside it, to the
      end of that run (no element left stale: the other tabs redrawn too). The seed goes
      0 -> N, each seed seen for the first time, so every change renders a new walk (server
      caches do not hide the work); each change waits for the previous run to end.
  (b) first render: a fresh browser tab per page registered in explorer/Home.py, from
      `page.goto` to the page's main content visible (a decoded picture, or the page's main
      button). Pages are visited in order on a freshly started server, so the first ones also
      pay for loading the model (cold); then all again (warm: the process' caches are filled).

Other work on the machine slows the figures: the load average and core count are printed
beside them. Run:

    python benchmarks/app_latency.py                 # 10 seed changes, every page
    python benchmarks/app_latency.py --runs 30 --json
    python benchmarks/app_latency.py --root /tmp/before      # another copy of the app, e.g. before a change

On a shared machine, compare two versions by running them one after the other (--root), not
against figures taken at another time: the load moves the figures more than most changes do.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from explorer import local_app

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = local_app.CHROMIUM
SEED_CHANGE_TARGET_MS = 250.0
TIMEOUT_MS = 90_000  # a cold first visit loads torch and the model on a busy 2-core machine

# a decoded, laid-out picture in the main area (display: none has no offsetParent: collapsed expanders)
IMAGE_SHOWN = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')]
    .some(img => img.complete && img.naturalWidth > 0 && img.offsetParent !== null)"""


def button_shown(text: str) -> str:
    return f"() => [...document.querySelectorAll('[data-testid=\"stMain\"] button')].some(b => b.innerText.includes({text!r}))"


TITLE_SHOWN = """() => document.querySelector('[data-testid="stMain"] h1') !== null"""  # pages not listed below

PAGES = {  # url path -> what shows the page's main content is drawn ("" is the home page)
    "": IMAGE_SHOWN,
    "latent_walk": IMAGE_SHOWN,
    "samples": IMAGE_SHOWN,
    "training_monitor": IMAGE_SHOWN,
    "discriminator_features": IMAGE_SHOWN,
    "feature_probe": button_shown("Run the probe"),  # draws its figures only when asked to
    "forget_to_draw": IMAGE_SHOWN,
    "vector_arithmetic": button_shown("Switch to the faces model"),  # on rooms it offers the faces model first
    "concept_axes": button_shown("Switch to the faces model"),
    "forget_fit": button_shown("Fit logistic regression"),  # fits only when asked to
    "dissection": IMAGE_SHOWN,  # the unit view's pictures (from models/rooms/dissection.json)
    "paint": IMAGE_SHOWN,  # before | after | difference
    "annotation_agreement": """() => document.querySelector('[data-testid="stMain"] :is([data-testid="stMetric"], [data-testid="stAlert"])') !== null""",  # totals, or why there are none
}


def app_pages(root: Path) -> list[str]:
    """The url paths explorer/Home.py registers, in its order ("" for the first, the default page)."""
    tree = ast.parse((root / "explorer" / "Home.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            urls = [ast.literal_eval(row.elts[2]) for row in node.value.elts]
            return ["", *urls[1:]]
    raise ValueError(f"no PAGES list in {root / 'explorer' / 'Home.py'}")

IDLE = """() => document.querySelector('[data-testid="stStatusWidget"]') === null"""

# The walk's grid: the st.image whose caption names the interpolation (the GIF's caption also has "fps").
GRID_IMG = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"]')]
    .filter(e => /interpolation/.test(e.innerText) && !/fps/.test(e.innerText))
    .map(e => e.querySelector('img')).find(img => img !== null) || null"""

# The app is between runs: no element is stale (greyed while a run redraws it) and no "Running..." widget
# (that one appears only some 0.5 s into a run, so it alone cannot tell a short run from none).
SETTLED = """() => document.querySelector('[data-stale="true"]') === null && (%s)()""" % IDLE

# Click the seed's "+"; resolve with ms from the click to (1) a new grid src loaded and decoded (`grid`),
# (2) the run that drew it ended (`settled`: every tab of the fragment redrawn).
SEED_CHANGE = """async () => {
  const grid = %s, settled = %s;
  const before = grid();
  if (before === null) throw new Error('no walk grid on the page');
  const oldSrc = before.src;
  const button = document.querySelector('[data-testid="stMain"] [data-testid="stNumberInputStepUp"]');
  if (button === null) throw new Error('no seed + button on the page');
  return await new Promise((resolve, reject) => {
    let t0, gridMs = null, busy = false;
    const finish = (value, error) => {
      observer.disconnect(); document.removeEventListener('load', check, true); clearInterval(backstop); clearTimeout(timer);
      error ? reject(error) : resolve(value);
    };
    const check = async () => {
      if (busy) return;
      if (gridMs === null) {
        const img = grid();
        if (img === null || img.src === oldSrc || !img.complete || img.naturalWidth === 0) return;
        busy = true;
        try { await img.decode(); } catch (e) {}
        gridMs = performance.now() - t0;
        busy = false;
      }
      if (settled()) finish({grid: gridMs, settled: performance.now() - t0});
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src', 'data-stale']});
    document.addEventListener('load', check, true);  // <img> load events do not bubble: capture them
    const backstop = setInterval(check, 50);  // the status widget leaves with a fade the observer may see late
    const timer = setTimeout(() => finish(null, new Error('no new grid within %d ms')), %d);
    t0 = performance.now();
    button.click();
  });
}""" % (GRID_IMG, SETTLED, TIMEOUT_MS, TIMEOUT_MS)


def summarize(ms: list[float]) -> dict:
    """{'median', 'min', 'max', 'n'} of timings in ms (median of an even count: the mean of the middle two)."""
    if not ms:
        raise ValueError("no timings to summarize")
    return {"median": statistics.median(ms), "min": min(ms), "max": max(ms), "n": len(ms)}


def format_report(result: dict) -> str:
    """The human-readable figures of a `measure` result (the same dict --json prints)."""
    s, r = result["seed_change_ms"], result["seed_change_run_ended_ms"]
    met = "met" if s["median"] <= SEED_CHANGE_TARGET_MS else "NOT met"
    lines = [
        f"app: {result['app']}",
        f"machine: {result['machine']}; load average {result['load_average_after']:.2f} at the end",
        f"seed change on /latent_walk ({s['n']} changes, click to new grid decoded): median {s['median']:.0f} ms "
        f"(min {s['min']:.0f}, max {s['max']:.0f})  target <= {SEED_CHANGE_TARGET_MS:g} ms: {met}",
        "   each: " + " ".join(f"{t:.0f}" for t in result["seed_change_each_ms"]),
        f"   until that rerun ended (every tab redrawn): median {r['median']:.0f} ms (min {r['min']:.0f}, max {r['max']:.0f})",
        "first render (goto to main content visible), per page:   first visit (cold)   revisit (warm)",
    ]
    for url_path, row in result["first_render_ms"].items():
        shown_by = "" if url_path in PAGES else "  (its title: no picture to wait for is known)"
        lines.append(f"  /{url_path:<26} {row['cold']:>14.0f} ms {row['warm']:>13.0f} ms{shown_by}")
    return "\n".join(lines)


def machine_description() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at the start"
        f"{' (busy: other work holds about ' + format(load[0], '.1f') + ' cores)' if load[0] >= 0.5 else ' (idle)'}; "
        f"python {platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )


@contextlib.contextmanager
def streamlit_server(log: Path, root: Path = ROOT, timeout_s: float = 60):
    """`streamlit run explorer/Home.py` of `root` on a free loopback port with its shipped models; yields the port.

    The server is stopped by its PID. `root`'s packages come first on the path (before the installed ones).
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])]))
    env.pop("DCGAN_MODELS_DIR", None)
    with local_app.streamlit_server(log, env=env, root=root, timeout_s=timeout_s) as port:
        yield port


def time_page_loads(browser, base: str, pages: list[str]) -> dict[str, float]:
    """ms from goto to each page's main content visible, each page in a fresh tab (a new session)."""
    out = {}
    for url_path in pages:
        drawn = PAGES.get(url_path, TITLE_SHOWN)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            start = time.perf_counter()
            page.goto(f"{base}/{url_path}")
            page.wait_for_function(drawn, timeout=TIMEOUT_MS)
            out[url_path] = (time.perf_counter() - start) * 1000
            if page.locator('[data-testid="stException"]').count():
                raise RuntimeError(f"/{url_path} shows an exception")
        finally:
            page.close()
    return out


def time_seed_changes(browser, base: str, runs: int) -> tuple[list[float], list[float]]:
    """ms from clicking the seed's + to (the new walk grid decoded, the run ended), `runs` times (seeds 1..runs)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(f"{base}/latent_walk")
        page.wait_for_function(f"() => ({GRID_IMG})() !== null && ({IMAGE_SHOWN})() && ({SETTLED})()", timeout=TIMEOUT_MS)
        seed_input = page.locator('[data-testid="stMain"] [data-testid="stNumberInput"] input').first
        if seed_input.input_value() != "0":
            raise RuntimeError(f"the walk's seed starts at {seed_input.input_value()}, expected 0")
        grid, settled = [], []
        for i in range(1, runs + 1):
            ms = page.evaluate(SEED_CHANGE)  # returns once the run has ended: changes never overlap
            grid.append(ms["grid"])
            settled.append(ms["settled"])
            if seed_input.input_value() != str(i):
                raise RuntimeError(f"seed shows {seed_input.input_value()} after {i} clicks")
            if page.locator('[data-testid="stException"]').count():
                raise RuntimeError("/latent_walk shows an exception")
        return grid, settled
    finally:
        page.close()


def measure(runs: int, log: Path, root: Path = ROOT) -> dict:
    from playwright.sync_api import sync_playwright

    machine = machine_description()
    pages = app_pages(root)
    with streamlit_server(log, root) as port, sync_playwright() as p:
        browser = local_app.launch_chromium(p)
        try:
            base = f"http://127.0.0.1:{port}"
            cold = time_page_loads(browser, base, pages)
            warm = time_page_loads(browser, base, pages)
            seed_ms, settled_ms = time_seed_changes(browser, base, runs)
        finally:
            browser.close()
    return {
        "app": str(root),
        "machine": machine,
        "seed_change_ms": summarize(seed_ms),
        "seed_change_each_ms": seed_ms,
        "seed_change_run_ended_ms": summarize(settled_ms),
        "first_render_ms": {u: {"cold": cold[u], "warm": warm[u]} for u in pages},
        "load_average_after": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10, help="seed changes to time (default 10)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--log", help="where the server's output goes (default: a temporary file)")
    p.add_argument("--root", type=Path, default=ROOT, help="the app's folder (default: this checkout)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if not Path(CHROMIUM).is_file():
        p.error(f"{CHROMIUM} is missing (apt-get install chromium)")

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(args.log) if args.log else Path(tmp) / "streamlit.log"
        result = measure(args.runs, log, args.root.resolve())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("command: python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])]))
        print(format_report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
