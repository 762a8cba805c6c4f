"""The helpers behind the "Forgetting to draw windows" pages, without Streamlit running: canvas <-> image boxes,
the pool drawn with its annotations, the measurement table's text, and the weights chart."""

from __future__ import annotations

import numpy as np

from dcgan_core.analysis.annotations import Annotation, AnnotationSet, make_annotation
from dcgan_core.analysis.user_data import ModelIdentity
from explorer import forget
from explorer.charts.forget import DROPPED_COLOR, KEPT_COLOR, fit_weights_figure

IDENTITY = ModelIdentity(name="tiny", fingerprint="0" * 64, step=2, image_size=64, nz=16)
Z = [0.0] * 16


def notes(*annotations: Annotation) -> AnnotationSet:
    return AnnotationSet(model=IDENTITY, object_name="window", images=annotations)


def test_a_box_drawn_on_the_canvas_comes_back_in_image_pixels():
    drawn = [{"left": 60, "top": 90, "width": 180, "height": 210}]  # the 64-px image is shown at 384 px
    assert forget.canvas_to_image_boxes(drawn) == [(10, 15, 40, 50)]
    assert forget.image_to_canvas_boxes([(10, 15, 40, 50)]) == drawn


def test_the_pool_shows_hand_boxes_in_red_and_no_object_as_a_green_frame():
    pool = np.zeros((3, 64, 64, 3), np.uint8)
    shown = forget.with_boxes(pool, notes(
        make_annotation(0, 0, Z, [(10, 15, 40, 50)]),
        make_annotation(0, 1, Z, (), no_object=True),
        make_annotation(7, 2, Z, [(10, 15, 40, 50)]),  # another pool seed: not drawn
    ), seed=0)
    assert tuple(shown[0, 15, 10]) == forget.BOX_RGB and tuple(shown[0, 49, 39]) == forget.BOX_RGB
    assert tuple(shown[0, 30, 20]) == (0, 0, 0)  # inside the box: untouched
    assert tuple(shown[1, 0, 0]) == forget.NONE_RGB and not shown[2].any()
    assert not pool.any(), "the cached pool was modified"


def test_the_measurement_table_shows_shares_in_percent_and_pixel_change_in_0_255():
    row = {"condition": "no drop", "maps dropped": 0, "window": 0.456, "bed": None, "pixel change": 3.14159}
    assert forget.table_row(row) == {"condition": "no drop", "maps dropped": 0, "window": "46%", "bed": "-", "pixel change": "3.1"}


def test_the_weights_chart_colours_the_dropped_maps():
    fig = fit_weights_figure(np.array([0.5, -1.0, 1.0, 0.1]), forget.map_indices(np.array([2, 0])), layer=3)
    assert list(fig.data[0].marker.color) == [DROPPED_COLOR, KEPT_COLOR, DROPPED_COLOR, KEPT_COLOR]
    assert "2 maps dropped" in fig.layout.title.text and fig.layout.xaxis.title.text == "feature map of layer 3"
