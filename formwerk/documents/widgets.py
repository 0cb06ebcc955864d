"""The few entries of a form widget's dictionary, read from the file's bytes as pypdf would read them.

pypdf parses a whole object when one entry of it is asked for: a widget's
appearance characteristics, default appearance, resources and tooltip with
it, one token at a time through a seekable stream. For the real GewA 1 form
that was 16 ms of a filled copy's 34 ms of reading, for the KG 1 37 ms
(152 widgets). Of a widget, ``read_acroform`` wants seven entries: /Subtype,
/T, /Parent, /FT, /Rect, /AS and /V.

``WidgetDicts`` finds the object by pypdf's own cross-reference table, walks
its dictionary with one regular expression per token and builds pypdf's own
objects (``NameObject``, ``FloatObject``, pypdf's string decoding, …) for
those seven entries only: a ``DictionaryObject`` holding them, so every
further step (``get``, ``in``, ``[]``, ``str``, ``float``) is pypdf's. Whatever
is not plainly the shape pypdf reads the same way — an object in an object
stream, an encrypted file, an object header off by a byte, a comment, a
stream, a name with ``#`` escapes, a repeated entry, a token pypdf would
refuse, an entry of another kind than expected — raises ``NotPlain``, and
the caller reads the whole form with pypdf as before. The two readers are
compared on every PDF of the tests (``tests/test_widgets.py``).
"""

from __future__ import annotations

import io
import re

from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
)
from pypdf.generic._data_structures import IndirectPattern
from pypdf.generic._utils import __ESCAPE_DICT__ as _ESCAPES
from pypdf.generic._utils import create_string_object, read_hex_string_from_stream

#: the entries ``read_acroform`` reads of a widget and its parents
WANTED = frozenset({"/Subtype", "/T", "/Parent", "/FT", "/Rect", "/AS", "/V"})


class NotPlain(Exception):
    """The object is not of the plain shape read here: read the form with pypdf."""


# pypdf's white space between tokens (pypdf._utils.WHITESPACES); \v is none there, but ends a name
_WS = re.compile(rb"[\x00\t\n\x0c\r ]*")
# an object header as written: "12 0 obj" and white space, the dictionary next
_HEADER = re.compile(rb"(\d{1,10})[\t\n\r ]+(\d{1,5})[\t\n\r ]+obj[\x00\t\n\x0c\r ]*(?=<<)")
_ARRAY_HEADER = re.compile(rb"(\d{1,10})[\t\n\r ]+(\d{1,5})[\t\n\r ]+obj[\x00\t\n\x0c\r ]*(?=\[)")
# One token as pypdf's read_object delimits it, by its group: a name ends where
# NameObject.delimiter_pattern matches; a hex string holds nothing pypdf would refuse;
# a reference is IndirectPattern; a number runs to the first byte outside "+,-.0-9"
# (NumberPattern). The white space after it is skipped with it.
_TOKEN = re.compile(
    rb"(?:(/[^\s()<>\[\]{}/%]*)"  # 1 name
    rb"|(<<)|(>>)|(\[)|(\])"  # 2-5
    rb"|(\()"  # 6 a literal string begins
    rb"|(<[0-9A-Fa-f\x00\t\n\x0c\r ]*>)"  # 7 hex string
    rb"|([+-]?\d+\s+\d+\s+R)(?=[^a-zA-Z])"  # 8 reference
    rb"|((?=[0-9+\-.])[+,\-.0-9]+)"  # 9 number
    rb"|(true|false|null)(?=[\s()<>\[\]{}/%\x00]))"  # 10
    rb"[\x00\t\n\x0c\r ]*")

# The same tokens as plain as they come, for whole entries in one match: a name of at most
# 100 bytes, a string without parentheses in it, a reference with single spaces, a number
# of at most 19 bytes; anything else (a bare "R", say) makes the match fail, and the value
# is walked token by token. Each token ends where pypdf's ends (the look-aheads).
_W = rb"[\x00\t\n\x0c\r ]*"
_PLAIN_NAME = rb"/[^\s()<>\[\]{}/%]{0,99}(?![^\s()<>\[\]{}/%])"
_SCALAR = (rb"(?:" + _PLAIN_NAME + rb"|\((?:[^\\()]|\\.)*\)|<[0-9A-Fa-f\x00\t\n\x0c\r ]*>"
           rb"|[+-]?\d{1,7} \d{1,5} R(?=[^a-zA-Z])|(?=[0-9+\-.])[+,\-.0-9]{1,19}(?![+,\-.0-9])"
           rb"|(?:true|false|null)(?=[\s()<>\[\]{}/%\x00]))")
