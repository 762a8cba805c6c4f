"""Widgets and session state of the vector arithmetic pages: the page's opening, the slots A, B and C, their callbacks.

A slot holds the picked exemplars of one concept, per model, in `st.session_state`
(`app_state.ARITH_SLOTS_PREFIX` + model name): [{"z": (nz,) float32, "seed": int | None, "index": int | None}].
Callbacks run before the next script run, so they leave a message for it (`message`, `show_message`)
and bump a revision that remounts the pills when slots change outside them. Compute: `explorer.arithmetic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dcgan_core.analysis import arithmetic, concept_sets, directions, equations, labelling, user_data
from dcgan_core.analysis.instruments import InstrumentError
from dcgan_core.images import image_grid

from . import app_state as keys
from . import session, widgets
from .arithmetic import (ATTRIBUTE_WORDS, AUTO_POOL, DEMO_EQUATION, DEMO_RATES, FACE_NAMES, GRID_SIZE, LAYOUT_SAMPLES, LETTERS,
                         NEUTRAL_NAMES, SLOTS, attribute_layout, fitted_caption, fitted_directions, grid_codes, identity_of,
                         instrument_error, instrument_picks, labelled, layout_caption, saved_path, slot_codes, slot_images)
from .charts.arithmetic import attribute_layout_figure
from .model_picker import ActiveModel, entries_of_dataset, require_model, switch_model


@dataclass
class ArithmeticPage:
    """What a vector arithmetic page works on, once it is open."""

    model: ActiveModel
    problem: str | None  # why the face instrument's readings would mean little here (labelling.face_instrument_problem)
    readable: bool  # the face instrument loaded and the model draws RGB: readings can be shown
    default_names: tuple[str, str, str]  # the slots' concept names until people type their own
    identity: user_data.ModelIdentity  # of the weights, for concept set files


def open_page(title: str, paper: str, intro: str) -> ArithmeticPage:
    """The picked model, the page's header and the instrument's warnings.

    On a model that does not draw faces while a 64-px faces model exists, the page offers that model
    first and stops, unless people ask to do the arithmetic anyway."""
    model = require_model()
    problem = labelling.face_instrument_problem(model.loaded)
    faces_models = [n for n in entries_of_dataset("faces", image_size=64) if n != model.name]
    if problem and faces_models:  # a rooms model, say: one line and the faces model, before anything else
        st.title(title)
        st.info(f"Vector arithmetic here is about faces (glasses, smiles, sex, head turn), and **{model.name}** does not draw "
                "them.", icon=":material/face:")
        st.button(f"Switch to the **{faces_models[0]}** model", key=keys.ARITH_SWITCH, icon=":material/face:", type="primary",
                  on_click=switch_model, args=(faces_models[0],))
        if not st.toggle(f"Do the arithmetic on {model.name} anyway (no instrument readings)", key=keys.ARITH_ANYWAY):
            st.stop()
        st.caption(paper)
        st.markdown(intro)
    else:
        widgets.page_header(title, paper, intro)
    default_names = FACE_NAMES if problem is None else NEUTRAL_NAMES
    identity = identity_of(model.loaded, model.key, model.name)
    error = instrument_error()
    readable = error is None and model.config.channels == 3  # the instrument reads RGB
    if error:
        st.warning(f"The face instrument could not be loaded ({error}): no measurements on this page.", icon=":material/warning:")
    elif problem:
        st.warning(
            f"Model **{model.name}**: {problem}. The arithmetic works on any model; take the instrument's readings "
            "with a grain of salt here (pick a 64-px faces model for meaningful ones).",
            icon=":material/warning:",
        )
    return ArithmeticPage(model, problem, readable, default_names, identity)


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


def slot_name(model, i: int, default_names) -> str:
    return (st.session_state.get(name_key(model, i)) or "").strip() or default_names[i]


def revision() -> int:
    """Bumped when slots change outside the grid's pills (part of the pills' and the uploader's keys)."""
    return st.session_state.get(keys.ARITH_REVISION, 0)


