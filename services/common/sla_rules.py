"""SLA rules: the time limits as data (`sla_rules.json`, see `config.sla_rules_file()`).

Re-exported by services.common.sla, where callers find them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import config
from .errors import DomainError, NotFound


class RulesInvalid(DomainError):
    status = 500
    code = "sla_rules_invalid"
    title_zh = "时限规则配置有误"
    title_en = "SLA rules file is invalid"


@dataclass(frozen=True)
class SlaRule:
    name: str
    limit_working_days: int
    due_soon_working_days: int
    description_zh: str
    description_en: str
    restart_on_resubmit: bool


_rules_cache: dict[Path, tuple[float, dict[str, SlaRule]]] = {}


def _parse_rule(doc, index: int) -> SlaRule:
    where = f"rules[{index}]"
    if not isinstance(doc, dict):
        raise RulesInvalid(f"{where}: expected an object")
    try:
        rule = SlaRule(name=doc["name"], limit_working_days=doc["limit_working_days"],
                       due_soon_working_days=doc.get("due_soon_working_days", 0),
                       description_zh=doc["description_zh"], description_en=doc["description_en"],
                       restart_on_resubmit=doc.get("restart_on_resubmit", False))
    except KeyError as exc:
        raise RulesInvalid(f"{where}: missing field {exc.args[0]}") from None
    if not isinstance(rule.name, str) or not rule.name:
        raise RulesInvalid(f"{where}: name must be a non-empty string")
    for field in ("limit_working_days", "due_soon_working_days"):
        value = getattr(rule, field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RulesInvalid(f"{rule.name}: {field} must be a non-negative integer")
    if rule.due_soon_working_days > rule.limit_working_days:
        raise RulesInvalid(f"{rule.name}: due_soon_working_days exceeds limit_working_days")
    if not isinstance(rule.restart_on_resubmit, bool):
        raise RulesInvalid(f"{rule.name}: restart_on_resubmit must be true or false")
    return rule


def load_rules(path: str | Path | None = None) -> dict[str, SlaRule]:
    """Rules by name; re-read when the file changes."""
    path = Path(path) if path is not None else config.sla_rules_file()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise RulesInvalid(f"SLA rules file not found / 找不到时限规则文件: {path}") from None
    cached = _rules_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RulesInvalid(f"{path}: not valid JSON: {exc}") from None
    items = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise RulesInvalid(f"{path}: expected {{\"rules\": [...]}}")
    rules: dict[str, SlaRule] = {}
    for i, item in enumerate(items):
        rule = _parse_rule(item, i)
        if rule.name in rules:
            raise RulesInvalid(f"{path}: rule {rule.name} defined twice")
        rules[rule.name] = rule
    _rules_cache[path] = (mtime, rules)
    return rules


def get_rule(name: str) -> SlaRule:
    rule = load_rules().get(name)
    if rule is None:
        raise NotFound(f"unknown SLA rule / 未定义的时限规则: {name}", code="sla_rule_not_found")
    return rule