_ARRAY0 = rb"\[" + _W + rb"(?:" + _SCALAR + _W + rb")*\]"
_DICT0 = rb"<<" + _W + rb"(?:" + _PLAIN_NAME + _W + rb"(?:" + _SCALAR + rb"|" + _ARRAY0 + rb")" + _W + rb")*>>"
_ARRAY1 = rb"\[" + _W + rb"(?:(?:" + _SCALAR + rb"|" + _ARRAY0 + rb"|" + _DICT0 + rb")" + _W + rb")*\]"
_DICT1 = rb"<<" + _W + rb"(?:" + _PLAIN_NAME + _W + rb"(?:" + _SCALAR + rb"|" + _ARRAY1 + rb"|" + _DICT0 + rb")" + _W + rb")*>>"
_ENTRY = re.compile(rb"(" + _PLAIN_NAME + rb")" + _W + rb"(" + _SCALAR + rb"|" + _ARRAY1 + rb"|" + _DICT1 + rb")" + _W,
                    re.DOTALL)
_NAME, _OPEN_DICT, _CLOSE_DICT, _OPEN_ARRAY, _CLOSE_ARRAY, _LITERAL, _HEX, _REF, _NUMBER, _KEYWORD = range(1, 11)
_PLAIN_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)\Z")
_PAREN_OR_ESCAPE = re.compile(rb"[\\()]")
# a backslash and what pypdf's read_string_from_stream takes with it: up to three octal
# digits, a line end (and a second line-end byte after it), or any one byte
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|([\n\r][\n\r]?)|(.))", re.DOTALL)
_MAX_DEPTH = 32
# tokens of one object: no dictionary or array in it can reach pypdf's limits (100,000 entries)
_MAX_TOKENS = 50_000