def on_this_grid(p: dict, seed: int) -> bool:
    """Whether an exemplar is one of the grid's samples (so its pill shows it)."""
    return p["seed"] == seed and p["index"] is not None and p["index"] < GRID_SIZE


def source_label(p: dict) -> str:
    return "loaded" if p["seed"] is None else f"seed {p['seed']} #{p['index']}"


def concept_set(model, identity, i: int, picks: list[dict], default_names) -> concept_sets.ConceptSet:
    known = all(p["seed"] is not None for p in picks)
    return concept_sets.ConceptSet(
        slot_name(model, i, default_names), slot_codes(picks), identity,
        tuple((p["seed"], p["index"]) for p in picks) if known else (),
    )


def message(kind: str, text: str) -> None:
    """Show `text` once, on the next run (callbacks run before the page is drawn)."""
    st.session_state[keys.ARITH_MESSAGE] = (kind, text)


def show_message() -> None:
    if keys.ARITH_MESSAGE in st.session_state:
        kind, text = st.session_state.pop(keys.ARITH_MESSAGE)
        {"success": st.success, "error": st.error, "info": st.info}[kind](text)


def bump_revision() -> None:
    """Slots changed outside the grid's pills: remount the pills so they show the slots as they are now."""
    st.session_state[keys.ARITH_REVISION] = st.session_state.get(keys.ARITH_REVISION, 0) + 1


def keep_choice(key: str, options: list, default) -> None:
    """Before a selectbox whose options change: keep the user's choice while it is an option, else use `default`."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


# ---------------------------------------------------------------------------- callbacks (run before the next script run)


def sync_picks(model, slot: int, seed: int, pills_key: str) -> None:
    """The grid's pills of `slot` changed: add the newly chosen samples of this grid, drop the unchosen ones."""
    chosen = [int(i) for i in st.session_state.get(pills_key) or []]
    picks = slots_of(model)[slot]
    had = {p["index"] for p in picks if on_this_grid(p, seed)}
    picks[:] = [p for p in picks if not on_this_grid(p, seed) or p["index"] in chosen]
    z = grid_codes(model.config, seed)
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
    equation = equations.EQUATIONS[st.session_state.get(keys.ARITH_FILL) or DEMO_EQUATION]
    wanted = (equation.a, equation.b, equation.c)
    try:
        pool = labelled(model, seed, AUTO_POOL)
    except (InstrumentError, OSError, ValueError) as e:
        return message("error", f"Could not read samples with the face instrument: {e}")
    found = instrument_picks(pool, wanted)
    short = [f"{c.name!r} ({len(f)})" for c, f in zip(wanted, found) if len(f) < arithmetic.MIN_PER_CONCEPT]
    if short:
        return message(
            "error",
            f"Among samples 0-{AUTO_POOL - 1} of seed {seed} the instrument found too few {', '.join(short)}: try another grid seed, "
            "or the model does not draw them (yet).",
        )
    slots = slots_of(model)
    for i, (concept, idx) in enumerate(zip(wanted, found)):
        slots[i][:] = [{"z": pool.z[j], "seed": seed, "index": int(j)} for j in idx]
        st.session_state[name_key(model, i)] = concept.name
    bump_revision()
    message("success", f"The instrument picked exemplars for {equation.describe()} from samples of seed {seed}.")


def save_slot(model, identity, slot: int, default_names) -> None:
    picks = slots_of(model)[slot]
    try:
        concept = concept_set(model, identity, slot, picks, default_names)
        path = concept_sets.concept_set_path(model.name, concept.name)
        replaced = path.exists()
        concept_sets.save_concept_set(path, concept)
    except (concept_sets.ConceptSetError, OSError) as e:
        return message("error", f"Could not save slot {LETTERS[slot]}: {e}")
    replacing = " (replacing the earlier set)" if replaced else ""
    message("success", f"Saved {len(concept)} exemplars of {concept.name!r} to `{path}`{replacing}.")


