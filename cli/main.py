"""`medcode`: serve, suggest codes for a file, manage the code-set catalog, and train,
evaluate and promote models."""

import argparse
import gc
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from app import log_hygiene
from app.config import Settings
from codes.errors import MedcodeError
from codes.systems import CodeSystem

logger = logging.getLogger("medcode")


def main(argv: Sequence[str] | None = None) -> int:
    # The subcommands' modules import most of medcode and its libraries: hundreds of
    # thousands of objects that stay, which collections during the imports only walk
    # again (0.3-0.4 s of a server's start). `serve` keeps the collector off until its
    # service is loaded (app.main.collector_paused turns it on); the others, once parsed.
    gc.disable()
    try:
        args = _parser().parse_args(argv)
    except BaseException:  # --help or a usage error: argparse exits
        gc.enable()
        raise
    if args.run is not _serve:
        gc.enable()
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # nmslib reports every index parameter at INFO; only its warnings matter to a user.
    log_hygiene.install()
    logging.getLogger("nmslib").setLevel(logging.WARNING)
    # Alembic names its backend on every connection; app.db.schema logs each migration.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result: int = args.run(args, settings)
    except (MedcodeError, ValueError) as exc:
        print(f"medcode: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medcode", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=_serve)

    suggest = commands.add_parser("suggest", help="suggest codes for a note file ('-' = stdin)")
    suggest.add_argument("file")
    suggest.add_argument("--system", action="append", choices=[s.value for s in CodeSystem])
    suggest.add_argument("--limit", type=int, default=30)
    suggest.add_argument("--setting", choices=["inpatient", "outpatient"])
    suggest.add_argument(
        "--conventions", choices=["us", "learned"], help="default: MEDCODE_CONVENTIONS (us)"
    )
    suggest.set_defaults(run=_suggest)

    codes = commands.add_parser("codes", help="the code-set catalog").add_subparsers(
        required=True, metavar="ACTION"
    )
    build = codes.add_parser("import", help="build the catalog from the data folder")
    build.add_argument("--data-dir", type=Path, help="default: MEDCODE_DATA_DIR")
    build.add_argument("--cpt", type=Path, help="a licensed CPT file: code and descriptor")
    build.set_defaults(run=_codes_import)

    search = codes.add_parser("search", help="search codes by prefix or words")
    search.add_argument("query")
    search.add_argument("--system", default="icd10cm", choices=[s.value for s in CodeSystem])
    search.add_argument("--limit", type=int, default=20)
    search.set_defaults(run=_codes_search)

    show = codes.add_parser("show", help="everything about one code")
    show.add_argument("system", choices=[s.value for s in CodeSystem])
    show.add_argument("code")
    show.set_defaults(run=_codes_show)

    from cli import batch_commands, db_commands, encounter_commands
    from cli.model_commands import add_commands

    add_commands(commands)
    batch_commands.add_commands(commands)
    db_commands.add_commands(commands)
    encounter_commands.add_commands(commands)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    # Off since main() (and here for any other caller): imports make hundreds of thousands
    # of objects that stay. build_suggest_service turns the collector back on.
    gc.disable()
    import uvicorn

    from app.main import build_suggest_service, create_app

    # Loaded before the port opens: a missing build is a clear error, not a 500 later.
    service = build_suggest_service(settings)
    if args.workers > 1:
        from app.main import open_database
        from cli.serve_workers import serve_forked

        open_database(settings).dispose()  # schema created or checked once, before the workers
        app = create_app(settings, service)
        serve_forked(app, args.host, args.port, args.workers, int(settings.shutdown_seconds))
    else:
        uvicorn.run(
            create_app(settings, service),
            host=args.host,
            port=args.port,
            timeout_graceful_shutdown=int(settings.shutdown_seconds),
            access_log=False,  # app.middleware.AccessLog logs requests without query strings
        )
    return 0


def _suggest(args: argparse.Namespace, settings: Settings) -> int:
    from app.main import build_suggest_service

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    if not text.strip():
        print("medcode: the note is empty", file=sys.stderr)
        return 2
    service = build_suggest_service(settings)
    systems = [CodeSystem(s) for s in args.system] if args.system else None
    result = service.suggest(text, systems, args.limit, args.setting, args.conventions)
    for s in result.suggestions:
        mark = "*" if s.recommended else " "
        evidence = "; ".join(f"{e.text!r}@{e.start} {e.assertion}" for e in s.evidence[:3])
        print(f"{mark} {s.score:.3f} {s.system.value:8} {s.code:9} {s.description}  [{evidence}]")
        for why in s.notes:
            print(f"{'':26}- {why}")
    return 0


def _codes_import(args: argparse.Namespace, settings: Settings) -> int:
    from codes.build import build_catalog
    from codes.catalog import Catalog
    from nlp.lexicon_build import build_reader_files

    data_dir = args.data_dir or settings.require_data_dir()
    manifest = build_catalog(data_dir, settings.catalog_dir, args.cpt)
    for system, facts in manifest["systems"].items():
        counts = f"{facts['codes']:>7} codes, {facts['billable']:>6} billable"
        print(f"{system:9} {counts}  ({facts['source']})")
    print(f"catalog written to {settings.catalog_dir}")
    reader = build_reader_files(Catalog.open(settings.catalog_dir), data_dir, settings.lexicon_dir)
    print(f"lexicon and linker written to {settings.lexicon_dir}: {reader['aliases']}")
    return 0


def _open_catalog(settings: Settings):  # type: ignore[no-untyped-def]
    from codes.catalog import Catalog

    return Catalog.open(settings.catalog_dir)


def _codes_search(args: argparse.Namespace, settings: Settings) -> int:
    catalog = _open_catalog(settings)
    for s in catalog.search(CodeSystem(args.system), args.query, args.limit):
        print(f"{s.code:9} {'B' if s.billable else ' '} {s.description}")
    return 0


def _codes_show(args: argparse.Namespace, settings: Settings) -> int:
    catalog = _open_catalog(settings)
    system = CodeSystem(args.system)
    record = catalog.record(system, args.code)
    detail = {
        "system": system.value,
        "code": record.code,
        "description": record.description,
        "billable": record.billable,
        "kind": record.kind,
        "validity": catalog.validate(system, record.code).reason,
        "parents": [f"{a.code} {a.description}" for a in catalog.ancestors(system, record.code)],
        "terms": list(record.terms),
        "notes": [f"{n.kind}: {n.text}" for n in record.notes],
        "attributes": [f"{k}: {v}" for k, v in record.attributes],
    }
    print(json.dumps(detail, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
