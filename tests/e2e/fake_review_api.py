"""A stand-in for the review API of docs/review-api.md, in memory, for the browser tests only.

It answers as the contract says and records what the pages send, so tests can check the
requests (query strings, bodies, headers) a coder's clicks produce.
"""

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

NOTE = (
    "Chief complaint: cough and fever.\n"
    "\n"
    "History of present illness: 67-year-old man with type 2 diabetes mellitus with a foot ulcer"
    " on the right heel. He reports cough for 5 days. Denies chest pain. No shortness of breath.\n"
    "Past medical history: history of myocardial infarction in 2019.\n"
    "Family history: mother had breast cancer.\n"
    "\n"
    "Assessment and plan:\n"
    "1. Community-acquired pneumonia, right lower lobe. Start ceftriaxone.\n"
    "2. Type 2 diabetes mellitus with foot ulcer. Continue metformin.\n"
    "3. Possible urinary tract infection; urinalysis pending.\n"
    "4. If symptoms worsen, consider pulmonary embolism workup.\n"
    "<script>window.injected = true</script> <b>not bold</b>\n"
)

# (code, description, score, recommended, [(phrase, occurrence, section, assertion)], notes)
SUGGESTIONS: list[tuple[str, str, float, bool, list[tuple[str, int, str, str]], list[str]]] = [
    (
        "J18.9",
        "Pneumonia, unspecified organism",
        0.93,
        True,
        [("pneumonia", 0, "assessment_and_plan", "present")],
        [],
    ),
    (
        "E11.621",
        "Type 2 diabetes mellitus with foot ulcer",
        0.88,
        True,
        [
            (
                "type 2 diabetes mellitus with a foot ulcer",
                0,
                "history_of_present_illness",
                "present",
            ),
            ("Type 2 diabetes mellitus with foot ulcer", 0, "assessment_and_plan", "present"),
        ],
        ["combination code from the Alphabetic Index 'with' entry (I.A.15)"],
    ),
    (
        "I25.2",
        "Old myocardial infarction",
        0.74,
        True,
        [("myocardial infarction", 0, "past_medical_history", "historical")],
        ["history of I21.9 becomes I25.2 (I.C.9.e.4)"],
    ),
    (
        "L97.419",
        "Non-pressure chronic ulcer of right heel and midfoot with unspecified severity",
        0.71,
        True,
        [("foot ulcer on the right heel", 0, "history_of_present_illness", "present")],
        ["use additional code with E11.621 (I.A.13)"],
    ),
    (
        "Z80.3",
        "Family history of malignant neoplasm of breast",
        0.62,
        True,
        [("breast cancer", 0, "family_history", "family")],
        ["relative's condition (I.C.21.c.4)"],
    ),
    (
        "R05.9",
        "Cough, unspecified",
        0.55,
        False,
        [
            ("cough", 0, "chief_complaint", "present"),
            ("cough", 1, "history_of_present_illness", "present"),
        ],
        ["integral to J18.9 (I.B.5)"],
    ),
    (
        "R50.9",
        "Fever, unspecified",
        0.5,
        False,
        [("fever", 0, "chief_complaint", "present")],
        ["integral to J18.9 (I.B.5)"],
    ),
    (
        "N39.0",
        "Urinary tract infection, site not specified",
        0.41,
        False,
        [("urinary tract infection", 0, "assessment_and_plan", "possible")],
        ["uncertain diagnosis"],
    ),
    (
        "R07.9",
        "Chest pain, unspecified",
        0.32,
        False,
        [("chest pain", 0, "history_of_present_illness", "negated")],
        ["denied in the note"],
    ),
    (
        "R06.02",
        "Shortness of breath",
        0.3,
        False,
        [("shortness of breath", 0, "history_of_present_illness", "negated")],
        ["denied in the note"],
    ),
    (
        "I26.99",
        "Other pulmonary embolism without acute cor pulmonale",
        0.2,
        False,
        [("pulmonary embolism", 0, "assessment_and_plan", "hypothetical")],
        ["spoken of only hypothetically"],
    ),
]

