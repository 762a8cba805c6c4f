"""Entry point of the app: `streamlit run explorer/Home.py`.

Registers the pages (the home page here in explorer/, the demos in the top-level pages/
folder) with st.navigation. Adding a page is one line in PAGES: its file, title and URL path.
Each page draws the sidebar model picker itself, so it also runs on its own.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import streamlit as st

from explorer import app_state
from explorer.widgets import app_icon

APP_TITLE = "DCGAN explorer"

# (script, title, url path). No page icons: the browser would fetch a ":material/...:" page icon from
# Google's servers as the tab icon, and emoji need an emoji font that servers often lack.
PAGES = [
    (ROOT / "explorer" / "home_page.py", "Home", "home"),
    (ROOT / "pages" / "1_latent_walk.py", "Latent walk", "latent_walk"),
    (ROOT / "pages" / "2_samples.py", "Samples", "samples"),
    (ROOT / "pages" / "10_your_images.py", "Your images", "your_images"),
    (ROOT / "pages" / "11_dissection.py", "Dissecting G", "dissection"),
    (ROOT / "pages" / "12_paint.py", "Paint with units", "paint"),
    (ROOT / "pages" / "3_training_monitor.py", "Training monitor", "training_monitor"),
    (ROOT / "pages" / "4_discriminator_features.py", "Discriminator features", "discriminator_features"),
    (ROOT / "pages" / "5_feature_probe.py", "Feature probe", "feature_probe"),
    (ROOT / "pages" / "6_forget_to_draw.py", "Forgetting to draw windows", "forget_to_draw"),
    (ROOT / "pages" / "7_vector_arithmetic.py", "Vector arithmetic", "vector_arithmetic"),
    (ROOT / "pages" / "8_concept_axes.py", "Concept axes and directions", "concept_axes"),
    (ROOT / "pages" / "13_turn_walk.py", "Turn vector", "turn_vector"),
    (ROOT / "pages" / "9_forget_fit_and_drop.py", "Forgetting windows: fit, drop, measure", "forget_fit"),
    (ROOT / "pages" / "14_annotation_agreement.py", "Do annotators agree?", "annotation_agreement"),
]

st.session_state[app_state.PAGES] = [(str(path), title) for path, title, _ in PAGES]
navigation = st.navigation(
    [st.Page(path, title=title, url_path=url, default=(i == 0)) for i, (path, title, url) in enumerate(PAGES)],
    expanded=True,  # every page listed: past 10 Streamlit hides the rest behind "View more"
)
st.set_page_config(page_title=f"{navigation.title} · {APP_TITLE}", page_icon=app_icon(), layout="wide")
navigation.run()
