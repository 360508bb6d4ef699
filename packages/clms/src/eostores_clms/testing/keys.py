"""Service keys as the CLMS portal issues them: an RSA key pair and the JSON the user saves."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

__all__ = ["new_key_pair", "new_service_key"]


def new_key_pair(bits: int = 2048) -> tuple[str, str]:
    """A fresh RSA key pair as ``(private PEM, public PEM)`` text."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


def new_service_key(
    token_uri: str, *, user_id: str = "emulated-user", private_pem: str | None = None
) -> tuple[dict[str, Any], str]:
    """A service key JSON (as a dict) for ``token_uri`` and the public PEM that verifies it.

    A new key pair is made unless ``private_pem`` is given (then the public PEM is derived).
    """
    if private_pem is None:
        private_pem, public_pem = new_key_pair()
    else:
        from cryptography.hazmat.primitives import serialization

        loaded = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
        public_pem = (
            loaded.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )
    key = {
        "client_id": f"{user_id}-{uuid.uuid4().hex[:12]}",
        "issued": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "key_id": uuid.uuid4().hex,
        "private_key": private_pem,
        "title": "eostores emulator key",
        "token_uri": token_uri,
        "user_id": user_id,
    }
    return key, public_pem
