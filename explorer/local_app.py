"""Run this app on a loopback port and look at it with the system's Chromium: for tests, benchmarks and screenshots.

Streamlit is started as `streamlit run explorer/Home.py` and stopped by the PID we started; Chromium is
Debian's (`/usr/bin/chromium`), driven through Playwright, which downloads nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


class AppDidNotStart(RuntimeError):
    """Streamlit exited or did not answer in time; the message holds its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(port: int, server: subprocess.Popen, log: Path, timeout_s: float = 30) -> None:
    """Return once Streamlit's health endpoint answers; raise AppDidNotStart (with its log) if it exits or stays silent."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AppDidNotStart(f"streamlit exited with code {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AppDidNotStart(f"streamlit did not answer on port {port} within {timeout_s:.0f} s:\n{log.read_text()}")


@contextlib.contextmanager
def streamlit_server(log: Path, env: dict | None = None, root: Path = REPO_ROOT, port: int | None = None,
                     timeout_s: float = 30) -> Iterator[int]:
    """`streamlit run explorer/Home.py` in `root` on a loopback port; yields the port once healthy, then stops it by PID."""
    port = port or free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "explorer/Home.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    try:
        wait_until_healthy(port, server, log, timeout_s)
        yield port
    finally:
        os.kill(server.pid, signal.SIGTERM)  # the server we started, by its PID
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()


def launch_chromium(playwright):
    """Debian's Chromium, headless, through a running `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
