"""`medcode encounters import|export|purge`: notes into the review queue, reviewed encounters
out as labelled JSON Lines, old note text purged; and the review database as a training
source (`--data db`)."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, cast

from app.config import Settings
from app.db.repository import Repository
from app.services.intake import store_run
from app.services.retention import purge_older_than
from cli.db_commands import CLI_ACTOR, opened, repository
from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.artifacts import ArtifactStore
from models.guidelines import Setting
from models.profiles import Profile
from models.ranker_model import load_artifact
from models.suggester import Suggester
from nlp.pipeline import LinkingSettings, NoteReader
from training.encounters import EncounterRecord, JsonlSource, RecordsSource
from training.train import progress_bar

# How `medcode train --data` names the coders' reviewed encounters.
REVIEWED_SPEC = "db"


def add_commands(commands: Any) -> None:
    encounters = commands.add_parser(
        "encounters", help="the review queue's encounters"
    ).add_subparsers(required=True, metavar="ACTION")
    load = encounters.add_parser(
        "import", help="suggest codes for each note of a JSON Lines file and queue it for review"
    )
    load.add_argument("file", type=Path, help="JSON Lines: id, text, optional codes and setting")
    load.add_argument("--model", default="promoted", help="VERSION, latest or promoted")
    load.add_argument("--conventions", choices=[p.value for p in Profile])
    load.add_argument("--limit", type=int, default=30, help="suggestions kept per note")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(run=_import)
    export = encounters.add_parser("export", help="reviewed encounters as labelled JSON Lines")
    export.add_argument("--reviewed", type=Path, required=True, metavar="FILE.jsonl")
    export.set_defaults(run=_export)
    purge = encounters.add_parser(
        "purge", help="blank note text older than N days (codes and decisions stay)"
    )
    purge.add_argument(
        "--days", type=int, help="default: MEDCODE_RETENTION_DAYS (one of the two is needed)"
    )
    purge.set_defaults(run=_purge)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    # Read every line first: a bad line stops the import before anything is stored.
    notes = JsonlSource(args.file, codes_required=False).read(lambda _s, _c: True).encounters
    catalog = Catalog.open(settings.catalog_dir)
    linking = LinkingSettings(k=settings.link_k, threshold=settings.link_threshold)
    reader = NoteReader.load(settings.lexicon_dir, linking)
    info, model = load_artifact(ArtifactStore(settings.models_dir), args.model)
    suggester = Suggester.open(catalog)
    profile = Profile(args.conventions) if args.conventions else settings.conventions
    systems = [s for s in catalog.systems if s.value in model.systems]
    stored = 0
    with opened(settings) as database:
        for note in progress_bar(list(notes), not args.quiet, "importing notes"):
            setting = cast(Setting, note.setting)  # the reader lets only these through
            suggestions = suggester.suggest(
                model,
                reader,
                note.text,
                systems,
                setting,
                profile,
                args.limit,
            )
            # One transaction per note: an interrupted import keeps what it stored.
            with database.session_scope() as session:
                store_run(
                    session,
                    CLI_ACTOR,
                    note.id,
                    setting,
                    note.text,
                    info.version,
                    profile.value,
                    suggestions,
                )
            stored += 1
    print(f"{stored} encounters queued for review from {args.file} (model {info.version})")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    with repository(settings) as repo:
        reviewed = repo.reviewed_encounters()
        repo.audit_each(CLI_ACTOR, "encounter.export", (r.encounter_id for r in reviewed))
    with args.reviewed.open("w", encoding="utf-8") as out:
        for record in reviewed:
            line = {
                "id": _encounter_id(record.external_id, record.encounter_id),
                "text": record.note_text,
                "codes": [{"system": c.system, "code": c.code} for c in record.codes],
                "setting": record.setting.value if record.setting else None,
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{len(reviewed)} reviewed encounters written to {args.reviewed}", file=sys.stderr)
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    days = args.days if args.days is not None else settings.retention_days
    if days is None or days < 1:
        raise ValueError("say how old: --days N (N >= 1), or set MEDCODE_RETENTION_DAYS")
    with opened(settings) as database:
        purged = purge_older_than(database, days, CLI_ACTOR)
    print(f"note text of {purged} encounters received over {days} days ago purged")
    return 0


def reviewed_source(settings: Settings) -> RecordsSource:
    """The coders' reviewed encounters (their latest review each) as a training source."""
    with opened(settings) as database, database.session_scope() as session:
        repo = Repository(session)
        reviewed = repo.reviewed_encounters()
        repo.audit_each(CLI_ACTOR, "encounter.train", (r.encounter_id for r in reviewed))
        url = database.url
    records = [
        EncounterRecord(
            _encounter_id(r.external_id, r.encounter_id),
            r.note_text,
            tuple((CodeSystem(c.system), c.code) for c in r.codes),
            r.setting.value if r.setting else None,
        )
        for r in reviewed
    ]
    return RecordsSource(records, f"{REVIEWED_SPEC}:{url} (reviewed encounters)")


def _encounter_id(external_id: str | None, encounter_id: int) -> str:
    return external_id or f"encounter-{encounter_id}"
