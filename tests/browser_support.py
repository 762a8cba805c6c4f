"""What the real-browser tests share: the skip-or-fail rule, a free port, waiting for Streamlit.

Uses the system's Chromium (Debian package `chromium`) through Playwright; no browser is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from explorer import local_app

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM, CHROMIUM_FLAGS = local_app.CHROMIUM, local_app.CHROMIUM_FLAGS


@pytest.fixture
def browser_available():
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("Python package playwright (pip install playwright)")
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must install them")
        pytest.skip(reason)


def streamlit_server(env: dict, log: Path):
    """`streamlit run explorer/Home.py` on a free loopback port; yields the port once healthy, then stops it by PID."""
    return local_app.streamlit_server(log, env=env)
