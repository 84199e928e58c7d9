"""``python -m bridge.sandbox serve --port 5001``: run every simulated system on one port."""
from __future__ import annotations

import argparse
import sys

from werkzeug.serving import run_simple

from .host import SandboxHost, create_sandbox_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the sandbox over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5001)
    serve.add_argument("--app-url", default=None, help="where bridge runs (default http://127.0.0.1:5000)")
    serve.add_argument("--public-url", default=None, help="URL this sandbox is reached at")
    serve.add_argument("--latency-ms", type=float, default=None,
                       help="simulated network round trip per API call (default SANDBOX_LATENCY_MS or 0)")
    args = parser.parse_args(argv)

    public_url = args.public_url or f"http://{args.host}:{args.port}"
    host = SandboxHost(app_url=args.app_url, public_url=public_url)
    if args.latency_ms is not None:
        host.latency.seconds = args.latency_ms / 1000
    print(f"bridge sandbox on {public_url}; app expected at {host.app_url}")
    for name, limits in host.limits().items():
        print(f"  {name}: base {public_url}/<real host>/...")
        for line in limits:
            print(f"    limit: {line}")
    if host.latency.seconds:
        print(f"  simulated round trip per API call: {host.latency.seconds * 1000:g} ms")
    sys.stdout.flush()
    run_simple(args.host, args.port, create_sandbox_app(host), threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
