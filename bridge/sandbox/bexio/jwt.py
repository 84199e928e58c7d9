"""RS256 JSON Web Tokens, because Keycloak (Bexio's identity provider, NOTES §1) issues
access and ID tokens as signed JWTs and publishes the key at ``.../certs``.

One key per process is enough: tokens are also remembered server-side, so a restarted
sandbox rejects old tokens anyway.
"""
from __future__ import annotations

import base64
import json
import threading
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_ID = "bexio-sandbox-rs256"
_key: rsa.RSAPrivateKey | None = None
_key_lock = threading.Lock()


def _private_key() -> rsa.RSAPrivateKey:
    global _key
    with _key_lock:
        if _key is None:
            _key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def sign(claims: dict[str, Any], typ: str = "JWT") -> str:
    header = {"alg": "RS256", "typ": typ, "kid": KEY_ID}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = _private_key().sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def jwks() -> dict[str, Any]:
    numbers = _private_key().public_key().public_numbers()
    return {"keys": [{"kid": KEY_ID, "kty": "RSA", "alg": "RS256", "use": "sig",
                      "n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}]}
