"""Routing is a pure function: tested directly, no Temporal."""

from formwerk.models import (
    CaseStatus,
    Classification,
    ExtractedField,
    Extraction,
    RoutingPolicy,
    ValidationIssue,
)
from formwerk.routing import route


def _extraction(**fields) -> Extraction:
    return Extraction(
        document_type="gewerbeanmeldung",
        fields={n: ExtractedField(name=n, value=v, confidence=c) for n, (v, c) in fields.items()},
    )


CONFIDENT = Classification(document_type="gewerbeanmeldung", confidence=0.99)
POLICY = RoutingPolicy(min_type_confidence=0.9, min_field_confidence=0.8,
                       required_fields=["family_name", "birth_date"])


def test_confident_case_goes_straight_through():
    ex = _extraction(family_name=("Müller", 0.95), birth_date=("1986-02-14", 0.97), email=(None, 0.0))
    decision = route(CONFIDENT, ex, POLICY)
    assert decision.status == CaseStatus.COMPLETED
    assert decision.reasons == [] and not any(f.needs_review for f in ex.fields.values())


def test_low_confidence_and_missing_required_fields_are_flagged_by_name():
    ex = _extraction(family_name=("Müller", 0.5), birth_date=(None, 0.0), email=(None, 0.0))
    decision = route(CONFIDENT, ex, POLICY)
    assert decision.status == CaseStatus.NEEDS_REVIEW
    assert decision.reasons == ["low_confidence:family_name", "missing:birth_date"]
    assert ex.fields["family_name"].needs_review and ex.fields["birth_date"].needs_review
    assert not ex.fields["email"].needs_review  # optional and empty: nothing to check


def test_per_field_threshold_overrides_default():
    ex = _extraction(family_name=("Müller", 0.85), birth_date=("1986-02-14", 0.85))
    policy = POLICY.model_copy(update={"field_thresholds": {"birth_date": 0.9}})
    assert route(CONFIDENT, ex, policy).reasons == ["low_confidence:birth_date"]


def test_failed_validator_and_cross_field_rule_route_to_review():
    ex = _extraction(family_name=("Müller", 0.95), birth_date=("2090-01-01", 0.95))
    ex.fields["birth_date"].issues.append(ValidationIssue(code="date_in_future", message="x"))
    ex.issues.append(ValidationIssue(code="start_before_birth", message="y", fields=["family_name"]))
    decision = route(CONFIDENT, ex, POLICY)
    assert decision.reasons == ["invalid:birth_date", "rule:start_before_birth"]
    assert set(decision.fields_to_review) == {"birth_date", "family_name"}


def test_unknown_type_low_type_confidence_and_four_eyes():
    unknown = Classification(document_type="unknown", confidence=0.7)
    assert route(unknown, None, POLICY).reasons == ["unknown_document_type"]
    unsure = Classification(document_type="gewerbeanmeldung", confidence=0.6)
    ex = _extraction(family_name=("A", 0.99), birth_date=("1990-01-01", 0.99))
    assert route(unsure, ex, POLICY).reasons == ["low_type_confidence"]
    four = POLICY.model_copy(update={"four_eyes": True})
    assert route(CONFIDENT, ex, four).status == CaseStatus.NEEDS_REVIEW


def test_optional_field_seen_but_unreadable_is_flagged():
    ex = _extraction(family_name=("Müller", 0.95), birth_date=("1986-02-14", 0.97),
                     employees_full_time=(None, 0.2), birth_name=(None, 0.0))
    decision = route(CONFIDENT, ex, POLICY)
    assert decision.reasons == ["unreadable:employees_full_time"]


def test_batch_split_only_for_confident_documents_with_a_known_type():
    from types import SimpleNamespace as NS

    from classifiers.splitting import is_batch

    form = NS(document_type="gewerbeanmeldung", confidence=0.97)
    invoice = NS(document_type="invoice", confidence=0.95)
    letter = NS(document_type="unknown", confidence=0.99)
    assert is_batch([form, invoice], 0.9)
    assert not is_batch([form], 0.9)
    assert not is_batch([form, form], 0.9)  # same type: stays one document
    assert is_batch([form, form], 0.9, allow_same_type=True)
    assert is_batch([form, letter], 0.9)  # a cover letter becomes its own case
    assert not is_batch([form, letter], 0.9, allow_unknown=False)
    assert not is_batch([letter, letter], 0.9, allow_same_type=True)  # nothing known: no batch
    assert not is_batch([form, NS(document_type="unknown", confidence=0.7)], 0.9)  # a form's odd page
    assert not is_batch([form, NS(document_type="invoice", confidence=0.6)], 0.9)


def test_unsure_unknown_pages_join_a_neighbouring_document():
    from classifiers.splitting import PageRange, batch_documents

    def r(s, e, t, c):
        return PageRange(start=s, end=e, document_type=t, confidence=c)

    # an invoice's terms page the model could not place stays with the invoice
    docs = batch_documents([r(1, 2, "invoice", 0.99), r(3, 3, "unknown", 0.8), r(4, 5, "gewerbeanmeldung", 0.95)], 0.9)
    assert [(d.start, d.end, d.document_type) for d in docs] == [(1, 3, "invoice"), (4, 5, "gewerbeanmeldung")]
    # an unsure first page joins the document after it
    docs = batch_documents([r(1, 1, "unknown", 0.6), r(2, 2, "kindergeld_kg1", 0.99), r(3, 3, "invoice", 0.95)], 0.9)
    assert [(d.start, d.end) for d in docs] == [(1, 2), (3, 3)]
    # a form with one unsure page is no batch at all
    assert batch_documents([r(1, 2, "wohngeld_mietzuschuss", 0.99), r(3, 3, "unknown", 0.7)], 0.9) == []
    # a confident letter stays a document of its own
    docs = batch_documents([r(1, 2, "gewerbeanmeldung", 0.95), r(3, 3, "unknown", 0.97)], 0.9)
    assert [d.document_type for d in docs] == ["gewerbeanmeldung", "unknown"]


# -- choice groups the applicant must choose (issue 17) ------------------------


def test_a_required_choice_group_with_no_detected_tick_goes_to_review():
    # the detector saw no tick at all (confidence 0: "nothing to read"); an
    # optional group passes as empty, a group the applicant must choose is missing
    ex = _extraction(family_name=("Müller", 0.99), birth_date=("1986-02-14", 0.99), sex=(None, 0.0),
                     business_kind=(None, 0.0))
    policy = POLICY.model_copy(update={"required_fields": ["family_name", "birth_date", "sex"]})
    decision = route(CONFIDENT, ex, policy)
    assert decision.status == CaseStatus.NEEDS_REVIEW
    assert decision.reasons == ["missing:sex"]
    assert ex.fields["sex"].needs_review and not ex.fields["business_kind"].needs_review


def test_every_gewa1_choice_group_must_be_chosen():
    from forms import load_catalogue

    form = load_catalogue().get("gewerbeanmeldung")
    groups = {f.name for f in form.fields if f.type in ("choice", "bool") and f.options}
    assert groups == {"sex", "nationality", "sideline", "business_kind", "establishment_kind", "reason"}
    assert groups <= set(form.policy.required_fields)
    ex = Extraction(document_type="gewerbeanmeldung",
                    fields={n: ExtractedField(name=n, value=None, confidence=0.0, source="checkbox")
                            for n in groups})
    decision = route(CONFIDENT, ex, form.policy)
    assert {f"missing:{n}" for n in groups} <= set(decision.reasons)
