"""Concepts as directions in z (paper section 6.3.2, Fig. 8, and beyond): two concept sets define an axis (looking left to looking right turns heads), attribute directions learned from thousands of labelled samples move one attribute while holding others fixed, and a benchmark measures how often the paper's equations work.

Axis ends: the "Vector arithmetic" page's slots A, B and C, saved concept sets, or faces the instrument reads as
looking left / right. Directions: normals of a logistic regression in z per attribute (InterFaceGAN). The benchmark
is `dcgan arithmetic`. Compute: `explorer.arithmetic`; charts: `explorer.charts.arithmetic`.
Library: `dcgan_core.analysis.arithmetic`, `.directions` and `.arithmetic_benchmark`.
"""

import streamlit as st

from dcgan_core.analysis.arithmetic import MIN_PER_CONCEPT
from explorer import app_state as keys
from explorer import arithmetic as arith
from explorer import arithmetic_widgets as aw
from explorer import saved_codes, widgets
from explorer.arithmetic import ATTRIBUTE_WORDS, SLOTS
from explorer.charts.arithmetic import benchmark_figure

page = aw.open_page(
    "Concept axes and directions",
    "Paper section 6.3.2, Fig. 8; learned directions after InterFaceGAN (Shen et al. 2020)",
    "A concept is a region of z, and the way from one concept to another is a direction: add it to any face "
    "and the face changes that way. Axes come from two concept sets; learned directions from thousands of faces "
    "the instrument labelled; the benchmark says how often the paper's equations give their target.",
)
model, readable, problem = page.model, page.readable, page.problem
slots = aw.slots_of(model)

# ---- 3. axes
st.subheader("3. Turn: any two concept sets define an axis")
st.markdown(
    "The paper averaged faces looking left and faces looking right; moving from one average to the other "
    "turns the head (Fig. 8). Any two concept sets work the same way: the axis is mean(to) − mean(from)."
)
sources = arith.axis_sources(model, slots, [aw.slot_name(model, i, page.default_names) for i in SLOTS], readable)
options = list(sources)
if len(options) < 2:
    st.info("Pick exemplars on the Vector arithmetic page (or save sets) to define an axis between two of them.", icon=":material/info:")
else:
    auto = readable and problem is None  # on a faces model, open on the paper's turn axis
    c = st.columns([2, 2, 1, 1])
    aw.keep_choice(keys.ARITH_AXIS_FROM, options, "auto:left" if auto else options[0])
    aw.keep_choice(keys.ARITH_AXIS_TO, options, "auto:right" if auto else options[1])
    start = c[0].selectbox("From", options, format_func=sources.get, key=keys.ARITH_AXIS_FROM)
    end = c[1].selectbox("To", options, format_func=sources.get, key=keys.ARITH_AXIS_TO)
    steps = c[2].slider("Steps", 3, 15, 9, key=keys.ARITH_AXIS_STEPS)
    extend = c[3].slider("Beyond the ends", 0.0, 1.0, 0.0, 0.25, key=keys.ARITH_AXIS_EXTEND,
                         help="Go this fraction of the axis past both ends")
    try:
        seed = int(st.session_state.get(keys.ARITH_SEED, 0))  # the grid seed of the Vector arithmetic page
        za, zb = (arith.axis_end_codes(model, page.identity, slots, seed, o) for o in (start, end))
    except widgets.USER_ERRORS as e:
        st.warning(f"No axis: {e}", icon=":material/warning:")
    else:
        strip = arith.axis_strip_images(model, za, zb, steps, extend)
        widgets.show_grid(strip, nrow=steps, min_px=1024, caption=f"from mean({sources[start]}) to mean({sources[end]}), {steps} steps"
                          + (f", {extend:g} of the axis beyond both ends" if extend else "") + f" · {model.describe()}")
        if readable:
            st.caption("Instrument turn along the strip (−1 looks left, +1 right): "
                       + " · ".join(f"{t:+.2f}" for t in arith.read(strip)["turn"]))
        c = st.columns([1, 1, 4])
        things = "faces" if problem is None else "samples"
        axis_seed = int(c[0].number_input(f"Seed of the random {things}", 0, 2**31 - 1, 0, key=keys.ARITH_AXIS_SEED))
        amount = c[1].slider("Amount", 0.25, 2.0, 1.0, 0.25, key=keys.ARITH_AXIS_AMOUNT,
                             help="Each row goes from the face minus amount × axis to the face plus amount × axis")
        moved = arith.along_axis_images(model, za, zb, axis_seed, steps, amount)
        widgets.show_grid(moved, nrow=steps, min_px=1024, caption=f"4 random {things} of seed {axis_seed} (rows) plus t × axis, "
                          f"t from {-amount:g} to {amount:g} (Fig. 8)")
        if readable:
            st.caption("Mean instrument turn per column: " + " · ".join(f"{t:+.2f}" for t in arith.mean_turn_per_column(moved, steps)))

# ---- 4. learned directions
st.subheader("4. Learned directions (beyond the paper)")
st.markdown(
    "The face instrument labels thousands of generated faces; a logistic regression in z per attribute "
    "separates them, and its normal is a direction that adds the attribute (InterFaceGAN). *Hold fixed* "
    "projects the held attributes' directions out of the others, so moving along one leaves them be."
)
fitted = None  # the directions fitted on request, when any attribute could be
if not readable:
    st.info("Learned directions need the face instrument and an RGB model.", icon=":material/info:")
