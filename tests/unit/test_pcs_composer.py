"""Complete ICD-10-PCS codes composed from procedure statements, on the real FY2026 tables.

Each statement is what a surgeon or a discharge summary writes; the expected code is the one
a coder assigns from the FY2026 tables and the PCS guidelines named beside it.
"""

from pathlib import Path

import pytest

from codes.catalog import Catalog
from codes.icd10pcs import read_icd10pcs
from codes.pcs_structure import PCS_STRUCTURE_FILE, save_pcs_structure
from codes.systems import CodeSystem
from codes.text import words
from nlp.aliases import Alias
from nlp.mentions import Assertion, CandidateSource
from nlp.pcs_composer import ComposedCode, PcsComposer
from nlp.pipeline import NoteReader, build_language
from nlp.term_matcher import group_phrases

FIXTURE = Path(__file__).parents[1] / "fixtures" / "data" / "cms" / "icd10pcs"


@pytest.fixture(scope="module")
def composer(catalog: Catalog) -> PcsComposer:
    return PcsComposer(catalog.pcs_structure())


def best(composer: PcsComposer, text: str) -> ComposedCode:
    found = composer.compose_text(text)
    assert found, f"nothing composed from {text!r}"
    return found[0]


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        # Resection of the whole sigmoid colon (B3.8), laparoscopic: Percutaneous Endoscopic.
        ("The patient underwent laparoscopic sigmoid colectomy.", "0DTN4ZZ"),
        ("Open appendectomy was performed.", "0DTJ0ZZ"),
        ("Laparoscopic appendectomy.", "0DTJ4ZZ"),
        # Reduction of a displaced fracture is Reposition (B3.15), fixation its device.
        ("Open reduction and internal fixation of the right tibial shaft fracture.", "0QSG04Z"),
        ("Open reduction of the left tibial shaft with an intramedullary nail.", "0QSH06Z"),
        ("She underwent ORIF of the left distal radius with a volar plate.", "0PSJ04Z"),
        ("Closed reduction of the right tibial fracture.", "0QSGXZZ"),
        # Total knee: Replacement with Synthetic Substitute; the qualifier as documented.
        ("Right total knee replacement.", "0SRC0JZ"),
        ("Left total knee arthroplasty, cemented.", "0SRD0J9"),
        ("Right total knee arthroplasty with a cementless prosthesis.", "0SRC0JA"),
        # A biopsy is an Excision with the qualifier Diagnostic (B3.4a).
        ("EGD with biopsy of the stomach.", "0DB68ZX"),
        ("Colonoscopy was performed.", "0DJD8ZZ"),
        ("CT-guided percutaneous biopsy of the right kidney.", "0TB03ZX"),
        ("Percutaneous biopsy of the left kidney.", "0TB13ZX"),
        ("A drug-eluting stent was placed percutaneously in the LAD.", "027034Z"),
        ("Exploratory laparotomy.", "0WJG0ZZ"),
        ("Cystoscopy showed a normal bladder.", "0TJB8ZZ"),
        ("A Foley catheter was placed.", "0T9B70Z"),
        # Imaging: the contrast and the qualifiers are None when not stated.
        ("Ultrasound of the kidneys.", "BT43ZZZ"),
        ("Ultrasound of the right kidney.", "BT41ZZZ"),
        ("Abdominal CT without contrast.", "BW20ZZZ"),
        ("Testicular Doppler ultrasound showed a mass.", "BV44ZZZ"),
        # Measurement: an ECG's electrodes lie on the skin (External), it records
        # electrical activity.
        ("The ECG showed sinus rhythm.", "4A02X4Z"),
        ("The fundus examination of the left eye showed hemorrhages.", "08J1XZZ"),
    ],
)
def test_a_plain_procedure_statement_gives_its_complete_code(
    composer: PcsComposer, statement: str, code: str
) -> None:
    assert best(composer, statement).code == code


