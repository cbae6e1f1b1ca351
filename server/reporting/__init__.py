"""The service report: how the bot and the desk served customers over a time window
(`switchboard report`, the console's supervisor dashboard). Definitions of every figure:
docs/reporting.md and server/reporting/figures.py.

window.py reads "7d" or an ISO date into a window; facts.py reads the inbox, outbox and audit
trail (the desk's part: server/desk/report_facts.py); figures.py turns the facts into the
report; report.py puts them together (`service_report`); formats.py and charts.py show it.
"""
