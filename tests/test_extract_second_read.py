"""Known-edition reading on scans: box words, the enlarged second read and its verdicts.

Measured on scanned real GewA 1 forms (``python -m bench.realscan``): page
OCR at 300 dpi drops umlaut dots ("Jürgen" → "Jurgen"), splits a narrow "1"
off a date, and the small-print filter dropped x-height words ("von").
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw

from extractors import CatalogueExtractor
from extractors import confidence as conf
from extractors.edition_fields import EditionReader, _line_region
from extractors.fieldtext import dots_restored, pick_words
from extractors.normalise import join_split_day, normalise_email, normalise_text
from extractors.reader import DocumentReader, font_size
from extractors.readers import Finisher
from extractors.reocr import ocr_line
from forms import load_catalogue
from formwerk.models import DocumentContent, ExtractedField, PageContent, ValidationIssue, Word
from tests.drawing import truetype_font


def w(text: str, x0: float, y0: float, x1: float, y1: float, c: float = 0.96) -> Word:
    return Word(text=text, bbox=[x0, y0, x1, y1], confidence=c, page=1)


# -- small print vs x-height words ---------------------------------------------


def test_words_in_keeps_x_height_words_and_drops_small_print():
    words = [w("Vermittlung", 178, 1778, 427, 1825), w("von", 440, 1792, 520, 1818),
             w("Versicherungen", 539, 1779, 886, 1826),
             w("(genau", 900, 1800, 960, 1820)]  # 6 pt instruction reaching into the box
    form = load_catalogue().get("gewerbeanmeldung")
    content = DocumentContent(pages=[PageContent(page=1, width=2481, height=3509, words=words)])
    r = DocumentReader(form, content, lambda p: None, date(2026, 1, 1))
    got = [x.text for x in r.words_in(1, [170, 1760, 2350, 2170])]
    assert got == ["Vermittlung", "von", "Versicherungen"]


def test_words_in_keeps_a_value_whose_first_box_ocr_drew_too_tall():
    # seen on a real GewA 1 scan: "09.08." boxed 56 px high (a box line), "1" "966" 31 px
    words = [w("09.08.", 1462, 794, 1573, 850), w("1", 1581, 815, 1592, 845), w("966", 1601, 815, 1668, 846)]
    form = load_catalogue().get("gewerbeanmeldung")
    content = DocumentContent(pages=[PageContent(page=1, width=2481, height=3509, words=words)])
    r = DocumentReader(form, content, lambda p: None, date(2026, 1, 1))
    assert [x.text for x in r.words_in(1, [1457, 797, 2350, 866])] == ["09.08.", "1", "966"]


def test_font_size_scales_by_the_letters_a_box_spans():
    big = font_size(w("Vermittlung", 0, 0, 10, 47))
    assert font_size(w("von", 0, 0, 10, 26)) == pytest.approx(big, rel=0.1)
    assert font_size(w("Name", 0, 0, 10, 34)) == pytest.approx(big, rel=0.1)


# -- dates split by page OCR ---------------------------------------------------


@pytest.mark.parametrize("raw,out", [
    ("1 5.08.2026", "15.08.2026"),
    ("2 6.01 .2001", "26.01 .2001"),
    ("1 5.08", "1 5.08"),  # not a full date after the lone digit: untouched
    ("1 .05.2026", "1 .05.2026"),  # the lost digit cannot be guessed
    ("15.08.2026", "15.08.2026"),
])
def test_join_split_day(raw, out):
    assert join_split_day(raw) == out


def test_edge_debris_is_not_part_of_a_value():
    assert normalise_text("‚Amtsgericht Bonn HRB 64860") == "Amtsgericht Bonn HRB 64860"
    assert normalise_text(".Jürgen") == "Jürgen"
    assert normalise_email(".enno.haeussler@mail.de") == "enno.haeussler@mail.de"


def test_email_split_by_ocr_at_a_dot_keeps_its_local_part():
    # measured on generated Wohngeld scans: the part left of the split was lost
    # and "van@t-online.de" went through at 0.98
    row = [w("0385", 166, 813, 257, 844), w("79607152", 287, 812, 474, 844),
           w("friedericke.dussen.", 169, 874, 614, 906), w("van@t-online.de", 631, 873, 982, 911)]
    picked = pick_words("email", row)
    assert [x.text for x in picked] == ["friedericke.dussen.", "van@t-online.de"]
    assert normalise_email(" ".join(x.text for x in picked)) == "friedericke.dussen.van@t-online.de"
    # the split shows in the right-hand piece too
    picked = pick_words("email", [w("hartmut", 143, 939, 323, 968), w(".hoelzenbecher@gmx.de", 336, 938, 877, 973)])
    assert len(picked) == 2
    # a word beside the address without a visible split is not part of it (a label, a name)
    assert [x.text for x in pick_words("email", [w("Mail", 100, 100, 180, 130), w("anna@web.de", 200, 100, 400, 130)])] == ["anna@web.de"]
    # nor a piece on another line or far away
    assert len(pick_words("email", [w("anna.", 100, 300, 180, 330), w("berg@web.de", 200, 100, 400, 130)])) == 1
    assert normalise_email("theodor..oderwald-jaeger@web.de") == "theodor.oderwald-jaeger@web.de"


def test_email_with_the_at_sign_read_as_a_word_of_its_own():
    # real Wohngeld scan, small print beside the phone number: page OCR gave
    # "hans-rainer.voss", "@", "posteo.de" and only the "@" was kept
    row = [w("0160", 1758, 682, 1810, 718), w("24857462", 1827, 682, 2045, 718),
           w("hans-rainer.voss", 2059, 686, 2236, 721), w("@", 2247, 690, 2260, 710), w("posteo.de", 2270, 686, 2377, 721)]
    picked = pick_words("email", row)
    assert [x.text for x in picked] == ["hans-rainer.voss", "@", "posteo.de"]
    assert normalise_email(" ".join(x.text for x in picked)) == "hans-rainer.voss@posteo.de"
    # the phone number left of a bare "@" is not a local part
    assert [x.text for x in pick_words("email", [w("24857462", 100, 100, 300, 130), w("@", 320, 105, 335, 128)])] == ["@"]


# -- the verdict of two reads --------------------------------------------------


@pytest.mark.parametrize("a,b,restored", [
    ("Jurgen", "Jürgen", True),
    ("Rosl-Barer-Allee 20, 78116 Olpe", "Rosl-Bärer-Allee 20, 78116 Olpe", True),
    ("Jürgen", "Jurgen", False),  # the second read lost the dots: no
    ("Jurgen", "Jürgan", False),  # anything else changed: no
    ("Kramer", "Krämer", True),
    ("Kramer", "Kramer", False),
    ("Andre-Ritter-Weg 5", "André-Ritter-Weg 5", True),
])
def test_dots_restored(a, b, restored):
    assert dots_restored(a, b) is restored


class _TwoReads(EditionReader):
    """The page read and the second read given, no OCR."""

    def __init__(self, first, second, third=None, script=None):
        super().__init__(Finisher())
        # the script model's read (names): none given, it reads nothing
        self.reads = {None: first, "confirm": second, "rescue": second, "third": third,
                      "script": script or ExtractedField(name=first.name, source="none")}

    def _read_boxes(self, f, r, boxes, reocr):
        return self.reads[reocr].model_copy(deep=True)


def _reader():
    return SimpleNamespace(sources={1: "ocr"}, image=lambda p: Image.new("L", (10, 10)), confirm_left=5,
                           reocr_left=0)


def _ef(value, c):
    return ExtractedField(name="given_names", value=value, raw=value, confidence=c, source="ocr", page=1)


def test_second_read_restoring_umlaut_dots_wins():
    f = load_catalogue().get("gewerbeanmeldung").field("given_names")
    ex = _TwoReads(_ef("Jurgen", 0.9), _ef("Jürgen", 0.6))
    got = ex._read_with_second_look(f, _reader(), [(1, [0, 0, 5, 5])])
    assert got.value == "Jürgen" and got.confidence >= conf.DOTS_RESTORED


def test_agreeing_reads_raise_and_disagreeing_reads_lower_the_confidence():
    f = load_catalogue().get("gewerbeanmeldung").field("given_names")
    same = _TwoReads(_ef("Jürgen", 0.9), _ef("Jürgen", 0.7))._read_with_second_look(f, _reader(), [(1, [0, 0, 5, 5])])
    assert same.value == "Jürgen" and same.confidence == conf.AGREEMENT
    other = _TwoReads(_ef("Jürgen", 0.9), _ef("Jörgen", 0.7))._read_with_second_look(f, _reader(), [(1, [0, 0, 5, 5])])
    assert other.confidence == pytest.approx(0.9 * conf.DISAGREEMENT)


# -- where and how the second read looks ---------------------------------------


def test_line_region_stays_inside_the_box_and_above_the_next_label():
    box = [290, 711, 1042, 788]
    words = [w("Albers", 294, 730, 434, 790)]  # the value overflows the box by 2 px
    r = SimpleNamespace(pages={1: SimpleNamespace(dpi=300)}, words_in=lambda p, b: words)
    region, multiline = _line_region(r, 1, box)
    assert not multiline
    assert box[0] < region[0] <= 294 and 434 < region[2] < box[2]
    assert region[3] <= 790 + 0.05 * 60 + 0.01  # not down into "5 Geburtsname" below
    assert region[1] < 730


def test_ocr_line_reads_a_value_on_a_grey_widget_fill():
    """A grey box on white paper: the crop's edge must not read as "(" or "|"."""
    img = Image.new("L", (900, 140), 246)
    d = ImageDraw.Draw(img)
    d.rectangle([40, 30, 860, 100], fill=215)
    d.text((60, 38), "Jürgen Brüggemann", fill=20, font=truetype_font(44))
    words = ocr_line(img, [50, 32, 700, 100], page=1)
    assert " ".join(x.text for x in words) == "Jürgen Brüggemann"
    # words come back in page pixels
    assert 40 <= words[0].bbox[0] <= 120 and 30 <= words[0].bbox[1] <= 100


