"""Names of everything the app keeps in `st.session_state` (one user's choices), in one place.

Widget keys double as state keys: a widget created with `key=K` stores its value under K.
Keys of widgets that must survive page switches are created with persist_state="session", except
values that code also sets (the picked model, a slot's concept name): those live under a plain key
and their widget is a view of it (`explorer.session.bound`), because Streamlit drops seeded values
of persisted widgets on a page switch.
"""

# shell
MODEL = "model"  # name of the model picked in the sidebar (a registry name); its selectbox is session.widget_key(MODEL)
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
WALK_SAVED = "walk_saved"  # name of the saved codes (your images) the walk starts at; "" for none

# your images page (inversion)
YOURS_SOURCE = "yours_source"  # "upload" | "training"
YOURS_METHOD = "yours_method"  # "hybrid" | "optimise" | "encode"
YOURS_STEPS = "yours_steps"
YOURS_UPLOADS = "yours_uploads"  # the file uploader
YOURS_TRAIN_START = "yours_train_start"  # first training image picked
YOURS_TRAIN_COUNT = "yours_train_count"
YOURS_RUN = "yours_run"  # the Invert button
YOURS_ASKED = "yours_asked"  # (images digest, method, steps) of the last inversion asked for
YOURS_RESULT = "yours_result"  # (key of images and settings, Inversion): the last inversion, kept for reruns
YOURS_NAME = "yours_name"  # name the codes are saved under
YOURS_SAVE = "yours_save"

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

# forgetting to draw windows page (paper section 6.3.1)
FORGET_OBJECT = "forget_object"  # object name ("window" by default)
FORGET_POOL_SEED = "forget_pool_seed"  # seed of the pool of images to annotate
FORGET_POOL_SIZE = "forget_pool_size"
FORGET_INDEX = "forget_index"  # pool image shown in the annotator
FORGET_REVISION = "forget_revision"  # bumped when annotations change outside the canvas: canvases remount
FORGET_CANVAS_PREFIX = "forget_canvas_"  # + model, object, seed, index, revision: one drawing canvas per image
FORGET_DRAWING_PREFIX = "forget_drawing_"  # + canvas key: the initial drawing given to that canvas when it mounted
FORGET_SEEN_PREFIX = "forget_seen_"  # + canvas key: the boxes that canvas showed at the last run (a change = a drawing)
FORGET_NONE_PREFIX = "forget_none_"  # + canvas key: the "no object in this image" toggle
FORGET_IMPORT = "forget_import"  # file uploader of exported annotations
FORGET_GRID = "forget_grid"  # container of the clickable pool grid (its CSS class st-key-forget_grid finds the picture)
FORGET_KEYS = "forget_keys"  # the annotation page's key listener; its trigger `picked` is the pool image clicked in the grid
FORGET_MESSAGE = "forget_message"  # (kind, text, image index): the last action's message, shown until another image is picked
FORGET_FIT = "forget_fit"  # {(model fingerprint, object): annotations JSON of the last fit asked for}
FORGET_SELECT = "forget_select"  # "threshold" | "count": how the dropped maps are chosen
FORGET_THRESHOLD = "forget_threshold"  # drop maps whose weight / largest |weight| exceeds this (paper: 0)
FORGET_COUNT = "forget_count"  # or drop this many maps with the largest weights
FORGET_PAIRS_SEED = "forget_pairs_seed"  # seed of the z's shown with and without the maps
FORGET_PAIRS_N = "forget_pairs_n"
FORGET_SAVED = "forget_saved"  # or the saved codes (your rooms) shown with and without the maps; "" for none
FORGET_RANDOM_SEED = "forget_random_seed"  # seed of the random control maps
FORGET_MEASURE_N = "forget_measure_n"  # z's measured with the instrument
FORGET_MEASURE_SEED = "forget_measure_seed"
FORGET_MEASURED = "forget_measured"  # settings of the last measurement asked for
FORGET_CURVE = "forget_curve"  # button: refit on 10, 20, 40, ... annotated images (the how-many-are-enough curve)
FORGET_GROWING_CURVE = "forget_growing_curve"  # chart: the removal curve refitted in the background while annotating

