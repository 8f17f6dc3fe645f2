"""Feedback analytics per card topic: how often clinicians accept or override, and why.

Counts feedback entries joined to the card log.  Cards never logged (unknown uuids) are reported
under the topic "(unknown card)".  Free-text comments are counted, never printed (they may hold PHI).
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from .models import Feedback, ReturnedCard

UNKNOWN = "(unknown card)"


def feedback_report(engine: Engine) -> dict:
    topics: dict[str, dict] = {}

    def topic_entry(name: str) -> dict:
        return topics.setdefault(name, {"topic": name, "cards_returned": 0, "cards_with_feedback": 0,
                                        "accepted": 0, "overridden": 0, "comments": 0,
                                        "override_reasons": []})

    with engine.connect() as conn:
        for topic, count in conn.execute(
                select(ReturnedCard.topic, func.count()).group_by(ReturnedCard.topic)):
            topic_entry(topic or "(no topic)")["cards_returned"] = count
        topic_col = func.coalesce(Feedback.topic, UNKNOWN)
        for topic, outcome, count, cards in conn.execute(
                select(topic_col, Feedback.outcome, func.count(), func.count(Feedback.card_uuid.distinct()))
                .group_by(topic_col, Feedback.outcome)):
            entry = topic_entry(topic)
            entry[outcome] = count
        for topic, cards in conn.execute(
                select(topic_col, func.count(Feedback.card_uuid.distinct())).group_by(topic_col)):
            topic_entry(topic)["cards_with_feedback"] = cards
        for topic, count in conn.execute(
                select(topic_col, func.count()).where(Feedback.user_comment.is_not(None))
                .group_by(topic_col)):
            topic_entry(topic)["comments"] = count
        for topic, system, code, display, count in conn.execute(
                select(topic_col, Feedback.override_system, Feedback.override_code,
                       func.max(Feedback.override_display), func.count())
                .where(Feedback.outcome == "overridden", Feedback.override_code.is_not(None))
                .group_by(topic_col, Feedback.override_system, Feedback.override_code)
                .order_by(func.count().desc())):
            topic_entry(topic)["override_reasons"].append(
                {"system": system, "code": code, "display": display, "count": count})
    for entry in topics.values():
        total = entry["accepted"] + entry["overridden"]
        entry["accept_rate"] = round(entry["accepted"] / total, 3) if total else None
        entry["override_rate"] = round(entry["overridden"] / total, 3) if total else None
    return {"topics": sorted(topics.values(), key=lambda e: e["topic"])}


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def format_report(report: dict) -> str:
    rows = report["topics"]
    if not rows:
        return "No cards or feedback recorded yet."
    width = max(len("TOPIC"), *(len(r["topic"]) for r in rows))
    lines = [f"{'TOPIC':<{width}}  CARDS  FEEDBACK  ACCEPTED  OVERRIDDEN  ACCEPT%  OVERRIDE%"]
    for r in rows:
        lines.append(f"{r['topic']:<{width}}  {r['cards_returned']:>5}  {r['cards_with_feedback']:>8}  "
                     f"{r['accepted']:>8}  {r['overridden']:>10}  {_pct(r['accept_rate']):>7}  "
                     f"{_pct(r['override_rate']):>9}")
    reasons = [(r["topic"], x) for r in rows for x in r["override_reasons"]]
    if reasons:
        lines += ["", "Override reasons:"]
        for topic, x in reasons:
            label = x["display"] or x["code"]
            lines.append(f"  {topic}: {label} ({x['code']}) x{x['count']}")
    comments = sum(r["comments"] for r in rows)
    if comments:
        lines.append(f"\n{comments} override comment(s) recorded (not shown: free text may hold PHI).")
    return "\n".join(lines)
