"""`medcode train`, `medcode evaluate` and `medcode models list|promote|rollback`."""

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.config import Settings
from cli.encounter_commands import REVIEWED_SPEC, reviewed_source
from codes.catalog import Catalog
from codes.systems import CodeSystem
from models.artifacts import ArtifactStore
from models.profiles import Profile
from models.ranker_model import FORMAT_VERSION, KIND, RankerModel, load_artifact
from models.suggester import Suggester
from models.suggestions import ScoredCode
from nlp.pipeline import LinkingSettings, NoteReader
from training.conventions_check import CodedNote, check, format_report, read_coded_notes
from training.encounters import EncounterSet, open_source
from training.evaluation import (
    Predictions,
    baseline_predictions,
    figures,
    gold_by_system,
    predict,
    system_evaluations,
)
from training.report import write_report
from training.train import TrainingParameters, train

logger = logging.getLogger("medcode")

CODIESP_ATTRIBUTION = "CodiEsp corpus, Barcelona Supercomputing Center (CC BY 4.0)"


def add_commands(commands: Any) -> None:
    trainer = commands.add_parser(
        "train",
        help="train a model; with no --data, the default model on CodiEsp train+dev, promoted",
    )
    trainer.add_argument(
        "--data",
        help="codiesp[:splits] (the data folder's CodiEsp, e.g. codiesp:train),"
        " codiesp:<folder>[:train,dev], a .jsonl file (docs/jsonl-format.md), or db (the"
        " coders' reviewed encounters); default: CodiEsp train and dev of the data folder",
    )
    trainer.add_argument("--seed", type=int, default=0)
    trainer.add_argument("--folds", type=int, default=TrainingParameters.folds)
    trainer.add_argument(
        "--promote",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve the new model (default: only for the default model)",
    )
    trainer.add_argument("--quiet", action="store_true", help="no progress bar")
    trainer.set_defaults(run=_train)

    evaluator = commands.add_parser(
        "evaluate", help="score a model on labelled data, with a report"
    )
    evaluator.add_argument("--model", default="promoted", help="a version, latest or promoted")
    evaluator.add_argument("--data", required=True, help="labelled encounters, as for train")
    evaluator.add_argument("--out", type=Path, help="report folder (default var/reports/...)")
    evaluator.add_argument(
        "--no-baseline", action="store_true", help="skip the TF-IDF + logistic regression baseline"
    )
    evaluator.add_argument(
        "--conventions",
        choices=[*(p.value for p in Profile), "both"],
        default="both",
        help="the coding conventions to score under, as /suggest applies them (default both)",
    )
    evaluator.add_argument(
        "--setting",
        choices=["inpatient", "outpatient"],
        help="the encounter setting the notes are scored in (default: not given)",
    )
    evaluator.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluator.set_defaults(run=_evaluate)

    checker = commands.add_parser(
        "check-conventions",
        help="score the suggestions on hand-coded notes: claim recall, precision, forbidden codes",
    )
    checker.add_argument("--notes", type=Path, required=True, help="coded notes (JSON Lines)")
    checker.add_argument("--model", default="promoted", help="a version, latest or promoted")
    checker.add_argument(
        "--conventions", choices=[*(p.value for p in Profile), "both"], default="both"
    )
    checker.add_argument("--out", type=Path, help="also write the figures here as JSON")
    checker.set_defaults(run=_check_conventions)

    registry = commands.add_parser("models", help="model versions").add_subparsers(
        required=True, metavar="ACTION"
    )
    registry.add_parser("list", help="versions, newest first").set_defaults(run=_list)
    promote = registry.add_parser("promote", help="serve a version")
    promote.add_argument("version")
    promote.set_defaults(run=_promote)
    registry.add_parser("rollback", help="serve the previous version").set_defaults(run=_rollback)


def default_training_data(settings: Settings) -> str:
    return f"codiesp:{settings.require_data_dir() / 'codiesp'}:train,dev"


