"""The home page: what each page shows and which figure of the paper it reproduces, and live samples."""

import ast
from pathlib import Path

import streamlit as st

from explorer import PAGES_DIR, app_state, renderer, widgets
from explorer.model_picker import require_model


def page_summary(path: Path) -> str:
    """First paragraph of a page script's docstring: what it shows and which figure it reproduces."""
    try:
        doc = ast.get_docstring(ast.parse(Path(path).read_text())) or ""
    except (OSError, SyntaxError):
        return ""
    return doc.split("\n\n")[0].replace("\n", " ")


st.title("DCGAN explorer")
st.markdown(
    "What did a DCGAN (Radford, Metz & Chintala 2015, *Unsupervised Representation Learning with Deep "
    "Convolutional Generative Adversarial Networks*) learn? Pick a model in the sidebar, then a page. "
    "Every picture is regenerated from (checkpoint, seed, settings), which each caption states."
)

pages = st.session_state.get(app_state.PAGES)
if pages:
    for path, title in pages[1:]:
        with st.container(border=True):
            st.page_link(path, label=f"**{title}**")
            st.markdown(page_summary(Path(path)))
else:  # this file run on its own, without Home.py's navigation
    for path in sorted(PAGES_DIR.glob("[0-9]*.py")):
        st.markdown(f"**{path.stem.split('_', 1)[-1].replace('_', ' ').capitalize()}**: {page_summary(path)}")

st.subheader("Samples from the picked model")
model = require_model()
seed = st.columns(4)[0].number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=app_state.HOME_SEED)
with widgets.user_errors("generate samples"):
    images = renderer.sample_images(model.loaded, model.key, int(seed), 16)
widgets.show_grid(images, nrow=8, caption=f"samples 0-15 of seed {seed} · {model.describe()}", min_px=1024)
