"""bridge: keeps Bitrix24 and DG1 in step with Xero and Bexio. See README.md."""
from .factory import create_app

__all__ = ["create_app"]