def resolve_spec(spec: str, settings: Settings) -> str:
    """`codiesp` or `codiesp:<splits>` (e.g. `codiesp:dev`) means the data folder's copy."""
    head, _, splits = spec.partition(":")
    if head == "codiesp" and "/" not in splits and "\\" not in splits:
        folder = settings.require_data_dir() / "codiesp"
        return f"codiesp:{folder}:{splits or 'train,dev'}"
    return spec


def _reader(settings: Settings) -> tuple[Catalog, NoteReader]:
    catalog = Catalog.open(settings.catalog_dir)
    linking = LinkingSettings(k=settings.link_k, threshold=settings.link_threshold)
    return catalog, NoteReader.load(settings.lexicon_dir, linking)


def _read(spec: str, catalog: Catalog, settings: Settings) -> EncounterSet:
    source = reviewed_source(settings) if spec == REVIEWED_SPEC else open_source(spec)
    found = source.read(lambda system, code: catalog.get(system, code) is not None)
    if not found.encounters:
        raise ValueError(f"{spec}: no encounters")
    left_out = found.problem_counts()
    if left_out:
        examples = ", ".join(
            f"{p.encounter_id}:{p.system}:{p.raw_code} ({p.reason})" for p in found.problems[:5]
        )
        print(
            f"{len(found.problems)} codes left out ({left_out}), e.g. {examples}",
            file=sys.stderr,
        )
    return found


def _train(args: argparse.Namespace, settings: Settings) -> int:
    default = args.data is None
    spec = default_training_data(settings) if default else resolve_spec(args.data, settings)
    promote = default if args.promote is None else args.promote
    catalog, reader = _reader(settings)
    data = _read(spec, catalog, settings)
    parameters = replace(TrainingParameters(), seed=args.seed, folds=args.folds)
    result = train(data.encounters, reader, catalog, parameters, progress=not args.quiet)
    about: dict[str, Any] = {
        "data": {
            "spec": spec,
            "source": data.source,
            "encounters": len(data.encounters),
            "codes_left_out": data.problem_counts(),
            # How many encounters are coders' reviews (the review database), not files.
            "from_reviews": len(data.encounters) if spec == REVIEWED_SPEC else 0,
        },
        "training_seconds": round(result.seconds, 1),
        "catalog_built_at": catalog.manifest["built_at"],
        "lexicon": reader.provenance,
    }
    if spec.startswith("codiesp:"):
        about["attribution"] = CODIESP_ATTRIBUTION

    def write(folder: Path) -> dict[str, Any]:
        return result.model.save(folder) | about

    store = ArtifactStore(settings.models_dir)
    info = store.create(
        write,
        kind=KIND,
        format_version=FORMAT_VERSION,
        parameters=parameters.as_dict(),
        data_fingerprint=data.fingerprint,
        metrics={"out_of_fold": result.out_of_fold},
    )
    reviews = about["data"]["from_reviews"]
    print(
        f"model {info.version} trained on {len(data.encounters)} encounters"
        + (f" ({reviews} from coders' reviews)" if reviews else "")
        + f" in {result.seconds:.0f} s: {info.path}"
    )
    for system, figures_ in sorted(result.out_of_fold.items()):
        print(f"  {system}: out-of-fold MAP {figures_['map']:.3f}, F1 {figures_['f1']:.3f}")
    if promote:
        store.promote(info.version)
        print(f"promoted {info.version}: the service serves it")
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    started = time.perf_counter()
    store = ArtifactStore(settings.models_dir)
    info, model = load_artifact(store, args.model)
    catalog, reader = _reader(settings)
    suggester = Suggester.open(catalog)
    spec = resolve_spec(args.data, settings)
    data = _read(spec, catalog, settings)
    gold = gold_by_system(data.encounters, model.systems)
    baseline = None if args.no_baseline else _baseline(info.metadata, data, model, catalog)
    profiles = list(Profile) if args.conventions == "both" else [Profile(args.conventions)]
    out = args.out or settings.var_dir / "reports" / f"{info.version}-{data.fingerprint[:8]}"
    recorded: dict[str, Any] = {"data": spec, "data_fingerprint": data.fingerprint}
    for profile in profiles:
        predictions = predict(
            model, data.encounters, reader, suggester, profile, args.setting, not args.quiet
        )
        results = figures(predictions, gold)
        about = {
            "model": info.version,
            "data": spec,
            "data_fingerprint": data.fingerprint,
            "conventions": profile.value,
            "setting": args.setting,
            "encounters": len(data.encounters),
            "trained_on": info.metadata.get("data", {}).get("spec"),
            "attribution": info.metadata.get("attribution"),
            "seconds": round(time.perf_counter() - started, 1),
        }
        evaluations = system_evaluations(predictions, baseline, gold, model.signals.priors_.notes)
        metrics_path, report_path = write_report(out / profile.value, evaluations, about)
        recorded[profile.value] = {s: r.as_dict() for s, r in results.items()}
        print(f"conventions {profile.value}:")
        for system, result in sorted(results.items()):
            print(
                f"  {system}: MAP {result.map:.3f}  MAP@{result.k} {result.map_at_k:.3f}"
                f"  category MAP {result.map_category:.3f}  P {result.precision:.3f}"
                f" R {result.recall:.3f} F1 {result.f1:.3f}"
                f"  candidate recall {result.candidate_recall:.3f}  ({result.cases} cases)"
            )
        print(f"  report: {report_path}\n  metrics: {metrics_path}")
    store.add_metrics(info.version, recorded)
    return 0