def load_saved(model, identity, slot: int) -> None:
    name = st.session_state.get(keys.ARITH_SAVED)
    if not name:
        return
    try:
        concept = concept_sets.load_concept_set(saved_path(model, name), expect=identity)
    except (concept_sets.ConceptSetError, OSError) as e:
        return message("error", f"Could not load {name}: {e}")
    put_in_slot(model, slot, concept)
    message("success", f"Loaded {len(concept)} exemplars of {concept.name!r} into slot {LETTERS[slot]}.")


def upload_into_slot(model, identity, slot: int, uploader_key: str) -> None:
    """A concept set file dropped on the uploader: check it belongs to these weights, then put it in `slot`."""
    upload = st.session_state.get(uploader_key)
    if upload is None:
        return
    try:
        concept = concept_sets.concept_set_from_json(upload.getvalue(), expect=identity, where=upload.name)
    except concept_sets.ConceptSetError as e:
        return message("error", f"Could not load {upload.name}: {e}")
    put_in_slot(model, slot, concept)
    message("success", f"Loaded {len(concept)} exemplars of {concept.name!r} from {upload.name} into slot {LETTERS[slot]}.")


def put_in_slot(model, slot: int, concept: concept_sets.ConceptSet) -> None:
    sources = concept.sources or ((None, None),) * len(concept)
    slots_of(model)[slot][:] = [{"z": z, "seed": s, "index": i} for z, (s, i) in zip(concept.z.numpy(), sources)]
    st.session_state[name_key(model, slot)] = concept.name
    bump_revision()


def ask(key: str, *widget_keys: str) -> None:
    """A "run it" button's callback: remember the settings asked for (the int values of `widget_keys`) under `key`."""
    st.session_state[key] = tuple(int(st.session_state[k]) for k in widget_keys)


# ---------------------------------------------------------------------------- parts of the exemplars section


def slot_card(page: ArithmeticPage, i: int, picks: list[dict]) -> None:
    """Slot i: its concept name, exemplars, G(mean z), pills that remove one, Clear, and how many are picked."""
    model, rev = page.model, revision()
    st.text_input(f"Concept {LETTERS[i]}", **session.bound(name_key(model, i), page.default_names[i]))
    if picks:
        with widgets.user_errors("generate the exemplars"):
            exemplars, mean = slot_images(model, picks)
        widgets.show_picture(image_grid(exemplars, nrow=min(len(picks), 6)), min_px=256,
                             caption=f"{len(picks)} exemplars: " + ", ".join(source_label(p) for p in picks))
        widgets.show_picture(mean[0], min_px=96, width=96, caption="G(mean z)")
        st.pills(
            "Click one to remove it", list(range(len(picks))), format_func=lambda k, picks=picks: source_label(picks[k]),
            key=f"{keys.ARITH_REMOVE_PREFIX}{i}_{rev}", on_change=remove_pick,
            args=(model, i, f"{keys.ARITH_REMOVE_PREFIX}{i}_{rev}"),
        )
        st.button("Clear", key=f"{keys.ARITH_CLEAR_PREFIX}{i}", on_click=clear_slot, args=(model, i), icon=":material/delete:")
    count = f"{len(picks)}/{arithmetic.MIN_PER_CONCEPT}"
    st.caption(f"{count} picked" + ("" if len(picks) >= arithmetic.MIN_PER_CONCEPT else f": pick at least {arithmetic.MIN_PER_CONCEPT}"))


