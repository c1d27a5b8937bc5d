"""Parse the text of a run spec, YAML or JSON, into plain data and the line of every key.

Both parsers refuse what a hand-written spec never needs and a hostile one uses:

- **duplicate keys**, at any nesting level: ``a: 1`` then ``a: 2`` in one mapping (or ``"a"`` twice in
  one JSON object) is an error naming both lines, instead of the last value silently winning. In YAML a
  key that overrides one brought in by a merge key (``<<: *defaults``) is not a duplicate;
- **alias bombs** (YAML): aliases are expanded, but all the aliases of a document together may add at
  most :data:`MAX_ALIAS_NODES` nodes. A 1 KB "billion laughs" document (nine aliases of nine aliases of
  ...) would otherwise expand to 10^9 nodes for whatever walks the data. An alias used inside its own
  anchor (a recursive structure) is refused;
- **deep nesting**: more than :data:`MAX_DEPTH` levels of mappings and lists (both parsers recurse).

Errors are :class:`~gwasflow.errors.SpecError` problems naming the spec file and the line (any URL
credentials in a key they quote are shown as ``***``).
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re
from collections.abc import Callable
from typing import Any

import yaml
import yaml.constructor

from gwasflow.core.uri import redact
from gwasflow.errors import Problem, SpecError

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "Loc", "dotted", "parse_json", "parse_yaml"]

#: Most nodes that the aliases of one YAML document may add, all aliases together.
MAX_ALIAS_NODES = 10_000
#: Most levels of nested mappings and lists.
MAX_DEPTH = 64
#: Longest integer, in characters (Python refuses to convert more than 4300 digits, with a traceback).
MAX_INT_CHARS = 100

Loc = tuple[int | str, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# the standard library's pure-Python JSON scanner and its helpers (present since Python 2.6, left out of
# the type stubs): the C scanner parses objects itself and cannot record where keys are
_py_make_scanner: Callable[[Any], Any] = vars(json.scanner)["py_make_scanner"]
_json_array: Callable[..., tuple[list[Any], int]] = vars(json.decoder)["JSONArray"]
_scanstring: Callable[[str, int, bool], tuple[str, int]] = vars(json.decoder)["scanstring"]


def dotted(loc: Loc) -> str:
    """``("datasets", 0, "bed")`` -> ``"datasets[0].bed"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "spec"


