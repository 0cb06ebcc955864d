"""Tesseract inside the process (tesserocr) for many small reads.

A ``tesseract`` process spends about 0.2 s loading its language model
before it reads a pixel. The second reads of value boxes
(``extractors.reocr``) are single lines that recognise in 10–50 ms, so
with one process per crop the model load was most of their cost (measured
here: 131 crops of 12 documents took 37 s, 33 s of it in 0.25 s calls).
This module keeps one loaded API per thread and language and reuses it.

Whole pages stay with the CLI (``formwerk.ocr.TesseractEngine``): there
the load is ~7 % of a page and separate processes let pages run in
parallel on all cores.

:func:`read_words` falls back to the ``tesseract`` CLI (pytesseract) when
tesserocr is not installed or cannot load the model, so the result never
depends on it, only the speed. Boxes are in the pixels of the image given.

Every read is bounded by ``timeout_s`` (seconds), as a page read of
``formwerk.ocr`` is, and a read past it raises the same error,
:class:`formwerk.errors.OcrEngineError`; it is not retried through the CLI
(a crop that hangs one Tesseract hangs the other). The caller decides what
an unread crop means. No settings are read here: the worker passes
``ocr_in_process`` and the timeout in (``extractors.reocr.TesseractCrops``).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from functools import lru_cache
from typing import Any

from PIL import Image

from formwerk.errors import OcrEngineError, OcrModelMissing

log = logging.getLogger(__name__)

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

#: the bound of one read (seconds) when the caller gives none; a line takes
#: 10–50 ms, a table block a second or two
DEFAULT_TIMEOUT_S = 10.0

_local = threading.local()
_failed = threading.Event()  # set once the in-process path failed: the CLI reads from then on


@lru_cache(maxsize=1)
def tessdata_dir() -> str | None:
    """The language models the ``tesseract`` CLI uses (``TESSDATA_PREFIX`` first)."""
    env = os.environ.get("TESSDATA_PREFIX")
    if env:
        return env
    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'"([^"]+)"', out.stdout + out.stderr)
    return m.group(1) if m else None


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether tesserocr is installed and finds the CLI's language models."""
    try:
        import tesserocr  # noqa: F401
    except Exception:  # not installed / no wheel for this platform: the CLI reads
        return False
    return tessdata_dir() is not None


@lru_cache(maxsize=16)
def model_installed(lang: str) -> bool:
    """Whether every model of ``lang`` ("deu+eng", "Latin") is in the models directory
    (True when the directory is unknown: the read itself then says)."""
    d = tessdata_dir()
    if d is None or not os.path.isdir(d):
        return True
    return all(os.path.isfile(os.path.join(d, f"{part}.traineddata")) for part in lang.split("+"))


#: models loaded once per process, not per thread, each behind its own lock: the
#: Latin script model (names, ``FieldDefinition.script_lang``) takes 97 MiB and 0.4 s
#: to load, against 12 MiB for deu; its reads are one short line each
SHARED_LANGS = frozenset({"Latin"})
_shared: dict[str, tuple[Any, threading.Lock]] = {}
_shared_guard = threading.Lock()


def _shared_api(lang: str) -> tuple[Any, threading.Lock]:
    """The process's one API for ``lang`` and the lock its users hold."""
    import tesserocr

    with _shared_guard:
        if lang not in _shared:
            _shared[lang] = (tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang=lang), threading.Lock())
        return _shared[lang]


def _api(lang: str):
    """This thread's loaded API for ``lang`` (an API is not thread-safe)."""
    import tesserocr

    apis = getattr(_local, "apis", None)
    if apis is None:
        apis = _local.apis = {}
    api = apis.get(lang)
    if api is None:
        api = apis[lang] = tesserocr.PyTessBaseAPI(path=tessdata_dir(), lang=lang)
    return api


