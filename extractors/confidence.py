"""Field confidence: one simple, documented formula with all constants here.

    confidence = base(source) × ocr(words) × label(score) × position × validators

* ``base`` — prior accuracy of the source (AcroForm value, text layer, OCR, checkbox).
  A checkbox group's ``extra`` is how clearly its ticked box stands out from
  the group's other boxes (``extractors.checkbox.decide_group``: 1 for a clear
  tick of any style, less as the second box comes close), so a thin ✘ and a
  filled box both reach the top of the scale.
* ``ocr`` — for OCR words: ``OCR_MIX × mean + (1 − OCR_MIX) × min`` of the
  words' factors ``(c − OCR_FLOOR) / (OCR_SURE − OCR_FLOOR)`` clipped to
  [0, 1] (``c`` = recogniser confidence): one bad word spoils a value.
* ``label`` — ``LABEL_FLOOR + (1 − LABEL_FLOOR) × s`` for label-match score
  ``s`` in [0, 1] (a poorly matched label may point at the wrong region).
* ``position`` — ``FALLBACK_POSITION`` when the value was found only in the
  fallback position (the layout differed from the definition).
* ``validators`` — each failed check multiplies by ``FAILED_CHECK``; a value
  that cannot be read as its type by ``FORMAT_FAILURE``; a passed checksum
  (IBAN, Steuer-ID) removes ``CHECKSUM_PASS_SHRINK`` of the remaining doubt.

After the form-level plausibility checks of ``extractors.plausibility``
(``LABEL_LIKE``, ``BORROWED``, ``UNLIKELY_READING``) and the evidence of the
value's pixels (``extractors.evidence``: ``HANDWRITTEN``), :func:`calibrate` maps the score onto the
measured share of right values (``CALIBRATION``); routing thresholds are on
that scale.

On a known edition, an uncertain value gets a second, independent read of
its box (``SECOND_READ_BELOW``): agreement sets ``AGREEMENT``, disagreement
multiplies by ``DISAGREEMENT``; a second read that only restores umlaut dots
the page read lost (or a "g" it read as "q") is taken with ``DOTS_RESTORED``;
between two disagreeing reads a third one decides (``MAJORITY``) when it
agrees with one of them; a value only the box's own read could make out is
raised to ``AGREEMENT`` when a third read agrees. A value found from its
printed label (any layout) gets the same second look, but agreement there is
worth ``FOUND_AGREEMENT`` only (the reads confirm the reading, not the place).

The benchmark calibrates these against measured accuracy; change them here
only (they travel as the extractor version).
"""

from __future__ import annotations

from formwerk.models import Word

BASE = {
    "acroform": 0.995,
    "text_layer": 0.98,
    "ocr": 0.97,
    "checkbox": 0.97,
}
OCR_MIX = 0.3
OCR_SURE = 0.97
OCR_FLOOR = 0.60
LABEL_FLOOR = 0.55
FALLBACK_POSITION = 0.95
FAILED_CHECK = 0.35
FORMAT_FAILURE = 0.2
CHECKSUM_PASS_SHRINK = 0.8
# free text with many words is read right less often than a short value
LONG_TEXT_WORDS = 6
LONG_TEXT_FACTOR = 0.93
# second read of a known box (edition path): below this confidence the box is
# recognised again on its own; agreement sets the confidence to AGREEMENT,
# disagreement multiplies the better read by DISAGREEMENT
SECOND_READ_BELOW = 0.95
AGREEMENT = 0.97
DISAGREEMENT = 0.5
# the second (enlarged) read differs from the page read only by umlaut dots the
# page read lost, or by a "g" it read as a "q" German has not: the second read
# is taken with this confidence
DOTS_RESTORED = 0.97
# two reads disagree and a third read agrees with one of them: that one is
# taken with MAJORITY (extractors.edition_fields._third_read)
MAJORITY = 0.95
# agreement (or a confirming third read) on a value found from its printed
# label, not from a registered widget box: the reads check the reading, not
# the place, and a neighbour's value is read alike every time. Generated scans
# (dev seeds 6-15, office_300, 40 documents): 112 of 114 newly agreeing values
# right (98 %); 0.875 calibrates to 0.98
FOUND_AGREEMENT = 0.875
# a box the page read saw as empty whose own read finds only noise (below
# RESCUE_MIN) stays empty with confidence UNREADABLE (> 0: routing flags it)
RESCUE_MIN = 0.3
# the value sits by a later copy of the label (the first copy had none beside it):
# often another block's field ("Familienname, Vorname" of the account holder when
# the applicant's own name went unread), so it is never accepted unseen:
# 0.8 calibrates to 0.90, below every form's min_field_confidence
LATER_LABEL = 0.8
UNREADABLE = 0.05
# a disagreeing second read counts only if its own confidence is at least this
# share of the first read's
WEAK_SECOND_READ = 0.0  # measured: 0.6 let misreads through (2 of ~190 accepted)
# a registered page still rotated by more than this (degrees) reads boxes less reliably
MAX_SAFE_SKEW_DEG = 0.6
SKEWED_PAGE = 0.8
# a text value read only in the fallback position (the layout differed) is
# more often a neighbouring heading than the value: further factor for text
FALLBACK_TEXT = 1.0  # measured: 0.75 sent 20 right fallback reads to review for one wrong one
# a value whose words are mostly the form's own label words
# (extractors.plausibility.label_likeness >= LABEL_LIKE_SHARE) slid onto printed text
LABEL_LIKE_SHARE = 0.6
LABEL_LIKE = 0.3
# a value that is another field's reading (extractors.plausibility.borrowed)
BORROWED = 0.3
# an OCR'd value with a reading OCR produces but German hardly has
# (extractors.plausibility): a "q" not followed by "u" (mostly a misread "g"),
# a letter beside its own umlaut ("OÖsterburg"), a glyph inside a word ("Gret!l")
UNLIKELY_READING = 0.3
# a read value whose pixels look handwritten (extractors.evidence): OCR reads
# handwriting confidently wrong and a second read repeats it, so no read
# vouches for it: 1.0 x 0.7 calibrates to 0.89, below every form's threshold (KG 1: 0.90)
HANDWRITTEN = 0.7
# Last step: a monotone piecewise-linear map from the score above to the
# measured share of right values (fitted by isotonic regression on the tune
# set of a dev run: generated documents, seeds 7000-7451, 474 read fields; held-out
# seeds 9000-9451; bench seeds are 1..~300 000). Routing
# thresholds in forms/*.yaml are on this calibrated scale. Scores below 0.4
# (failed checks, table gaps) are kept as they are: those values need a look.
CALIBRATION = [(0.0, 0.0), (0.4, 0.4), (0.5, 0.86), (0.8, 0.9), (0.85, 0.97), (0.9, 0.99), (0.95, 0.997),
               (1.0, 0.999)]
