"""Add and subtract concepts in z (paper section 6.3.2, Figs. 7 and 8): pick three samples each of "smiling woman", "neutral woman" and "neutral man" and their averages make a smiling man, which the face instrument measures, while the same sum of pixels gives ghostly overlays. Two concept sets define an axis (looking left to looking right turns heads), and attribute directions learned from thousands of labelled samples move one attribute while holding others fixed.

The paper averages 3 exemplars per concept (single samples were unstable) and shows
Y = mean(A) - mean(B) + mean(C) in the centre of 8 samples of Y plus uniform noise in
[-0.25, 0.25]. Concept sets are saved per model in $DCGAN_CONCEPTS_DIR (default
~/.local/share/dcgan-explorer/concepts), with a fingerprint of the weights they belong to.
Library: `dcgan_core.analysis.concepts`.
"""

from pathlib import Path


import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from dcgan_core.analysis import concepts, latent_geometry
from dcgan_core.analysis.instruments import InstrumentError, default_instrument_path, load_instrument
from dcgan_core.analysis.linear_ceiling import CEILING_DRAWS
from dcgan_core.generate import generate
from dcgan_core.images import image_grid
from dcgan_core.latent import sample_z
from explorer import app_state as keys
from explorer import renderer, session, widgets
from explorer.model_picker import entries_of_dataset, require_model, switch_model

GRID_SIZE = 32  # samples offered for picking
GRID_COLUMNS = 8
SLOTS = (0, 1, 2)
LETTERS = "ABC"
DEMO_EQUATION = "glasses"  # the one-click demo: the equation that works on the shipped faces model
DEMO_RATES = {  # measured on the shipped faces model by `dcgan arithmetic --model faces` (README, "Vector arithmetic")
    "glasses": "about 8 draws in 10 (83% over 100 draws, 80% over 2,100)",
    "smile": "about half the draws (54% over 100 draws: smiles are rough in z)",
}
FACE_NAMES = tuple(c.name for c in (concepts.EQUATIONS[DEMO_EQUATION].a, concepts.EQUATIONS[DEMO_EQUATION].b,
                                    concepts.EQUATIONS[DEMO_EQUATION].c))
NEUTRAL_NAMES = ("concept A", "concept B", "concept C")  # a model that does not draw faces
CHUNK = 256  # samples generated and read per cached call (one progress step)
AUTO_POOL = 256  # samples of the grid seed among which the instrument picks exemplars
DIRECTION_SAMPLES = (500, 1000, 2000, 5000)
BENCH_POOL = 1000  # samples labelled once by the benchmark, among which each draw picks its exemplars
LAYOUT_SAMPLES = 2000  # at most this many samples for the "how attributes lie in z" chart (it also reads lines and means)
ATTRIBUTE_WORDS = {"glasses": "glasses", "smiling": "smiling", "masculine": "masculine", "turn": "turn (towards the right)"}


# ---------------------------------------------------------------------------- compute, cached per model weights


@st.cache_resource(show_spinner="Loading the face instrument...")
def face_instrument():
    """The shipped face instrument, shared read-only by every session."""
    return load_instrument(default_instrument_path("faces"), kind="faces")


@st.cache_data(max_entries=8, show_spinner=False)
def identity_of(_model, model_key: tuple, name: str) -> concepts.ModelIdentity:
    return concepts.model_identity(name, _model)


@st.cache_data(max_entries=64, show_spinner=False)
def images_of(_model, model_key: tuple, z: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) of codes z (N, nz)."""
    return generate(_model.generator, torch.from_numpy(np.asarray(z, dtype=np.float32)))


@st.cache_data(max_entries=64, show_spinner=False)
def read(images: np.ndarray) -> dict:
    """The face instrument's labels of uint8 (N, H, W, 3) images."""
    return concepts.read_images(face_instrument(), images).labels()


@st.cache_data(max_entries=128, show_spinner=False)
def labelled_chunk(_model, model_key: tuple, seed: int, start: int, stop: int) -> concepts.LabelledSamples:
    """Samples start..stop-1 of `seed` with the instrument's readings."""
    z = sample_z(stop, _model.config, seed=seed)[start:stop]
    return concepts.read_codes(_model.generator, face_instrument(), z)[1]


def labelled(model, seed: int, n: int, progress=None) -> concepts.LabelledSamples:
    """Samples 0..n-1 of `seed` with the instrument's readings, in cached chunks (progress(fraction) after each)."""
    parts = []
    for start in range(0, n, CHUNK):
        parts.append(labelled_chunk(model.loaded, model.key, seed, start, min(start + CHUNK, n)))
        if progress is not None:
            progress(min(start + CHUNK, n) / n)
    return concepts.concat_labelled(parts)


@st.cache_data(max_entries=8, show_spinner=False)
def fitted_directions(_active, model_key: tuple, seed: int, n: int) -> concepts.FittedDirections:
    """Directions fitted on samples 0..n-1 of `seed` (`_active`: the ActiveModel, named by model_key)."""
    samples = labelled(_active, seed, n)
    return concepts.fit_directions(samples.z, samples.labels(), seed=seed)


@st.cache_data(max_entries=8, show_spinner=False)
def attribute_layout(_model, model_key: tuple, seed: int, n: int) -> list[latent_geometry.AttributeGeometry]:
    """How linear and convex each attribute is in z (latent_geometry), on samples 0..n-1 of `seed`."""
    return latent_geometry.attribute_geometry(_model.generator, face_instrument(), n=n, lines=30, means=100, seed=seed,
                                              smooth=False)


