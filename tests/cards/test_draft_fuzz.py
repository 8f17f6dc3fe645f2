"""Whatever a client puts in a draft MedicationRequest, build_cards returns valid cards and never raises:
a draft that cannot be corrected or replaced safely loses its suggestion, not the card."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cards import build_cards, validate_card
from tests.cards.factories import cyclosporine_draft, decision, omalizumab_draft, rxnorm_verified

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=12,
)
FIELDS = ["id", "status", "intent", "subject", "encounter", "requester", "medicationCodeableConcept",
          "medicationReference", "dosageInstruction", "note", "contained", "meta", "authoredOn"]


@settings(max_examples=150, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4),
       dosage_changes=st.dictionaries(st.sampled_from(["timing", "route", "doseAndRate", "text", "site"]),
                                      json_values, max_size=3))
def test_arbitrary_drafts_never_break_the_cards(changes, dosage_changes):
    oma = omalizumab_draft()
    oma["dosageInstruction"][0].update(dosage_changes)
    oma.update(changes)
    cyc = cyclosporine_draft()
    cyc.update(changes)
    decisions = [decision("omalizumab-dose-mismatch"), decision("cyclosporine-unsafe"),
                 decision("omalizumab-dose", order_reference="MedicationRequest/draft-oma")]
    cards = build_cards(decisions, hook="order-sign", patient_id="p1", rxnorm_lookup=rxnorm_verified,
                        drafts={"MedicationRequest/draft-oma": oma, "MedicationRequest/draft-cyc": cyc})
    assert len(cards) == 3
    for card in cards:
        validate_card(card)
    # the cyclosporine replacement keeps its omalizumab order whatever the draft's context looked like
    cyclosporine = next(c for c in cards if c["source"]["topic"]["code"] == "cyclosporine-unsafe")
    assert [a["type"] for a in cyclosporine["suggestions"][0]["actions"]] == ["delete", "create"]
