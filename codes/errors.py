"""Domain errors. Each carries the HTTP status a service should answer with, so one
handler renders them all as {"error": ..., "detail": ...}."""

from codes.systems import CodeSystem


class MedcodeError(Exception):
    """Base of every domain error: a kind (`error`), a status and a readable detail."""

    status_code = 500
    error = "medcode_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class CatalogError(MedcodeError):
    error = "catalog_error"


class MalformedCodeError(CatalogError):
    status_code = 422
    error = "malformed_code"

    def __init__(self, system: CodeSystem, raw: str) -> None:
        super().__init__(f"{raw!r} is not shaped like a {system.label} code")
        self.system = system
        self.raw = raw


class UnknownCodeError(CatalogError):
    status_code = 404
    error = "unknown_code"

    def __init__(self, system: CodeSystem, code: str) -> None:
        super().__init__(f"{code} is not a {system.label} code in the loaded catalog")
        self.system = system
        self.code = code


class SystemNotLoadedError(CatalogError):
    status_code = 404
    error = "system_not_loaded"

    def __init__(self, system: CodeSystem) -> None:
        hint = " Import a licensed CPT file with `medcode codes import --cpt FILE`."
        super().__init__(
            f"{system.label} is not loaded in this catalog."
            + (hint if system is CodeSystem.CPT else "")
        )
        self.system = system


class CatalogNotBuiltError(CatalogError):
    status_code = 503
    error = "catalog_not_built"


class SourceFileError(CatalogError):
    """A source file (CMS data, a CPT file) is missing or cannot be read."""

    status_code = 400
    error = "bad_source_file"
