"""`strict_load`: YAML from a file someone else may have written, read without surprises.

PyYAML's safe loader builds no objects, but still expands aliases (nine levels of nine aliases
are 9**9 strings: minutes and all memory, even under a key no one reads), recurses once per
level of nesting (a RecursionError traceback at about a thousand), converts numbers of any
length (Python refuses past 4300 digits, with a traceback) and keeps the last of duplicate keys,
which the Pulumi engine refuses. This loader refuses each of them with a YAMLError that names the
line, so a caller reports one line and never a traceback.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1 << 20  # a stack file is a few KiB; a mebibyte is generous
MAX_DEPTH = 32  # the deepest regstack key is about six levels below `config:`
MAX_NUMBER_CHARS = 64  # more digits than any port, size, count or duration needs

_MERGE = "tag:yaml.org,2002:merge"


class StrictYAMLError(yaml.MarkedYAMLError):
    """A document refused by `strict_load`; `problem` and `problem_mark` say what and where."""


def _refused(problem: str, mark: Any) -> StrictYAMLError:
    # `mark` is Any: the stubs type an event's mark as the C or the Python scanner's.
    return StrictYAMLError(problem=problem, problem_mark=mark)


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _refused(
                f"aliases (*{event.anchor}) are not accepted: write the value out", event.start_mark
            )
        nests = isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent)
        if nests:
            if self._depth == MAX_DEPTH:
                raise _refused(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= nests

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Checked before the merge keys (`<<`) are flattened: a merged key may be overridden.
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key, which SafeConstructor refuses itself
                continue
            if duplicate:
                raise _refused(f"duplicate key {key}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _bounded_number(tag: str) -> None:
    parent = yaml.SafeLoader.yaml_constructors[tag]

    def construct(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
        if len(node.value) > MAX_NUMBER_CHARS:
            raise _refused(
                f"a number of {len(node.value)} characters (at most {MAX_NUMBER_CHARS}): "
                "quote it if it is meant as a string",
                node.start_mark,
            )
        return parent(loader, node)

    _StrictLoader.add_constructor(tag, construct)


_bounded_number("tag:yaml.org,2002:int")
_bounded_number("tag:yaml.org,2002:float")


def strict_load(text: str) -> Any:
    """The one YAML document in `text`; StrictYAMLError (a yaml.YAMLError) if it is refused."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise StrictYAMLError(problem=f"the file is larger than {MAX_BYTES >> 20} MiB")
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader, stricter
