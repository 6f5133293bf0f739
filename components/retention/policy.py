"""Retention policy: which rule governs a repository, and which tags a rule protects.

A policy is a JSON document (YAML too, when PyYAML happens to be importable):

    {"rules": [
        {"repositories": ["team/*"], "keep_last": 5, "max_age_days": 30,
         "protected": ["release-*", "re:^hotfix-[0-9]+$"]},
        {"repositories": "*", "keep_last": 10}
    ]}

The first rule whose `repositories` glob matches wins; a repository no rule matches is
left alone.  Tag patterns are globs, or regular expressions when prefixed with `re:`
(matched against the whole tag).  `DEFAULT_PROTECTED` applies on top of a rule's own
patterns unless the rule says `"default_protected": false`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.images import PROTECTED_ALIASES, RELEASE_PATTERN

# The chapter's moving aliases and its release tags (components/images.py says which).
DEFAULT_PROTECTED = (*sorted(PROTECTED_ALIASES), f"re:{RELEASE_PATTERN}")
_RULE_KEYS = frozenset(
    {"repositories", "keep_last", "max_age_days", "protected", "default_protected"}
)


class PolicyError(ValueError):
    """The policy document is malformed; nothing is planned from it."""


@dataclass(frozen=True)
class TagPattern:
    text: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> TagPattern:
        source = text[3:] if text.startswith("re:") else fnmatch.translate(text)
        try:
            return cls(text, re.compile(source))
        except re.error as err:
            raise PolicyError(f"bad tag pattern {text!r}: {err}") from err

    def matches(self, tag: str) -> bool:
        return self.regex.fullmatch(tag) is not None


@dataclass(frozen=True)
class Rule:
    repositories: tuple[str, ...]
    keep_last: int | None = None
    max_age_days: float | None = None
    protected: tuple[TagPattern, ...] = ()

    def governs(self, repository: str) -> bool:
        return any(fnmatch.fnmatchcase(repository, glob) for glob in self.repositories)

    def protecting_pattern(self, tag: str) -> str | None:
        return next((p.text for p in self.protected if p.matches(tag)), None)

    def describe(self) -> str:
        return ",".join(self.repositories)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]

    def rule_for(self, repository: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.governs(repository)), None)


def load_policy(path: str | Path) -> Policy:
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        return parse_policy(_load_yaml(text))
    try:
        return parse_policy(json.loads(text))
    except json.JSONDecodeError as err:
        raise PolicyError(f"{path}: not JSON ({err}); YAML needs a .yaml name") from err


def _load_yaml(text: str) -> Any:
    # The in-cluster job ships without PyYAML; YAML is a convenience where it exists.
    try:
        import yaml
    except ImportError as err:
        raise PolicyError("YAML policies need PyYAML, which is not installed; use JSON") from err
    return yaml.safe_load(text)


def parse_policy(document: Any) -> Policy:
    if not isinstance(document, dict) or set(document) != {"rules"}:
        raise PolicyError('a policy is an object with exactly one key, "rules"')
    rules = document["rules"]
    if not isinstance(rules, list):
        raise PolicyError('"rules" must be a list')
    return Policy(tuple(_parse_rule(i, rule) for i, rule in enumerate(rules)))


def _parse_rule(index: int, rule: Any) -> Rule:
    where = f"rule {index}"
    if not isinstance(rule, dict):
        raise PolicyError(f"{where}: must be an object")
    # A misspelt key (say "keep-last") silently ignored could delete what it meant to keep.
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}")
    repositories = _string_list(where, "repositories", rule.get("repositories"))
    if not repositories:
        raise PolicyError(f"{where}: needs at least one repository glob")
    keep_last = rule.get("keep_last")
    if keep_last is not None and (
        not isinstance(keep_last, int) or isinstance(keep_last, bool) or keep_last < 0
    ):
        raise PolicyError(f"{where}: keep_last must be a non-negative integer")
    max_age = rule.get("max_age_days")
    if max_age is not None and (
        not isinstance(max_age, int | float) or isinstance(max_age, bool) or max_age < 0
    ):
        raise PolicyError(f"{where}: max_age_days must be a non-negative number")
    # Without either limit every unprotected tag would go: demand an explicit choice.
    if keep_last is None and max_age is None:
        raise PolicyError(f"{where}: set keep_last, max_age_days or both")
    default_protected = rule.get("default_protected", True)
    if not isinstance(default_protected, bool):
        raise PolicyError(f"{where}: default_protected must be true or false")
    patterns = _string_list(where, "protected", rule.get("protected", []))
    if default_protected:
        patterns = [*DEFAULT_PROTECTED, *patterns]
    return Rule(
        repositories=tuple(repositories),
        keep_last=keep_last,
        max_age_days=max_age,
        protected=tuple(TagPattern.parse(p) for p in patterns),
    )


def _string_list(where: str, key: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{where}: {key} must be a string or a list of strings")
    return values