CATALOG: list[tuple[str, str, str, bool]] = [
    ("icd10cm", "E11.62", "Type 2 diabetes mellitus with skin complications", False),
    ("icd10cm", "E11.621", "Type 2 diabetes mellitus with foot ulcer", True),
    ("icd10cm", "E11.9", "Type 2 diabetes mellitus without complications", True),
    ("icd10cm", "E78.00", "Pure hypercholesterolemia, unspecified", True),
    ("icd10cm", "E78.5", "Hyperlipidemia, unspecified", True),
    ("icd10cm", "I10", "Essential (primary) hypertension", True),
    ("icd10cm", "J18.1", "Lobar pneumonia, unspecified organism", True),
    ("icd10cm", "J18.9", "Pneumonia, unspecified organism", True),
    ("icd10cm", "L97.419", SUGGESTIONS[3][1], True),
    ("icd10cm", "R50.9", "Fever, unspecified", True),
    ("icd10cm", "Z79.84", "Long term (current) use of oral hypoglycemic drugs", True),
    (
        "icd10pcs",
        "0BJ08ZZ",
        "Inspection of Tracheobronchial Tree, Via Natural or Artificial Opening Endoscopic",
        True,
    ),
]


def _span(phrase: str, occurrence: int) -> tuple[int, int]:
    starts = [m.start() for m in re.finditer(re.escape(phrase), NOTE)]
    start = starts[occurrence]
    return start, start + len(phrase)


def suggestion_list() -> list[dict[str, Any]]:
    out = []
    for code, description, score, recommended, evidence, notes in SUGGESTIONS:
        spans = []
        for phrase, occurrence, section, assertion in evidence:
            start, end = _span(phrase, occurrence)
            spans.append(
                {
                    "start": start,
                    "end": end,
                    "text": NOTE[start:end],
                    "section": section,
                    "assertion": assertion,
                }
            )
        out.append(
            {
                "system": "icd10cm",
                "code": code,
                "description": description,
                "score": score,
                "recommended": recommended,
                "billable": True,
                "evidence": spans,
                "notes": notes,
            }
        )
    return out


ANALYTICS: dict[str, Any] = {
    "generated_at": "2026-12-08T09:00:00Z",
    "reviews": 128,
    "by_code": [
        {
            "system": "icd10cm",
            "code": c,
            "description": d,
            "recommended": n,
            "accepted": round(n * r),
            "rejected": n - round(n * r),
            "acceptance_rate": round(r, 3),
        }
        for c, d, n, r in [
            ("J18.9", "Pneumonia, unspecified organism", 44, 0.91),
            ("I10", "Essential (primary) hypertension", 40, 0.95),
            ("E11.9", "Type 2 diabetes mellitus without complications", 31, 0.71),
            ("N39.0", "Urinary tract infection, site not specified", 22, 0.64),
            ("R05.9", "Cough, unspecified", 18, 0.22),
            ("I25.2", "Old myocardial infarction", 12, 0.83),
            ("Z80.3", "Family history of malignant neoplasm of breast", 9, 0.89),
            ("R50.9", "Fever, unspecified", 8, 0.125),
        ]
    ],
    "by_model_version": [
        {
            "model_version": "20261101-a1b2c3",
            "reviews": 70,
            "recommended": 260,
            "accepted": 198,
            "rejected": 62,
            "added": 31,
            "acceptance_rate": 0.762,
        },
        {
            "model_version": "20261201-d4e5f6",
            "reviews": 58,
            "recommended": 214,
            "accepted": 181,
            "rejected": 33,
            "added": 19,
            "acceptance_rate": 0.846,
        },
    ],
    "by_rank": [
        {"rank": k, "suggested": 128, "accepted": a, "acceptance_rate": round(a / 128, 3)}
        for k, a in enumerate([119, 104, 88, 70, 51, 37, 25, 17, 11, 8], start=1)
    ],
    "missed": [
        {
            "system": "icd10cm",
            "code": "E78.5",
            "description": "Hyperlipidemia, unspecified",
            "added": 14,
            "suggested_not_recommended": 9,
        },
        {
            "system": "icd10cm",
            "code": "Z79.84",
            "description": CATALOG[10][2],
            "added": 11,
            "suggested_not_recommended": 2,
        },
    ],
    "most_rejected": [
        {
            "system": "icd10cm",
            "code": "R05.9",
            "description": "Cough, unspecified",
            "recommended": 18,
            "rejected": 14,
            "rejection_rate": 0.778,
            "reasons": [
                {"reason": "integral to J18.9", "count": 9},
                {"reason": "symptom", "count": 3},
            ],
        },
        {
            "system": "icd10cm",
            "code": "R50.9",
            "description": "Fever, unspecified",
            "recommended": 8,
            "rejected": 7,
            "rejection_rate": 0.875,
            "reasons": [],
        },
    ],
    "coders": [
        {"coder": "alice", "reviews": 71, "median_seconds": 88, "p90_seconds": 201},
        {"coder": "bob", "reviews": 57, "median_seconds": 132, "p90_seconds": 310},
    ],
    "throughput": [
        {"date": f"2026-11-{d:02d}", "reviews": n}
        for d, n in zip(range(23, 31), [9, 14, 17, 12, 0, 0, 21, 18], strict=True)
    ],
    "time_per_encounter": {
        "median_seconds": 104,
        "p90_seconds": 262,
        "histogram": [
            {"from_seconds": a, "to_seconds": a + 60, "reviews": n}
            for a, n in zip(range(0, 600, 60), [6, 31, 38, 22, 13, 8, 4, 3, 2, 1], strict=True)
        ],
    },
}


