"""Configuration only at the edges (issue 17; STYLE.md 8): the extractors and
the second-read engine read no settings and no ``FORMWERK_*`` variables; the
worker (``worker.build_activities``), the activity options and the command
lines pass what they need in."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from formwerk import settings as settings_module

ROOT = Path(__file__).resolve().parents[1]
BELOW_EDGES = sorted((ROOT / "extractors").glob("*.py")) + [ROOT / "formwerk" / "tess_inproc.py"]
#: variables that belong to Tesseract itself, not to Formwerk: the CLI reads
#: them as well, and the in-process path must load the same models the same way
TESSERACT_OWN = {("formwerk/tess_inproc.py", "TESSDATA_PREFIX"), ("formwerk/tess_inproc.py", "OMP_THREAD_LIMIT")}


def _is_main_guard(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test)


def _reads(path: Path, rel: str) -> list[str]:
    """Settings and environment reads of a module (``rel``: its path in the repo) outside its ``__main__`` block."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if _is_main_guard(node):
            return  # the command line is an edge
        where = f"{rel}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(n == "formwerk.settings" or n.endswith(".settings") for n in names):
                found.append(f"{where} imports the settings")
        elif isinstance(node, ast.Name) and node.id in ("get_settings", "Settings"):
            found.append(f"{where} uses {node.id}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.getenv", "getenv"):
            found.append(f"{where} reads the environment")
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            parent_call = next((c for c in calls if node in ast.walk(c.func)), None)
            key = parent_call.args[0].value if parent_call is not None and parent_call.args \
                and isinstance(parent_call.args[0], ast.Constant) else None
            if (rel, key) not in TESSERACT_OWN:
                found.append(f"{where} reads os.environ" + (f"[{key!r}]" if key else ""))
        for child in ast.iter_child_nodes(node):
            visit(child)

    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    visit(tree)
    return found


def test_no_settings_or_environment_read_below_the_edges():
    found = [r for p in BELOW_EDGES for r in _reads(p, p.relative_to(ROOT).as_posix())]
    assert found == [], "read settings at the edge (worker.build_activities, a __main__) and pass them in:\n" + \
        "\n".join(found)


def test_the_check_finds_a_settings_read(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom formwerk.settings import get_settings\n"
                   "def f():\n    return get_settings().kv_model, os.environ.get('FORMWERK_XFUND_DIR')\n"
                   "if __name__ == '__main__':\n    get_settings()\n")
    found = _reads(bad, "extractors/bad.py")
    assert len(found) == 3 and all(":6" not in f for f in found)  # import, call, environ; not the __main__ block


@pytest.fixture
def no_settings(monkeypatch):
    """Any settings read fails; the variables a read would have taken are poisoned."""
    def refuse(*a, **k):
        raise AssertionError("a settings read below the edges")

    monkeypatch.setattr(settings_module, "get_settings", refuse)
    for name in ("FORMWERK_KV_MODEL", "FORMWERK_XFUND_DIR", "FORMWERK_OCR_IN_PROCESS", "FORMWERK_OCR_TIMEOUT_S"):
        monkeypatch.setenv(name, "/nonexistent/poisoned")
    from extractors import kv_pairing
    from formwerk import tess_inproc

    kv_pairing.load_models.cache_clear()
    tess_inproc.available.cache_clear()
    yield
    kv_pairing.load_models.cache_clear()
    tess_inproc.available.cache_clear()


def test_extraction_with_second_reads_and_pairing_read_no_settings(no_settings):
    synth = pytest.importorskip("bench.synth")
    from tests.test_extract_support import render_pages, text_layer_content, with_unsure_word

    from extractors import CatalogueExtractor
    from extractors.kv_pairing import detect_pairs
    from extractors.reocr import TesseractCrops
    from forms import load_catalogue

    doc = synth.render_document("gewerbeanmeldung", 0)
    content = text_layer_content(doc.pdf_bytes)
    imgs = render_pages(doc.pdf_bytes)
    name = doc.truth["family_name"]
    # an unsure page read: the name gets a second read through real Tesseract
    unsure = with_unsure_word(content, name, 0.8)
    calls = []

    class Counting(TesseractCrops):
        def read_words(self, *a, **k):
            calls.append(a[2])
            return super().read_words(*a, **k)

    ext = CatalogueExtractor(load_catalogue(), today=date(2026, 11, 27), crop_ocr=Counting())
    res = ext.extract("gewerbeanmeldung", unsure, lambda p: imgs.get(p))
    assert calls and res.fields["family_name"].value == name
    assert detect_pairs(content.pages)  # the default artefact (or rules), not FORMWERK_KV_MODEL
