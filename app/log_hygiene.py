"""Keep note text out of logs: tracebacks are logged by place and type, never by message.

An exception's message can quote its input (a parser's "unexpected token ...", a
database's failing parameters), and medcode's inputs are patient notes. Every log record
created in the process passes `scrub`: a record carrying an exception gets, instead of the
usual traceback, the frames (file, line, function) and the exception types of its chain,
with no messages and no local values. The record factory is process-wide, so it covers
uvicorn's and every library's loggers whatever handlers they configure later.
"""

import logging
import traceback
from types import TracebackType

_installed = False


def where(exc: BaseException) -> str:
    """The innermost frame an exception came from: 'module.py:123 in function'."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{_short(last.filename)}:{last.lineno} in {last.name}"


def scrubbed_traceback(
    kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
) -> str:
    """A traceback of frames and exception types only, causes included."""
    lines: list[str] = []
    seen: set[int] = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__ if current is not exc else tb)
        block = [f"  {_short(f.filename)}:{f.lineno} in {f.name}" for f in frames]
        name = type(current).__module__ + "." + type(current).__qualname__
        lines[:0] = ["Traceback (messages withheld: they may quote patient data):", *block, name]
        current = current.__cause__ or current.__context__
        if current is not None:
            lines.insert(0, "which led to:")
    if exc is None and kind is not None:
        lines.append(kind.__qualname__)
    return "\n".join(lines)


def install() -> None:
    """Scrub every log record made from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def scrub(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.exc_info and record.exc_info != (None, None, None):
            kind, exc, tb = record.exc_info
            record.exc_text = scrubbed_traceback(kind, exc, tb)
            record.exc_info = None
        record.stack_info = None
        return record

    logging.setLogRecordFactory(scrub)
    _installed = True


def _short(filename: str) -> str:
    """A path from the package folder down: no home folders or machine paths in logs."""
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("site-packages", "app", "nlp", "models", "codes", "training", "cli"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[index + (anchor == "site-packages") :])
    return parts[-1]
