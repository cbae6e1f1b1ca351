"""The report as text: JSON, CSV (metric,value rows) and the rows of the CLI's tables.

CSV columns: `metric` is the figure's path in the JSON with dots ("first_response_seconds.
bot.p50", "handoffs_by_reason.customer_request"), the per-day series as
"daily.<YYYY-MM-DD>.<figure>"; `value` is the number, empty for None.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

CSV_HEADER = ("metric", "value")
DAILY_COLUMNS = (("date", "Day"), ("conversations", "Conversations"),
                 ("containment_rate", "Containment"), ("first_response_p50", "Bot first reply p50 (s)"),
                 ("handoffs", "Handoffs"), ("csat_average", "CSAT"), ("cost_usd", "Model cost (USD)"))
"""The per-day series' figures and their headings (CLI table, dashboard)."""


def as_json(report: Mapping[str, Any]) -> str:
    """The report as `switchboard report --format json` prints it."""
    return json.dumps(report, indent=2)


def flat(report: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every figure, the per-day series keyed by date."""
    for name, value in report.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from flat(value, path + ".")
        elif name == "daily" and isinstance(value, list):
            for day in value:
                yield from flat({k: v for k, v in day.items() if k != "date"},
                                f"{path}.{day['date']}.")
        else:
            yield path, value


def as_csv(report: Mapping[str, Any]) -> str:
    """metric,value rows (module docstring), with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows((path, "" if value is None else value) for path, value in flat(report))
    return out.getvalue()


def shown(value: Any) -> str:
    """A figure as a table cell: "-" for None, rates as percentages."""
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def summary_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(figure, value) rows of everything but the per-day series and the window itself."""
    return [(path, shown(value)) for path, value in flat(report)
            if not path.startswith(("daily.", "since", "until"))]


def daily_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """The per-day series as table cells, in DAILY_COLUMNS' order."""
    return [[shown(day[key]) for key, _ in DAILY_COLUMNS] for day in report["daily"]]
