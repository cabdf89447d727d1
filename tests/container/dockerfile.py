"""A Dockerfile's instructions run without Docker, for a test where no daemon is reachable.

The image's folders live under a temporary root (`/srv/medcode` is `<root>/srv/medcode`),
and every path the Dockerfile names is rewritten to its place there. The build context is
copied with .dockerignore applied; `COPY --from=<context>` links a named build context.
RUN commands run in /bin/sh, as Docker's shell form does (dash, as in the Debian image),
with the ENV and ARG values of the image over the host's environment (the host's pip
configuration and cache stand in for the image's). Not run, and said so in `notes`:
apt-get (the project's set-up installs system packages) and useradd (it would change
the host's users; its user is checked instead).
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

SUPPORTED = {"FROM", "RUN", "WORKDIR", "USER", "ENV", "ARG", "COPY", "EXPOSE"}
SUPPORTED |= {"HEALTHCHECK", "CMD", "ENTRYPOINT"}


class BuildError(AssertionError):
    """A step failed, or the Dockerfile does something this emulation cannot do."""


@dataclass(frozen=True)
class Instruction:
    keyword: str
    flags: tuple[tuple[str, str], ...]
    arguments: str
    line: int

    def flag(self, name: str) -> str | None:
        return next((value for key, value in self.flags if key == name), None)

    def __str__(self) -> str:
        flags = "".join(f" --{k}={v}" for k, v in self.flags)
        return f"line {self.line}: {self.keyword}{flags} {self.arguments}"


def parse(text: str) -> list[Instruction]:
    """Instructions with their line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        keyword, _, rest = " ".join([*pending, stripped]).partition(" ")
        pending = []
        flags, rest = _leading_flags(rest.strip())
        instructions.append(Instruction(keyword.upper(), flags, rest, start))
    if pending:
        raise BuildError(f"line {start}: a continuation runs off the end of the Dockerfile")
    return instructions


def _leading_flags(text: str) -> tuple[tuple[tuple[str, str], ...], str]:
    flags: list[tuple[str, str]] = []
    while text.startswith("--"):
        token, _, text = text.partition(" ")
        name, _, value = token[2:].partition("=")
        flags.append((name, value))
        text = text.strip()
    return tuple(flags), text


def command(arguments: str) -> list[str]:
    """Exec form (a JSON list) as is; shell form through /bin/sh -c, as Docker runs it."""
    if arguments.startswith("["):
        parsed = json.loads(arguments)
        if not isinstance(parsed, list) or not all(isinstance(a, str) for a in parsed):
            raise BuildError(f"not a list of strings: {arguments}")
        return parsed
    return ["/bin/sh", "-c", arguments]


def ignore_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """Whether a path relative to the context is left out, by .dockerignore's patterns."""
    compiled = []
    for pattern in patterns:
        if pattern.startswith("!"):
            raise BuildError(f".dockerignore exceptions are not emulated: {pattern}")
        compiled.append(re.compile(_glob(pattern.strip("/"))))
    return lambda relative: any(p.fullmatch(relative) for p in compiled)


def _glob(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


def expand(text: str, env: Mapping[str, str]) -> str:
    """$NAME, ${NAME} and ${NAME:-default}, as Docker expands ENV, WORKDIR and COPY."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return env.get(name) or (match.group(2) or "")

    return _VARIABLE.sub(value, text)


def host_environment() -> dict[str, str]:
    """The host's environment without this process's medcode settings, virtualenv and make
    state, which a container would not have."""
    dropped = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MFLAGS"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and not k.startswith(("MEDCODE_", "MAKE"))
    }
    if sys.prefix != sys.base_prefix:  # the running venv's python must not stand in
        venv_bin = str(Path(sys.prefix) / "bin")
        env["PATH"] = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin
        )
    return env


@dataclass
class Image:
    """What the build leaves: the runtime's folder, user, environment and commands."""

    root: Path
    workdir: str = "/"
    user: str = "root"
    env: dict[str, str] = field(default_factory=dict)
    exposed: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    healthcheck_timeout: float = 30.0
    entrypoint: list[str] = field(default_factory=list)
    entrypoint_is_shell: bool = False
    cmd: list[str] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)
    chowns: list[tuple[str, str]] = field(default_factory=list)  # (destination, owner)
    notes: list[str] = field(default_factory=list)
    step_seconds: list[tuple[str, float]] = field(default_factory=list)

    def path(self, image_path: str) -> Path:
        """Where an image's path is on this host."""
        absolute = image_path if image_path.startswith("/") else f"{self.workdir}/{image_path}"
        return self.root / os.path.normpath(absolute).lstrip("/")

    def start_command(self) -> list[str]:
        if self.entrypoint_is_shell:
            return self.entrypoint  # Docker ignores CMD after a shell-form ENTRYPOINT
        return [*self.entrypoint, *self.cmd]