class WidgetDicts:
    """Reduced dictionaries (the ``WANTED`` entries) of a file's objects, by reference, remembered."""

    def __init__(self, data: bytes, reader) -> None:
        if reader.is_encrypted or getattr(reader, "_encryption", None) is not None:
            raise NotPlain("encrypted")
        self.data = data
        self.reader = reader
        self._known: dict[tuple[int, int], DictionaryObject] = {}
        self._streams: dict[int, tuple] = {}  # object stream -> (its bytes, object -> start, memo key)

    def get_object(self, ref):
        """``ref.get_object()``, for a reference into this file: its reduced dictionary."""
        if not isinstance(ref, IndirectObject) or ref.pdf is not self.reader:
            return ref.get_object()
        key = (ref.idnum, ref.generation)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._read(ref.idnum, ref.generation)
        return known

    def _read(self, idnum: int, generation: int) -> DictionaryObject:
        reader = self.reader
        key = (generation, idnum)
        if key in reader.resolved_objects:  # pypdf read it before (a page's /Annots, say): its object
            obj = reader.resolved_objects[key]
            if not isinstance(obj, DictionaryObject):
                raise NotPlain("resolved object is no dictionary")
            return obj
        if generation == 0 and idnum in reader.xref_objStm:
            return self._from_stream(idnum)
        offsets = reader.xref.get(generation)
        if not offsets or idnum not in offsets or reader.xref_free_entry.get(generation, {}).get(idnum, False):
            raise NotPlain("object not in the cross-reference table")
        m = _HEADER.match(self.data, offsets[idnum])
        if m is None or int(m.group(1)) != idnum or int(m.group(2)) != generation:
            raise NotPlain("object header not where the table says")
        # copies of one form share most widgets byte for byte: an object's entries are
        # remembered by a hash of its bytes up to "endobj", when they are all it was read from
        stop = self.data.find(b"endobj", m.end())
        key = _MEMO.key(memoryview(self.data)[m.end():stop], b"object") if stop >= 0 else None
        items = _MEMO.get(key) if key is not None else None
        if items is None:
            entries, end = _dictionary(self.data, m.end())
            after = _WS.match(self.data, end).end()
            if self.data.startswith(b"stream", after):
                raise NotPlain("a stream")
            items = _items(self.data, entries, reader)
            if key is not None and after <= stop:
                _MEMO.put(key, items)
        return _reduced(items, reader)


    def annotations(self, value):
        """A page's /Annots as iterating it gives them: an array object read here when plain (of
        references only), whatever else as it is (pypdf resolves it when iterated)."""
        reader = self.reader
        if not isinstance(value, IndirectObject) or value.pdf is not reader \
                or (value.generation, value.idnum) in reader.resolved_objects:
            return value
        if value.generation == 0 and value.idnum in reader.xref_objStm:
            data, starts, _ = self._stream_of(value.idnum)
            at = starts.get(value.idnum)
        else:
            offsets = reader.xref.get(value.generation)
            if not offsets or value.idnum not in offsets \
                    or reader.xref_free_entry.get(value.generation, {}).get(value.idnum, False):
                raise NotPlain("array not in the cross-reference table")
            m = _ARRAY_HEADER.match(self.data, offsets[value.idnum])
            if m is None or int(m.group(1)) != value.idnum or int(m.group(2)) != value.generation:
                raise NotPlain("array header not where the table says")
            data, at = self.data, m.end()
        if at is None or not data.startswith(b"[", at):
            raise NotPlain("no array")
        refs = []
        pos = _WS.match(data, at + 1).end()
        while not data.startswith(b"]", pos):
            m = _TOKEN.match(data, pos)
            if m is None or m.lastindex != _REF or m.end(_REF) - pos > 19:
                raise NotPlain("array of other things than references")
            ref = IndirectPattern.match(data[pos:pos + 20])
            refs.append(IndirectObject(int(data[pos:pos + ref.end(1)]), int(ref.group(2)), reader))
            pos = m.end()
            if len(refs) > _MAX_TOKENS:
                raise NotPlain("too many annotations")
        return ArrayObject(refs)

    def _stream_of(self, idnum: int):
        stmnum = self.reader.xref_objStm[idnum][0]
        known = self._streams.get(stmnum)
        if known is None:
            known = self._streams[stmnum] = _object_stream(self.reader, stmnum)
        return known

    def _from_stream(self, idnum: int) -> DictionaryObject:
        """An object of an object stream, as pypdf's _get_object_from_stream reads it.

        pypdf reads every object of the stream when one of them is asked for, and an
        error in any of them fails the one asked for: all of them are walked here too
        (and must be plain); the index must be plain digits, in order, in the stream.
        """
        data, starts, stream_key = self._stream_of(idnum)
        at = starts.get(idnum)
        if at is None or not data.startswith(b"<<", at):
            raise NotPlain("object not in its stream, or no dictionary")
        key = stream_key + at.to_bytes(8, "big")
        items = _MEMO.get(key)
        if items is None:
            entries, _ = _dictionary(data, at)
            items = _items(data, entries, self.reader)
            _MEMO.put(key, items)
        return _reduced(items, self.reader)


def _items(data: bytes, entries: dict[str, tuple[int, int]], reader) -> list:
    """The wanted entries as pypdf objects; a reference as (number, generation), for any reader."""
    items = []
    for name, (start, stop) in entries.items():
        value = _value(data, start, stop, reader)
        items.append((NameObject(name), (value.idnum, value.generation) if isinstance(value, IndirectObject)
                      else value))
    return items


def _reduced(items: list, reader) -> DictionaryObject:
    out = DictionaryObject()
    for name, value in items:
        out[name] = IndirectObject(value[0], value[1], reader) if isinstance(value, tuple) else value
    return out


_INDEX_ENTRY = re.compile(rb"[\x00\t\n\x0c\r ]*(\d{1,15})[\x00\t\n\x0c\r ]+(\d{1,15})(?![+,\-.0-9])")


