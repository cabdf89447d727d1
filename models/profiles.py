"""The coding-conventions profiles (a light module: settings import it)."""

from enum import StrEnum


class Profile(StrEnum):
    """us: the ICD-10-CM and ICD-10-PCS Official Guidelines (the service default);
    learned: what the model's training coders did, under the hard safety rules."""

    US = "us"
    LEARNED = "learned"
