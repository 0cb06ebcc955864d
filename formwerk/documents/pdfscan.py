"""What a PDF carries besides its pages: active content and decompression bombs.

Nothing is run, extracted or rendered. The file's bytes are scanned, not its
object graph (pypdf needed 85-110 ms for the graph of a real form; this
takes a few): every stream is found by its keyword, so a broken xref table
hides nothing. Flate streams other than images are unpacked with a bound and
counted, because pdfium unpacks a content stream whole (1 GB of page
content in a 1 MB file took it 2 GB and 14 s), while it decodes images line
by line and scales them as it goes (a 3.6-gigapixel image rendered in
230 MB). Object streams are unpacked too, so the dictionaries inside them
are scanned for active content like the others. Encrypted files (whose
streams only pdfium and pypdf can decrypt) are walked object by object
with pypdf, whose decoders stop at 75 MB a stream.
"""

from __future__ import annotations

import io
import logging
import re
import zlib

from formwerk.documents.limits import DEFAULT_MAX_STREAM_BYTES, Deadline
from formwerk.errors import ContentTooLargeError, DocumentTooComplexError

log = logging.getLogger(__name__)

# Objects visited; a real application has a few thousand.
MAX_WALK_OBJECTS = 200_000

#: what kind of active content a PDF carries, as said on the case (German, for clerks)
ACTIVE_CONTENT_NOTES = {
    "javascript": "Die PDF-Datei enthält JavaScript. Es wurde nicht ausgeführt.",
    "launch_action": "Die PDF-Datei enthält eine Aktion, die ein Programm oder eine Datei öffnen will. "
                     "Sie wurde nicht ausgeführt.",
    "embedded_file": "Die PDF-Datei enthält eingebettete Dateien. Sie wurden weder geöffnet noch geprüft.",
    "rich_media": "Die PDF-Datei enthält eingebettete Medien (Video, Ton oder Flash). Sie wurden nicht abgespielt.",
    "xfa_form": "Die PDF-Datei enthält ein dynamisches XFA-Formular; angezeigt wird nur die statische Fassung.",
}


def active_content_notes(codes: list[str]) -> list[str]:
    """One sentence per kind of active content, for the case (clerks read them)."""
    return [ACTIVE_CONTENT_NOTES.get(c, f"Die PDF-Datei enthält aktive Inhalte ({c}).") for c in codes]


# names as they stand in dictionaries ("#4A" escapes undone first); a name ends at a delimiter
_ACTIVE_PATTERNS = {
    "javascript": re.compile(rb"/(?:JavaScript|JS)(?![A-Za-z0-9])"),
    "launch_action": re.compile(rb"/S\s*/Launch(?![A-Za-z0-9])"),
    "embedded_file": re.compile(rb"/(?:EmbeddedFiles?|FileAttachment)(?![A-Za-z0-9])|/EF\s*<<"),
    "rich_media": re.compile(rb"/Subtype\s*/(?:RichMedia|Movie|Sound|Screen)(?![A-Za-z0-9])"),
    "xfa_form": re.compile(rb"/XFA(?![A-Za-z0-9])"),
}
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"(?<!end)stream(?:\r\n|\n|\r)")
_OBJECT_START = re.compile(rb"\d+\s+\d+\s+obj(?![A-Za-z0-9])")
_IMAGE = re.compile(rb"/Subtype\s*/Image(?![A-Za-z0-9])")
_WIDTH = re.compile(rb"/Width\s+(\d{1,9})(?![\d.]|\s+\d+\s+R)")
_HEIGHT = re.compile(rb"/Height\s+(\d{1,9})(?![\d.]|\s+\d+\s+R)")
_OBJSTM = re.compile(rb"/Type\s*/ObjStm(?![A-Za-z0-9])")
_ENCRYPTED = re.compile(rb"/Encrypt(?![A-Za-z0-9])")
_CHUNK = 1 << 20
# unpacking an image to check it costs time, not memory; beyond this many pixels it is not checked further
_MAX_IMAGE_PIXELS_CHECKED = 200_000_000


