"""YAML for scenario files: safe tags only, YAML 1.2 floats, and limits that fail fast.

Why its own module: a scenario file comes from a user, so reading it must never crash or
hang. PyYAML's SafeLoader already refuses ``!!python/...`` tags; on top of it this loader
- reads ``12.2e12`` as a float (PyYAML's YAML 1.1 rules read it as text);
- keeps every mapping key as its source text and rejects duplicate or non-scalar keys;
- turns impossible dates (``2025-02-30``) and over-long numbers into values the validator
  can name instead of exceptions;
- bounds the file size, the nesting depth and the number of values after aliases are
  expanded, so an alias bomb ("billion laughs") fails at once with a short message.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_CHARS = 1_000_000  # a scenario file is a few hundred bytes; 1 MB is far beyond any use
MAX_DEPTH = 20  # the deepest real key path (impact.market.bitcoin.price_usd) is 4 levels
MAX_VALUES = 50_000  # values in the document once every alias is expanded
MAX_NUMBER_CHARS = 100  # a number literal longer than this is refused, not converted


class YamlProblem(Exception):
    """The text cannot be read as a scenario document; `key` names where, when known."""

    def __init__(self, reason: str, key: str | None = None):
        super().__init__(reason)
        self.reason, self.key = reason, key


class BadDate(str):
    """A date-shaped scalar that is not a calendar date (e.g. 2025-02-30); keeps its text."""


class Oversized(str):
    """A number literal too long to convert safely (e.g. a 400-digit integer); keeps its text."""


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats, text keys and a nesting limit."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # noqa: D102
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels at line "
                                  f"{mark.line + 1}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_FLOAT_TAG = "tag:yaml.org,2002:float"
ScenarioLoader.yaml_implicit_resolvers = {
    ch: [r for r in resolvers if r[0] != _FLOAT_TAG]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _key_text(node: Node) -> str:
    if not isinstance(node, ScalarNode):
        kind = "list" if isinstance(node, SequenceNode) else "mapping"
        raise YamlProblem(f"a mapping key must be plain text, got a {kind} (line {_line(node)})")
    return node.value


def _construct_mapping(loader: ScenarioLoader, node: MappingNode, deep: bool = False) -> dict:
    """Keys as their source text (``on``, ``1`` and ``2025-01-01`` stay text); no duplicates."""
    if not isinstance(node, MappingNode):
        raise YamlProblem(f"expected a mapping (line {_line(node)})")
    seen: set[str] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = _key_text(key_node)
        if key in seen:
            raise YamlProblem(f"duplicate key (line {_line(key_node)})", key=key)
        seen.add(key)
    loader.flatten_mapping(node)  # `<<: *anchor` merges, explicit keys win
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        out[_key_text(key_node)] = loader.construct_object(value_node, deep=deep)
    return out


def _construct_number(kind: str):  # noqa: ANN202
    base = getattr(yaml.SafeLoader, f"construct_yaml_{kind}")

    def construct(loader: ScenarioLoader, node: ScalarNode) -> Any:
        if len(node.value) > MAX_NUMBER_CHARS:
            return Oversized(node.value)
        try:
            return base(loader, node)
        except (ValueError, OverflowError) as exc:
            raise YamlProblem(f"cannot read {node.value[:40]!r} as a number "
                              f"(line {_line(node)}): {exc}") from None

    return construct


def _construct_timestamp(loader: ScenarioLoader, node: ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return BadDate(node.value)


ScenarioLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
ScenarioLoader.add_constructor("tag:yaml.org,2002:int", _construct_number("int"))
ScenarioLoader.add_constructor(_FLOAT_TAG, _construct_number("float"))
ScenarioLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _check_size(node: Node) -> None:
    """Refuse documents that expand past MAX_VALUES or MAX_DEPTH, or refer to themselves.

    Linear in the composed graph: each node's (expanded size, height) is computed once, so an
    alias bomb is measured without being expanded.
    """
    memo: dict[int, tuple[int, int]] = {}
    active: set[int] = set()

    def walk(n: Node, depth: int) -> tuple[int, int]:
        done = memo.get(id(n))
        if done is None:
            if id(n) in active:
                raise YamlProblem(f"an alias refers to a value that contains it (line {_line(n)})")
            if depth > MAX_DEPTH:
                raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels once aliases are "
                                  f"expanded (line {_line(n)})")
            active.add(id(n))
            if isinstance(n, SequenceNode):
                children = list(n.value)
            elif isinstance(n, MappingNode):
                children = [c for pair in n.value for c in pair]
            else:
                children = []
            size, height = 1, 1
            for child in children:
                s, h = walk(child, depth + 1)
                size, height = size + s, max(height, h + 1)
                if size > MAX_VALUES:
                    raise YamlProblem(f"more than {MAX_VALUES:,} values once aliases are "
                                      "expanded (an alias bomb?); refused")
            active.discard(id(n))
            done = memo[id(n)] = (size, height)
        if depth + done[1] - 1 > MAX_DEPTH:
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels once aliases are "
                              f"expanded (line {_line(n)})")
        return done

    walk(node, 1)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    what = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    return f"not valid YAML{where}: {what}"


def parse_yaml(text: str) -> Any:
    """One YAML document as Python values; raises YamlProblem (never anything else)."""
    if len(text) > MAX_CHARS:
        raise YamlProblem(f"{len(text):,} characters, above the {MAX_CHARS:,} allowed for a "
                          "scenario file")
    loader = None
    try:
        loader = ScenarioLoader(text)  # the reader already refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    except YamlProblem:
        raise
    except yaml.YAMLError as exc:
        raise YamlProblem(_yaml_reason(exc)) from None
    except RecursionError:
        raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError, OverflowError, MemoryError) as exc:
        raise YamlProblem(f"cannot read the document: {type(exc).__name__}: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