else:
    c = st.columns([1, 1, 1])
    n = int(c[0].selectbox("Labelled samples", arith.DIRECTION_SAMPLES, index=2, key=keys.ARITH_DIR_N))
    fit_seed = int(c[1].number_input("Seed of the labelled samples", 0, 2**31 - 1, 0, key=keys.ARITH_DIR_SEED))
    c[2].button("Fit directions", key="arith_fit_button", icon=":material/insights:", on_click=aw.ask,
                args=(keys.ARITH_DIR_FIT, keys.ARITH_DIR_N, keys.ARITH_DIR_SEED))
    if st.session_state.get(keys.ARITH_DIR_FIT) != (n, fit_seed):
        st.caption(f"Generating and reading {n:,} faces takes a few seconds on a CPU; results are cached per model.")
    else:
        with widgets.user_errors("fit the directions"):
            fitted = aw.fit_directions_and_report(model, fit_seed, n)
if fitted:
    attrs = list(fitted.directions)
    held = st.multiselect("Hold fixed", attrs, key=keys.ARITH_DIR_HOLD, format_func=ATTRIBUTE_WORDS.get)
    amounts = {
        k: col.slider(ATTRIBUTE_WORDS[k], -3.0, 3.0, 0.0, 0.25, key=f"{keys.ARITH_DIR_AMOUNT_PREFIX}{k}",
                      help="Distance along the attribute's unit normal in z units (samples of the uniform prior spread "
                      "about 0.58 along any unit direction)")
        for k, col in zip(attrs, st.columns(len(attrs)))
    }
    r = st.columns([1, 3])
    row_seed = int(r[0].number_input("Seed of the faces", 0, 2**31 - 1, 0, key=keys.ARITH_DIR_ROW_SEED))
    with r[1]:
        mine = saved_codes.saved_codes_picker(model, "Or move your own faces (saved codes)", keys.ARITH_DIR_SAVED)
    try:
        edit = arith.direction_edit(fitted.normals(), amounts, held, model.config.nz)
    except ValueError as e:
        st.warning(f"Cannot hold {', '.join(held)} fixed: {e}", icon=":material/warning:")
    else:
        pair, faces = arith.before_after_images(model, row_seed, edit, mine)
        moved, k = ", ".join(f"{ATTRIBUTE_WORDS[a]} {v:+g}" for a, v in amounts.items() if v) or "nothing moved yet", len(pair) // 2
        widgets.show_grid(pair, nrow=k, min_px=1024, caption=f"{faces}, before (top) and after (bottom): "
                          f"{moved}" + (f"; holding {', '.join(held)} fixed" if held else "") + f" · {model.describe()}")
        st.markdown(f"**Instrument, before:** {arith.verdict(pair[:k])}  \n**Instrument, after:** {arith.verdict(pair[k:])}")

# ---- 5. the benchmark
st.subheader("5. How often it works: the paper's equations over many draws")
st.markdown(
    "The instrument picks the exemplars: for each draw, random samples it reads as each concept; a draw succeeds when "
    "Y and its 8 neighbours show the target on at least 5 of the 9. The **ceilings** run the same draws on a z where "
    "every attribute is exactly a half-space (no generator): what the protocol allows a perfectly linear model "
    "(`dcgan arithmetic` prints the same table)."
)
if not readable or problem:
    st.info("The benchmark reads every result with the face instrument: pick a 64-px faces model "
            f"({problem or 'the face instrument or an RGB model is missing'}).", icon=":material/info:")
    st.stop()
c = st.columns(4)
draws = int(c[0].selectbox("Draws per equation", (20, 50, 100, 200), index=2, key=keys.ARITH_BENCH_DRAWS))
per = int(c[1].number_input("Exemplars per concept", 1, 50, MIN_PER_CONCEPT, key=keys.ARITH_BENCH_PER,
                            help="The paper averages 3"))
bench_seed = int(c[2].number_input("Seed", 0, 2**31 - 1, 0, key=keys.ARITH_BENCH_SEED))
c[3].button("Run the benchmark", key="arith_bench_button", icon=":material/science:", on_click=aw.ask,
            args=(keys.ARITH_BENCH_RUN, keys.ARITH_BENCH_DRAWS, keys.ARITH_BENCH_PER, keys.ARITH_BENCH_SEED))
if st.session_state.get(keys.ARITH_BENCH_RUN) != (draws, per, bench_seed):
    st.caption(f"About {draws * 9 * 4 * 2 + arith.BENCH_POOL:,} faces to generate and read: seconds to a minute on a CPU; "
               "cached per model.")
    st.stop()
with widgets.user_errors("run the benchmark"), st.spinner(f"Running the equations over {draws} draws of {per} exemplars per concept..."):
    report = arith.benchmark(model.loaded, model.key, model.name, draws, per, bench_seed)
for r in report.results:
    if r.skipped:
        st.warning(f"{r.equation}: not run: {r.skipped}.", icon=":material/warning:")
done = [r for r in report.results if r.name != "turn" and not r.skipped]
if done:
    st.plotly_chart(benchmark_figure(done), width="stretch", key="arith_bench_chart")
st.markdown(arith.benchmark_lines(report))
st.caption(arith.benchmark_caption(report))