# vector arithmetic page (paper section 6.3.2, Figs. 7-8; learned directions)
ARITH_SEED = "arith_seed"  # seed of the grid exemplars are picked from
ARITH_SWITCH = "arith_switch"  # button: pick a faces model when the sidebar's is not one
ARITH_ANYWAY = "arith_anyway"  # toggle: use the page on a model that does not draw faces
ARITH_BENCH_DRAWS = "arith_bench_draws"  # random draws of exemplars per equation in the benchmark
ARITH_BENCH_PER = "arith_bench_per"  # exemplars per concept in the benchmark (paper: 3)
ARITH_BENCH_SEED = "arith_bench_seed"  # seed of the benchmark's pool and draws
ARITH_BENCH_RUN = "arith_bench_run"  # (draws, per concept, seed) of the last benchmark asked for
ARITH_BADGES_PREFIX = "arith_badges_"  # + model name: show the face instrument's labels under the grid
ARITH_ACTIVE = "arith_active"  # slot (0, 1, 2 = A, B, C) that clicks on the grid go to
ARITH_NAME_PREFIX = "arith_name_"  # + model name, "_", slot: the slot's concept name ("man with glasses"); its text box is session.bound
ARITH_SLOTS_PREFIX = "arith_slots_"  # + model name: per slot, the picked exemplars [{"z", "seed", "index"}]
ARITH_REVISION = "arith_revision"  # bumped when slots change outside the grid's pills: the pills remount
ARITH_PICK_PREFIX = "arith_pick_"  # + model, slot, seed, revision: the grid's pills for that slot
ARITH_REMOVE_PREFIX = "arith_remove_"  # + slot, revision: pills that remove an exemplar from the slot
ARITH_CLEAR_PREFIX = "arith_clear_"  # + slot: button
ARITH_FILL = "arith_fill"  # equation whose exemplars the instrument picks ("smile" | "glasses")
ARITH_SAVED = "arith_saved"  # saved concept set file picked to load
ARITH_UPLOAD_PREFIX = "arith_upload_"  # + revision: uploader of a downloaded concept set (remounts empty after a load)
ARITH_MESSAGE = "arith_message"  # (kind, text) to show once after a save/load/fill callback
ARITH_SCALE = "arith_scale"  # noise around Y (paper 0.25)
ARITH_NOISE_SEED = "arith_noise_seed"
ARITH_CLIP = "arith_clip"  # clip the noisy neighbours to the prior's [-1, 1]
ARITH_AXIS_FROM = "arith_axis_from"  # concept set at the start of the axis ("slot:0", "auto:left", "file:NAME.json")
ARITH_AXIS_TO = "arith_axis_to"
ARITH_AXIS_STEPS = "arith_axis_steps"
ARITH_AXIS_EXTEND = "arith_axis_extend"  # how far beyond both ends the strip goes (fraction of the axis)
ARITH_AXIS_SEED = "arith_axis_seed"  # seed of the random faces the axis is added to (Fig. 8)
ARITH_AXIS_AMOUNT = "arith_axis_amount"  # the rows go from -amount to +amount times the axis
ARITH_DIR_N = "arith_dir_n"  # samples labelled by the instrument to fit directions on
ARITH_DIR_SEED = "arith_dir_seed"
ARITH_DIR_FIT = "arith_dir_fit"  # (n, seed) of the last fit asked for
ARITH_DIR_AMOUNT_PREFIX = "arith_dir_amount_"  # + attribute: slider, z units along its unit normal
ARITH_DIR_HOLD = "arith_dir_hold"  # attributes held fixed (projected out of the others)
ARITH_DIR_ROW_SEED = "arith_dir_row_seed"  # seed of the faces shown before / after
ARITH_DIR_SAVED = "arith_dir_saved"  # or the saved codes (your images) moved instead; "" for none

# discriminator features page (paper section 6.2, Fig. 5)
DFEAT_LAYER = "dfeat_layer"  # hidden layer of D (default: the last conv layer)
DFEAT_POOL = "dfeat_pool"  # images from each source in the pool (training images + generated samples)
DFEAT_SEED = "dfeat_seed"  # seed of the pool's generated samples
DFEAT_K = "dfeat_k"  # top images shown per unit
DFEAT_RULE = "dfeat_rule"  # backward rule through the rectifiers (guided_backprop.RULES)
DFEAT_TARGET = "dfeat_target"  # "max" (strongest position) | "sum" (whole map)
DFEAT_RANK_BY = "dfeat_rank_by"  # "selectivity" or an object ("bed+window", "window", ...): how units are ranked (rooms models)
DFEAT_UNIT = "dfeat_unit"  # unit (feature map) of the trained D shown
DFEAT_UNIT_RANKING = "dfeat_unit_ranking"  # (rank_by, layer) the unit was picked under: a new ranking opens on its top unit
DFEAT_SOURCE = "dfeat_source"  # "Pool image" | "Upload": the image whose firing units are listed
DFEAT_UPLOAD = "dfeat_upload"  # file uploader
DFEAT_POOL_INDEX = "dfeat_pool_index"  # pool image analysed when the source is the pool