# c6: checkbox groups by their lead over the second box (extractors.checkbox), not absolute ink
# c7: handwritten values marked down (extractors.evidence)
# c8: the handwriting verdict counts the baseline spread beyond one pixel and stems parallel
# whatever their slant (document and value)
# c9: a later name word starting small, no particle, is an unlikely reading ("Emilian lustinian")
# c10: unlikely readings of places, register entries, activities and phone numbers (a small "l"
# for a capital "I", a glyph or letter in a register number, a two-letter activity, an area code
# the numbering plan does not split off), name words of two capitals then small letters ("BUi"),
# a doubled dot or a dot for a hyphen in an address ("Trübstr..132", "Harri.Hendriks-Platz")
# c11: a script read of a name that disagrees with the page read by a letter outside German's alphabet
# (extractors.edition_fields.restore_script); a name without a letter, a capital "R" for "ß", a hyphen
# then a space, a trailing dot after a whole word in an address or place (extractors.plausibility)
# c12: the script read's acute, double acute or tilde in place of an umlaut the page read wrote is
# taken like an added mark ("Gaitän" / "Gaitán"; fieldtext.marks_added), no longer sent to a clerk
# c13: the script read's stutter beside an umlaut ("Grūünberger", "Hòödl") is dropped before it is
# compared (fieldtext.drop_umlaut_stutter): no longer a foreign letter that sends a right name to a clerk
# c14: a document filled in block capitals (most read values in capitals only) or whose stems are
# neither upright nor parallel (a joined hand the baseline misses) is hand-filled (extractors.evidence);
# an e-mail domain read with the "@"'s tail as a "q" ("qgmx.de") is the provider (ocr_repairs.mail_provider);
# an elided article, its apostrophe, then a space in a name ("D’ Alia") and an e-mail name word
# starting "bioe" / "ioe" ("bioern" for "bjoern") are unlikely readings (extractors.plausibility)
CONFIDENCE_VERSION = "c14"


def word_factor(c: float) -> float:
    """Tesseract word confidence → factor: ≥ ``OCR_SURE`` counts as sure,
    ``OCR_FLOOR`` and below as worthless (its raw scores are over-confident)."""
    return min(1.0, max(0.0, (c - OCR_FLOOR) / (OCR_SURE - OCR_FLOOR)))


def ocr_factor(words: list[Word]) -> float:
    if not words:
        return 0.0
    cs = [word_factor(w.confidence) for w in words]
    return OCR_MIX * (sum(cs) / len(cs)) + (1 - OCR_MIX) * min(cs)


def label_factor(score: float) -> float:
    return LABEL_FLOOR + (1 - LABEL_FLOOR) * min(1.0, max(0.0, score))


def combine(
    source: str,
    *,
    words: list[Word] | None = None,
    label_score: float = 1.0,
    fallback: bool = False,
    failed_checks: int = 0,
    format_failed: bool = False,
    checksum_passed: bool = False,
    extra: float = 1.0,
) -> float:
    """The formula of the module doc; result clipped to [0, 1]."""
    c = BASE.get(source, 0.9)
    if source in ("ocr", "text_layer") and words is not None:
        c *= ocr_factor(words) if source == "ocr" else 1.0
        c *= label_factor(label_score)
        if len(words) > LONG_TEXT_WORDS:
            c *= LONG_TEXT_FACTOR
    elif source == "checkbox":
        c *= label_factor(label_score)
    if fallback:
        c *= FALLBACK_POSITION
    c *= extra
    if format_failed:
        c *= FORMAT_FAILURE
    c *= FAILED_CHECK**failed_checks
    if checksum_passed and not format_failed and failed_checks == 0:
        c = 1 - (1 - c) * (1 - CHECKSUM_PASS_SHRINK)
    return min(1.0, max(0.0, c))


def calibrate(score: float) -> float:
    """The score of :func:`combine` on the calibrated scale (``CALIBRATION``)."""
    score = min(1.0, max(0.0, score))
    for (x0, y0), (x1, y1) in zip(CALIBRATION, CALIBRATION[1:]):
        if score <= x1:
            return y0 + (y1 - y0) * (score - x0) / (x1 - x0)
    return CALIBRATION[-1][1]
