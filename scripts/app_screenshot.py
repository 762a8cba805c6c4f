"""The README's screenshot of the app: the Home page on the shipped models, in Debian's Chromium.

Starts `streamlit run explorer/Home.py` on a loopback port, opens the Home page through Playwright
(the system's /usr/bin/chromium; no browser is downloaded), waits until the live samples are drawn,
scrolls them into view beside the sidebar's list of pages, saves a PNG small enough for the README
(a palette image, at most --width pixels wide), and stops the server it started, by its PID.

    .venv/bin/python scripts/app_screenshot.py --out docs/app_home.png
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image

from dcgan_core.files import write_bytes_atomic
from explorer import local_app

ROOT = Path(__file__).resolve().parent.parent
# an <img> of an st.image that is decoded and laid out: the Home page's live samples
IMAGE_SHOWN = """() => [...document.querySelectorAll('[data-testid="stImage"] img')]
    .some(img => img.complete && img.naturalWidth > 0 && img.offsetParent !== null)"""
SAMPLES_HEADING = "Samples from the picked model"  # explorer/home_page.py


def capture(port: int, viewport: tuple[int, int], timeout_ms: int) -> bytes:
    """PNG bytes of the Home page once its samples are shown."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = local_app.launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function(IMAGE_SHOWN, timeout=timeout_ms)
            # the samples sit below the list of pages: scroll them into view; the sidebar stays
            page.get_by_text(SAMPLES_HEADING).evaluate("e => e.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(1500)  # let the scroll and the fonts settle
            return page.screenshot(full_page=False)
        finally:
            browser.close()


def shrink(png: bytes, width: int) -> bytes:
    """At most `width` pixels wide, 256-colour palette: a few hundred KB instead of a few MB."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/app_home.png", help="PNG path (default: docs/app_home.png)")
    ap.add_argument("--port", type=int, default=8599, help="loopback port for the server (default: 8599)")
    ap.add_argument("--viewport", type=int, nargs=2, default=(1280, 900), metavar=("W", "H"), help="browser window (default: 1280 900)")
    ap.add_argument("--width", type=int, default=1000, help="largest width of the saved PNG (default: 1000)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for the server and the samples (default: 120)")
    args = ap.parse_args(argv)

    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    with tempfile.TemporaryDirectory() as tmp, \
            local_app.streamlit_server(Path(tmp) / "streamlit.log", env=env, root=ROOT, port=args.port,
                                       timeout_s=args.timeout) as port:
        png = shrink(capture(port, tuple(args.viewport), int(args.timeout * 1000)), args.width)
    write_bytes_atomic(args.out, png)
    print(f"{args.out}: {len(png) / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
