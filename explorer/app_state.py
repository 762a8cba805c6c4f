"""Names of everything the app keeps in `st.session_state` (one user's choices), in one place.

Widget keys double as state keys: a widget created with `key=K` stores its value under K.
Keys of widgets that must survive page switches are created with persist_state="session".
"""

# shell
MODEL = "model"  # name of the model picked in the sidebar (a registry name)
PAGES = "pages"  # [(script path, title)] of the pages Home.py registered, for the home page's list
HOME_SEED = "home_seed"

# latent walk page
WALK_SEED = "walk_seed"  # seed of the random waypoints
WALK_POINTS = "walk_points"  # k waypoints
WALK_STEPS = "walk_steps"  # steps per segment
WALK_METHOD = "walk_method"  # "slerp" | "lerp"
WALK_LAYOUT = "walk_layout"  # "rows" | "strip"
WALK_FPS = "walk_fps"
WALK_BOUNCE = "walk_bounce"
WALK_FRAME = "walk_frame"  # frame shown in the frame viewer
WALK_PATH_PLOT = "walk_path_plot"  # plotly selection on the PCA plot
WALK_PICK_SEED = "walk_pick_seed"  # seed of the grid waypoints are pinned from
WALK_PINS_PREFIX = "walk_pins_"  # + pick seed: indices pinned from that grid

# samples page
SAMPLES_SEED = "samples_seed"
SAMPLES_COUNT = "samples_count"
SAMPLES_COMPARE = "samples_compare"  # names of the models compared with the same z
SAMPLES_QUERY = "samples_query"  # index of the sample whose neighbours are shown
SAMPLES_K = "samples_k"
SAMPLES_REFERENCE_LIMIT = "samples_reference_limit"

# training monitor page
MONITOR_RUN = "monitor_run"  # run folder picked from the list
MONITOR_PATH = "monitor_path"  # run folder typed by the user (wins when set)
MONITOR_LIVE = "monitor_live"
MONITOR_STEP = "monitor_step"  # step of the sample grid shown
MONITOR_FOLLOW = "monitor_follow"  # newest step seen, to follow a run while it trains