# feature probe page (paper section 5.1, Table 1)
PROBE_DATASET = "probe_dataset"  # faces | rooms | cifar10 | mnist | svhn | folder
PROBE_TASK = "probe_task"  # what to predict (feature_probe.TASKS)
PROBE_ROOT = "probe_root"  # path of a real labelled data set
PROBE_N_TRAIN = "probe_n_train"
PROBE_N_TEST = "probe_n_test"
PROBE_C = "probe_c"  # "auto" (picked on a validation split) or a fixed C
PROBE_PER_CLASS = "probe_per_class"  # labelled training images of each class per draw (0: every training image, once)
PROBE_REPEATS = "probe_repeats"  # seeded draws of the labelled subset; the page shows mean ± std over them
PROBE_RUN = "probe_run"  # settings of the last run asked for with the button
PROBE_SHOWN = "probe_shown"  # feature set whose confusion matrix is shown

# turn vector page (paper Fig. 8)
TURN_SEED = "turn_seed"  # seed of the face walked (face 0 of it)
TURN_FRAMES = "turn_frames"
TURN_SPAN = "turn_span"  # length of the walk in turn vectors

# dissecting G page (GAN Dissection; issue 22)
DISSECT_N = "dissect_n"  # samples of a dissection run from the page
DISSECT_RUN = "dissect_run"  # button: dissect the model now
DISSECT_ASKED = "dissect_asked"  # {str(model key): n}: dissections asked for in this session (computed once, cached)
DISSECT_CLASS = "dissect_class"  # class whose units are ranked
DISSECT_LAYER_PREFIX = "dissect_layer_"  # + class: the layer ranked (default: the class's best layer)
DISSECT_UNIT_PREFIX = "dissect_unit_"  # + class, "_", layer: the unit shown (default: the top one)

# paint with units page (GANPaint; issue 22)
PAINT_SEED = "paint_seed"  # seed of the samples a picture is picked from
PAINT_INDEX = "paint_index"  # sample picked
PAINT_SAVED = "paint_saved"  # or saved codes (your images); "" for none
PAINT_CODE = "paint_code"  # code picked in the saved set
PAINT_CLASS = "paint_class"  # class whose units paint (default window)
PAINT_MODE = "paint_mode"  # "insert" | "remove"
PAINT_LAYER_PREFIX = "paint_layer_"  # + class: layer painted at (default: the class's best layer)
PAINT_K_PREFIX = "paint_k_"  # + mode, "_", layer: top units of the class used
PAINT_STRENGTH = "paint_strength"  # inserted units are set to strength x their on level
PAINT_TOOL = "paint_tool"  # "freedraw" | "rect": how the region is drawn
PAINT_BRUSH = "paint_brush"  # brush width in image pixels
PAINT_CANVAS_PREFIX = "paint_canvas_"  # + picture, revision: the drawing canvas
PAINT_REVISION = "paint_revision"  # bumped when the edits change: the canvas remounts empty on the new picture
PAINT_REGION = "paint_region"  # bool (S, S) region drawn on the canvas (None: nothing drawn); tests set it directly
PAINT_SEEN = "paint_seen"  # (canvas key, digest of its drawing) at the last run: a change is a new stroke
PAINT_EDITS = "paint_edits"  # {(str(model key), picture id): [dissection.Edit]}: applied edits, in order (undo pops)
PAINT_APPLY = "paint_apply"  # buttons
PAINT_UNDO = "paint_undo"
PAINT_RESET = "paint_reset"
PAINT_MESSAGE = "paint_message"  # one line from the last button's callback (e.g. nothing painted yet)

# annotators and their agreement (issue 24, item 3)
ANNOTATOR = "annotator"  # the name boxes drawn in this session are saved under ("anonymous" until typed)
AGREE_A = "agree_a"  # the first annotator compared (the reference for precision and recall)
AGREE_B = "agree_b"  # the second annotator; "": the room instrument, run now
AGREE_IOU = "agree_iou"  # IoU at which two boxes match (0.5)
AGREE_ONLY_DISAGREE = "agree_only_disagree"  # show only the pool images where the two disagree