def test_noise_read_in_a_box_the_page_saw_empty_is_unreadable_not_a_value():
    f = load_catalogue().get("gewerbeanmeldung").field("birth_name")
    empty = ExtractedField(name="birth_name", source="none", page=1)
    got = _TwoReads(empty, _ef("ae ae an", 0.0))._read_with_second_look(f, _reader(), [(1, [0, 0, 5, 5])])
    assert got.value is None and 0 < got.confidence < 0.5
    # a real rescue (page OCR missed the value) is kept
    got = _TwoReads(empty, _ef("Schmidt", 0.8))._read_with_second_look(f, _reader(), [(1, [0, 0, 5, 5])])
    assert got.value == "Schmidt"


def test_writing_no_read_makes_a_value_of_is_unreadable_not_blank():
    """Real Wohngeld scan: an e-mail in tiny print read as "semerenscrosserapsien.de"
    (no "@"), and no second read did better. Reported blank, nobody would have
    looked; the clerk is asked instead. A box with only frame debris stays blank."""
    f = load_catalogue().get("wohngeld_mietzuschuss").field("email")
    empty = ExtractedField(name="email", source="none", page=1)
    for seen, blank in (([w("semerenscrosserapsien.de", 2056, 691, 2297, 707, 0.07)], False),
                        ([w("|", 2056, 691, 2060, 707, 0.3), w("ae", 2100, 700, 2120, 705, 0.2)], True),
                        ([], True)):
        r = _reader()
        r.words_in = lambda p, b, seen=seen: seen
        got = _TwoReads(empty, empty)._read_with_second_look(f, r, [(1, [2052, 659, 2399, 740])])
        assert got.value is None
        assert (got.source == "none" and got.confidence == 0) if blank else (0 < got.confidence < 0.5)


