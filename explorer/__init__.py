"""The Streamlit shell of dcgan-explorer: navigation, the model picker, cached rendering, shared widgets.

Run it with `streamlit run explorer/Home.py`. Data flows one way: the page scripts in
the top-level pages/ folder call `explorer`, which calls `dcgan_core`. Only this package
and pages/ import Streamlit.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGES_DIR = REPO_ROOT / "pages"
