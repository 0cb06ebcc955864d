"""The bomb check's byte searches find what its patterns find (formwerk.documents.pdfscan)."""

from __future__ import annotations

import random
import re

from formwerk.documents import pdfscan

_STREAM = re.compile(rb"(?<!end)stream(?:\r\n|\n|\r)")  # the pattern _next_stream stands for


def _head_by_pattern(data: bytes, start: int, stream_at: int) -> bytes:
    head = data[max(start, stream_at - 4096):stream_at]
    last = None
    for last in pdfscan._OBJECT_START.finditer(head):
        pass
    return head[last.end():] if last else head


def test_searches_agree_with_the_patterns():
    rng = random.Random(16)
    pieces = [b"obj", b"1", b"23", b" ", b"\n", b"\r", b"\t", b"\x0b", b"\x0c", b"stream", b"end", b"x", b"0",
              b"objx", b"obj1", b"obj/", b"\r\n", b"<<", b"endstream"]
    for _ in range(50_000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        cut = rng.randint(0, len(data))
        assert pdfscan._dictionary_before(data, 0, cut) == _head_by_pattern(data, 0, cut), data
        pos = rng.randint(0, len(data))
        m = _STREAM.search(data, pos)
        assert pdfscan._next_stream(data, pos) == (None if m is None else (m.start(), m.end())), (data, pos)
