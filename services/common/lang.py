"""Which language a client reads, and field messages in that language.

Field messages are written once, "中文 / English" (services.common.fields.MESSAGES
and the schemas' own messages), and travel so over RPC: a service needs no
language of its own. The gateway keeps the half the request's Accept-Language
asks for (zh-CN by default, `en` for English) in the problem+json `errors`, and
says which it chose in Content-Language.
"""
from __future__ import annotations

import re

DEFAULT = "zh-CN"
SUPPORTED = {"zh": "zh-CN", "en": "en"}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_SEPARATOR = " / "


def choose(accept_language: str | None) -> str:
    """"zh-CN" or "en" for an Accept-Language header (RFC 9110 q-values honoured)."""
    best, best_q = DEFAULT, -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                q = float(match.group(1))
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in SUPPORTED and q > 0 and q > best_q:
            best, best_q = SUPPORTED[primary], q
    return best


def pick(message: str, lang: str) -> str:
    """The half of a "中文 / English" (or "English / 中文") message in `lang`; other text as it is."""
    if _SEPARATOR not in message:
        return message
    first, second = message.split(_SEPARATOR, 1)
    first_zh, second_zh = bool(_CJK.search(first)), bool(_CJK.search(second))
    if first_zh == second_zh:
        return message
    zh, en = (first, second) if first_zh else (second, first)
    return zh if lang.startswith("zh") else en


def localize(messages, lang: str):
    """`messages` (marshmallow's normalized form: dicts, lists, strings) with every string picked."""
    if isinstance(messages, str):
        return pick(messages, lang)
    if isinstance(messages, dict):
        return {key: localize(value, lang) for key, value in messages.items()}
    if isinstance(messages, list):
        return [localize(value, lang) for value in messages]
    return messages
