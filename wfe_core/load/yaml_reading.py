"""Reading YAML: plain data, the lines of its nodes, and the limits hostile input meets.

A plain document (mappings, sequences, scalars, no anchors) is built straight from
libyaml's parser events (:func:`_parse_yaml_lean`): no node tree is kept, which was
several times the data's size. Anything else, and every YAML error, goes through the
node tree and PyYAML's constructor (:func:`_parse_yaml`), so every message is PyYAML's
with its line and column, and aliases are counted before anything walks them ("billion
laughs", :data:`MAX_EXPANDED_NODES`). :func:`_line_of` gives a document path's line for
problems found later.
"""

from __future__ import annotations

import re
from typing import Any

from wfe_core.load.pyyaml import yaml
from wfe_core.model.errors import InvalidWorkflowError, Problem

__all__ = ["MAX_EXPANDED_NODES"]

#: Most nodes a YAML document may have once every alias is expanded.
MAX_EXPANDED_NODES = 1_000_000
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PATH_PART = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
# Keys PyYAML's constructor rewrites (merge ``<<``, value ``=``): left to it.
_SPECIAL_KEY_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")
# Scalars whose values are immutable and common enough in big files to build once.
_SHAREABLE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null"))
_PLAIN_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


class _TaggedValueLoader(_YAML_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, with a bad value for an explicit tag reported at its node.

    PyYAML's safe constructors assume a tagged scalar looks like its tag: ``!!bool x``
    raised KeyError, ``!!int ''`` IndexError, ``!!timestamp x`` AttributeError, with no
    position. Each becomes a ConstructorError marked at the node, like PyYAML's own.

    Its resolver answers at once for a plain scalar whose first character starts no
    implicit type (most words: ``s12``, ``Step 12``, ``echo hi``): the composer asks it
    for every node, and the general resolver's lookups were a tenth of a big file's load.
    """

    # First characters of the implicit types (int, float, bool, null, ...); with a
    # wildcard resolver or path resolvers (none in the safe loader) every value is asked.
    _STARTS = frozenset(k for k in _YAML_LOADER.yaml_implicit_resolvers if k is not None)
    _QUICK = None not in _YAML_LOADER.yaml_implicit_resolvers and not _YAML_LOADER.yaml_path_resolvers

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if self._QUICK:
            if kind is yaml.ScalarNode:
                if not implicit[0] or (value and value[0] not in self._STARTS):
                    return _STR_TAG
            elif kind is yaml.MappingNode:
                return _MAP_TAG
            elif kind is yaml.SequenceNode:
                return _SEQ_TAG
        return super().resolve(kind, value, implicit)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (KeyError, IndexError, AttributeError, TypeError, ValueError, OverflowError) as exc:
            tag = node.tag.rsplit(":", 1)[-1]
            shown = node.value if isinstance(node, yaml.ScalarNode) else getattr(node, "id", tag)
            if isinstance(shown, str) and len(shown) > 40:
                shown = shown[:37] + "..."
            why = str(exc) if isinstance(exc, ValueError) and str(exc) else "it does not fit the tag"
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown!r} as !!{tag} ({why})", node.start_mark
            ) from None


def _error(message: str, source: str | None = None, **where: Any) -> InvalidWorkflowError:
    return InvalidWorkflowError([Problem(message, source=source, **where)])


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse a document too big once aliases are expanded, visiting each node object once.

    Iterative (no recursion, no generator per node) and scalars are never pushed: on a
    10,000-step file this walk was a large share of `wfe validate`.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    scalar = yaml.ScalarNode
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        if closing:  # every child is counted by now
            sizes[key] = 1 + sum(1 if type(c) is scalar else sizes[id(c)] for c in children)
            active.discard(key)
            continue
        if key in sizes:
            continue
        if key in active:  # LIFO: only an active node's own descendants pop while it is active
            # Later traversals (ours, json.dumps, the engine's) would never end.
            raise _error("a YAML alias refers to a node that contains it", source, line=node.start_mark.line + 1)
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if type(c) is not scalar)
    total = sizes.get(id(root), 1)
    if total > MAX_EXPANDED_NODES:
        how = " through YAML aliases (alias bomb?)" if total > _distinct(root) else ""
        raise _error(f"document expands to more than {MAX_EXPANDED_NODES:,} nodes{how}", source)


def _distinct(root: yaml.Node) -> int:
    """How many node objects the tree has (aliases counted once); only for the error."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(child for pair in node.value for child in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return len(seen)


class _NotPlain(Exception):
    """The document uses aliases, merge keys, complex keys or collection tags."""


def _construct_plain(loader: _TaggedValueLoader, root: yaml.Node) -> tuple[Any, int]:
    """The data of a document of plain mappings, sequences and scalars, and its node count.

    PyYAML's general constructor (generators per mapping, deep-construction state, a
    method lookup per node) was most of a big file's load; this builds the same data in
    one loop. Scalars other than strings go through the loader (its messages and types).
    Anything else raises :class:`_NotPlain`, and the general path does it: a node met
    twice (an alias), a merge or complex key, a tagged collection (``!!set``, ``!!omap``).
    """
    scalar, mapping, sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
    construct = loader.construct_object
    seen: set[int] = set()
    stack: list[tuple[Any, Any]] = []

    def child(node: Any) -> Any:
        key = id(node)
        if key in seen:
            raise _NotPlain
        seen.add(key)
        kind = type(node)
        if kind is scalar:
            return node.value if node.tag == _STR_TAG else construct(node)
        if kind is mapping and node.tag == _MAP_TAG:
            made: Any = {}
        elif kind is sequence and node.tag == _SEQ_TAG:
            made = []
        else:
            raise _NotPlain
        stack.append((node, made))
        return made

    data = child(root)
    while stack:
        node, made = stack.pop()
        if type(made) is dict:
            for key_node, value_node in node.value:
                if type(key_node) is not scalar or key_node.tag in _SPECIAL_KEY_TAGS:
                    raise _NotPlain
                made[child(key_node)] = child(value_node)  # a repeated key: the last wins, as in PyYAML
        else:
            made.extend([child(item) for item in node.value])
    loader.constructed_objects, loader.recursive_objects = {}, {}  # they would keep nodes alive
    return data, len(seen)


def _construct_streaming(
    loader: _TaggedValueLoader, max_string: int = 0, max_depth: int = 0
) -> tuple[Any, int, int | None, bool]:
    """The data of a plain one-document stream built straight from the parser's events,
    its node count, the line of its root node, and whether the data is *plain*.

    No node tree: composing one kept every node and two marks per node alive at once,
    several times the memory of the data (a 10,000-step file peaked above 110 MiB).
    Anything but plain mappings, sequences and scalars without anchors raises
    :class:`_NotPlain` (and so do YAML errors, through the caller): the node path
    then reads the text again and says exactly what PyYAML says.

    *Plain* (the loader's quick shape check, done here while every value passes by):
    every key a string, every value a string, number, boolean, null, list or mapping,
    every string ASCII and at most ``max_string`` characters, containers nested at most
    ``max_depth`` deep. ``False`` only means "look closer", never that something is wrong.
    """
    scalar_event, mapping_start, sequence_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    collection_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    get, resolve, construct = loader.get_event, loader.resolve, loader.construct_object
    scalar_node = yaml.ScalarNode
    # The resolver's own shortcut, inlined: most scalars are words no implicit type starts.
    quick, starts = _TaggedValueLoader._QUICK, _TaggedValueLoader._STARTS
    # A plain scalar's tag depends on its text alone (no path resolvers: ``quick``), and
    # big files repeat the same few keys and values (``name``, ``timeout``, ``30``): each
    # text is resolved once, and each number, boolean or null constructed once (they are
    # immutable, so sharing one object is safe).
    resolved: dict[str, str] = {}
    constructed: dict[tuple[str, str], Any] = {}
    shareable = _SHAREABLE_TAGS
    plain_types = _PLAIN_SCALAR_TYPES
    if type(get()) is not yaml.StreamStartEvent:
        raise _NotPlain
    event = get()
    if type(event) is yaml.StreamEndEvent:
        return None, 0, None, True
    if type(event) is not yaml.DocumentStartEvent:
        raise _NotPlain
    root_line = loader.peek_event().start_mark.line + 1  # the root node's event, still to come
    no_key = object()
    stack: list[tuple[Any, bool]] = []
    target: Any = None  # the collection being filled, its kind, the key waiting for a value
    in_map, key = False, no_key
    count, root = 0, None
    plain = True
    str_tag = _STR_TAG
    # Scalars first: most events are scalars, and most scalars are words no implicit
    # type starts (the resolver's own shortcut, inlined): a string, quoted or not.
    while True:
        event = get()
        kind = type(event)
        if kind is scalar_event:
            if event.anchor is not None:  # an anchor (and so maybe an alias): the node path
                raise _NotPlain
            count += 1
            value: Any = event.value
            tag = event.tag
            if tag is None and quick and value and value[0] not in starts:
                if plain and (len(value) > max_string or not value.isascii()):  # a string
                    plain = False
            else:
                if tag is None or tag == "!":
                    implicit = event.implicit
                    if not implicit[0]:  # quoted: a string, whatever it looks like
                        tag = str_tag if quick else resolve(scalar_node, value, implicit)
                    elif quick:
                        tag = resolved.get(value)
                        if tag is None:
                            tag = resolved[value] = resolve(scalar_node, value, implicit)
                    else:
                        tag = resolve(scalar_node, value, implicit)
                if tag == str_tag:
                    if plain and (len(value) > max_string or not value.isascii()):
                        plain = False
                elif tag in _SPECIAL_KEY_TAGS:
                    raise _NotPlain
                elif tag in shareable:
                    made_key = (tag, value)
                    if made_key in constructed:
                        value = constructed[made_key]
                    else:
                        value = constructed[made_key] = construct(
                            scalar_node(tag, value, event.start_mark, event.end_mark, event.style)
                        )
                else:  # timestamp, binary, or a bad value for its tag
                    value = construct(scalar_node(tag, value, event.start_mark, event.end_mark, event.style))
                    if type(value) not in plain_types:
                        plain = False
            if target is None:
                root = value
                break
            if not in_map:
                target.append(value)
            elif key is no_key:
                if type(value) is not str:
                    plain = False
                key = value
            else:
                target[key] = value  # a repeated key: the last wins, as in PyYAML
                key = no_key
            continue
        if kind in collection_end:
            if not stack:
                break
            target, in_map = stack.pop()
            key = no_key
            continue
        if event.anchor is not None:
            raise _NotPlain
        count += 1
        tag = event.tag
        if kind is mapping_start:
            if tag not in (None, "!", _MAP_TAG):
                raise _NotPlain
            made: Any = {}
        elif kind is sequence_start:
            if tag not in (None, "!", _SEQ_TAG):
                raise _NotPlain
            made = []
        else:  # an alias
            raise _NotPlain
        if target is None:
            root = made
        else:
            if not in_map:
                target.append(made)
            elif key is no_key:  # a mapping or a list as a key
                raise _NotPlain
            else:
                target[key] = made
            stack.append((target, in_map))
            if len(stack) > max_depth:  # ``made`` sits len(stack) levels below the root
                plain = False
        target, in_map, key = made, kind is mapping_start, no_key
    if type(get()) is not yaml.DocumentEndEvent or type(get()) is not yaml.StreamEndEvent:
        raise _NotPlain  # a second document: the node path says so
    loader.constructed_objects, loader.recursive_objects = {}, {}
    return root, count, root_line, plain


def _parse_yaml_lean(text: str, source: str, max_string: int = 0, max_depth: int = 0) -> tuple[Any, int | None, bool]:
    """The data of a YAML document, the line of its root node, and whether the data is
    plain within ``max_string`` and ``max_depth`` (see :func:`_construct_streaming`;
    ``False`` when the node path read it), keeping no node tree when the document is plain."""
    loader = _TaggedValueLoader(text)
    try:
        data, count, line, plain = _construct_streaming(loader, max_string, max_depth)
    except (_NotPlain, yaml.YAMLError):
        pass  # read again through the node tree: its errors, aliases, tags
    else:
        if count > MAX_EXPANDED_NODES:
            raise _error(f"document expands to more than {MAX_EXPANDED_NODES:,} nodes", source)
        return data, line, plain
    finally:
        loader.dispose()
    data, root = _parse_yaml(text, source)
    return data, root.start_mark.line + 1 if root is not None else None, False


def _parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    loader = _TaggedValueLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        try:
            data, count = _construct_plain(loader, root)
        except _NotPlain:
            # Construction shares one object per anchor, so it is cheap even for an alias
            # bomb; every traversal after it is not. Hence the count on the node graph first.
            _check_expansion(root, source)
            return loader.construct_document(root), root
        if count > MAX_EXPANDED_NODES:
            raise _error(f"document expands to more than {MAX_EXPANDED_NODES:,} nodes", source)
        return data, root
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = {"line": mark.line + 1, "column": mark.column + 1} if mark else {}
        raise _error(f"invalid YAML: {exc.problem or exc.context}", source, **where) from None
    except yaml.YAMLError as exc:
        # A ReaderError (control character) has a character offset instead of a mark.
        offset = getattr(exc, "position", None)
        line, column = _line_column(text, offset) if isinstance(offset, int) else (None, None)
        raise _error(f"invalid YAML: {str(exc).splitlines()[0]}", source, line=line, column=column) from None
    finally:
        loader.dispose()


def _compose_quietly(text: str) -> yaml.Node | None:
    """The YAML node tree of JSON text, for line numbers only; ``None`` if YAML disagrees."""
    loader = _YAML_LOADER(text)
    try:
        return loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def _line_of(root: yaml.Node, path: str) -> int:
    """Line of the deepest node along ``path`` (the key's line for a mapping entry)."""
    node, line = root, root.start_mark.line + 1
    for index, key in _PATH_PART.findall(path):
        if key and isinstance(node, yaml.MappingNode):
            # The last duplicate wins, as in every parser we use.
            matches = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key]
            if not matches:
                break
            key_node, node = matches[-1]
            line = key_node.start_mark.line + 1
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line
