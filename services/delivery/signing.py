"""The delivery signing key (Ed25519): signs the QR payload printed on a report.

In development the pair is generated once under QI_DATA_DIR/keys (like identity's token
key, race-free by renaming a complete directory into place); in production the files are
configured (QI_DELIVERY_SIGNING_KEY_FILE / QI_DELIVERY_PUBLIC_KEY_FILE). The public key is
published (GET /api/v1/verification/public-key), so a scanned QR is verifiable offline:

    payload = "QI1." + number + "." + sha256 + "." + base64url(signature)
    signature = Ed25519(private key, UTF-8 of "QI1|" + number + "|" + sha256)
"""
from __future__ import annotations

import base64
import functools
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common import config

PRIVATE_NAME = "delivery-ed25519.pem"
PUBLIC_NAME = "delivery-ed25519.pub.pem"
PREFIX = "QI1"


def _files() -> tuple[Path, Path]:
    private, public = config.env("QI_DELIVERY_SIGNING_KEY_FILE"), config.env("QI_DELIVERY_PUBLIC_KEY_FILE")
    if private and public:
        return Path(private), Path(public)
    if config.env("QI_ENV", "dev") == "production":
        raise RuntimeError("QI_DELIVERY_SIGNING_KEY_FILE and QI_DELIVERY_PUBLIC_KEY_FILE must be set in production")
    keys = config.data_dir() / "keys" / "delivery"
    _ensure_dev_pair(keys)
    return keys / PRIVATE_NAME, keys / PUBLIC_NAME


def _ensure_dev_pair(keys_dir: Path) -> None:
    if (keys_dir / PRIVATE_NAME).exists() and (keys_dir / PUBLIC_NAME).exists():
        return
    keys_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = keys_dir.parent / f".delivery-keys-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    key = Ed25519PrivateKey.generate()
    (staging / PRIVATE_NAME).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(staging / PRIVATE_NAME, 0o600)
    (staging / PUBLIC_NAME).write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    try:
        os.rename(staging, keys_dir)
    except OSError:   # another process won the race: its pair is complete
        for child in staging.iterdir():
            child.unlink()
        staging.rmdir()


@functools.lru_cache(maxsize=4)
def _load(path: str, private: bool, mtime: float):
    data = Path(path).read_bytes()
    return serialization.load_pem_private_key(data, None) if private else serialization.load_pem_public_key(data)


def private_key() -> Ed25519PrivateKey:
    path = _files()[0]
    return _load(str(path), True, path.stat().st_mtime)


def public_key() -> Ed25519PublicKey:
    path = _files()[1]
    return _load(str(path), False, path.stat().st_mtime)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public() -> bytes:
    return public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id() -> str:
    return hashlib.sha256(raw_public()).hexdigest()[:16]


def message(number: str, sha256: str) -> bytes:
    return f"{PREFIX}|{number}|{sha256}".encode("utf-8")


def qr_payload(number: str, sha256: str) -> str:
    return f"{PREFIX}.{number}.{sha256}.{_b64(private_key().sign(message(number, sha256)))}"


def parse_and_verify(payload: str, key: Ed25519PublicKey | None = None) -> tuple[str, str] | None:
    """(number, sha256) of a genuine payload, else None. Needs only the public key (offline)."""
    parts = (payload or "").strip().split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    _, number, sha256, signature = parts
    try:
        (key or public_key()).verify(_unb64(signature), message(number, sha256))
    except (InvalidSignature, ValueError):
        return None
    return number, sha256


def published() -> dict:
    return {"algorithm": "Ed25519", "key_id": key_id(),
            "public_key_pem": public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
            "public_key_raw_base64url": _b64(raw_public()),
            "payload_format": "QI1.<number>.<sha256>.<base64url(Ed25519 over 'QI1|<number>|<sha256>')>"}
