"""A scripted mutation run of bridge's trust checks (``make mutants``; see docs/RELIABILITY.md)."""