def test_an_empty_box_with_slightly_askew_borders_reads_as_empty():
    """Real Meldeschein scan: the empty birth-name box's borders, 0.4° askew
    after deskew, read as "—L—L—L————" and sent a blank field to review."""
    img = Image.new("L", (1900, 120), 245)
    d = ImageDraw.Draw(img)
    for y in (20, 82):  # top and bottom border, drifting 12 px over the width
        d.line([0, y, 1899, y + 12], fill=0, width=3)
    assert ocr_line(img, [10, 10, 1890, 110], page=1) == []
    # a value between the same borders is not taken for an empty box
    d.text((60, 36), "Schneider", fill=0, font=truetype_font(40))
    assert ocr_line(img, [10, 10, 1890, 110], page=1) != []


def test_ruling_line_debris_is_not_a_value():
    picked = pick_words("text", [w("—L—L—L—L——————————", 590, 1270, 2380, 1320, 0.0)])
    assert picked == []
    assert [x.text for x in pick_words("text", [w("Müller-Lüdenscheidt", 590, 1270, 980, 1310)])] == ["Müller-Lüdenscheidt"]


def test_a_lone_at_sign_is_not_small_print():
    words = [w("hans-rainer.voss", 2059, 686, 2236, 721), w("@", 2247, 690, 2260, 710), w("posteo.de", 2270, 686, 2377, 721)]
    r = DocumentReader.__new__(DocumentReader)
    r._prepared, r._pages = True, {1: SimpleNamespace(dpi=300, words=words, is_skipped=lambda x: False)}
    assert [x.text for x in r.words_in(1, [2052, 659, 2399, 740])] == ["hans-rainer.voss", "@", "posteo.de"]


