"""The Xero transactions dashboard: a local copy of bank transactions and payments, kept
fresh incrementally by a periodic job, and the queries the dashboard page runs on it.

- ``models.py``: the local copy, sent alerts and operators (this package's tables);
- ``mapper.py``: Xero wire -> local rows (pure);
- ``refresh.py``: the periodic job and the flow that reads what changed since a cursor;
- ``queries.py``: filters, paging, totals and the chart series, all in SQL on the copy;
- ``chart.py``: the in/out chart as server-rendered SVG geometry.

The web pages are in ``bridge/web/bitrix24/dashboard.py``.
"""