def _is_zlib(data: bytes, at: int) -> bool:
    """A zlib header (deflate, checksum ok) at ``at``: whatever /Filter says, even by reference."""
    if at + 2 > len(data):
        return False
    cmf, flg = data[at], data[at + 1]
    return cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0


class _SizeMemo:
    """Unpacked sizes of streams measured before, by a hash of their packed bytes.

    Copies of one form share their printed pages: the same fonts and content
    streams, byte for byte, in every filled copy. Unpacking them again was a
    fifth of a filled digital form's time in the worker; hashing them costs a
    fraction of it. Only complete measurements are kept (the zlib stream
    ended within the packed bytes), so the answer for any limit follows from it.
    """

    def __init__(self, capacity: int = 8192) -> None:
        from collections import OrderedDict
        import threading

        self._sizes: "OrderedDict[bytes, int]" = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    @staticmethod
    def key(packed: bytes) -> bytes:
        import hashlib

        return hashlib.blake2b(packed, digest_size=16).digest()

    def get(self, key: bytes) -> int | None:
        with self._lock:
            size = self._sizes.get(key)
            if size is not None:
                self._sizes.move_to_end(key)
            return size

    def put(self, key: bytes, size: int) -> None:
        with self._lock:
            self._sizes[key] = size
            self._sizes.move_to_end(key)
            while len(self._sizes) > self._capacity:
                self._sizes.popitem(last=False)


_SIZES = _SizeMemo()


def _counted_size(data: bytes, start: int, stop: int, limit: int) -> int:
    """``_unpacked_size`` without the bytes, remembered for packed bytes seen before (``_SizeMemo``)."""
    key = _SIZES.key(memoryview(data)[start:stop])
    known = _SIZES.get(key)
    if known is not None:
        return known if known <= limit else limit + 1  # as a count stopped past the limit would
    size, _, ended_at = _unpack(data, start, limit, keep=False)
    if ended_at is not None and ended_at <= stop:  # the size depends on these packed bytes alone
        _SIZES.put(key, size)
    return size


def _unpacked_size(data: bytes, start: int, limit: int, keep: bool) -> tuple[int, bytes]:
    """Bytes the zlib stream at ``start`` unpacks to, counting stops past ``limit``; the bytes if ``keep``."""
    size, kept, _ = _unpack(data, start, limit, keep)
    return size, kept


def _unpack(data: bytes, start: int, limit: int, keep: bool) -> tuple[int, bytes, int | None]:
    """``_unpacked_size``, and where the zlib stream ended (None: damaged, cut off or stopped by the limit)."""
    unpacker = zlib.decompressobj()
    kept: list[bytes] = []
    size, pos = 0, start
    try:
        while pos < len(data) and not unpacker.eof and size <= limit:
            rest = data[pos:pos + _CHUNK]
            pos += len(rest)
            while rest and size <= limit and not unpacker.eof:
                piece = unpacker.decompress(rest, limit + 1 - size)  # never more than the limit in memory
                size += len(piece)
                if keep:
                    kept.append(piece)
                rest = unpacker.unconsumed_tail
    except zlib.error:
        return size, b"".join(kept), None  # damaged: what unpacked so far counts; pdfium judges the rest
    ended_at = None
    if unpacker.eof and size <= limit:
        ended_at = pos - len(unpacker.unused_data) - len(unpacker.unconsumed_tail)
    return size, b"".join(kept), ended_at


def _dictionary_before(data: bytes, start: int, stream_at: int) -> bytes:
    """The dictionary of the stream at ``stream_at``: from its "n g obj" on (an earlier object's
    /Subtype /Image must not pass for this one's)."""
    head = data[max(start, stream_at - 4096):stream_at]
    end = _last_object_end(head)
    return head[end:] if end is not None else head


_DIGITS = frozenset(b"0123456789")
_SPACES = frozenset(b" \t\n\r\x0b\x0c")  # what \s is in a bytes pattern