def test_line_region_ignores_frame_debris():
    """Page OCR read only ":" where the value is: the box is read, not the debris."""
    box = [590, 1146, 2385, 1267]
    words = [w(":", 650, 1192, 654, 1196, 0.68), w(":", 879, 1193, 883, 1197, 0.59)]
    r = SimpleNamespace(pages={1: SimpleNamespace(dpi=300)}, words_in=lambda p, b: words)
    region, _ = _line_region(r, 1, box)
    assert region == box


def test_line_region_ignores_a_sliver_of_line_read_as_letters():
    """Real Meldeschein scan: page OCR missed "Christian Muharrem" and read a
    5 px sliver as "ae"; a region around that sliver read "isti" three times
    alike, which was accepted at 0.997. The whole box is read instead."""
    box = [590, 1146, 2385, 1267]
    words = [w("ae", 660, 1194, 706, 1199, 0.32)]
    r = SimpleNamespace(pages={1: SimpleNamespace(dpi=300)}, words_in=lambda p, b: words)
    region, _ = _line_region(r, 1, box)
    assert region == box
    # a real word, even a short one, still locates the value
    words[:] = [w("Jo", 600, 1180, 650, 1222, 0.5)]
    region, _ = _line_region(r, 1, box)
    assert region != box and region[2] < 700


def test_a_rescue_reads_the_whole_width_of_the_box():
    """The page read lost "DE44" of "DE44 4618 7045 …" into debris: the line
    is where the words are, but it starts left of them."""
    box = [1683, 1336, 2393, 1415]
    words = [w(t, x, 1356, x + 96, 1392) for t, x in (("4618", 1838), ("7045", 1965), ("92", 2280))]
    r = SimpleNamespace(pages={1: SimpleNamespace(dpi=300)}, words_in=lambda p, b: words)
    narrow, _ = _line_region(r, 1, box)
    wide, _ = _line_region(r, 1, box, whole_width=True)
    assert narrow[0] > 1800 and wide[0] < 1700 and wide[2] > 2380
    assert wide[1] == narrow[1] and wide[3] == narrow[3]  # the same line


def test_is_comb_tells_cells_from_an_ordinary_box():
    from extractors.reocr import is_comb

    img = Image.new("L", (600, 100), 246)
    d = ImageDraw.Draw(img)
    d.rectangle([20, 20, 580, 80], outline=0, width=2)
    assert not is_comb(img, [20, 20, 580, 80])
    for i in range(1, 8):
        d.line([20 + 70 * i, 20, 20 + 70 * i, 80], fill=0, width=2)
    assert is_comb(img, [20, 20, 580, 80])