def show_attribute_layout(seed: int, n: int) -> None:
    """A bar chart: per attribute, its linear separability in z and whether means of 3 codes keep it."""
    n = max(100, min(n, LAYOUT_SAMPLES))
    with st.spinner(f"Measuring how each attribute lies in z ({n:,} samples, lines and means)..."):
        rows = attribute_layout(model.loaded, model.key, seed, n)
    if not rows:
        return
    names = [ATTRIBUTE_WORDS[r.name] for r in rows]
    fig = go.Figure([
        go.Bar(name=label, x=names, y=[getattr(r, field) for r in rows], marker_color=color,
               hovertemplate="%{x}: %{y:.0%}<extra>" + label + "</extra>")
        for field, label, color in (("linear", "linear in z (held-out accuracy)", "#4c78a8"),
                                    ("kept_yes", "mean of 3 'yes' codes stays yes", "#f58518"),
                                    ("kept_no", "mean of 3 'no' codes stays no", "#bab0ac"))
    ])
    fig.update_layout(barmode="group", yaxis=dict(range=[0, 1], tickformat=".0%"), height=300,
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.15))
    st.plotly_chart(fig, width="stretch", key="arith_layout")
    st.caption(
        f"How each attribute lies in z ({n:,} samples of seed {seed}). Vector arithmetic and these sliders assume an attribute "
        "is one side of a flat boundary: accuracy near 100% and means that keep it. Where a mean of 3 codes loses the attribute, "
        "concept averages (section 2) lose it too. Flips along a straight line between two codes: "
        + ", ".join(f"{ATTRIBUTE_WORDS[r.name]} {r.flips_per_line:.2f}" for r in rows)
        + ". Labels changed by the 8 neighbours' noise (+-0.25), against a flat boundary at the same share: "
        + ", ".join(f"{ATTRIBUTE_WORDS[r.name]} {r.noise_flips:.0%} ({r.noise_flips_linear:.0%})" for r in rows)
        + " (`python -m dcgan_core.analysis.latent_geometry` prints the full table)."
    )


# ---------------------------------------------------------------------------- slots: the exemplars of A, B and C


def slots_key(model) -> str:
    return keys.ARITH_SLOTS_PREFIX + model.name


def slots_of(model) -> list[list[dict]]:
    """Per slot, the picked exemplars {"z": (nz,) float32, "seed": int | None, "index": int | None}."""
    slots = st.session_state.setdefault(slots_key(model), [[] for _ in SLOTS])
    for picks in slots:  # a model of the same name may have been retrained with another z size
        picks[:] = [p for p in picks if len(p["z"]) == model.config.nz]
    return slots


def name_key(model, i: int) -> str:
    """Session key of slot i's concept name: one per model, so faces' names never label rooms."""
    return f"{keys.ARITH_NAME_PREFIX}{model.name}_{i}"


def slot_name(i: int) -> str:
    return (st.session_state.get(name_key(model, i)) or "").strip() or default_names[i]


def slot_codes(picks: list[dict]) -> np.ndarray:
    return np.stack([p["z"] for p in picks]).astype(np.float32)


def on_this_grid(p: dict, seed: int) -> bool:
    """Whether an exemplar is one of the grid's samples (so its pill shows it)."""
    return p["seed"] == seed and p["index"] is not None and p["index"] < GRID_SIZE


def source_label(p: dict) -> str:
    return "loaded" if p["seed"] is None else f"seed {p['seed']} #{p['index']}"


def concept_set(model, identity, i: int, picks: list[dict]) -> concepts.ConceptSet:
    known = all(p["seed"] is not None for p in picks)
    return concepts.ConceptSet(
        slot_name(i), slot_codes(picks), identity, tuple((p["seed"], p["index"]) for p in picks) if known else ()
    )


def message(kind: str, text: str) -> None:
    """Show `text` once, on the next run (callbacks run before the page is drawn)."""
    st.session_state[keys.ARITH_MESSAGE] = (kind, text)


def bump_revision() -> None:
    """Slots changed outside the grid's pills: remount the pills so they show the slots as they are now."""
    st.session_state[keys.ARITH_REVISION] = st.session_state.get(keys.ARITH_REVISION, 0) + 1


# ---------------------------------------------------------------------------- callbacks (run before the next script run)


def sync_picks(model, slot: int, seed: int, pills_key: str) -> None:
    """The grid's pills of `slot` changed: add the newly chosen samples of this grid, drop the unchosen ones."""
    chosen = [int(i) for i in st.session_state.get(pills_key) or []]
    picks = slots_of(model)[slot]
    had = {p["index"] for p in picks if on_this_grid(p, seed)}
    picks[:] = [p for p in picks if not on_this_grid(p, seed) or p["index"] in chosen]
    z = sample_z(GRID_SIZE, model.config, seed=seed).numpy()
    picks.extend({"z": z[i], "seed": seed, "index": i} for i in chosen if i not in had)


def remove_pick(model, slot: int, remove_key: str) -> None:
    position = st.session_state.get(remove_key)
    picks = slots_of(model)[slot]
    if position is not None and 0 <= position < len(picks):
        del picks[position]
    bump_revision()