class _Refused(Exception):
    """A limit of this module was hit at ``line`` (1-based)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


# -- YAML -------------------------------------------------------------------------------------------


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader whose composer counts what aliases expand to and how deep nodes nest."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> nodes in it, aliases expanded (finished nodes only)
        self._alias_nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._count_alias(self.peek_event())  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark.line + 1)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if node is not None:
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in _children(node))
        return node

    def _count_alias(self, event: yaml.Event) -> None:
        anchor = getattr(event, "anchor", None)
        target = self.anchors.get(anchor)
        if target is None:  # an undefined alias: PyYAML reports it
            return
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        size = self._sizes.get(id(target))
        if size is None:
            raise _Refused(f"alias *{anchor} is used inside its own anchor (a recursive structure)", line)
        self._alias_nodes += size
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise _Refused(
                f"aliases expand to more than {MAX_ALIAS_NODES:,} nodes (an alias bomb?); write the values out",
                line,
            )


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    if len(node.value) > MAX_INT_CHARS:
        message = f"an integer of {len(node.value)} characters (at most {MAX_INT_CHARS})"
        raise yaml.constructor.ConstructorError(None, None, message, node.start_mark)
    return loader.construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _parse_int(text: str) -> int:
    if len(text) > MAX_INT_CHARS:
        raise ValueError(f"an integer of {len(text)} characters (at most {MAX_INT_CHARS})")
    return int(text)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml(text: str, where: str) -> tuple[Any, dict[Loc, int]]:
    """The data of YAML ``text`` (from file ``where``) and the 1-based line of every key and list item."""
    loader = _BoundedLoader(text)
    lines: dict[Loc, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        problems: dict[tuple[int, int], Problem] = {}
        _index_yaml(node, (), _KeyIndex(lines, problems, where))
        if problems:
            raise SpecError(sorted(problems.values(), key=lambda p: p.line or 0))
        return loader.construct_document(node), lines
    except _Refused as exc:
        raise SpecError([Problem("spec", f"invalid YAML: {exc}", where, exc.line)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "ill-formed YAML"
        raise SpecError([Problem("spec", f"invalid YAML: {reason}", where, line)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem("spec", f"invalid YAML: {exc}", where)]) from None
    finally:
        loader.dispose()


class _KeyIndex:
    """Where :func:`_index_yaml` records lines and duplicate keys; builds keys as the loader would."""

    def __init__(self, lines: dict[Loc, int], problems: dict[tuple[int, int], Problem], where: str) -> None:
        self.lines = lines
        self.problems = problems  # by (line, column): a node reached through several aliases is reported once
        self.where = where
        self.keys = _BoundedLoader("")  # only its constructors are used: the int bound applies to keys too

    def key(self, node: yaml.ScalarNode) -> Any:
        return self.keys.construct_object(node, deep=True)


def _index_yaml(node: yaml.Node, loc: Loc, index: _KeyIndex) -> None:
    """Record the line of every key and list item under ``loc``; report duplicate keys.

    Runs on the composed nodes, before construction (which folds merge keys into the mapping).
    Keys brought in by a merge key (``<<``) get a line only where the mapping has no such key.
    """
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.lines.setdefault((*loc, i), item.start_mark.line + 1)
            _index_yaml(item, (*loc, i), index)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[Any, int] = {}
    merged: list[yaml.Node] = []
    for key_node, value in node.value:
        if key_node.tag == _MERGE_TAG:
            merged.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            continue  # a list or mapping as a key: the constructor refuses it
        key, line = index.key(key_node), key_node.start_mark.line + 1
        sub = (*loc, str(key))
        if key in first:
            message = f"duplicate key {key_node.value!r}: first at line {first[key]}, again at line {line}"
            where = (line, key_node.start_mark.column)
            index.problems[where] = Problem(redact(dotted(sub)), redact(message), index.where, line)
            continue
        first[key] = line
        index.lines.setdefault(sub, line)
        _index_yaml(value, sub, index)
    for source in merged:
        _index_yaml(source, loc, index)


# -- JSON -------------------------------------------------------------------------------------------


class _SpecDecoder(json.JSONDecoder):
    """A JSON decoder that bounds nesting, refuses duplicate keys and records the line of every key.

    It runs the standard library's pure-Python scanner with its own object parser; objects are
    plain dicts, and their keys' lines are kept by ``id`` until :meth:`locate` turns them into
    locations.
    """

    def __init__(self) -> None:
        super().__init__()
        self._newlines: list[int] = []
        self._depth = 0
        self._key_lines: dict[int, dict[str, int]] = {}
        self._dupes: dict[int, list[tuple[str, int, int]]] = {}
        self.parse_object = self._object
        self.parse_array = self._array
        self.parse_int = _parse_int
        self.scan_once = _py_make_scanner(self)

    def decode(self, s: str, _w: Callable[..., Any] = _WHITESPACE.match) -> Any:
        self._newlines = [m.start() for m in re.finditer("\n", s)]
        return super().decode(s)

    def _line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _enter(self, s: str, pos: int) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise json.JSONDecodeError(f"nested more than {MAX_DEPTH} levels deep", s, pos)

    def _array(self, s_and_end: tuple[str, int], scan_once: Any) -> tuple[list[Any], int]:
        s, end = s_and_end
        self._enter(s, end - 1)
        try:
            return _json_array(s_and_end, scan_once)
        finally:
            self._depth -= 1

    def _object(self, s_and_end: tuple[str, int], strict: bool, scan_once: Any, *_: Any) -> tuple[Any, int]:
        s, end = s_and_end
        self._enter(s, end - 1)
        try:
            return self._members(s, end, strict, scan_once)
        finally:
            self._depth -= 1

    def _members(self, s: str, end: int, strict: bool, scan_once: Any) -> tuple[dict[str, Any], int]:
        """Parse ``"key": value, ...}`` from just after the ``{``; return the dict and the end."""
        obj: dict[str, Any] = {}
        lines: dict[str, int] = {}
        end = _skip(s, end)
        if s[end:end + 1] == "}":
            return self._keep(obj, lines), end + 1
        while True:
            if s[end:end + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", s, end)
            line = self._line(end)
            key, end = _scanstring(s, end + 1, strict)
            end = _skip(s, end)
            if s[end:end + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", s, end)
            try:
                value, end = scan_once(s, _skip(s, end + 1))
            except StopIteration as stop:
                raise json.JSONDecodeError("Expecting value", s, stop.value) from None
            if key in lines:
                self._dupes.setdefault(id(obj), []).append((key, lines[key], line))
            else:
                lines[key] = line
            obj[key] = value
            end = _skip(s, end)
            if s[end:end + 1] == "}":
                return self._keep(obj, lines), end + 1
            if s[end:end + 1] != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", s, end)
            end = _skip(s, end + 1)

    def _keep(self, obj: dict[str, Any], lines: dict[str, int]) -> dict[str, Any]:
        self._key_lines[id(obj)] = lines
        return obj

    def locate(self, data: Any, loc: Loc, lines: dict[Loc, int], problems: list[Problem], where: str) -> None:
        """Lines of every key under ``loc`` into ``lines``; a problem per duplicate key."""
        if isinstance(data, list):
            for i, item in enumerate(data):
                self.locate(item, (*loc, i), lines, problems, where)
        elif isinstance(data, dict):
            for key, first, again in self._dupes.get(id(data), []):
                message = f"duplicate key {key!r}: first at line {first}, again at line {again}"
                problems.append(Problem(redact(dotted((*loc, key))), redact(message), where, again))
            for key, line in self._key_lines.get(id(data), {}).items():
                lines[(*loc, key)] = line
                self.locate(data[key], (*loc, key), lines, problems, where)


def _skip(s: str, pos: int) -> int:
    match = _WHITESPACE.match(s, pos)
    return match.end() if match is not None else pos


def parse_json(text: str, where: str) -> tuple[Any, dict[Loc, int]]:
    """The data of JSON ``text`` (from file ``where``) and the 1-based line of every key."""
    decoder = _SpecDecoder()
    try:
        data = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise SpecError([Problem("spec", f"invalid JSON: {exc.msg}", where, exc.lineno)]) from None
    except ValueError as exc:  # a number the scanner cannot convert: no position is known
        raise SpecError([Problem("spec", f"invalid JSON: {exc}", where)]) from None
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    decoder.locate(data, (), lines, problems, where)
    if problems:
        raise SpecError(sorted(problems, key=lambda p: p.line or 0))
    return data, lines
