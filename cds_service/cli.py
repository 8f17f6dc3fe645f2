"""`omalizumab-cds`: serve the service, evaluate one request offline, report feedback, migrate."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Sequence


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server import ServeRefused, serve

    try:
        serve(host=args.host, port=args.port, workers=args.workers, threads=args.threads,
              timeout=args.timeout)
    except ServeRefused as exc:
        print(f"omalizumab-cds serve: {exc.code}", file=sys.stderr)
        return 2
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .errors import PrefetchUnavailable
    from .pipeline import evaluate
    from .services import HOOKS
    from .settings import Settings, SettingsError
    from .validation import hook_request_problems, json_depth_exceeds

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        with open(args.request, encoding="utf-8-sig") as fh:
            body = json.load(fh)
    except OSError as exc:
        print(f"cannot read {args.request}: {exc.strerror}", file=sys.stderr)
        return 2
    except (ValueError, RecursionError) as exc:
        print(f"{args.request} is not valid JSON: {exc}", file=sys.stderr)
        return 2
    problems = (["JSON nested too deeply"] if json_depth_exceeds(body, settings.max_json_depth)
                else hook_request_problems(body, HOOKS))
    if problems:
        print("invalid request:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    from .pipeline import client_for_request

    client = client_for_request(body, settings, allowed_bases=settings.fhir_servers_without_issuer())
    if body.get("fhirServer") and not client:
        print(f"note: not reading fhirServer ({client.reason}); set CDS_ALLOWED_FHIR_SERVERS "
              "(and CDS_ALLOW_OPEN_FHIR=1 for a server without a token) to let evaluate fetch",
              file=sys.stderr)
    try:
        result = evaluate(body, settings=settings, fhir_client=client)
    except PrefetchUnavailable as exc:
        print(json.dumps(exc.operation_outcome(), indent=2), file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print(format_cards(result.get("cards") or []))
    return 0


def format_cards(cards: list[dict]) -> str:
    """A readable table: indicator, topic, summary; suggestions and links under each card."""
    if not cards:
        return "No cards (no guidance for this request)."
    rows = []
    for card in cards:
        topic = ((card.get("source") or {}).get("topic") or {}).get("code", "")
        rows.append((card.get("indicator", ""), topic, card.get("summary", "")))
    w1 = max(len("INDICATOR"), *(len(r[0]) for r in rows))
    w2 = max(len("TOPIC"), *(len(r[1]) for r in rows))
    lines = [f"{'INDICATOR':<{w1}}  {'TOPIC':<{w2}}  SUMMARY", f"{'-' * w1}  {'-' * w2}  {'-' * 7}"]
    for card, (ind, topic, summary) in zip(cards, rows):
        lines.append(f"{ind:<{w1}}  {topic:<{w2}}  {summary}")
        pad = " " * (w1 + w2 + 4)
        for sug in card.get("suggestions") or ():
            mark = " (recommended)" if sug.get("isRecommended") else ""
            lines.append(f"{pad}-> suggestion: {sug.get('label', '')}{mark}")
        source = card.get("source") or {}
        if source.get("label"):
            lines.append(f"{pad}   source: {source['label']}")
    return "\n".join(lines)


def _cmd_feedback_report(args: argparse.Namespace) -> int:
    from .db import make_engine, upgrade
    from .report import feedback_report, format_report
    from .settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
        engine = make_engine(settings.database_url)
        upgrade(engine)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001
        print(f"database unavailable ({type(exc).__name__})", file=sys.stderr)
        return 2
    report = feedback_report(engine)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from .db import make_engine, upgrade
    from .settings import Settings

    upgrade(make_engine(Settings.from_env().database_url), args.revision)
    print(f"database at {args.revision}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omalizumab-cds",
        description="CDS Hooks 2.0 service: type-2 phenotype, omalizumab dosing, cyclosporine safety.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            configuration comes from CDS_* environment variables (see README), e.g.
              CDS_AUTH=off CDS_DEMO=1 omalizumab-cds serve        # local demo on 127.0.0.1:8080
        """))
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service with gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=None, help="threads per worker (default 1, 8 in demo mode: evaluation is CPU-bound and threads contend for the GIL; raise it when the EHR sends no prefetch and the service waits on FHIR fetches). 1 runs gunicorn's sync workers (no keep-alive: run behind a reverse proxy), more runs gthread workers")
    serve.add_argument("--timeout", type=int, default=30, help="worker timeout in seconds")
    serve.set_defaults(func=_cmd_serve)

    ev = sub.add_parser("evaluate", help="run one hook request without a server and print the cards")
    ev.add_argument("request", metavar="REQUEST.json")
    ev.add_argument("--json", action="store_true", help="print the exact response JSON")
    ev.set_defaults(func=_cmd_evaluate)

    rep = sub.add_parser("feedback-report", help="accept/override rates and override reasons per topic")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(func=_cmd_feedback_report)

    mig = sub.add_parser("migrate", help="apply database migrations (serve does this itself)")
    mig.add_argument("revision", nargs="?", default="head")
    mig.set_defaults(func=_cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