def fill_expander(page: ArithmeticPage, seed: int) -> None:
    """The one-click demo: the instrument picks exemplars of an equation's concepts among samples of `seed`."""
    demo = st.selectbox("Equation", sorted(equations.EQUATIONS, key=lambda k: k != DEMO_EQUATION), key=keys.ARITH_FILL,
                        format_func=lambda k: equations.EQUATIONS[k].describe())
    st.button(f"Fill A, B and C from samples 0-{AUTO_POOL - 1} of seed {seed}", on_click=fill_slots, args=(page.model, seed),
              disabled=not page.readable, key="arith_fill_button")
    st.caption("The first 3 samples the face instrument reads as each concept (neutral = not smiling). On the shipped "
               f"faces model this equation gives its target in {DEMO_RATES.get(demo, 'an unmeasured share of draws')}.")


def save_load_expander(page: ArithmeticPage, active: int, picks: list[dict]) -> None:
    """Save the active slot, load a saved set into it, download it as JSON or upload one made with these weights."""
    model, identity, names = page.model, page.identity, page.default_names
    name = slot_name(model, active, names)
    st.button(f"Save {LETTERS[active]} as '{name}'", on_click=save_slot, args=(model, identity, active, names),
              disabled=not picks, key="arith_save_button")
    saved = [p.name for p in concept_sets.list_concept_sets(model.name)]
    keep_choice(keys.ARITH_SAVED, saved, saved[0] if saved else None)
    st.selectbox("Saved sets of this model", saved, key=keys.ARITH_SAVED, format_func=lambda n: Path(n).stem,
                 placeholder="none saved yet")
    st.button(f"Load into {LETTERS[active]}", on_click=load_saved, args=(model, identity, active), disabled=not saved,
              key="arith_load_button")
    if picks:
        with widgets.user_errors("export the set"):
            text = concept_sets.concept_set_to_json(concept_set(model, identity, active, picks, names))
        st.download_button(f"Download {LETTERS[active]} as JSON", text, mime="application/json", icon=":material/download:",
                           file_name=f"{user_data.safe_name(name) or 'concept'}.json", key="arith_download")
    upload_key = f"{keys.ARITH_UPLOAD_PREFIX}{revision()}"
    st.file_uploader(f"Or load a downloaded set into {LETTERS[active]}", type=["json"], key=upload_key,
                     on_change=upload_into_slot, args=(model, identity, active, upload_key))
    st.caption(f"Files in `{user_data.concepts_dir() / (user_data.safe_name(model.name) or 'model')}`; a set only loads "
               f"with the weights it was made with ({identity.describe()}).")


# ---------------------------------------------------------------------------- learned directions


def show_attribute_layout(model, seed: int, n: int) -> None:
    """A bar chart: per attribute, its linear separability in z and whether means of 3 codes keep it."""
    n = max(100, min(n, LAYOUT_SAMPLES))
    with st.spinner(f"Measuring how each attribute lies in z ({n:,} samples, lines and means)..."):
        rows = attribute_layout(model.loaded, model.key, seed, n)
    if not rows:
        return
    st.plotly_chart(attribute_layout_figure(rows), width="stretch", key="arith_layout")
    st.caption(layout_caption(rows, seed, n))


def fit_directions_and_report(model, seed: int, n: int) -> directions.FittedDirections | None:
    """Label samples 0..n-1 of `seed` (with a progress bar), fit the directions and say how well each separates.

    Returns None, after saying so, when no attribute could be fitted."""
    bar = st.progress(0.0, text=f"Labelling {n:,} samples of seed {seed} with the face instrument...")
    labelled(model, seed, n, progress=lambda f: bar.progress(f, text=f"Labelled {f:.0%} of {n:,} samples"))
    fitted = fitted_directions(model, model.key, seed, n)
    bar.empty()
    st.caption(fitted_caption(fitted, seed))
    for k, why in fitted.skipped.items():
        st.caption(f"Not fitted: {ATTRIBUTE_WORDS[k]}: {why}.")
    if not fitted.directions:
        st.info("No attribute could be fitted on these samples: the instrument read them all alike.", icon=":material/info:")
        return None
    show_attribute_layout(model, seed, n)
    return fitted
