"""Retention policy: which rule governs a repository, and which tags a rule protects.

A policy is a JSON document (YAML too, when PyYAML happens to be importable):

    {"rules": [
        {"repositories": ["team/*"], "keep_last": 5, "max_age_days": 30,
         "protected": ["release-*", "re:^hotfix-[0-9]+$"]},
        {"repositories": "**", "keep_last": 10}
    ]}

The first rule whose `repositories` glob matches wins; a repository no rule matches is
left alone.  Globs follow Harbor's (doublestar): `*` and `?` never cross a `/`, `**` as a
whole path segment spans any number of segments (`team/**` is `team` and everything under
it), `[...]` is a character class and `{a,b}` an alternative.  Tag patterns are globs, or
regular expressions when prefixed with `re:` (matched against the whole tag).
`DEFAULT_PROTECTED` applies on top of a rule's own patterns unless the rule says
`"default_protected": false`.

Pushers choose tag names and the policy's regexes run on them, so the regex language is
bounded to what runs in time linear or polynomial in the tag (see `bounded_regex`), and a
tag longer than OCI's 128 characters is never matched, only kept.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from re import _parser as sre  # type: ignore[attr-defined]  # the stdlib's own parser
from typing import Any

from ..images import PROTECTED_ALIASES, RELEASE_PATTERN

# The chapter's moving aliases and its release tags (components/images.py says which).
DEFAULT_PROTECTED = (*sorted(PROTECTED_ALIASES), f"re:{RELEASE_PATTERN}")
# OCI distribution-spec: a tag is `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
MAX_TAG_LENGTH = 128
_REPEATS = frozenset({sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)})
_BACKREFERENCES = frozenset({sre.GROUPREF, sre.GROUPREF_EXISTS})
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
        if not text.startswith("re:"):
            return cls(text, glob_regex(text))
        try:
            return cls(text, bounded_regex(text[3:]))
        except re.error as err:
            raise PolicyError(f"bad tag pattern {text!r}: {err}") from err

    def matches(self, tag: str) -> bool:
        return len(tag) <= MAX_TAG_LENGTH and self.regex.fullmatch(tag) is not None


def bounded_regex(source: str) -> re.Pattern[str]:
    """Compile a `re:` pattern unless it can backtrack exponentially on a chosen tag.

    Refused: a quantifier over something that itself repeats (`(a+)+`, `(a*b?)*`) or holds
    alternatives (`(a|ab)*`), and backreferences -- the shapes whose matching time grows
    exponentially with the tag (`re:(a+)+$` on 40 `a`s and a `!` takes hours).  What is left
    backtracks at most polynomially, and tags are at most 128 characters.  A time budget per
    match is not an option: Python's `re` cannot be interrupted while it matches.
    """
    _refuse_unbounded(sre.parse(source), inside_repeat=False)
    return re.compile(source)


def _refuse_unbounded(pattern: object, *, inside_repeat: bool) -> None:
    for op, argument in pattern:  # type: ignore[attr-defined]
        if op in _BACKREFERENCES:
            raise re.error("backreferences are not allowed (matching time is unbounded)")
        repeats = op in _REPEATS and argument[1] > 1
        if inside_repeat and (repeats or op is sre.BRANCH):
            raise re.error(
                "a quantifier over a group that repeats or has alternatives can take hours "
                "on a chosen tag: quantify a single character or class, or split the pattern"
            )
        for child in _subpatterns(op, argument):
            _refuse_unbounded(child, inside_repeat=inside_repeat or repeats)


def _subpatterns(op: object, argument: object) -> list[object]:
    """The nested patterns of one parsed node (groups, repeats, branches, lookarounds)."""
    if op is sre.BRANCH:
        return list(argument[1])  # type: ignore[index]
    if op is sre.SUBPATTERN or op in _REPEATS:
        return [argument[-1]]  # type: ignore[index]
    if op in (sre.ASSERT, sre.ASSERT_NOT, getattr(sre, "ATOMIC_GROUP", None)):
        return [argument[-1] if isinstance(argument, tuple) else argument]
    return []


@functools.cache
def glob_regex(glob: str) -> re.Pattern[str]:
    """A doublestar glob (Harbor's) as a regex over `/`-separated names; see the module doc."""
    segments = glob.split("/")
    source, separator = "", ""
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**" and last:
            source += ".*" if i == 0 else "(?:/.*)?"
        elif segment == "**":
            source += separator + "(?:.*/)?"
            separator = ""
            continue
        else:
            source += separator + _glob_segment(glob, segment)
        separator = "/"
    try:
        return re.compile(source, re.DOTALL)
    except re.error as err:
        raise PolicyError(f"bad glob {glob!r}: {err}") from err


def _glob_segment(glob: str, segment: str) -> str:
    out, i = [], 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        elif char == "[":
            end = segment.find("]", i + 2)
            if end < 0:
                raise PolicyError(f"bad glob {glob!r}: '[' without a closing ']'")
            body = segment[i + 1 : end]
            negated = body[:1] in ("!", "^")
            body = body[1:] if negated else body
            body = body.replace("\\", "\\\\")
            # A range such as `.-0` spans `/`: a class never matches across segments.
            out.append(f"[^/{body}]" if negated else f"(?!/)[{body}]")
            i = end
        elif char == "{":
            end = segment.find("}", i)
            if end < 0 or "{" in segment[i + 1 : end]:
                raise PolicyError(f"bad glob {glob!r}: '{{' without a closing '}}' (or nested)")
            choices = segment[i + 1 : end].split(",")
            out.append("(?:" + "|".join(_glob_segment(glob, c) for c in choices) + ")")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Rule:
    repositories: tuple[str, ...]
    keep_last: int | None = None
    max_age_days: float | None = None
    protected: tuple[TagPattern, ...] = ()

    def governs(self, repository: str) -> bool:
        return any(glob_regex(glob).fullmatch(repository) for glob in self.repositories)

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
    for glob in repositories:
        glob_regex(glob)
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