def _object_stream(reader, stmnum: int) -> tuple[bytes, dict[int, int], bytes]:
    """The decoded bytes of object stream ``stmnum`` and where each of its objects' value starts."""
    try:
        stream = IndirectObject(stmnum, 0, reader).get_object()
        if stream.get("/Type") != "/ObjStm":
            raise NotPlain("no object stream")
        data = stream.get_data()
        n, first = stream.get("/N"), stream.get("/First")
    except NotPlain:
        raise
    except Exception as exc:  # pypdf's to judge
        raise NotPlain(f"object stream unreadable: {type(exc).__name__}") from exc
    if type(n) is not NumberObject or type(first) is not NumberObject or not 0 <= first <= len(data) \
            or not 0 <= n <= len(data) // 3:
        raise NotPlain("object stream header out of bounds")
    # copies of one form keep its object streams: their walk is remembered by a hash of the bytes
    stream_key = _MEMO.key(b"%d %d " % (int(n), int(first)) + data, b"objstm")
    starts = _MEMO.get(stream_key)
    if starts is not None:
        return data, starts, stream_key
    starts = {}
    pos, last = 0, -1
    for _ in range(int(n)):
        m = _INDEX_ENTRY.match(data, pos)
        if m is None:
            raise NotPlain("object stream index not plain")
        number, offset = int(m.group(1)), int(m.group(2))
        if offset <= last or first + offset > len(data) or number in starts:
            raise NotPlain("object stream index out of order")
        last, pos = offset, m.end()
        at = _WS.match(data, first + offset).end()
        end = _value_end(data, at)  # every object read, as pypdf reads them all
        if data.startswith(b"stream", _WS.match(data, end).end()):
            raise NotPlain("a stream in an object stream")
        starts[number] = at
    _MEMO.put(stream_key, starts)
    return data, starts, stream_key


class _Memo:
    """Entries of objects read before, by a hash of their bytes (bounded, shared by the worker's threads)."""

    def __init__(self, capacity: int = 16384) -> None:
        import threading
        from collections import OrderedDict

        self._items: "OrderedDict[bytes, list]" = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    @staticmethod
    def key(raw, kind: bytes) -> bytes:
        """A hash of ``raw``, personalised by ``kind``: an object's and a stream's never meet."""
        import hashlib

        return hashlib.blake2b(raw, digest_size=16, person=kind).digest()

    def get(self, key: bytes):
        with self._lock:
            items = self._items.get(key)
            if items is not None:
                self._items.move_to_end(key)
            return items

    def put(self, key: bytes, items: list) -> None:
        with self._lock:
            self._items[key] = items
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


_MEMO = _Memo()


def _dictionary(data: bytes, pos: int) -> tuple[dict[str, tuple[int, int]], int]:
    """The spans of the WANTED values of the dictionary at ``pos`` (``<<``), and its end.

    An entry of plain tokens (``_ENTRY``: names, strings without parentheses in
    them, numbers, references, arrays and dictionaries of them, two deep) is
    taken by one match; any other value is walked token by token (``_value_end``).
    """
    entries: dict[str, tuple[int, int]] = {}
    pos = _WS.match(data, pos + 2).end()
    for _ in range(_MAX_TOKENS):
        if data.startswith(b">>", pos):
            return entries, pos + 2
        m = _ENTRY.match(data, pos)
        if m is not None:
            raw, at, end = m.group(1), m.start(2), m.end(2)
            pos = m.end()
        else:
            k = _TOKEN.match(data, pos)
            if k is None or k.lastindex != _NAME:
                raise NotPlain(f"key is no name: {data[pos:pos + 1]!r}")
            raw, at = k.group(_NAME), k.end()
            if len(raw) > 100:
                raise NotPlain("long name")
            end = _value_end(data, at)
            pos = _WS.match(data, end).end()
        name = _name(raw)
        if name in WANTED:
            if name in entries:  # pypdf keeps the first; rare enough to leave to it
                raise NotPlain("repeated entry")
            entries[name] = (at, end)
    raise NotPlain("too many entries")


