"""Bexio's connect pages (``connect.py``): the OAuth round trip's start, callback and
disconnect, for both platforms' settings pages. PKCE, the identity check and the stored
connection are the connector's library code (``bridge/connectors/bexio``).
"""