class Builder:
    """Runs a Dockerfile's instructions in order; `build()` returns the image."""

    def __init__(
        self,
        dockerfile: Path,
        context: Path,
        root: Path,
        named_contexts: Mapping[str, Path],
        build_args: Mapping[str, str],
        log: Path,
        step_timeout: float,
    ) -> None:
        self.instructions = parse(dockerfile.read_text())
        self.context = context
        self.named_contexts = dict(named_contexts)
        self.build_args = dict(build_args)
        self.log = log
        self.step_timeout = step_timeout
        self.image = Image(root=root)
        self.ignored = ignore_matcher(dockerignore(context))
        self._base_env = host_environment()
        self._args: dict[str, str] = {}
        self.root_setup: list[str] = []  # the RUN lines around useradd, checked, not run
        # Paths the image's folders are known by, longest first: rewritten wherever named.
        roots = {i.arguments for i in self.instructions if i.keyword == "WORKDIR"}
        roots |= {self._copy_parts(i)[1] for i in self.instructions if i.keyword == "COPY"}
        self._roots = sorted((r.rstrip("/") for r in roots if r.startswith("/")), key=len)[::-1]

    # ---- paths and environment -----------------------------------------------------------

    def rewrite(self, text: str) -> str:
        """The image's absolute paths in a command or value, as this host's."""
        for image_root in self._roots:
            pattern = rf"(?<![\w./-]){re.escape(image_root)}(?=[/\s:'\"]|$)"
            text = re.sub(pattern, str(self.image.path(image_root)), text)
        return text

    def environment(self, **extra: str) -> dict[str, str]:
        """A RUN step's: the ARG values too."""
        return {**self._base_env, **self._args, **self.image.env, **extra}

    def runtime_environment(self, **extra: str) -> dict[str, str]:
        """A container's, with `docker run -e` values in `extra`."""
        return {**self._base_env, **self.image.env, **extra}

    # ---- instructions ----------------------------------------------------------------------

    def build(self) -> Image:
        unused = set(self.build_args) - {
            i.arguments.partition("=")[0] for i in self.instructions if i.keyword == "ARG"
        }
        if unused:
            raise BuildError(f"build arguments no ARG declares: {sorted(unused)}")
        with self.log.open("a") as log:
            for instruction in self.instructions:
                if instruction.keyword not in SUPPORTED:
                    raise BuildError(f"not emulated: {instruction}")
                log.write(f"\n### {instruction}\n")
                log.flush()
                started = time.monotonic()
                getattr(self, f"_{instruction.keyword.lower()}")(instruction, log)
                self.image.step_seconds.append(
                    (f"{instruction.keyword} (line {instruction.line})", time.monotonic() - started)
                )
        return self.image

    def _from(self, instruction: Instruction, log: TextIO) -> None:
        self.image.notes.append(
            f"FROM {instruction.arguments}: the host's system and Python stand in for it"
        )

    def _workdir(self, instruction: Instruction, log: TextIO) -> None:
        workdir = expand(instruction.arguments, self.environment())
        self.image.workdir = os.path.normpath(
            workdir if workdir.startswith("/") else f"{self.image.workdir}/{workdir}"
        )
        self.image.path(self.image.workdir).mkdir(parents=True, exist_ok=True)

    def _user(self, instruction: Instruction, log: TextIO) -> None:
        self.image.user = instruction.arguments.strip()

    def _arg(self, instruction: Instruction, log: TextIO) -> None:
        name, has_default, default = instruction.arguments.partition("=")
        default = shlex.split(default)[0] if has_default and shlex.split(default) else ""
        self._args[name] = self.build_args.get(name, default)

    def _env(self, instruction: Instruction, log: TextIO) -> None:
        before = self.environment()
        tokens = shlex.split(instruction.arguments)
        if tokens and "=" not in tokens[0]:  # the old `ENV NAME value` form
            tokens = [f"{tokens[0]}={' '.join(tokens[1:])}"]
        for token in tokens:
            name, _, value = token.partition("=")
            self.image.env[name] = self.rewrite(expand(value, before))

    def _expose(self, instruction: Instruction, log: TextIO) -> None:
        self.image.exposed.extend(instruction.arguments.split())

    def _healthcheck(self, instruction: Instruction, log: TextIO) -> None:
        keyword, _, rest = instruction.arguments.partition(" ")
        if keyword.upper() != "CMD":
            raise BuildError(f"HEALTHCHECK without CMD: {instruction}")
        self.image.healthcheck = [self.rewrite(a) for a in command(rest.strip())]
        timeout = instruction.flag("timeout") or "30s"
        self.image.healthcheck_timeout = float(timeout.rstrip("s"))

    def _cmd(self, instruction: Instruction, log: TextIO) -> None:
        self.image.cmd = [self.rewrite(a) for a in command(instruction.arguments)]

    def _entrypoint(self, instruction: Instruction, log: TextIO) -> None:
        self.image.entrypoint = [self.rewrite(a) for a in command(instruction.arguments)]
        self.image.entrypoint_is_shell = not instruction.arguments.startswith("[")
        self.image.cmd = []  # Docker resets CMD inherited from before an ENTRYPOINT

    def _copy_parts(self, instruction: Instruction) -> tuple[list[str], str]:
        if instruction.arguments.startswith("["):
            parts = command(instruction.arguments)
        else:
            parts = shlex.split(instruction.arguments)
        if len(parts) < 2:
            raise BuildError(f"COPY needs a source and a destination: {instruction}")
        return parts[:-1], parts[-1]

    def _copy(self, instruction: Instruction, log: TextIO) -> None:
        sources, destination = self._copy_parts(instruction)
        owner = instruction.flag("chown")
        if owner:
            self.image.chowns.append((destination, owner))
        target = self.image.path(expand(destination, self.environment()))
        named = instruction.flag("from")
        if named is not None:
            if named not in self.named_contexts or sources != ["."]:
                raise BuildError(
                    f"not emulated (only `. <dest>` of a named context): {instruction}"
                )
            # Read-only for the service: a link stands in for the copy.
            if target.exists() or target.is_symlink():
                raise BuildError(f"{destination} exists before the named context is copied")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(self.named_contexts[named], target_is_directory=True)
            self.image.notes.append(
                f"COPY --from={named}: {destination} links to {self.named_contexts[named]}"
            )
            return
        for source in sources:
            self._copy_from_context(source, target, destination.endswith("/") or len(sources) > 1)

    def _copy_from_context(self, source: str, target: Path, into: bool) -> None:
        origin = (self.context / source).resolve()
        if not origin.is_relative_to(self.context.resolve()) or not origin.exists():
            raise BuildError(f"COPY source not in the context: {source}")
        relative = origin.relative_to(self.context.resolve()).as_posix()
        if relative != "." and self.ignored(relative):
            raise BuildError(f"COPY source left out by .dockerignore: {source}")
        if origin.is_file():
            destination = target / origin.name if into or target.is_dir() else target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination)
            return

        def left_out(folder: str, names: list[str]) -> list[str]:
            base = Path(folder).resolve().relative_to(self.context.resolve())
            return [n for n in names if self.ignored((base / n).as_posix().removeprefix("./"))]

        shutil.copytree(origin, target, ignore=left_out, symlinks=True, dirs_exist_ok=True)

    def _run(self, instruction: Instruction, log: TextIO) -> None:
        for name, value in instruction.flags:
            if name == "mount" and "type=cache" in value:
                self.image.notes.append(f"RUN --mount={value}: the host's cache stands in")
            else:
                raise BuildError(f"not emulated: RUN --{name}={value}")
        script = instruction.arguments
        first = script.split(None, 1)[0] if script.strip() else ""
        if first in {"apt-get", "apt"}:
            self.image.notes.append(
                f"skipped (line {instruction.line}): {' '.join(script.split())}; system"
                " packages come from the project's set-up"
            )
            return
        if re.search(r"\buseradd\b", script):
            self._check_useradd(instruction)
            return
        result = subprocess.run(
            [self.rewrite(a) for a in command(script)],
            cwd=self.image.path(self.image.workdir),
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=self.step_timeout,
            check=False,
        )
        if result.returncode != 0:
            raise BuildError(f"{instruction} exited {result.returncode}")

    def _check_useradd(self, instruction: Instruction) -> None:
        match = re.search(
            r"\buseradd\b(?P<options>[^&;|]*?)\s(?P<name>[\w.-]+)\s*(?:&&|;|$)",
            instruction.arguments,
        )
        if match is None:
            raise BuildError(f"cannot read the user useradd adds: {instruction}")
        uid = re.search(r"(?:--uid|-u)[= ](\d+)", match.group("options"))
        if uid is None:
            raise BuildError(f"useradd without a fixed --uid: {instruction}")
        self.image.users[match.group("name")] = int(uid.group(1))
        self.root_setup.append(instruction.arguments)
        self.image.notes.append(
            f"not run (line {instruction.line}): useradd of {match.group('name')}"
            f" (uid {uid.group(1)}) and the root set-up around it; they would change the host"
        )