def _check_conventions(args: argparse.Namespace, settings: Settings) -> int:
    store = ArtifactStore(settings.models_dir)
    info, model = load_artifact(store, args.model)
    catalog, reader = _reader(settings)
    suggester = Suggester.open(catalog)
    notes = read_coded_notes(args.notes)
    systems = [CodeSystem(s) for s in model.systems]
    profiles = list(Profile) if args.conventions == "both" else [Profile(args.conventions)]
    figures_: dict[str, Any] = {"model": info.version, "notes": str(args.notes)}
    for profile in profiles:

        def suggest(note: CodedNote, profile: Profile = profile) -> list[ScoredCode]:
            setting = note.setting if note.setting in ("inpatient", "outpatient") else None
            return suggester.suggest(model, reader, note.text, systems, setting, profile)  # type: ignore[arg-type]

        report = check(notes, suggest)
        figures_[profile.value] = report.as_dict()
        print(f"conventions {profile.value} ({len(notes)} notes, model {info.version}):")
        print(format_report(report))
    if args.out:
        args.out.write_text(json.dumps(figures_, indent=2), encoding="utf-8")
        print(f"figures: {args.out}")
    return 0


def _baseline(
    metadata: dict[str, Any], evaluated: EncounterSet, model: RankerModel, catalog: Catalog
) -> Predictions | None:
    spec = (metadata.get("data") or {}).get("spec")
    if not spec:
        print("no baseline: the model does not say what it was trained on", file=sys.stderr)
        return None
    training = open_source(spec).read(lambda s, c: catalog.get(s, c) is not None)
    return baseline_predictions(training.encounters, evaluated.encounters, model.systems)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    store = ArtifactStore(settings.models_dir)
    promoted = store.promoted()
    for info in store.list():
        mark = "*" if promoted is not None and promoted.version == info.version else " "
        data = (info.metadata.get("data") or {}).get("spec", "")
        print(f"{mark} {info.version}  {info.created_at}  {data}")
    return 0


def _promote(args: argparse.Namespace, settings: Settings) -> int:
    store = ArtifactStore(settings.models_dir)
    info, _ = load_artifact(store, args.version)  # never promote what cannot be served
    store.promote(info.version)
    print(
        f"promoted {info.version}; running services switch to it within"
        f" {settings.model_poll_seconds:g} s"
    )
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    info = ArtifactStore(settings.models_dir).rollback()
    print(f"rolled back: {info.version} is promoted again")
    return 0
