"""The pages Bitrix24 frames: install, main page and invoice tab (``app``), settings, sync
log and the transactions dashboard, with the invoice tab's view model (``invoice_state``).

Their trust (launch and form-token checks, framing headers) is the connector's library
code, ``bridge/connectors/bitrix24/iframe.py``; the event receiver is
``bridge/connectors/bitrix24/hooks.py``. Nothing here is imported by a connector.
"""