def _wohngeld_style_comb(digits: str) -> tuple[Image.Image, list[float]]:
    """A date comb as the NRW Wohngeld form prints it: "Tag Monat Jahr" just
    above the cells, dividers that start below the label (so they fill less of
    the crop than a full ruling line), thick bars between day, month and year,
    no top frame."""
    img = Image.new("L", (640, 200), 250)
    d = ImageDraw.Draw(img)
    d.text((80, 38), "Tag      Monat        Jahr", fill=0, font=truetype_font(30))
    x0, top, bottom, cell = 60, 84, 146, 58
    for i in range(len(digits) + 1):
        thick = i in (0, 2, 4)
        d.line([x0 + cell * i, top, x0 + cell * i, bottom], fill=0, width=7 if thick else 3)
    d.line([x0, bottom, x0 + cell * len(digits), bottom], fill=0, width=3)
    for i, c in enumerate(digits):
        d.text((x0 + cell * i + 16, top + 8), c, fill=0, font=truetype_font(44))
    # the widget box reaches up into the label's descenders
    return img, [x0 - 2, 66, x0 + cell * len(digits) + 2, bottom + 2]


@pytest.mark.parametrize("digits", ["17062006", "11032005"])
def test_a_comb_date_under_its_label_reads_every_cell(digits):
    from extractors.reocr import WHITELISTS, ocr_box

    img, box = _wohngeld_style_comb(digits)
    words = ocr_box(img, box, page=1, whitelist=WHITELISTS["date"])
    assert "".join(w.text for w in words) == digits
    assert min(w.confidence for w in words) >= 0.5


def _vote(first, second, third, field="given_names"):
    f = load_catalogue().get("gewerbeanmeldung").field(field)
    r = _reader()
    r.reocr_left = 5
    return _TwoReads(_ef(first, 0.9), _ef(second, 0.8), _ef(third, 0.7))._read_with_second_look(
        f, r, [(1, [0, 0, 5, 5])])


def test_a_third_read_decides_between_two_disagreeing_reads():
    assert _vote("Cobu rg", "Coburg", "Coburg").value == "Coburg"
    assert _vote("Cobu rg", "Coburg", "Coburg").confidence == conf.MAJORITY
    assert _vote("Voß", "VoR", "Voß").value == "Voß"
    # no majority: the more confident read, lowered
    no = _vote("Voß", "VoR", "Vob")
    assert no.value == "Voß" and no.confidence == pytest.approx(0.9 * conf.DISAGREEMENT)


@pytest.mark.parametrize("first,second,third", [
    ("nach § 34d GewO", "nach 8 34d GewO", "nach 8 34d GewO"),  # enlarged reads lose "§" together
    ("HRA 31297", "HRA 31 297", "HRA 31 297"),  # and split numbers together
])
def test_no_majority_over_a_read_with_a_rare_glyph_or_fewer_spaces(first, second, third):
    got = _vote(first, second, third)
    assert got.confidence < conf.MAJORITY * 0.6


def test_a_vote_on_e_mail_addresses_only_confirms_the_page_read():
    # the enlarged reads share their confusions (j/i, y/v): they may confirm the page read ...
    got = _vote("joern.hofmann@mail.de", "ioern.hofmann@mail.de", "joern.hofmann@mail.de", field="email")
    assert got.value == "joern.hofmann@mail.de" and got.confidence == conf.MAJORITY
    # ... but two of them never overturn it
    got = _vote("kaspar.beyer@posteo.de", "kaspar.bever@posteo.de", "kaspar.bever@posteo.de", field="email")
    assert got.confidence < conf.MAJORITY * 0.6