def clear_slot(model, slot: int) -> None:
    slots_of(model)[slot].clear()
    bump_revision()


def fill_slots(model, seed: int) -> None:
    """Put the first exemplars the instrument reads as each concept of the chosen equation into A, B and C."""
    equation = concepts.EQUATIONS[st.session_state.get(keys.ARITH_FILL) or DEMO_EQUATION]
    try:
        pool = labelled(model, seed, AUTO_POOL)
    except (InstrumentError, OSError, ValueError) as e:
        return message("error", f"Could not read samples with the face instrument: {e}")
    labels = pool.labels()
    found = [np.flatnonzero(c.select(labels))[: concepts.MIN_PER_CONCEPT] for c in (equation.a, equation.b, equation.c)]
    short = [f"{c.name!r} ({len(f)})" for c, f in zip((equation.a, equation.b, equation.c), found) if len(f) < concepts.MIN_PER_CONCEPT]
    if short:
        return message(
            "error",
            f"Among samples 0-{AUTO_POOL - 1} of seed {seed} the instrument found too few {', '.join(short)}: try another grid seed, "
            "or the model does not draw them (yet).",
        )
    slots = slots_of(model)
    for i, (concept, idx) in enumerate(zip((equation.a, equation.b, equation.c), found)):
        slots[i][:] = [{"z": pool.z[j], "seed": seed, "index": int(j)} for j in idx]
        st.session_state[name_key(model, i)] = concept.name
    bump_revision()
    message("success", f"The instrument picked exemplars for {equation.describe()} from samples of seed {seed}.")


def save_slot(model, identity, slot: int) -> None:
    picks = slots_of(model)[slot]
    try:
        concept = concept_set(model, identity, slot, picks)
        path = concepts.concept_set_path(model.name, concept.name)
        replaced = path.exists()
        concepts.save_concept_set(path, concept)
    except (concepts.ConceptSetError, OSError) as e:
        return message("error", f"Could not save slot {LETTERS[slot]}: {e}")
    replacing = " (replacing the earlier set)" if replaced else ""
    message("success", f"Saved {len(concept)} exemplars of {concept.name!r} to `{path}`{replacing}.")


def load_saved(model, identity, slot: int) -> None:
    name = st.session_state.get(keys.ARITH_SAVED)
    if not name:
        return
    try:
        concept = concepts.load_concept_set(saved_path(model, name), expect=identity)
    except (concepts.ConceptSetError, OSError) as e:
        return message("error", f"Could not load {name}: {e}")
    put_in_slot(model, slot, concept)
    message("success", f"Loaded {len(concept)} exemplars of {concept.name!r} into slot {LETTERS[slot]}.")


def upload_into_slot(model, identity, slot: int, uploader_key: str) -> None:
    """A concept set file dropped on the uploader: check it belongs to these weights, then put it in `slot`."""
    upload = st.session_state.get(uploader_key)
    if upload is None:
        return
    try:
        concept = concepts.concept_set_from_json(upload.getvalue(), expect=identity, where=upload.name)
    except concepts.ConceptSetError as e:
        return message("error", f"Could not load {upload.name}: {e}")
    put_in_slot(model, slot, concept)
    message("success", f"Loaded {len(concept)} exemplars of {concept.name!r} from {upload.name} into slot {LETTERS[slot]}.")


def put_in_slot(model, slot: int, concept: concepts.ConceptSet) -> None:
    sources = concept.sources or ((None, None),) * len(concept)
    slots_of(model)[slot][:] = [{"z": z, "seed": s, "index": i} for z, (s, i) in zip(concept.z.numpy(), sources)]
    st.session_state[name_key(model, slot)] = concept.name
    bump_revision()


def saved_path(model, file_name: str) -> Path:
    """A saved set's file: only names listed in this model's folder (never a path people typed)."""
    for path in concepts.list_concept_sets(model.name):
        if path.name == file_name:
            return path
    raise FileNotFoundError(f"no saved concept set {file_name!r} for model {model.name} in {concepts.concepts_dir()}")


# ---------------------------------------------------------------------------- small helpers


BADGE_LEGEND = "Labels: M man, W woman, S smiling, G glasses, ← looking left, → looking right (what the face instrument reads)."


def badge(labels: dict, i: int) -> str:
    """A sample's labels in a few letters (see BADGE_LEGEND), so the grid's captions stay on one line."""
    side = concepts.turn_side(labels["turn"][i : i + 1])[0]
    letters = ["M" if labels["masculine"][i] else "W"]
    letters += ["S"] if labels["smiling"][i] else []
    letters += ["G"] if labels["glasses"][i] else []
    letters += ["←"] if side < 0 else ["→"] if side > 0 else []
    return "".join(letters)


def verdict(images: np.ndarray) -> str:
    return concepts.reading_summary(read(images))