def _words_inproc(image_path: str, lang: str, psm: int, whitelist: str | None, timeout_s: float) -> list[dict]:
    if lang in SHARED_LANGS:
        api, lock = _shared_api(lang)
        with lock:
            return _recognise(api, image_path, psm, whitelist, timeout_s)
    return _recognise(_api(lang), image_path, psm, whitelist, timeout_s)


def _recognise(api, image_path: str, psm: int, whitelist: str | None, timeout_s: float) -> list[dict]:
    import tesserocr

    api.SetPageSegMode(psm)
    api.SetVariable("tessedit_char_whitelist", whitelist or "")
    try:
        # from the file, as the CLI reads it: same pixels and the same
        # (absent) resolution, so Tesseract estimates the scale the same way
        api.SetImageFile(image_path)
        # milliseconds, at least 1: tesserocr reads 0 as "no limit"
        if not api.Recognize(timeout=max(1, int(timeout_s * 1000))):
            raise OcrEngineError(detail=f"tesseract timeout after {timeout_s} s (in process, psm {psm})")
        it = api.GetIterator()
        out: list[dict] = []
        level = tesserocr.RIL.WORD
        if it is not None:
            for w in tesserocr.iterate_level(it, level):
                try:
                    text = w.GetUTF8Text(level)
                except RuntimeError:  # "No text returned": nothing recognised here (a blank box), as the CLI's empty row
                    continue
                box = w.BoundingBox(level)
                if text is None or box is None:
                    continue
                x0, y0, x1, y1 = box
                out.append({"text": text, "conf": float(w.Confidence(level)),
                            "left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0})
        return out
    finally:
        api.Clear()


def _words_cli(image_path: str, lang: str, psm: int, whitelist: str | None, timeout_s: float) -> list[dict]:
    import pytesseract

    config = f"--psm {psm}"
    if whitelist:
        config += f" -c tessedit_char_whitelist={whitelist}"
    try:
        d = pytesseract.image_to_data(image_path, lang=lang, config=config, output_type=pytesseract.Output.DICT,
                                      timeout=timeout_s)
    except RuntimeError as exc:  # pytesseract's timeout (it kills the process)
        raise OcrEngineError(detail=f"tesseract timeout after {timeout_s} s (CLI, psm {psm}): {exc}") from exc
    return [{"text": d["text"][i], "conf": float(d["conf"][i]), "left": d["left"][i], "top": d["top"][i],
             "width": d["width"][i], "height": d["height"][i]}
            for i in range(len(d["text"])) if float(d["conf"][i]) >= 0]


def read_words(image: Image.Image, lang: str, psm: int, whitelist: str | None = None, *,
               in_process: bool = True, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[dict]:
    """Words of ``image`` as dicts (text, conf 0–100, left, top, width, height); no layout rows.

    ``in_process``: read with tesserocr when it is available (else the CLI);
    ``timeout_s``: the bound of the read in seconds. Raises
    :class:`~formwerk.errors.OcrEngineError` when the read takes longer or
    the model of ``lang`` is not installed.
    """
    from formwerk.ocr import image_file

    if not model_installed(lang):
        # not a broken install of the models in use: the in-process path stays on
        raise OcrModelMissing(detail=f"no Tesseract model {lang!r} installed")
    with image_file(image) as path:  # raw pixels: no PNG encoding per crop
        if in_process and available() and not _failed.is_set():
            try:
                _shared_api(lang) if lang in SHARED_LANGS else _api(lang)
            except Exception as exc:  # a broken model install must not lose the read
                _failed.set()
                log.warning("in-process Tesseract cannot load %r (%s); the CLI reads from now on", lang, exc)
                return _words_cli(path, lang, psm, whitelist, timeout_s)
            try:
                return _words_inproc(path, lang, psm, whitelist, timeout_s)
            except OcrEngineError:
                raise  # a timeout: the CLI would hang on the same crop
            except Exception as exc:  # one odd crop: only this read goes to the CLI
                log.warning("in-process Tesseract failed on one read (%s); the CLI reads it", exc)
        return _words_cli(path, lang, psm, whitelist, timeout_s)