def test_a_second_read_restoring_a_g_read_as_q_wins():
    f = load_catalogue().get("gewerbeanmeldung").field("email")
    ex = _TwoReads(_ef("aennchen.flieqner@web.de", 0.4), _ef("aennchen.fliegner@web.de", 0.3))
    got = ex._read_with_second_look(f, _reader(), [(1, [0, 0, 5, 5])])
    assert got.value == "aennchen.fliegner@web.de" and got.confidence >= conf.DOTS_RESTORED
    # the other way round (a "g" turned into "q") is a disagreement
    ex = _TwoReads(_ef("aennchen.fliegner@web.de", 0.9), _ef("aennchen.flieqner@web.de", 0.8))
    got = ex._read_with_second_look(f, _reader(), [(1, [0, 0, 5, 5])])
    assert got.confidence == pytest.approx(0.9 * conf.DISAGREEMENT)


@pytest.mark.parametrize("third,confirmed", [("17.10.2026", True), ("17.10.2028", False), (None, False)])
def test_a_rescued_value_is_confirmed_only_by_an_agreeing_third_read(third, confirmed):
    f = load_catalogue().get("gewerbeanmeldung").field("signature_date")
    garbled = ExtractedField(name="signature_date", value="1171052026", raw="1171052026", confidence=0.0,
                             source="ocr", page=1, issues=[ValidationIssue(code="format_date", message="x")])
    r = _reader()
    r.reocr_left = 5
    thirds = _ef(third, 0.8) if third else ExtractedField(name="signature_date", source="none")
    got = _TwoReads(garbled, _ef("17.10.2026", 0.81), thirds)._read_with_second_look(f, r, [(1, [0, 0, 5, 5])])
    assert got.value == "17.10.2026"
    assert (got.confidence == conf.AGREEMENT) is confirmed


def test_a_value_takes_the_diacritics_another_field_of_its_type_shows():
    ex = CatalogueExtractor(load_catalogue())
    form = load_catalogue().get("gewerbeanmeldung")
    fields = {
        "home_address": ExtractedField(name="home_address", value="André-Ritter-Weg 5, 03253 Berchtesgaden",
                                       confidence=0.96, source="ocr"),
        "business_address": ExtractedField(name="business_address", value="Andre-Ritter-Weg 5, 03253 Berchtesgaden",
                                           confidence=0.97, source="ocr"),
        "family_name": ExtractedField(name="family_name", value="Andre", confidence=0.97, source="ocr"),
    }
    ex._shared_diacritics(form, fields)
    assert fields["business_address"].value == "André-Ritter-Weg 5, 03253 Berchtesgaden"
    assert fields["business_address"].confidence == 0.96
    assert fields["family_name"].value == "Andre"  # another type: untouched


def test_an_ocr_value_with_q_without_u_is_not_accepted():
    ex = CatalogueExtractor(load_catalogue())
    form = load_catalogue().get("gewerbeanmeldung")
    fields = {"home_address": ExtractedField(name="home_address", value="Sontaqweg 12, 58442 Bamberg",
                                             confidence=0.97, source="ocr"),
              "business_address": ExtractedField(name="business_address", value="Quellenweg 12, 58442 Bamberg",
                                                 confidence=0.97, source="ocr")}
    ex._plausibility(form, fields)
    assert conf.calibrate(fields["home_address"].confidence) < 0.94
    assert fields["business_address"].confidence == 0.97


def test_a_value_found_from_its_label_gains_less_from_agreement_and_is_never_outvoted():
    f = load_catalogue().get("gewerbeanmeldung").field("employees_part_time")
    r = _reader()
    r.reocr_left = 5
    page_read = ExtractedField(name=f.name, value=0, raw="0", confidence=0.4, source="ocr", page=1)
    agree = _TwoReads(page_read, page_read).second_look(f, r, [(1, [0, 0, 5, 5])], page_read.model_copy(),
                                                        located=False)
    assert agree.value == 0 and agree.confidence == conf.FOUND_AGREEMENT < conf.AGREEMENT
    six = ExtractedField(name=f.name, value=6, raw="6", confidence=0.42, source="ocr", page=1)
    # two enlarged reads that turn "0" into "6" together do not overturn the page read
    got = _TwoReads(page_read, six, six).second_look(f, r, [(1, [0, 0, 5, 5])], page_read.model_copy(),
                                                      located=False)
    assert got.confidence < conf.MAJORITY * 0.6
    # on a registered widget box the same votes decide
    got = _TwoReads(page_read, six, six).second_look(f, r, [(1, [0, 0, 5, 5])], page_read.model_copy())
    assert got.value == 6 and got.confidence == conf.MAJORITY


