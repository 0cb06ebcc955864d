"""Drawing helpers for tests that render text and read it with real Tesseract."""

from __future__ import annotations

import pytest
from PIL import ImageFont


def truetype_font(size: int) -> ImageFont.FreeTypeFont:
    """A TrueType font of the machine (Liberation or DejaVu); skips the test without one."""
    for path in ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
                 "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    pytest.skip("no TrueType font")