@dataclass
class FakeReviewApi:
    """The review API's contract over in-memory encounters; records every request it gets."""

    user: str = "alice"
    next_encounter_id: int | None = 2
    conflict_on_submit: bool = False
    queue_queries: list[dict[str, str]] = field(default_factory=list)
    claims: list[int] = field(default_factory=list)
    edit_requests: list[list[dict[str, str]]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    csrf_headers: list[str | None] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        received = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        statuses = ["new"] * 40 + ["in_review"] * 8 + ["reviewed"] * 12
        self.encounters: list[dict[str, Any]] = [
            {
                "id": i,
                "external_id": f"enc-{1000 + i}",
                "setting": "inpatient" if i % 3 else "outpatient",
                "status": status,
                "received_at": (received + timedelta(hours=5 * i))
                .isoformat()
                .replace("+00:00", "Z"),
                "model_version": "20261201-d4e5f6" if i % 2 else "20261101-a1b2c3",
                "top_score": round(0.5 + ((i * 37) % 50) / 100, 2),
                "recommended": 2 + i % 5,
                "claimed_by": "bob" if status == "in_review" else None,
                "claimed_until": None,
                "version": 1,
            }
            for i, status in enumerate(statuses, start=1)
        ]

    def reset(self) -> None:
        """Back to the data and empty records of a new instance (the routes keep `self`)."""
        self.__dict__.update(FakeReviewApi().__dict__)

    def find(self, encounter_id: int) -> dict[str, Any] | None:
        return next((e for e in self.encounters if e["id"] == encounter_id), None)

    def detail(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            **{
                k: item[k]
                for k in (
                    "id",
                    "external_id",
                    "setting",
                    "status",
                    "version",
                    "received_at",
                    "claimed_by",
                    "claimed_until",
                )
            },
            "text": NOTE,
            "run": {
                "id": 40 + item["id"],
                "model_version": item["model_version"],
                "conventions": "us",
                "created_at": item["received_at"],
                "suggestions": suggestion_list(),
            },
            "reviews": [],
            "audit": [],
        }

    def edits_for(self, codes: list[dict[str, str]]) -> dict[str, Any]:
        """A few of the real edit kinds, enough for the pages to show each severity."""
        names = [c["code"] for c in codes]
        edits = []
        if "E11.621" in names and not any(n.startswith(("L97.4", "L98.4")) for n in names):
            edits.append(
                {
                    "kind": "use_additional",
                    "severity": "warning",
                    "codes": ["E11.621"],
                    "message": "Use additional code to identify the site of the ulcer "
                    "(L97.41-, L97.42-, L98.41-).",
                    "guideline": "I.A.13",
                }
            )
        if "E11.62" in names:
            edits.append(
                {
                    "kind": "incomplete",
                    "severity": "hard_stop",
                    "codes": ["E11.62"],
                    "message": "E11.62 is a heading: choose a code with its 6th character.",
                    "guideline": "I.A.2",
                }
            )
        dx = [c for c in codes if c["system"] == "icd10cm"]
        if dx and dx[0]["code"].startswith("Z80"):
            edits.append(
                {
                    "kind": "sequencing",
                    "severity": "warning",
                    "codes": [dx[0]["code"]],
                    "message": "A family history code is not a principal diagnosis.",
                    "guideline": "I.C.21.c.16",
                }
            )
        return {"invalid": [], "edits": edits}

    def router(self) -> APIRouter:
        router = APIRouter()

        def record_csrf(request: Request) -> None:
            with self._lock:
                self.csrf_headers.append(request.headers.get("x-csrf-token"))

        def missing(encounter_id: int) -> JSONResponse:
            return JSONResponse(
                {"error": "not_found", "detail": f"no encounter {encounter_id}"}, status_code=404
            )

        @router.get("/api/review/encounters")
        def queue(request: Request) -> dict[str, Any]:
            q = dict(request.query_params)
            with self._lock:
                self.queue_queries.append(q)
            items = self.encounters
            for name, key in (
                ("status", "status"),
                ("setting", "setting"),
                ("model_version", "model_version"),
                ("assigned_to", "claimed_by"),
            ):
                if q.get(name):
                    items = [e for e in items if e[key] == q[name]]
            if q.get("received_from"):
                items = [e for e in items if e["received_at"][:10] >= q["received_from"]]
            if q.get("received_to"):
                items = [e for e in items if e["received_at"][:10] <= q["received_to"]]
            if q.get("sort") == "confidence":
                items = sorted(items, key=lambda e: (e["top_score"], e["id"]))
            page, size = int(q.get("page", 1)), int(q.get("page_size", 50))
            counts = {
                s: sum(e["status"] == s for e in self.encounters)
                for s in ("new", "in_review", "reviewed")
            }
            return {
                "items": items[(page - 1) * size : page * size],
                "total": len(items),
                "page": page,
                "page_size": size,
                "counts": counts,
            }

        @router.get("/api/review/encounters/{encounter_id}")
        def encounter(encounter_id: int, response: Response) -> Any:
            item = self.find(encounter_id)
            if item is None:
                return missing(encounter_id)
            response.headers["ETag"] = f'"{item["version"]}"'
            return self.detail(item)

        @router.post("/api/review/encounters/{encounter_id}/claim")
        def claim(encounter_id: int, request: Request) -> Any:
            record_csrf(request)
            item = self.find(encounter_id)
            if item is None:
                return missing(encounter_id)
            until = (datetime.now(UTC) + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
            if item["claimed_by"] not in (None, self.user):
                return JSONResponse(
                    {
                        "error": "claimed",
                        "detail": {"claimed_by": item["claimed_by"], "claimed_until": until},
                    },
                    status_code=409,
                )
            with self._lock:
                self.claims.append(encounter_id)
            item.update(claimed_by=self.user, claimed_until=until, status="in_review")
            return {"claimed_by": self.user, "claimed_until": until, "version": item["version"]}

        @router.post("/api/review/encounters/{encounter_id}/edits")
        async def edits(encounter_id: int, request: Request) -> Any:
            record_csrf(request)
            body = await request.json()
            with self._lock:
                self.edit_requests.append(body["codes"])
            return self.edits_for(body["codes"])

        @router.post("/api/review/encounters/{encounter_id}/review")
        async def submit(encounter_id: int, request: Request) -> Any:
            record_csrf(request)
            body = await request.json()
            item = self.find(encounter_id)
            if item is None:
                return missing(encounter_id)
            with self._lock:
                self.submissions.append(
                    {
                        "body": body,
                        "if_match": request.headers.get("if-match"),
                        "content_type": request.headers.get("content-type"),
                    }
                )
            if self.conflict_on_submit or request.headers.get("if-match") != f'"{item["version"]}"':
                current = {**self.detail(item), "version": item["version"] + 1}
                return JSONResponse(
                    {"error": "stale_version", "detail": {"current": current}}, status_code=409
                )
            found = self.edits_for(body["codes"])["edits"]
            if any(e["severity"] == "hard_stop" for e in found):
                return JSONResponse({"error": "hard_stops", "detail": found}, status_code=422)
            if found and not body.get("acknowledge_warnings"):
                return JSONResponse(
                    {"error": "unacknowledged_warnings", "detail": found}, status_code=422
                )
            item.update(status="reviewed", version=item["version"] + 1)
            return JSONResponse(
                {
                    "review_id": len(self.submissions),
                    "version": item["version"],
                    "next_encounter_id": self.next_encounter_id,
                },
                status_code=201,
            )

        @router.get("/api/review/analytics")
        def analytics() -> dict[str, Any]:
            return ANALYTICS

        @router.get("/codes/search")
        def search(q: str, system: str = "icd10cm", limit: int = 20) -> dict[str, Any]:
            words = q.lower().split()
            hits = [
                {
                    "system": s,
                    "code": c,
                    "description": d,
                    "billable": b,
                    "kind": "code" if b else "heading",
                }
                for s, c, d, b in CATALOG
                if s == system
                and (c.lower().startswith(q.lower().strip()) or all(w in d.lower() for w in words))
            ]
            return {"system": system, "query": q, "results": hits[:limit]}

        return router
