"""Your own images in z: upload pictures (or pick training images), find the codes G redraws them from, and save those codes for every other page.

Three methods (dcgan_core.inversion): optimise (Adam on z through G, pixels plus D's features),
encode (one pass of an encoder trained on G's samples: `dcgan train-encoder`), hybrid (the encoder's
code refined by optimisation, Zhu et al. 2020). Saved codes are concept sets of the model: the walk
takes them as waypoints, the arithmetic page as A, B or C, the concept axes page as the faces it
moves, and the window-removal page as the rooms it edits.
"""

import streamlit as st

from explorer import app_state as keys
from explorer import arithmetic as arith
from explorer import saved_codes, widgets
from explorer import your_images as yours
from explorer.model_picker import require_model

METHOD_WORDS = {"hybrid": "hybrid (encoder, then optimise)", "optimise": "optimise", "encode": "encode (instant, rough)"}

widgets.page_header(
    "Your images in z",
    "Beyond the paper: GAN inversion (optimisation through G; in-domain encoder + optimisation, Zhu et al. 2020)",
    "Which code makes G draw *your* picture? Upload images (or pick training images), invert them, compare each "
    "with G's reconstruction, and save the codes: every other page then takes them like any sample.",
)
model = require_model()
encoder, no_encoder = yours.encoder_for(model)
if no_encoder:
    st.info(no_encoder, icon=":material/info:")

source = st.segmented_control("Images", ["upload", "training"], default="upload", required=True, key=keys.YOURS_SOURCE,
                              format_func={"upload": "upload your own", "training": "training images"}.get)
c = st.columns([2, 1])
with c[1]:
    methods = yours.methods_for(encoder)
    method = st.segmented_control("Method", methods, default=methods[0], required=True, key=keys.YOURS_METHOD,
                                  format_func=METHOD_WORDS.get)
    steps = st.slider("Optimisation steps", 10, 500, yours.default_steps(method) or 100, step=10, key=keys.YOURS_STEPS,
                      disabled=method == "encode", help="Adam steps on z per image (the encoder alone takes none)")
with c[0], widgets.user_errors("read the images"):
    if source == "upload":
        uploads = st.file_uploader(f"Images (PNG, JPEG or WebP; up to {yours.MAX_IMAGES} at once)", type=["png", "jpg", "jpeg", "webp"],
                                   accept_multiple_files=True, key=keys.YOURS_UPLOADS, max_upload_size=yours.MAX_UPLOAD_MB)
        if not uploads:
            st.caption("Pictures are centre-cropped to a square and resized to the model's size, like training images.")
            st.stop()
        prepared = yours.uploaded_images(model, uploads)
    else:
        t = st.columns(2)
        start = t[0].number_input("First training image", 0, 10**7, 0, key=keys.YOURS_TRAIN_START)
        count = t[1].number_input("How many", 1, yours.MAX_IMAGES, 8, key=keys.YOURS_TRAIN_COUNT)
        prepared = yours.training_images(model, int(start), int(count))
for note in prepared.notes:
    st.caption(note)

if st.button(f"Invert {len(prepared.names)} image{'s' * (len(prepared.names) != 1)}", type="primary", key=keys.YOURS_RUN):
    st.session_state[keys.YOURS_ASKED] = (yours.digest(prepared.images), method, int(steps))
asked = st.session_state.get(keys.YOURS_ASKED)
if asked != (yours.digest(prepared.images), method, int(steps)):
    st.caption("Press Invert to find the codes (the settings or images changed since the last inversion).")
    st.stop()

bar = st.progress(0.0, text=f"Inverting {len(prepared.names)} images ({METHOD_WORDS[method]})...")
with widgets.user_errors("invert the images"):
    result = yours.invert_prepared(model, prepared, method, int(steps), encoder,
                                   progress=lambda done, total: bar.progress(done / total if total else 1.0,
                                                                             text=f"Step {done} of {total}"))
bar.empty()
shown = yours.comparison(model, prepared, result)
st.subheader("Original | reconstruction | difference")
st.caption(f"{METHOD_WORDS[method]}, {result.steps} steps, {result.restarts} start(s) per image · {model.describe()}. "
           f"Pixel error (RMSE, 0-255): median {shown.median_error:.1f}. The difference is |original - G(z)| x 3."
           + (f" Face instrument: {arith.BADGE_LEGEND}" if shown.readings else ""))
for i, name in enumerate(prepared.names):
    row = st.columns([1, 1, 1, 2])
    read = (f" · {shown.readings[0][i]}", f" · {shown.readings[1][i]}") if shown.readings else ("", "")
    with row[0]:
        widgets.show_picture(shown.originals[i], caption=name + read[0], min_px=192)
    with row[1]:
        widgets.show_picture(shown.reconstructions[i], caption="G(z)" + read[1], min_px=192)
    with row[2]:
        widgets.show_picture(shown.differences[i], caption=f"error {shown.errors[i]:.1f}", min_px=192)

st.subheader("Save the codes")
s = st.columns([2, 1])
set_name = s[0].text_input("Name", value="my images", key=keys.YOURS_NAME, max_chars=64)
if s[1].button("Save codes", icon=":material/save:", key=keys.YOURS_SAVE):
    with widgets.user_errors("save the codes"):
        path, replaced = yours.save_codes(model, set_name, result)
    st.success(f"Saved {len(prepared.names)} code{'s' * (len(prepared.names) != 1)} as {set_name.strip()!r}{' (replacing the set of that name)' if replaced else ''}: "
               "pick them on the walk (waypoints), the arithmetic page (A, B or C), the concept axes page and the "
               f"window-removal page. File: `{path}`.", icon=":material/check_circle:")
st.caption(f"Saved sets of this model: {', '.join(saved_codes.saved_set_names(model)) or 'none yet'} "
           f"(in `{saved_codes.saved_path_hint(model)}`).")