def test_ocr_block_reads_a_ruled_table_with_its_lines_erased():
    from extractors.reocr import ocr_block

    img = Image.new("L", (1400, 420), 250)
    d = ImageDraw.Draw(img)
    xs, ys = [40, 700, 1100, 1360], [40, 130, 220, 310]
    for x in xs:
        d.line([(x, ys[0]), (x, ys[-1])], fill=10, width=3)
    for y in ys:
        d.line([(xs[0], y), (xs[-1], y)], fill=10, width=3)
    rows = [("Vorname des Kindes", "Geburtsdatum", "Geschlecht"), ("Irena", "05.12.2014", "w"),
            ("Valentina", "01.09.2020", "w")]
    for (y0, row) in zip(ys, rows):
        for x0, text in zip(xs, row):
            d.text((x0 + 20, y0 + 22), text, fill=20, font=truetype_font(40))
    words = ocr_block(img, [20, 20, 1380, 330], page=1, px_per_pt=300 / 72)
    texts = [w.text for w in words]
    assert {"Irena", "05.12.2014", "Valentina", "01.09.2020"} <= set(texts)
    assert not [t for t in texts if set(t) <= set("|[]_-")]  # no ruling line read as text
    irena = words[texts.index("Irena")]
    assert 40 < irena.bbox[0] < 120 and 130 < irena.bbox[1] < 220  # page pixels, in its cell


def test_a_region_read_again_keeps_sure_words_and_replaces_garbled_ones():
    img = Image.new("L", (1400, 420), 250)
    d = ImageDraw.Draw(img)
    for x in (40, 700, 1360):
        d.line([(x, 40), (x, 310)], fill=10, width=3)
    for y in (40, 130, 220, 310):
        d.line([(40, y), (1360, y)], fill=10, width=3)
    for y0, (a, b) in zip((40, 130, 220), [("Vorname des Kindes", "Geburtsdatum"), ("Irena", "05.12.2014"),
                                           ("Valentina", "01.09.2020")]):
        d.text((60, y0 + 22), a, fill=20, font=truetype_font(40))
        d.text((720, y0 + 22), b, fill=20, font=truetype_font(40))
    sure = Word(text="Valentina", bbox=[60, 245, 250, 290], confidence=0.95, page=1)
    garbled = Word(text="(fan", bbox=[45, 45, 695, 215], confidence=0.2, page=1)  # one box over two cells
    content = DocumentContent(pages=[PageContent(page=1, width=1400, height=420, words=[sure, garbled])])
    r = DocumentReader(load_catalogue().get("kindergeld_kg1"), content, lambda p: img, date(2026, 11, 27))
    assert r.reread_region(1, [20, 20, 1380, 330])
    words = r.pages[1].words
    texts = [w.text for w in words]
    assert "(fan" not in texts and {"Irena", "05.12.2014", "01.09.2020"} <= set(texts)
    assert texts.count("Valentina") == 1 and any(w is sure for w in words)  # the sure word stays as it was
    assert r.locate(load_catalogue().get("kindergeld_kg1").field("children")) is not None  # header now found


def test_a_region_is_read_again_only_once():
    img = Image.new("L", (600, 200), 250)
    ImageDraw.Draw(img).text((40, 60), "Irena 05.12.2014", fill=20, font=truetype_font(40))
    content = DocumentContent(pages=[PageContent(page=1, width=600, height=200, words=[])])
    r = DocumentReader(load_catalogue().get("kindergeld_kg1"), content, lambda p: img, date(2026, 11, 27))
    assert r.reread_region(1, [10, 10, 590, 190])
    budget = r.reocr_left
    assert not r.reread_region(1, [20, 20, 580, 150])  # inside the band already read: no second OCR
    assert r.reocr_left == budget
