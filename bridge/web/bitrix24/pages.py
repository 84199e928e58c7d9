"""Names shared by the Bitrix24 app's pages (main page, settings, sync log)."""
from __future__ import annotations

# The object a form token names for the app-wide pages (settings, sync log): one token,
# handed out by the main page, opens them all for that user for an hour.
APP_PAGES = "app"
