"""The bitrix24 connector (see bridge/connectors/__init__.py for the shape)."""