def keep_choice(key: str, options: list, default) -> None:
    """Before a selectbox whose options change: keep the user's choice while it is an option, else use `default`."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def show_message() -> None:
    if keys.ARITH_MESSAGE in st.session_state:
        kind, text = st.session_state.pop(keys.ARITH_MESSAGE)
        {"success": st.success, "error": st.error, "info": st.info}[kind](text)


# ---------------------------------------------------------------------------- page

TITLE = "Vector arithmetic"
PAPER = "Paper section 6.3.2, Figs. 7 and 8; learned directions after InterFaceGAN (Shen et al. 2020)"
INTRO = (
    "Average the codes of three exemplars per concept and add and subtract the averages: "
    "*man with glasses - man without glasses + woman without glasses* gives a **woman with glasses**. The result Y sits "
    "in the centre, surrounded by 8 samples of Y plus uniform noise (the paper's Fig. 7), and the face instrument says "
    "what it sees. Beside it, the same arithmetic on the averaged *images* only overlays them."
)
model = require_model()
problem = concepts.face_instrument_problem(model.loaded)
faces_models = [n for n in entries_of_dataset("faces", image_size=64) if n != model.name]
if problem and faces_models:  # a rooms model, say: one line and the faces model, before anything else
    st.title(TITLE)
    st.info(f"Vector arithmetic here is about faces (glasses, smiles, sex, head turn), and **{model.name}** does not draw "
            "them.", icon=":material/face:")
    st.button(f"Switch to the **{faces_models[0]}** model", key=keys.ARITH_SWITCH, icon=":material/face:", type="primary",
              on_click=switch_model, args=(faces_models[0],))
    if not st.toggle(f"Do the arithmetic on {model.name} anyway (no instrument readings)", key=keys.ARITH_ANYWAY):
        st.stop()
    st.caption(PAPER)
    st.markdown(INTRO)
else:
    widgets.page_header(TITLE, PAPER, INTRO)
default_names = FACE_NAMES if problem is None else NEUTRAL_NAMES
identity = identity_of(model.loaded, model.key, model.name)
instrument_error = None
try:
    face_instrument()
except (InstrumentError, OSError) as e:
    instrument_error = str(e)
readable = instrument_error is None and model.config.channels == 3  # the instrument reads RGB
if instrument_error:
    st.warning(f"The face instrument could not be loaded ({instrument_error}): no measurements on this page.", icon=":material/warning:")
elif problem:
    st.warning(
        f"Model **{model.name}**: {problem}. The arithmetic works on any model; take the instrument's readings "
        "with a grain of salt here (pick a 64-px faces model for meaningful ones).",
        icon=":material/warning:",
    )
slots = slots_of(model)
revision = st.session_state.get(keys.ARITH_REVISION, 0)

# ---- 1. exemplars
st.subheader("1. Pick three exemplars per concept")
show_message()
slot_columns = st.columns(3)
for i, col in zip(SLOTS, slot_columns):
    with col, st.container(border=True):
        st.text_input(f"Concept {LETTERS[i]}", **session.bound(name_key(model, i), default_names[i]))
        picks = slots[i]
        if picks:
            with widgets.user_errors("generate the exemplars"):
                exemplars = images_of(model.loaded, model.key, slot_codes(picks))
                mean = images_of(model.loaded, model.key, slot_codes(picks).mean(0, keepdims=True))
            widgets.show_picture(image_grid(exemplars, nrow=min(len(picks), 6)), min_px=256,
                                 caption=f"{len(picks)} exemplars: " + ", ".join(source_label(p) for p in picks))
            widgets.show_picture(mean[0], min_px=96, width=96, caption="G(mean z)")
            st.pills(
                "Click one to remove it", list(range(len(picks))), format_func=lambda k, picks=picks: source_label(picks[k]),
                key=f"{keys.ARITH_REMOVE_PREFIX}{i}_{revision}", on_change=remove_pick,
                args=(model, i, f"{keys.ARITH_REMOVE_PREFIX}{i}_{revision}"),
            )
            st.button("Clear", key=f"{keys.ARITH_CLEAR_PREFIX}{i}", on_click=clear_slot, args=(model, i), icon=":material/delete:")
        count = f"{len(picks)}/{concepts.MIN_PER_CONCEPT}"
        st.caption(f"{count} picked" + ("" if len(picks) >= concepts.MIN_PER_CONCEPT else f": pick at least {concepts.MIN_PER_CONCEPT}"))

c = st.columns([1, 1, 2.5])
seed = int(c[0].number_input("Seed of the samples", 0, 2**31 - 1, 0, key=keys.ARITH_SEED, persist_state="session"))
badges = c[1].toggle(
    # one toggle per model: on by default where the instrument's labels mean something, and a model picked
    # later gets its own default rather than the last model's choice (off on rooms, say)
    "Instrument labels", value=readable and problem is None, key=f"{keys.ARITH_BADGES_PREFIX}{model.name}", disabled=not readable,
    help="What the face instrument reads on each sample, to help you choose",
)
active = c[2].segmented_control(
    "Clicks add to", list(SLOTS), default=0, required=True, key=keys.ARITH_ACTIVE,
    format_func=lambda i: f"{LETTERS[i]}: {slot_name(i)}", persist_state="session",
)
with widgets.user_errors("generate samples to pick from"):
    grid = renderer.sample_images(model.loaded, model.key, seed, GRID_SIZE)
grid_labels = read(grid) if badges and readable else None
in_slot = {(p["seed"], p["index"]): LETTERS[i] for i in SLOTS for p in slots[i]}
cols = st.columns(GRID_COLUMNS)
for k in range(GRID_SIZE):
    with cols[k % GRID_COLUMNS]:
        tag = f"#{k}" + (f" [{in_slot[(seed, k)]}]" if (seed, k) in in_slot else "")
        widgets.show_picture(grid[k], caption=tag + (f" · {badge(grid_labels, k)}" if grid_labels else ""), min_px=128)
if grid_labels:
    st.caption(BADGE_LEGEND)
pills_key = f"{keys.ARITH_PICK_PREFIX}{model.name}_{active}_{seed}_{revision}"
st.pills(
    f"Click samples to add them to {LETTERS[active]}: {slot_name(active)} (click again to take them out)",
    list(range(GRID_SIZE)), selection_mode="multi", format_func=lambda k: f"#{k}", key=pills_key,
    default=list(dict.fromkeys(p["index"] for p in slots[active] if on_this_grid(p, seed))),
    on_change=sync_picks, args=(model, active, seed, pills_key),
)

e = st.columns(2)
with e[0].expander("Let the instrument pick the exemplars", icon=":material/auto_awesome:"):
    demo = st.selectbox("Equation", sorted(concepts.EQUATIONS, key=lambda k: k != DEMO_EQUATION), key=keys.ARITH_FILL,
                        format_func=lambda k: concepts.EQUATIONS[k].describe())
    st.button(f"Fill A, B and C from samples 0-{AUTO_POOL - 1} of seed {seed}", on_click=fill_slots, args=(model, seed),
              disabled=not readable, key="arith_fill_button")
    st.caption("The first 3 samples the face instrument reads as each concept (neutral = not smiling). On the shipped "
               f"faces model this equation gives its target in {DEMO_RATES.get(demo, 'an unmeasured share of draws')}.")
with e[1].expander("Save and load concept sets", icon=":material/save:"):
    st.button(f"Save {LETTERS[active]} as '{slot_name(active)}'", on_click=save_slot, args=(model, identity, active),
              disabled=not slots[active], key="arith_save_button")
    saved = [p.name for p in concepts.list_concept_sets(model.name)]
    keep_choice(keys.ARITH_SAVED, saved, saved[0] if saved else None)
    st.selectbox("Saved sets of this model", saved, key=keys.ARITH_SAVED, format_func=lambda n: Path(n).stem,
                 placeholder="none saved yet")
    st.button(f"Load into {LETTERS[active]}", on_click=load_saved, args=(model, identity, active), disabled=not saved,
              key="arith_load_button")
    if slots[active]:
        with widgets.user_errors("export the set"):
            text = concepts.concept_set_to_json(concept_set(model, identity, active, slots[active]))
        st.download_button(f"Download {LETTERS[active]} as JSON", text, mime="application/json", icon=":material/download:",
                           file_name=f"{concepts.safe_name(slot_name(active)) or 'concept'}.json", key="arith_download")
    upload_key = f"{keys.ARITH_UPLOAD_PREFIX}{revision}"
    st.file_uploader(f"Or load a downloaded set into {LETTERS[active]}", type=["json"], key=upload_key,
                     on_change=upload_into_slot, args=(model, identity, active, upload_key))
    st.caption(f"Files in `{concepts.concepts_dir() / (concepts.safe_name(model.name) or 'model')}`; a set only loads "
               f"with the weights it was made with ({identity.describe()}).")

# ---- 2. the result
names = [slot_name(i) for i in SLOTS]
equation = f"{names[0]} − {names[1]} + {names[2]}"
st.subheader(f"2. {equation}")
short = [f"{LETTERS[i]} {len(slots[i])}/{concepts.MIN_PER_CONCEPT}" for i in SLOTS if len(slots[i]) < concepts.MIN_PER_CONCEPT]
if short:
    st.info(f"Pick at least {concepts.MIN_PER_CONCEPT} exemplars for each concept (the paper averages 3); still missing: "
            f"{', '.join(short)}.", icon=":material/info:")
else:
    c = st.columns(3)
    scale = c[0].slider("Noise around Y", 0.0, 1.0, concepts.NOISE_SCALE, 0.05, key=keys.ARITH_SCALE,
                        help="The 8 neighbours are Y plus uniform noise in [-scale, scale] per dimension (paper: 0.25)")
    noise_seed = int(c[1].number_input("Noise seed", 0, 2**31 - 1, 0, key=keys.ARITH_NOISE_SEED))
    clip = c[2].toggle("Clip to [-1, 1]", value=False, key=keys.ARITH_CLIP,
                       help="Keep the neighbours inside the uniform prior's box. The paper does not clip.")
    codes = [slot_codes(slots[i]) for i in SLOTS]
    with widgets.user_errors("compute the arithmetic"):
        y = concepts.concept_arithmetic(*codes)
        grid_z = concepts.arithmetic_codes(y, float(scale), noise_seed, clip=1.0 if clip else None)
        result = images_of(model.loaded, model.key, grid_z.numpy())
        means = images_of(model.loaded, model.key, np.stack([z.mean(0) for z in codes]))
        exemplars = [images_of(model.loaded, model.key, z) for z in codes]
        pixel_means = np.stack([concepts.mean_image(x) for x in exemplars])
        pixel_result = concepts.pixel_arithmetic(*exemplars)
    left, right = st.columns(2)
    with left:
        st.markdown("**In z** (the paper's way): average the codes, then generate")
        widgets.show_grid(means, nrow=3, min_px=384, caption="G(mean z) of " + ", ".join(f"{LETTERS[i]} {names[i]}" for i in SLOTS))
        if readable:
            mean_labels = read(means)
            st.caption(
                "Instrument on each G(mean z): " + ", ".join(f"{LETTERS[i]} {badge(mean_labels, i)}" for i in SLOTS)
                + ". The arithmetic assumes each mean still shows its concept; where it does not, that concept's region of z "
                "is not convex (`python -m dcgan_core.analysis.latent_geometry` measures it per attribute)."
            )
        grid_picture = widgets.show_grid(
            result, nrow=3, min_px=384,
            caption=f"Y = {equation} in the centre; around it Y + uniform noise ±{scale:g} (noise seed {noise_seed}"
            f"{', clipped' if clip else ''}) · {model.describe()}",
        )
        if readable:
            st.markdown(f"**Instrument, 9 images:** {verdict(result)}")
        widgets.download_png("Result as PNG", grid_picture, f"{widgets.file_stem('arithmetic', model.name, f'noise{noise_seed}')}.png",
                             key="arith_png")
    with right:
        st.markdown("**In pixel space**: average the images, then add and subtract them")
        widgets.show_grid(pixel_means, nrow=3, min_px=384, caption="mean image of " + ", ".join(f"{LETTERS[i]}" for i in SLOTS))
        widgets.show_picture(pixel_result, min_px=256, width=256, caption="mean image A − B + C, clipped to 0..255")
        if readable:
            st.markdown(f"**Instrument, 1 image:** {verdict(pixel_result[None])}")

# ---- 3. axes
st.subheader("3. Turn: any two concept sets define an axis")
st.markdown(
    "The paper averaged faces looking left and faces looking right; moving from one average to the other "
    "turns the head (Fig. 8). Any two concept sets work the same way: the axis is mean(to) − mean(from)."
)


def codes_of(option: str) -> np.ndarray:
    """(k, nz) exemplar codes of an axis end: a slot, a saved set, or faces the instrument reads as looking left / right."""
    kind, _, what = option.partition(":")
    if kind == "slot":
        return slot_codes(slots[int(what)])
    if kind == "file":
        return concepts.load_concept_set(saved_path(model, what), expect=identity).z.numpy()
    concept = concepts.TURN_LEFT if what == "left" else concepts.TURN_RIGHT
    pool = labelled(model, seed, AUTO_POOL)
    found = np.flatnonzero(concept.select(pool.labels()))[: concepts.MIN_PER_CONCEPT]
    if len(found) < concepts.MIN_PER_CONCEPT:
        raise ValueError(
            f"the instrument found {len(found)} faces {concept.name} among samples 0-{AUTO_POOL - 1} of seed {seed}; need "
            f"{concepts.MIN_PER_CONCEPT}: try another seed of the samples above, or pick them by hand"
        )
    return pool.z[found]


def axis_section() -> None:
    sources = {f"slot:{i}": f"{LETTERS[i]}: {names[i]} ({len(slots[i])})" for i in SLOTS if slots[i]}
    if readable:
        sources["auto:left"] = "looking left (3 picked by the instrument)"
        sources["auto:right"] = "looking right (3 picked by the instrument)"
    for path in concepts.list_concept_sets(model.name):
        sources[f"file:{path.name}"] = f"saved: {path.stem}"
    if len(sources) < 2:
        st.info("Pick exemplars above (or save sets) to define an axis between two of them.", icon=":material/info:")
        return
    options = list(sources)
    auto = readable and problem is None  # on a faces model, open on the paper's turn axis
    c = st.columns([2, 2, 1, 1])
    keep_choice(keys.ARITH_AXIS_FROM, options, "auto:left" if auto else options[0])
    keep_choice(keys.ARITH_AXIS_TO, options, "auto:right" if auto else options[1])
    start = c[0].selectbox("From", options, format_func=sources.get, key=keys.ARITH_AXIS_FROM)
    end = c[1].selectbox("To", options, format_func=sources.get, key=keys.ARITH_AXIS_TO)
    steps = c[2].slider("Steps", 3, 15, 9, key=keys.ARITH_AXIS_STEPS)
    extend = c[3].slider("Beyond the ends", 0.0, 1.0, 0.0, 0.25, key=keys.ARITH_AXIS_EXTEND,
                         help="Go this fraction of the axis past both ends")
    try:
        za, zb = codes_of(start), codes_of(end)
    except widgets.USER_ERRORS as e:
        st.warning(f"No axis: {e}", icon=":material/warning:")
        return
    strip = images_of(model.loaded, model.key, concepts.axis_strip(za, zb, steps, extend).numpy())
    widgets.show_grid(
        strip, nrow=steps, min_px=1024,
        caption=f"from mean({sources[start]}) to mean({sources[end]}), {steps} steps"
        + (f", {extend:g} of the axis beyond both ends" if extend else "") + f" · {model.describe()}",
    )
    if readable:
        st.caption("Instrument turn along the strip (−1 looks left, +1 right): " + " · ".join(f"{t:+.2f}" for t in read(strip)["turn"]))
    c = st.columns([1, 1, 4])
    things = "faces" if problem is None else "samples"
    axis_seed = int(c[0].number_input(f"Seed of the random {things}", 0, 2**31 - 1, 0, key=keys.ARITH_AXIS_SEED))
    amount = c[1].slider("Amount", 0.25, 2.0, 1.0, 0.25, key=keys.ARITH_AXIS_AMOUNT,
                         help="Each row goes from the face minus amount × axis to the face plus amount × axis")
    faces = sample_z(4, model.config, seed=axis_seed)
    rows = concepts.along_axis(faces, concepts.concept_axis(za, zb), np.linspace(-amount, amount, steps))
    moved = images_of(model.loaded, model.key, rows.reshape(-1, model.config.nz).numpy())
    widgets.show_grid(moved, nrow=steps, min_px=1024,
                      caption=f"4 random {things} of seed {axis_seed} (rows) plus t × axis, t from {-amount:g} to {amount:g} (Fig. 8)")
    if readable:
        turn = read(moved)["turn"].reshape(4, steps).mean(0)
        st.caption("Mean instrument turn per column: " + " · ".join(f"{t:+.2f}" for t in turn))


axis_section()

# ---- 4. learned directions
st.subheader("4. Learned directions (beyond the paper)")
st.markdown(
    "The face instrument labels thousands of generated faces; a logistic regression in z per attribute "
    "separates them, and its normal is a direction that adds the attribute (InterFaceGAN). *Hold fixed* "
    "projects the held attributes' directions out of the others, so moving along one leaves them be."
)


def ask_fit() -> None:
    st.session_state[keys.ARITH_DIR_FIT] = (int(st.session_state[keys.ARITH_DIR_N]), int(st.session_state[keys.ARITH_DIR_SEED]))


def directions_section() -> None:
    if not readable:
        st.info("Learned directions need the face instrument and an RGB model.", icon=":material/info:")
        return
    c = st.columns([1, 1, 1])
    n = int(c[0].selectbox("Labelled samples", DIRECTION_SAMPLES, index=2, key=keys.ARITH_DIR_N))
    fit_seed = int(c[1].number_input("Seed of the labelled samples", 0, 2**31 - 1, 0, key=keys.ARITH_DIR_SEED))
    c[2].button("Fit directions", key="arith_fit_button", icon=":material/insights:", on_click=ask_fit)
    if st.session_state.get(keys.ARITH_DIR_FIT) != (n, fit_seed):
        st.caption(f"Generating and reading {n:,} faces takes a few seconds on a CPU; results are cached per model.")
        return
    bar = st.progress(0.0, text=f"Labelling {n:,} samples of seed {fit_seed} with the face instrument...")
    labelled(model, fit_seed, n, progress=lambda f: bar.progress(f, text=f"Labelled {f:.0%} of {n:,} samples"))
    fitted = fitted_directions(model, model.key, fit_seed, n)
    bar.empty()
    st.caption(
        f"Fitted on {fitted.n:,} labelled samples of seed {fit_seed}; held-out accuracy in z: "
        + (", ".join(f"{ATTRIBUTE_WORDS[k]} {d.accuracy:.0%} ({d.positives} yes / {d.negatives} no)"
                     for k, d in fitted.directions.items()) or "none")
    )
    for k, why in fitted.skipped.items():
        st.caption(f"Not fitted: {ATTRIBUTE_WORDS[k]}: {why}.")
    if not fitted.directions:
        st.info("No attribute could be fitted on these samples: the instrument read them all alike.", icon=":material/info:")
        return
    show_attribute_layout(fit_seed, n)
    attrs = list(fitted.directions)
    held = st.multiselect("Hold fixed", attrs, key=keys.ARITH_DIR_HOLD, format_func=ATTRIBUTE_WORDS.get)
    amounts = {
        k: col.slider(ATTRIBUTE_WORDS[k], -3.0, 3.0, 0.0, 0.25, key=f"{keys.ARITH_DIR_AMOUNT_PREFIX}{k}",
                      help="Distance along the attribute's unit normal in z units (samples of the uniform prior spread "
                      "about 0.58 along any unit direction)")
        for k, col in zip(attrs, st.columns(len(attrs)))
    }
    row_seed = int(st.columns([1, 3])[0].number_input("Seed of the faces", 0, 2**31 - 1, 0, key=keys.ARITH_DIR_ROW_SEED))
    normals = fitted.normals()
    edit = np.zeros(model.config.nz)
    try:
        for k, a in amounts.items():
            others = [normals[h] for h in held if h != k]
            if a:
                edit += a * (concepts.project_out(normals[k], others) if others else normals[k])
    except ValueError as e:
        st.warning(f"Cannot hold {', '.join(held)} fixed: {e}", icon=":material/warning:")
        return
    before = sample_z(8, model.config, seed=row_seed)
    pair = images_of(model.loaded, model.key, torch.cat([before, concepts.move_along(before, edit, 1.0)]).numpy())
    moved = ", ".join(f"{ATTRIBUTE_WORDS[k]} {a:+g}" for k, a in amounts.items() if a) or "nothing moved yet"
    widgets.show_grid(
        pair, nrow=8, min_px=1024,
        caption=f"samples 0-7 of seed {row_seed}, before (top) and after (bottom): {moved}"
        + (f"; holding {', '.join(held)} fixed" if held else "") + f" · {model.describe()}",
    )
    st.markdown(f"**Instrument, before:** {verdict(pair[:8])}  \n**Instrument, after:** {verdict(pair[8:])}")


with widgets.user_errors("fit the directions"):
    directions_section()

# ---- 5. the benchmark
st.subheader("5. How often it works: the paper's equations over many draws")
st.markdown(
    "The instrument picks the exemplars: for each draw, random samples it reads as each concept; a draw succeeds when "
    "Y and its 8 neighbours show the target on at least 5 of the 9. The **ceilings** run the same draws on a z where "
    "every attribute is exactly a half-space (no generator): what the protocol allows a perfectly linear model "
    "(`dcgan arithmetic` prints the same table)."
)
BENCH_BARS = (  # (label, colour, value of an EquationResult, measured over the draws: gets +-1 standard error)
    ("in z (measured)", "#4c78a8", lambda r: r.rates()["majority"], True),
    ("pixel space", "#e45756", lambda r: r.rates()["pixel"], True),
    ("C alone (no A − B)", "#bab0ac", lambda r: r.rates().get("c_alone", 0.0), True),
    ("target among random samples", "#d8d8d8", lambda r: r.chance, False),
    ("ceiling: this model's linear part", "#72b7b2", lambda r: r.ceilings.get("fitted", float("nan")), False),
    ("ceiling: any linear z", "#54a24b", lambda r: r.ceilings.get("ideal", float("nan")), False),  # 4,000 draws: no whisker
    ("ceiling: one z axis per attribute", "#2f7d32", lambda r: r.ceilings.get("axes", float("nan")), False),
)


def standard_error(rate: float, draws: int) -> float:
    """One standard error of a success rate over `draws` independent draws (binomial)."""
    return (rate * (1 - rate) / max(draws, 1)) ** 0.5


@st.cache_data(max_entries=8, show_spinner=False)
def benchmark(_model, model_key: tuple, name: str, draws: int, per_concept: int, seed: int) -> concepts.ArithmeticBenchmark:
    """`dcgan arithmetic` on this model (`model_key` names its weights for the cache)."""
    return concepts.arithmetic_benchmark(_model.generator, face_instrument(), draws=draws, pool=BENCH_POOL, seed=seed,
                                         per_concept=per_concept, model_name=name)


def ask_benchmark() -> None:
    st.session_state[keys.ARITH_BENCH_RUN] = tuple(int(st.session_state[k]) for k in (
        keys.ARITH_BENCH_DRAWS, keys.ARITH_BENCH_PER, keys.ARITH_BENCH_SEED))


def benchmark_section() -> None:
    if not readable or problem:
        st.info("The benchmark reads every result with the face instrument: pick a 64-px faces model "
                f"({problem or 'the face instrument or an RGB model is missing'}).", icon=":material/info:")
        return
    c = st.columns(4)
    draws = int(c[0].selectbox("Draws per equation", (20, 50, 100, 200), index=2, key=keys.ARITH_BENCH_DRAWS))
    per = int(c[1].number_input("Exemplars per concept", 1, 50, concepts.MIN_PER_CONCEPT, key=keys.ARITH_BENCH_PER,
                                help="The paper averages 3"))
    seed = int(c[2].number_input("Seed", 0, 2**31 - 1, 0, key=keys.ARITH_BENCH_SEED))
    c[3].button("Run the benchmark", key="arith_bench_button", icon=":material/science:", on_click=ask_benchmark)
    if st.session_state.get(keys.ARITH_BENCH_RUN) != (draws, per, seed):
        st.caption(f"About {draws * 9 * 4 * 2 + BENCH_POOL:,} faces to generate and read: seconds to a minute on a CPU; "
                   "cached per model.")
        return
    with st.spinner(f"Running the equations over {draws} draws of {per} exemplars per concept..."):
        report = benchmark(model.loaded, model.key, model.name, draws, per, seed)
    done = [r for r in report.results if r.name != "turn" and not r.skipped]
    for r in report.results:
        if r.skipped:
            st.warning(f"{r.equation}: not run: {r.skipped}.", icon=":material/warning:")
    if done:
        fig = go.Figure([
            go.Bar(name=label, x=[r.equation.split(" = ")[-1] for r in done], y=[value(r) for r in done], marker_color=color,
                   error_y=dict(type="data", array=[standard_error(value(r), r.draws) for r in done], color="#555", thickness=1)
                   if measured else None,
                   hovertemplate="%{x}: %{y:.0%}<extra>" + label + "</extra>")
            for label, color, value, measured in BENCH_BARS
        ])
        fig.update_layout(barmode="group", yaxis=dict(range=[0, 1], tickformat=".0%"), height=340,
                          margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.25))
        st.plotly_chart(fig, width="stretch", key="arith_bench_chart")
    lines = []
    for r in report.results:
        if r.skipped:
            continue
        if r.name == "turn":
            lines.append(f"**{r.equation}**: {r.rates()['majority']:.0%} of {r.draws} draws")
            continue
        kept = ", ".join(f"mean({k}) {v:.0%}" for k, v in r.kept_by_mean.items())
        lines.append(f"**{r.equation}**: {r.rates()['majority']:.0%} of {r.draws} draws (all 9: {r.rates()['all_nine']:.0%}); "
                     f"averaging keeps the concept: {kept}")
    st.markdown("  \n".join(lines))
    st.caption(
        f"{report.draws} draws per equation, {report.per_concept} exemplars per concept from a pool of {report.pool} samples "
        f"(seed {report.seed}), noise ±{report.scale:g}; ceilings over {CEILING_DRAWS:,} draws on half-spaces cut at the pool's own shares. "
        "Whiskers: one standard error of a measured rate over the draws (about 5 points at 100 draws). "
        "Even a perfectly linear z fails the draws whose 3 'with' exemplars sit near the boundary and whose 'without' ones "
        "sit far from it; more exemplars per concept raise every ceiling."
    )


with widgets.user_errors("run the benchmark"):
    benchmark_section()
