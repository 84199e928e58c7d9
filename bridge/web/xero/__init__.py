"""Xero's pages (``connect.py``): its settings page and the OAuth round trip. The identity
server's calls and the stored connection are the connector's library code
(``bridge/connectors/xero``), and so is the webhook receiver (``hooks.py`` there).
"""
