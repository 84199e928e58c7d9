"""Simulators of the external systems (Xero, Bitrix24, Bexio, DG1) for demos and tests.

Every simulated service is reached as ``<sandbox url>/<real host name>/<real path>``:
``https://api.xero.com/api.xro/2.0/Invoices`` becomes
``http://127.0.0.1:5001/api.xero.com/api.xro/2.0/Invoices``. So pointing the product at
the sandbox is a matter of base URLs only.

Nothing here is imported by the product and nothing of the product is imported here: a
misunderstanding of an API written once and used on both sides would make a wrong
product pass every test.
"""
from .host import SandboxHost, create_sandbox_app

__all__ = ["SandboxHost", "create_sandbox_app"]
