"""The vector arithmetic pages' helpers outside Streamlit: directions added with others held fixed, the instrument's
picks, the badges under the grid, and the benchmark's chart and table on a made-up report (no model, no instrument).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dcgan_core.analysis import equations
from dcgan_core.analysis.arithmetic_benchmark import ArithmeticBenchmark, EquationResult
from dcgan_core.analysis.labelling import LabelledSamples
from explorer import arithmetic as arith
from explorer.charts.arithmetic import BENCH_BARS, benchmark_figure


def test_a_direction_moves_by_its_amount_along_its_unit_normal():
    normals = {"glasses": np.array([1.0, 0.0, 0.0]), "smiling": np.array([0.0, 1.0, 0.0])}
    edit = arith.direction_edit(normals, {"glasses": 2.0, "smiling": 0.0}, held=[], nz=3)
    assert np.allclose(edit, [2.0, 0.0, 0.0])


def test_holding_an_attribute_fixed_projects_its_normal_out_of_the_moved_one():
    normals = {"glasses": np.array([1.0, 1.0, 0.0]) / 2**0.5, "masculine": np.array([0.0, 1.0, 0.0])}
    edit = arith.direction_edit(normals, {"glasses": 1.0, "masculine": 0.0}, held=["masculine"], nz=3)
    assert np.allclose(edit, [1.0, 0.0, 0.0])  # unit length, nothing left along "masculine"


def test_holding_the_moved_direction_itself_fixed_is_refused():
    normals = {"glasses": np.array([1.0, 0.0]), "smiling": np.array([1.0, 0.0])}
    with pytest.raises(ValueError, match="span of the held attributes"):
        arith.direction_edit(normals, {"glasses": 1.0}, held=["smiling"], nz=2)


def test_the_instrument_picks_the_first_three_samples_of_each_concept():
    masculine = np.array([1, 1, 0, 1, 1, 0, 0, 1], bool)
    pool = LabelledSamples(z=np.zeros((8, 2), np.float32), turn=np.zeros(8),
                           probabilities={"glasses": np.zeros(8), "smiling": np.zeros(8), "masculine": masculine.astype(float)})
    man, woman = (equations.Concept(n, {"masculine": m}) for n, m in (("man", True), ("woman", False)))
    found = arith.instrument_picks(pool, [man, woman])
    assert [list(f) for f in found] == [[0, 1, 3], [2, 5, 6]]


def test_a_badge_says_what_the_instrument_reads_in_letters():
    labels = {"masculine": np.array([True, False]), "smiling": np.array([False, True]), "glasses": np.array([True, False]),
              "turn": np.array([-0.9, 0.9])}
    assert [arith.badge(labels, i) for i in (0, 1)] == ["MG←", "WS→"]


def made_up_report() -> ArithmeticBenchmark:
    glasses = EquationResult("glasses", "a - b + c = woman with glasses", draws=20, majority=15, all_nine=10, pixel=4, c_alone=2,
                             kept_by_mean={"man with glasses": 0.9}, chance=0.1, ceilings={"ideal": 0.83, "axes": 0.95})
    turn = EquationResult("turn", "mean(looking left) reads left", draws=20, majority=12)
    skipped = EquationResult("smile", "a - b + c = smiling man", draws=0, skipped="too few smiling women")
    return ArithmeticBenchmark([skipped, glasses, turn], draws=20, pool=1000, seed=0, scale=0.25, per_concept=3, model="x")


def test_the_benchmark_chart_has_a_bar_per_series_and_whiskers_only_on_measured_rates():
    report = made_up_report()
    fig = benchmark_figure([r for r in report.results if r.name != "turn" and not r.skipped])
    bars = {t["name"]: t for t in json.loads(fig.to_json())["data"]}
    assert list(bars) == [label for label, *_ in BENCH_BARS]
    assert bars["in z (measured)"]["x"] == ["woman with glasses"] and bars["in z (measured)"]["y"] == [0.75]
    assert bars["in z (measured)"]["error_y"]["array"] == [pytest.approx(arith.standard_error(0.75, 20))]
    assert "error_y" not in bars["ceiling: any linear z"]


def test_the_benchmark_table_skips_what_did_not_run():
    text = arith.benchmark_lines(made_up_report())
    assert text.split("  \n") == [
        "**a - b + c = woman with glasses**: 75% of 20 draws (all 9: 50%); averaging keeps the concept: mean(man with glasses) 90%",
        "**mean(looking left) reads left**: 60% of 20 draws",
    ]