def _last_object_end(head: bytes) -> int | None:
    """Where the last ``_OBJECT_START`` match of ``head`` ends (None: there is none).

    The same as the last of ``_OBJECT_START.finditer(head)`` (matches cannot
    overlap: each is digits and white space up to its own "obj"), found from
    the end: a stream's dictionary is a few hundred bytes, the window 4 KiB.
    """
    j = len(head)
    while True:
        i = head.rfind(b"obj", 0, j)
        if i < 0:
            return None
        j = i
        after = head[i + 3:i + 4]
        if after and after.isalnum():  # (?![A-Za-z0-9]): bytes.isalnum() is ASCII only
            continue
        k = i
        for wanted in (_SPACES, _DIGITS, _SPACES, _DIGITS):  # backwards: \s+ \d+ \s+ \d+
            n = k
            while n > 0 and head[n - 1] in wanted:
                n -= 1
            if n == k:
                break
            k = n
        else:
            return i + 3


def _image_bytes(head: bytes) -> int | None:
    """Most bytes an image of this dictionary can hold (8 a pixel: 16-bit RGBA), when its size is given."""
    w, h = _WIDTH.search(head), _HEIGHT.search(head)
    if not (w and h):
        return None
    return min(int(w.group(1)) * int(h.group(1)), _MAX_IMAGE_PIXELS_CHECKED) * 8 + 65536


def _next_stream(data: bytes, pos: int) -> tuple[int, int] | None:
    """The first ``_STREAM`` match from ``pos`` on, as (start, end): "stream" not after "end", then
    a line end (the look-behind may see before ``pos``, as the pattern's does)."""
    i = data.find(b"stream", pos)
    while i >= 0:
        if i < 3 or data[i - 3:i] != b"end":
            eol = data[i + 6:i + 7]
            if eol == b"\n":
                return i, i + 7
            if eol == b"\r":
                return i, i + (8 if data[i + 7:i + 8] == b"\n" else 7)
        i = data.find(b"stream", i + 1)
    return None


def _scan_bytes(data: bytes, deadline: Deadline | None, max_stream_bytes: int | None) -> set[str]:
    dictionaries: list[bytes] = []
    decoded = 0
    pos = 0
    count = 0
    while True:
        found = _next_stream(data, pos)
        if found is None:
            dictionaries.append(data[pos:])
            break
        at, body = found
        dictionaries.append(data[pos:at])
        end = data.find(b"endstream", body)
        stop = len(data) if end < 0 else end  # the packed bytes end before it (or with the file)
        stream_from, pos = pos, (len(data) if end < 0 else end + len(b"endstream"))
        count += 1
        if count % 200 == 0 and deadline is not None:
            deadline.check("streams")
        if not _is_zlib(data, body):
            continue  # not compressed with Flate (DCT, CCITT, raw): nothing to inflate
        head = _dictionary_before(data, stream_from, at)
        if _OBJSTM.search(head):  # compressed objects: their dictionaries are scanned like the others
            size, objects = _unpacked_size(data, body, 64 * _CHUNK, keep=True)
            dictionaries.append(objects)
        elif max_stream_bytes is not None:
            cap = _image_bytes(head) if _IMAGE.search(head) else None
            if cap is not None:
                # pdfium streams images line by line; one no larger than its own size says is fine
                size = _counted_size(data, body, stop, cap)
                if size <= cap:
                    continue
            size = _counted_size(data, body, stop, max_stream_bytes - decoded)
        else:
            continue
        decoded += size
        if max_stream_bytes is not None and decoded > max_stream_bytes:
            raise ContentTooLargeError(detail=f"streams unpack to more than {max_stream_bytes} bytes")
    text = b"\n".join(dictionaries)
    if b"#" in text:
        text = _NAME_ESCAPE.sub(lambda e: bytes([int(e.group(1), 16)]), text)
    return {kind for kind, pattern in _ACTIVE_PATTERNS.items() if pattern.search(text)}


