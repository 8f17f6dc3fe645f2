"""The card layer's functions as they were before their fast paths (commit fc83422): the references the
differential tests in test_fast_paths.py compare the fast forms with, on every demo patient and on
generated values.  Not used by the service."""
from __future__ import annotations

import unicodedata

from cards.text import CONDITION_NAMES, RECOMMENDING_TOPICS, _url, dose_phrase, md_escape
from clinical_core.decisions import Decision, TherapyOption  # noqa: F401 - annotations
from cards.validation import CardValidationError



def only_keys(obj: dict, allowed: set[str], path: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise CardValidationError(path, f"unknown field(s) {', '.join(unknown)}")


def detail_for(decision: Decision, notes: tuple[str, ...] | list[str] = ()) -> str:
    """The card detail; `notes` are presentation notes (e.g. why no order could be suggested)."""
    parts: list[str] = [f"**{md_escape(decision.headline)}**"]
    if decision.rationale.strip():
        parts.append(md_escape(decision.rationale))

    if decision.evidence:
        rows = ["| Fact | Value | Date | Source |", "|---|---|---|---|"]
        for ev in decision.evidence:
            value = ev.value if not _differs(ev.original, ev.value) else f"{ev.value} (reported as {ev.original})"
            when = ev.date.isoformat() if ev.date else "not dated"
            rows.append(
                f"| {md_escape(ev.label)} | {md_escape(value)} | {when} | {md_escape(ev.reference or 'not recorded')} |"
            )
        parts.append("\n".join(rows))
    else:
        parts.append("No chart facts were used for this decision.")

    if decision.rule:
        parts.append(f"**Rule:** {md_escape(decision.rule)}")
    dose = decision.dose
    if dose is not None:
        cell = [md_escape(dose.table_label)]
        if dose.ige_band:
            cell.append(f"IgE band {md_escape(dose.ige_band)}")
        if dose.weight_band:
            cell.append(f"weight band {md_escape(dose.weight_band)}")
        parts.append(f"**Table cell:** {', '.join(cell)} (region {md_escape(dose.region)})")
        parts.append(f"**Dose:** omalizumab {md_escape(dose_phrase(dose))}")
    if len(decision.covers) > 1 and decision.topic.startswith("omalizumab"):
        parts.append("**Treats:** " + md_escape(", ".join(CONDITION_NAMES.get(c, c.replace("-", " "))
                                                          for c in decision.covers)))
    if decision.order_reference:
        parts.append(f"**Draft order:** {md_escape(decision.order_reference)}")

    shown = [opt for opt in decision.alternatives if dose is None or opt != dose.as_option()]
    if shown:
        heading = "**Options (first preferred):**" if decision.topic in RECOMMENDING_TOPICS else "**Fits instead:**"
        lines = [heading, ""]
        for opt in shown:
            note = f" ({md_escape(opt.note)})" if opt.note.strip() else ""
            lines.append(f"- {md_escape(opt.display)}{note}")
        parts.append("\n".join(lines))
    if decision.missing:
        parts.append("\n".join(["**Missing or to record:**", ""] + [f"- {md_escape(m)}" for m in decision.missing]))
    cautions = [c for c in decision.cautions if not _repeats_an_option_note(c, shown)]
    if cautions:
        parts.append("\n".join(["**Check before acting:**", ""] + [f"- {md_escape(c)}" for c in cautions]))

    if notes:
        parts.append("\n".join(["**Ordering:**", ""] + [f"- {md_escape(n)}" for n in notes]))

    parts.append(f"Source: [{md_escape(decision.citation.label)}]({_url(decision.citation.url)})")
    return "\n\n".join(parts)


def _repeats_an_option_note(caution: str, options: list[TherapyOption]) -> bool:
    """'<display>: <text>' where <text> is already in that option's listed note: shown once is enough."""
    for opt in options:
        prefix = f"{opt.display}: "
        if caution.startswith(prefix) and opt.note.strip():
            rest = caution[len(prefix):].strip().rstrip(".")
            if rest and rest in opt.note:
                return True
    return False


def _differs(original: str | None, value: str) -> bool:
    """Show what the lab sent only when it differs from the canonical value (a conversion happened)."""
    if not original:
        return False
    squash = lambda text: "".join(unicodedata.normalize("NFKC", text).lower().split())  # noqa: E731
    return squash(original) != squash(value)




# --- forms before the second round of fast paths (commit 5d685b6) ---------------------------------


from cards.vocabulary import dose_unit_allowed, period_unit_allowed, route_coding  # noqa: E402

def not_codable(option, rxnorm) -> str | None:
    if not option.verified:
        return "the regimen is not verified from a label here"
    if option.dose_value is None or option.frequency is None or option.period is None \
            or not dose_unit_allowed(option.dose_unit) or not period_unit_allowed(option.period_unit):
        return "the regimen cannot be coded completely"
    if route_coding(option.route) is None:
        return "the route has no verified code here"
    if rxnorm(option.agent) is None:
        return "no verified RxNorm code"
    return None


def coded_regimen(option, rxnorm):
    from cards.suggestions import RXNORM_SYSTEM, UCUM_SYSTEM, _num
    if not_codable(option, rxnorm) is not None:
        return None
    route = route_coding(option.route)
    rxcui, display = rxnorm(option.agent)
    medication = {
        "coding": [{"system": RXNORM_SYSTEM, "code": rxcui, "display": display}],
        "text": option.agent.capitalize(),
    }
    dosage = {
        "text": option.display,
        "route": {"coding": [route], "text": option.route},
        "timing": {"repeat": {"frequency": option.frequency, "period": _num(option.period),
                              "periodUnit": option.period_unit}},
        "doseAndRate": [{"doseQuantity": {"value": _num(option.dose_value), "unit": option.dose_unit,
                                          "system": UCUM_SYSTEM, "code": option.dose_unit}}],
    }
    return medication, dosage