def test_each_procedure_of_a_sentence_is_composed_from_its_own_words(
    composer: PcsComposer,
) -> None:
    text = (
        "Cardiac catheterization with placement of a drug-eluting stent in the left"
        " anterior descending artery."
    )
    statement = composer.statement(words(text))
    stent = words(text).index("stent")
    catheterization = words(text).index("catheterization")

    placed = composer.compose(statement, (stent, stent))
    measured = composer.compose(statement, (catheterization - 1, catheterization))

    # The stent went in through the catheter: Dilation, Percutaneous, Drug-eluting.
    assert placed[0].code == "027034Z"
    # The catheterization itself: Measurement, Cardiac, Sampling and Pressure; which side of
    # the heart is not said, so each stays possible.
    assert {c.code for c in measured} >= {"4A023N6", "4A023N7", "4A023N8"}
    assert "qualifier not stated" in measured[0].reason


def test_left_and_right_give_different_body_parts(composer: PcsComposer) -> None:
    right = best(composer, "Right total knee replacement.")
    left = best(composer, "Left total knee replacement.")

    assert (right.code, left.code) == ("0SRC0JZ", "0SRD0JZ")
    assert "Knee Joint, Right" in right.reason and "Knee Joint, Left" in left.reason


def test_without_a_side_both_sides_stay_possible_and_count_less(composer: PcsComposer) -> None:
    found = composer.compose_text("Percutaneous biopsy of the kidney.")
    with_side = best(composer, "Percutaneous biopsy of the left kidney.")

    assert {"0TB03ZX", "0TB13ZX"} <= {c.code for c in found}
    assert max(c.similarity for c in found) < with_side.similarity
    assert "side not stated" in found[0].reason


def test_an_unstated_approach_is_said_and_lowers_the_similarity(composer: PcsComposer) -> None:
    found = composer.compose_text("Appendectomy.")
    laparoscopic = best(composer, "Laparoscopic appendectomy.")

    assert {"0DTJ0ZZ", "0DTJ4ZZ"} <= {c.code for c in found}
    assert all("approach not stated" in c.reason for c in found)
    assert max(c.similarity for c in found) < laparoscopic.similarity


def test_a_biopsy_by_another_approach_keeps_the_diagnostic_qualifier(
    composer: PcsComposer,
) -> None:
    endoscopic = best(composer, "Bronchoscopy with biopsy of the right upper lobe bronchus.")
    open_biopsy = best(composer, "Open biopsy of the liver.")

    assert endoscopic.code == "0BB48ZX"  # 4: Upper Lobe Bronchus, Right
    assert open_biopsy.code == "0FB00ZX"


def test_a_partial_resection_is_an_excision(composer: PcsComposer) -> None:
    assert best(composer, "Laparoscopic partial colectomy of the sigmoid.").code == "0DBN4ZZ"


def test_the_reason_says_which_words_chose_which_value(composer: PcsComposer) -> None:
    composed = best(composer, "The patient underwent laparoscopic sigmoid colectomy.")

    assert "Resection: 'colectomy'" in composed.reason
    assert "Percutaneous Endoscopic: 'laparoscopic'" in composed.reason
    assert composed.title == "Resection of Sigmoid Colon, Percutaneous Endoscopic Approach"
    assert composed.similarity > 0.9


@pytest.mark.parametrize(
    "statement",
    [
        "The patient was discharged home in good condition.",
        "Blood pressure was under control.",
        "Ultrasound showed dilation of the common bile duct.",
        "Pain in the right knee.",
        "",
    ],
)
def test_a_sentence_naming_no_procedure_gives_nothing(
    composer: PcsComposer, statement: str
) -> None:
    found = composer.compose_text(statement)

    assert [c.code for c in found if c.code.startswith("0")] == []


STATEMENTS = [
    "Laparoscopic cholecystectomy converted to open.",
    "Right hemicolectomy and ileostomy.",
    "Tracheostomy.",
    "Left nephrectomy.",
    "Transurethral resection of the prostate.",
    "Vaginal hysterectomy with bilateral salpingo-oophorectomy.",
    "Arthroscopic partial meniscectomy of the left knee.",
    "Percutaneous drainage of a liver abscess.",
    "MRI of the brain with contrast.",
    "Chest x-ray.",
    "Transfusion of red blood cells.",
    "Excision of a skin lesion of the back.",
    "Amputation of the right great toe.",
    "Lithotripsy of a left ureteral stone.",
    "Angioplasty of the left femoral artery with a stent.",
]


