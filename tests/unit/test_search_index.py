from codes.search import SearchEntry, build_search_index

ENTRIES = [
    SearchEntry("E11", "Type 2 diabetes mellitus", ()),
    SearchEntry("E11.9", "Type 2 diabetes mellitus without complications", ()),
    SearchEntry("E10.9", "Type 1 diabetes mellitus without complications", ()),
    SearchEntry(
        "I21.9", "Acute myocardial infarction, unspecified", ("Myocardial infarction NOS",)
    ),
    SearchEntry("I10", "Essential (primary) hypertension", ("high blood pressure",)),
    SearchEntry("S72.001A", "Fracture of unspecified part of neck of right femur, initial", ()),
    SearchEntry("Z82.49", "Family history of ischemic heart disease", ("heart attack in family",)),
]
INDEX = build_search_index(ENTRIES)


def codes(query: str, limit: int = 10) -> list[str]:
    return [str(INDEX.codes[i]) for i in INDEX.search(query, limit)]


def test_code_prefixes_find_the_code_and_its_children_in_code_order() -> None:
    assert codes("e11") == ["E11", "E11.9"]
    assert codes("E11.9") == ["E11.9"]
    assert codes("e119") == ["E11.9"]


def test_words_match_in_any_order_and_as_prefixes() -> None:
    assert codes("mellitus diab") == ["E11", "E10.9", "E11.9"]
    assert codes("femur fract neck") == ["S72.001A"]


def test_every_typed_word_must_match() -> None:
    assert codes("diabetes femur") == []


def test_inclusion_terms_are_searched_but_rank_below_descriptions() -> None:
    assert codes("high blood") == ["I10"]
    assert codes("heart attack") == ["Z82.49"]
    assert codes("infarction") == ["I21.9"]


def test_whole_word_matches_and_shorter_descriptions_rank_first() -> None:
    assert codes("type 2 diabetes")[:2] == ["E11", "E11.9"]


def test_accents_and_case_are_ignored() -> None:
    assert codes("HYPERTENSIÓN") == codes("hypertension") == ["I10"]


def test_limit_cuts_the_list_deterministically() -> None:
    assert codes("diabetes", limit=1) == ["E11"]
    assert codes("diabetes", limit=2) == ["E11", "E10.9"]  # tie broken by code


def test_nothing_typed_finds_nothing() -> None:
    assert codes("   ") == []
    assert codes("zzzz") == []


def test_an_index_survives_save_and_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "index.npz"
    INDEX.save(path)
    loaded = type(INDEX).load(path)
    assert [str(loaded.codes[i]) for i in loaded.search("diab", 5)] == codes("diab", 5)
