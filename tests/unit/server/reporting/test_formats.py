"""The report as CSV rows, table rows and SVG charts."""

from __future__ import annotations

import csv
import io

from server.reporting.charts import bar_chart
from server.reporting.formats import as_csv, daily_rows, flat, summary_rows

REPORT = {"since": "2026-12-01T00:00:00+00:00", "until": "2026-12-02T00:00:00+00:00",
          "conversations": 2, "first_response_seconds": {"bot": {"p50": 4.5, "count": 2}},
          "containment_rate": None, "handoffs_by_reason": {"complaint": 1},
          "daily": [{"date": "2026-12-01", "conversations": 2, "containment_rate": None,
                     "first_response_p50": 4.5, "handoffs": 1, "csat_average": None,
                     "cost_usd": 0.0}]}


def test_csv_is_metric_value_rows_with_dotted_paths_and_empty_for_none():
    rows = list(csv.reader(io.StringIO(as_csv(REPORT))))
    assert rows[0] == ["metric", "value"]
    values = dict(rows[1:])
    assert values["conversations"] == "2"
    assert values["first_response_seconds.bot.p50"] == "4.5"
    assert values["containment_rate"] == ""
    assert values["handoffs_by_reason.complaint"] == "1"
    assert values["daily.2026-12-01.handoffs"] == "1"
    assert "daily.2026-12-01.date" not in values
    assert len(rows) == 1 + len(list(flat(REPORT)))


def test_table_rows_show_none_as_a_dash_and_leave_out_the_series():
    rows = dict(summary_rows(REPORT))
    assert rows["containment_rate"] == "-" and rows["first_response_seconds.bot.p50"] == "4.5"
    assert not any(name.startswith(("daily", "since")) for name in rows)
    assert daily_rows(REPORT) == [["2026-12-01", "2", "-", "4.5", "1", "-", "0"]]


def test_a_bar_chart_is_inline_svg_with_a_bar_per_point_and_gaps_for_none():
    svg = str(bar_chart("Handoffs <per day>", [("2026-12-01", 2), ("2026-12-02", None),
                                               ("2026-12-03", 4)]))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 3 and 'height="0.0"' in svg  # the gap has no height
    assert "2026-12-02: no data" in svg and "2026-12-03: 4" in svg
    assert "Handoffs &lt;per day&gt;" in svg and "<per day>" not in svg
    assert "<script" not in svg and "href" not in svg


def test_labels_are_short_numbers_never_exponents():
    svg = str(bar_chart("First response", [("a", 1780.0), ("b", 0.6667)], unit=" s"))
    assert "1,780 s" in svg and "a: 1,780 s" in svg and "b: 0.667 s" in svg and "e+" not in svg


def test_a_chart_of_nothing_still_draws():
    assert "<svg" in str(bar_chart("Empty", [])) and "<svg" in str(bar_chart("Zero", [("d", 0)]))