def _active_kinds(obj: dict) -> set[str]:
    """Kinds of active content one PDF dictionary stands for."""
    kinds = set()
    action = obj.get("/S")
    # an action that runs a script, or the document's /Names entry of scripts run on opening
    if action == "/JavaScript" or "/JS" in obj or "/JavaScript" in obj:
        kinds.add("javascript")
    if action == "/Launch":
        kinds.add("launch_action")
    if (obj.get("/Type") == "/EmbeddedFile" or "/EF" in obj or "/EmbeddedFiles" in obj
            or obj.get("/Subtype") == "/FileAttachment"):
        kinds.add("embedded_file")
    if obj.get("/Subtype") in ("/RichMedia", "/Movie", "/Sound", "/Screen"):
        kinds.add("rich_media")
    if "/XFA" in obj:
        kinds.add("xfa_form")
    return kinds


def _decoded_size(stream) -> int:
    """Bytes a non-image stream decodes to; ContentTooLargeError beyond pypdf's per-stream limit."""
    from pypdf.errors import LimitReachedError

    try:
        return len(stream.get_data())
    except LimitReachedError as exc:
        raise ContentTooLargeError(detail=f"one stream beyond pypdf's decoding limit: {exc}") from exc
    except Exception as exc:  # a broken stream: pdfium judges it when it reads the page
        log.debug("stream not decodable: %s: %s", type(exc).__name__, exc)
        return 0


def scan_pdf(data: bytes, *, deadline: Deadline | None = None,
             max_stream_bytes: int | None = DEFAULT_MAX_STREAM_BYTES,
             max_objects: int = MAX_WALK_OBJECTS) -> list[str]:
    """Kinds of active content in a PDF (keys of ACTIVE_CONTENT_NOTES), sorted.

    Raises ContentTooLargeError when its streams other than images unpack to
    more than ``max_stream_bytes`` together (None: not counted), and
    DocumentTooComplexError when ``deadline`` passes.
    """
    if not _ENCRYPTED.search(data[-65536:]) and not _ENCRYPTED.search(data[:65536]):
        return sorted(_scan_bytes(data, deadline, max_stream_bytes))
    return _walk_objects(data, deadline, max_stream_bytes, max_objects)


def _walk_objects(data: bytes, deadline: Deadline | None, max_stream_bytes: int | None,
                  max_objects: int) -> list[str]:
    """scan_pdf for encrypted files: every object reachable from the trailer, decrypted by pypdf.

    A file pypdf cannot parse yields no kinds (pdfium's own count still applies, see read_pdf).
    """
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

    found: set[str] = set()
    decoded = 0
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        stack: list = [reader.trailer]
        seen: set[tuple[int, int]] = set()
        visited = 0
        while stack and visited < max_objects:
            obj = stack.pop()
            if isinstance(obj, IndirectObject):
                ref = (obj.idnum, obj.generation)
                if ref in seen:
                    continue
                seen.add(ref)
                obj = obj.get_object()
            visited += 1
            if visited % 500 == 0 and deadline is not None:
                deadline.check("active content")
            if isinstance(obj, DictionaryObject):  # a stream's dictionary too
                found |= _active_kinds(obj)
                stack.extend(v for k, v in obj.items() if k != "/Parent")
                if (max_stream_bytes is not None and isinstance(obj, StreamObject)
                        and obj.get("/Subtype") != "/Image" and obj.get("/Type") != "/EmbeddedFile"):
                    decoded += _decoded_size(obj)
                    if decoded > max_stream_bytes:
                        raise ContentTooLargeError(
                            detail=f"streams decode to more than {max_stream_bytes} bytes")
            elif isinstance(obj, ArrayObject):
                stack.extend(obj)
        if stack:
            log.warning("PDF object walk stopped after %d objects", visited)
    except (ContentTooLargeError, DocumentTooComplexError):
        raise
    except Exception as exc:
        log.debug("PDF object walk failed: %s: %s", type(exc).__name__, exc)
    return sorted(found)


def find_active_content(data: bytes, *, deadline: Deadline | None = None,
                        max_objects: int = MAX_WALK_OBJECTS) -> list[str]:
    """Kinds of active content (JavaScript, launch actions, embedded files, media, XFA) in a PDF."""
    return scan_pdf(data, deadline=deadline, max_stream_bytes=None, max_objects=max_objects)