def _value_end(data: bytes, pos: int) -> int:
    """The end of the value at ``pos``, walked token by token as pypdf's read_object reads it.

    Every token, nested ones too, is one pypdf reads without complaint: where
    pypdf would log a warning and go on, it may go on elsewhere.
    """
    stack: list[bool] = []  # per open container: a dictionary (True) or an array
    key_next: list[bool] = []  # per open container: a dictionary's next token is a key
    for _ in range(_MAX_TOKENS):
        m = _TOKEN.match(data, pos)
        if m is None:
            raise NotPlain(f"unexpected token {data[pos:pos + 1]!r}")
        kind = m.lastindex
        at, end = pos, m.end(kind)
        pos = m.end()
        if stack and stack[-1] and key_next[-1]:
            if kind == _CLOSE_DICT:
                stack.pop()
                key_next.pop()
            elif kind == _NAME:
                if end - at > 100:
                    raise NotPlain("long name")
                key_next[-1] = False
                continue
            else:
                raise NotPlain("key is no name")
        elif kind == _OPEN_DICT or kind == _OPEN_ARRAY:
            if len(stack) > _MAX_DEPTH:
                raise NotPlain("nested too deep")
            stack.append(kind == _OPEN_DICT)
            key_next.append(True)
            continue
        elif kind == _CLOSE_ARRAY and stack and not stack[-1]:
            stack.pop()
            key_next.pop()
        elif kind in (_CLOSE_DICT, _CLOSE_ARRAY):
            raise NotPlain("container closed where a value belongs")
        elif kind == _LITERAL:
            end = _literal_end(data, at)
            pos = _WS.match(data, end).end()
        elif kind == _NAME and end - at > 100:
            raise NotPlain("long name")
        elif kind == _REF and end - at > 19 or kind == _NUMBER and end - at > 19:
            raise NotPlain("longer than pypdf's peek of 20 bytes")
        # a value ended (a token, or a container closed)
        if not stack:
            return end
        if stack[-1]:
            key_next[-1] = True
    raise NotPlain("too many tokens")


def _name(raw: bytes) -> str:
    """A name token as pypdf's NameObject.read_from_stream decodes it (``#`` escapes, charsets)."""
    if b"#" not in raw and raw.isascii():
        return raw.decode("ascii")
    return str(NameObject.read_from_stream(io.BytesIO(raw), None))


def _literal_end(data: bytes, pos: int) -> int:
    """The end of the literal string at ``pos``: pypdf's count of parentheses, a backslash takes the next byte."""
    depth = 0
    while True:
        m = _PAREN_OR_ESCAPE.search(data, pos)
        if m is None:
            raise NotPlain("open string")
        pos = m.end()
        c = m.group()
        if c == b"\\":
            pos += 1
        elif c == b"(":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return pos


def _value(data: bytes, start: int, stop: int, reader):
    """pypdf's object for the value at ``data[start:stop]`` (of the kinds a widget's wanted entries have)."""
    token = data[start:stop]
    first = token[:1]
    if first == b"/":
        return NameObject(_name(token))
    if first == b"(":
        inner = token[1:-1]
        if b"\\" in inner:
            inner = _ESCAPE.sub(_unescape, inner)
        return create_string_object(inner)
    if first == b"<" and not token.startswith(b"<<"):
        return read_hex_string_from_stream(io.BytesIO(token))
    if first == b"[":
        items = []
        pos = _WS.match(data, start + 1).end()
        while not data.startswith(b"]", pos):
            m = _TOKEN.match(data, pos)
            if m is None or m.lastindex != _NUMBER:
                raise NotPlain("array of other things than numbers")
            items.append(_number(m.group(_NUMBER)))
            pos = m.end()
        return ArrayObject(items)
    m = _TOKEN.match(data, start)
    if m is not None and m.lastindex == _REF:
        ref = IndirectPattern.match(data[start:start + 20])
        return IndirectObject(int(data[start:start + ref.end(1)]), int(ref.group(2)), reader)
    return _number(token)


def _unescape(m: re.Match) -> bytes:
    """One escape as read_string_from_stream reads it (its table; a code above 255 stays as written)."""
    octal, line_end, other = m.groups()
    if octal is not None:
        code = int(octal, 8)
        return bytes([code]) if code <= 255 else b"\\" + octal
    if line_end is not None:
        return b""
    known = _ESCAPES.get(other)
    return bytes([known]) if known is not None else b"\\" + other


def _number(token: bytes):
    if not _PLAIN_NUMBER.match(token):
        raise NotPlain("not a plain number")
    return FloatObject(token) if b"." in token else NumberObject(token)
