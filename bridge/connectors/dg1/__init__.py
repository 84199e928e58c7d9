"""The dg1 connector (see bridge/connectors/__init__.py for the shape)."""