def test_a_code_is_never_composed_outside_the_tables(
    composer: PcsComposer, catalog: Catalog
) -> None:
    composed = [c for text in STATEMENTS for c in composer.compose_text(text)]

    assert len(composed) >= len(STATEMENTS)
    for code in composed:
        summary = catalog.get(CodeSystem.ICD10PCS, code.code)
        assert summary is not None and summary.billable, code
        assert 0.0 < code.similarity <= 1.0


def test_composing_is_bounded(composer: PcsComposer) -> None:
    text = " ".join(STATEMENTS)

    assert len(composer.compose_text(text)) <= composer.limits.codes


# --- Small data, the saved folder, and the note reader ------------------------------------


@pytest.fixture(scope="module")
def small_composer() -> PcsComposer:
    """From the hand-made fixture tables: no catalog and no lexicon needed."""
    return PcsComposer(read_icd10pcs(FIXTURE).structure())


def test_the_composer_works_from_small_tables(small_composer: PcsComposer) -> None:
    assert best(small_composer, "Laparoscopic appendectomy.").code == "0DTJ4ZZ"
    # The fixture index: "Biopsy: see Excision with qualifier Diagnostic".
    assert best(small_composer, "Open biopsy of the appendix.").code == "0DBJ0ZX"


def test_the_composer_loads_from_a_lexicon_folder_and_is_absent_without_the_tables(
    tmp_path: Path,
) -> None:
    assert PcsComposer.find(tmp_path) is None

    save_pcs_structure(tmp_path, read_icd10pcs(FIXTURE).structure())

    loaded = PcsComposer.find(tmp_path)
    assert (tmp_path / PCS_STRUCTURE_FILE).is_file() and loaded is not None
    assert best(loaded, "Open appendectomy.").code == "0DTJ0ZZ"


@pytest.fixture(scope="module")
def small_reader(small_composer: PcsComposer) -> NoteReader:
    aliases = [
        Alias(CodeSystem.ICD10PCS, "0DTJ", "Appendectomy", "pcs_index"),
        Alias(CodeSystem.ICD10CM, "K35.80", "acute appendicitis", "description"),
    ]
    language = build_language(group_phrases(aliases), small_composer)
    return NoteReader(language, composer=small_composer)


def test_the_reader_appends_composed_codes_to_a_heading_mention(small_reader: NoteReader) -> None:
    text = "For acute appendicitis she had a laparoscopic appendectomy."
    mentions = small_reader.read(text)

    appendectomy = next(m for m in mentions if m.text == "appendectomy")
    sources = {c.code: c.source for c in appendectomy.candidates}
    assert sources["0DTJ"] is CandidateSource.LEXICON
    assert sources["0DTJ4ZZ"] is CandidateSource.COMPOSED
    assert appendectomy.candidates[0].code == "0DTJ4ZZ"  # the complete code ranks first
    assert text[appendectomy.start : appendectomy.end] == "appendectomy"
    appendicitis = next(m for m in mentions if m.text == "acute appendicitis")
    assert all(c.source is not CandidateSource.COMPOSED for c in appendicitis.candidates)


def test_operation_words_without_a_lexicon_term_become_mentions(small_reader: NoteReader) -> None:
    mentions = small_reader.read("An open biopsy of the appendix was done.")

    (biopsy,) = [m for m in mentions if m.text == "biopsy"]
    first = biopsy.candidates[0]
    assert (first.code, first.source) == ("0DBJ0ZX", CandidateSource.COMPOSED)
    assert biopsy.assertion is Assertion.PRESENT


def test_a_negated_procedure_stays_negated(small_reader: NoteReader) -> None:
    (mention,) = small_reader.read("No appendectomy was performed.")

    assert mention.assertion is Assertion.NEGATED
    assert any(c.source is CandidateSource.COMPOSED for c in mention.candidates)


def test_operation_words_the_composer_cannot_complete_leave_no_mention(
    small_reader: NoteReader,
) -> None:
    # The small tables resect an appendix or a kidney (0DT, 0TT), never a thyroid.
    assert small_reader.read("A resection of the thyroid was done.") == []
