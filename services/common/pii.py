"""Personal data: encryption at rest, blind indexes, masking, validation, reveal policy.

PIPL treats ID numbers and mobile numbers as personal information whose leak
is the realistic harm, so the database never holds them in clear:

* `EncryptedText` columns hold `v1:<kid>:<b64(nonce+ciphertext)>` tokens
  (AES-256-GCM). A stolen database file or backup reveals nothing without the
  keys, which live only in the environment (QI_PII_KEYS).
* Exact-match lookups ("is this ID number already registered?") go through a
  separate `blind_index(kind, value)` column: an HMAC, not a plain hash, because
  the space of ID numbers and phone numbers is small enough to brute-force an
  unkeyed hash in minutes.
* API responses show masked values unless `may_reveal` allows the full value,
  and every full reveal is written to the audit log (services.common.audit).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import re
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumValidationError

from . import config, platform, resident_id
from .errors import ValidationFailed

TOKEN_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12


class PiiKeyError(RuntimeError):
    """The key configuration is unusable (bad base64, wrong length, unknown kid)."""


class PiiDecryptionError(ValueError):
    """A token could not be decrypted: malformed, tampered with, or made with another key."""


def _decode_key(kid: str, text: str) -> bytes:
    # Operators paste keys from different tools; accept both base64 alphabets.
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PiiKeyError(f"PII key {kid!r} is not valid base64") from exc
    if len(raw) != KEY_BYTES:
        raise PiiKeyError(f"PII key {kid!r} must be {KEY_BYTES} bytes (AES-256), got {len(raw)}")
    return raw


def parse_keys(spec: str) -> dict[str, bytes]:
    """Parse `kid:base64key,kid2:base64key`, keeping the order written."""
    keys: dict[str, bytes] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, b64 = part.partition(":")
        kid = kid.strip()
        if not sep or not kid:
            raise PiiKeyError("QI_PII_KEYS entries must look like kid:base64key")
        if kid in keys:
            raise PiiKeyError(f"PII key id {kid!r} appears twice in QI_PII_KEYS")
        keys[kid] = _decode_key(kid, b64)
    if not keys:
        raise PiiKeyError("QI_PII_KEYS holds no key")
    return keys


class PiiCipher:
    """AES-256-GCM with key ids, so keys can rotate without rewriting old rows.

    New tokens always use `active_kid`; any configured kid still decrypts. To
    rotate: add the new key, make it active, re-encrypt at leisure, and only then
    remove the old key.
    """

    def __init__(self, keys: dict[str, bytes], active_kid: str | None = None):
        if not keys:
            raise PiiKeyError("at least one PII key is required")
        for kid, key in keys.items():
            # ":" would make the token ambiguous to split.
            if not kid or ":" in kid:
                raise PiiKeyError(f"invalid PII key id {kid!r}")
            if len(key) != KEY_BYTES:
                raise PiiKeyError(f"PII key {kid!r} must be {KEY_BYTES} bytes (AES-256), got {len(key)}")
        active_kid = active_kid or next(iter(keys))
        if active_kid not in keys:
            raise PiiKeyError(f"active PII key id {active_kid!r} is not among the configured keys")
        self.active_kid = active_kid
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}

    @classmethod
    def from_config(cls) -> "PiiCipher":
        return cls(parse_keys(config.pii_keys()), config.pii_active_kid())

    @staticmethod
    def _aad(kid: str) -> bytes:
        # Binding version and kid means a token relabelled with another kid
        # fails authentication instead of decrypting under a different key.
        return f"{TOKEN_VERSION}:{kid}".encode()

    def encrypt(self, plaintext: str) -> str:
        kid = self.active_kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[kid].encrypt(nonce, plaintext.encode("utf-8"), self._aad(kid))
        return f"{TOKEN_VERSION}:{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str) -> str:
        parts = token.split(":", 2) if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise PiiDecryptionError("not a PII token (expected v1:<kid>:<data>)")
        _, kid, data = parts
        aead = self._aead.get(kid)
        if aead is None:
            raise PiiDecryptionError(f"PII token uses key id {kid!r}, which is not configured")
        try:
            blob = base64.urlsafe_b64decode(data.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise PiiDecryptionError("PII token data is not valid base64") from exc
        if len(blob) < NONCE_BYTES + 16:
            raise PiiDecryptionError("PII token is truncated")
        try:
            plain = aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], self._aad(kid))
        except InvalidTag as exc:
            raise PiiDecryptionError(
                f"PII token failed authentication under key {kid!r} (tampered or wrong key)") from exc
        return plain.decode("utf-8")

    def kid_of(self, token: str) -> str | None:
        """Key id a stored token was made with (to find rows still on an old key)."""
        parts = token.split(":", 2) if isinstance(token, str) else []
        return parts[1] if len(parts) == 3 and parts[0] == TOKEN_VERSION else None


_lock = threading.Lock()
_cipher: PiiCipher | None = None
_blind_key: bytes | None = None


def get_cipher() -> PiiCipher:
    global _cipher
    if _cipher is None:
        with _lock:
            if _cipher is None:
                _cipher = PiiCipher.from_config()
    return _cipher


def _blind_index_key() -> bytes:
    global _blind_key
    if _blind_key is None:
        _blind_key = config.blind_index_key().encode("utf-8")
    return _blind_key


def reset_cipher() -> None:
    """Forget cached keys so the next use re-reads the environment (tests, key reload)."""
    global _cipher, _blind_key
    with _lock:
        _cipher = None
        _blind_key = None


# --- blind index -------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"\D+")


def normalize_id_number(value: str | None) -> str | None:
    if value is None:
        return None
    return _SPACES.sub("", str(value)).upper()


def normalize_phone(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    digits = _NON_DIGITS.sub("", text)
    if text.startswith("+86"):
        return digits[2:]
    if digits.startswith("0086"):
        return digits[4:]
    # A bare leading 86 is only a country code when what follows is a full
    # mobile number; otherwise it may be part of a local number.
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


_NORMALIZERS = {"id_number": normalize_id_number, "phone": normalize_phone}


def blind_index(kind: str, value: str | None) -> str | None:
    """Keyed, deterministic fingerprint of a normalized value, for equality lookups.

    The kind is part of the MAC input so the same digits indexed as a phone and
    as an ID number never collide or link across columns.
    """
    normalizer = _NORMALIZERS.get(kind)
    if normalizer is None:
        raise ValueError(f"unknown blind index kind {kind!r}; known: {sorted(_NORMALIZERS)}")
    if value is None:
        return None
    message = kind.encode() + b"\x00" + normalizer(value).encode("utf-8")
    return hmac.new(_blind_index_key(), message, hashlib.sha256).hexdigest()


# --- column type ----------------------------------------------------------------

class EncryptedText(TypeDecorator):
    """A Text column holding PII tokens; the ORM sees plaintext.

    Ciphertext is randomized, so SQL comparisons against the column can never
    match; they raise instead of silently returning nothing. Query by a
    `blind_index` column and check `IS NULL` only.
    """

    impl = Text
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator):
        _ALLOWED = {operators.is_, operators.is_not}

        def operate(self, op, *other, **kwargs):
            if op not in self._ALLOWED:
                raise TypeError("encrypted columns cannot be compared in SQL; query the blind index column")
            return super().operate(op, *other, **kwargs)

        def reverse_operate(self, op, other, **kwargs):
            raise TypeError("encrypted columns cannot be compared in SQL; query the blind index column")

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return get_cipher().encrypt(str(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return get_cipher().decrypt(value)


# --- masking ----------------------------------------------------------------------

def _mask(value: str | None, keep_head: int, keep_tail: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    # Too short to keep both ends and still hide something: hide all of it.
    if len(text) <= keep_head + keep_tail:
        return "*" * len(text)
    return text[:keep_head] + "*" * (len(text) - keep_head - keep_tail) + text[len(text) - keep_tail:]


def mask_id_number(value: str | None) -> str | None:
    return _mask(normalize_id_number(value), 4, 4)


def mask_phone(value: str | None) -> str | None:
    return _mask(normalize_phone(value) or (None if value is None else str(value)), 3, 4)


def mask_name(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) <= 1:
        # A one-character name kept as is would be no mask at all.
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 1)


# --- validation -------------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}")


def _invalid(field: str, zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {en}", errors={field: [f"{zh} / {en}"]})


def check_uscc(value: str | None, field: str = "uscc") -> str:
    """Normalized unified social credit code (GB 32100), or ValidationFailed naming `field`."""
    if not value or not str(value).strip():
        raise _invalid(field, "统一社会信用代码不能为空", "unified social credit code is required")
    try:
        return uscc.validate(str(value))
    except StdnumValidationError:
        raise _invalid(field, "统一社会信用代码格式或校验位错误",
                       "invalid unified social credit code (format or check character)") from None


def check_id_number(value: str | None, field: str = "id_number", today: dt.date | None = None) -> str:
    """Normalized 18-digit resident ID number (GB 11643), or ValidationFailed naming `field`.

    15-digit IDs were withdrawn in 2013, so new registrations only accept 18 digits.
    The rules (and why stdnum's region-versus-birth-year check is not used) are in
    services.common.resident_id.
    """
    if not value or not str(value).strip():
        raise _invalid(field, "身份证号不能为空", "ID number is required")
    try:
        return resident_id.validate(normalize_id_number(value), today=today or dt.date.today())
    except resident_id.InvalidResidentId as exc:
        zh, en = _ID_REASONS[exc.reason]
        raise _invalid(field, zh, en) from None


_ID_REASONS = {
    "length": ("身份证号须为 18 位", "ID number must have 18 characters"),
    "format": ("身份证号须为 17 位数字加 1 位校验码（数字或 X）",
               "ID number must be 17 digits and a check character (digit or X)"),
    "checksum": ("身份证号校验码错误", "invalid ID number (check digit)"),
    "birth_date": ("身份证号中的出生日期不存在", "the birth date in the ID number is not a real date"),
    "birth_date_future": ("身份证号中的出生日期不合理（晚于今天）", "implausible birth date in ID number (in the future)"),
    "birth_date_too_old": (f"身份证号中的出生日期不合理（早于 {resident_id.MAX_AGE_YEARS} 年前）",
                           f"implausible birth date in ID number (more than {resident_id.MAX_AGE_YEARS} years ago)"),
    "region": ("身份证号中的地区代码不存在", "unknown region code in ID number"),
}


def check_mobile(value: str | None, field: str = "phone") -> str:
    """Normalized mainland mobile number (11 digits, no +86), or ValidationFailed naming `field`."""
    number = normalize_phone(value) if value is not None else ""
    if not number:
        raise _invalid(field, "手机号不能为空", "mobile number is required")
    if not _MOBILE.fullmatch(number):
        raise _invalid(field, "手机号格式错误（应为 11 位中国大陆手机号）",
                       "invalid mobile number (expected an 11-digit mainland China number)")
    return number


# The brief's names; same behaviour (normalized value or ValidationFailed).
valid_uscc = check_uscc
valid_id_number = check_id_number
valid_mobile = check_mobile


def is_valid_uscc(value: str | None) -> bool:
    return _passes(check_uscc, value)


def is_valid_id_number(value: str | None) -> bool:
    return _passes(check_id_number, value)


def is_valid_mobile(value: str | None) -> bool:
    return _passes(check_mobile, value)


def _passes(check, value) -> bool:
    try:
        check(value)
    except ValidationFailed:
        return False
    return True


# --- reveal policy -----------------------------------------------------------------

FULL_PII_ROLES = frozenset(platform.OPERATORS)


def may_reveal(principal: dict | None, owner_id: str | None) -> bool:
    """Whether `principal` may see the unmasked PII of the record owned by `owner_id`.

    Callers that reveal must also write an audit entry ("<type>.pii_revealed")
    when the viewer is not the owner.
    """
    if not principal:
        return False
    if principal.get("role") in FULL_PII_ROLES:
        return True
    user_id = principal.get("user_id")
    return user_id is not None and owner_id is not None and str(user_id) == str(owner_id)
