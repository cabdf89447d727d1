"""The Docker image starts and serves: the Dockerfile's instructions run in order on a fresh
clone of the committed HEAD (no Docker daemon is reachable where the tests run; see
tests/container/dockerfile.py for what is emulated), then its CMD on a free loopback port,
its HEALTHCHECK until it passes, and one note posted to /suggest as an EHR would."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.container.dockerfile import Builder, BuildError, Image, dockerignore, ignore_matcher

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
# The image's default is the real default model (CodiEsp train+dev, 5 folds: 4 minutes of
# training on an idle 2-core machine, 20 under load); here a small one keeps the suite's
# time bounded. Same make path, same attribution (its data is CodiEsp too).
TRAIN_ARGS = "--data codiesp:dev --folds 2 --promote --quiet"
STEP_SECONDS = 40 * 60
READY_SECONDS = 300
ADMIN_TOKEN = "the-admin-token-of-the-container-test"
NOTE = "Assessment:\nEssential hypertension.\nType 2 diabetes mellitus without complications."
ATTRIBUTION = "CodiEsp corpus, Barcelona Supercomputing Center"


def test_the_image_installs_trains_starts_and_suggests(data_dir: Path, tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed to clone the committed HEAD")
    started = time.monotonic()
    context = tmp_path / "context"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(context)], check=True)
    head = subprocess.run(
        ["git", "-C", str(context), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    root = tmp_path / "root"
    log = tmp_path / "build.log"
    builder = Builder(
        context / "Dockerfile",
        context,
        root,
        named_contexts={"data": data_dir},
        build_args={"MEDCODE_TRAIN_ARGS": TRAIN_ARGS},
        log=log,
        step_timeout=STEP_SECONDS,
    )
    try:
        image = builder.build()
    except (BuildError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"the build failed: {exc}\n{_tail(log)}")
    built = time.monotonic()

    ignored = ignore_matcher(dockerignore(context))
    assert ignored("var") and ignored(".venv"), "the image must build its own var/ and .venv"
    _assert_runs_as_its_own_user(image, builder.root_setup)
    assert image.healthcheck and "/ready" in " ".join(image.healthcheck)
    assert image.start_command(), "no CMD or ENTRYPOINT"

    port = _free_port()
    with _running(builder, image, port, tmp_path / "serve.log") as (process, output):
        _wait_until_healthy(builder, image, port, process, output)
        base = f"http://127.0.0.1:{port}"
        ready = httpx.get(f"{base}/ready", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        version = ready.json()["model_version"]

        reply = httpx.post(
            f"{base}/suggest",
            json={"text": NOTE, "note_id": "container", "store": True},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["model_version"] == version and body["note_id"] == "container"
        assert "I10" in {s["code"] for s in body["suggestions"]}
        assert body["stored"]["encounter_id"]  # the schema `medcode db upgrade` made takes it
    served = time.monotonic()

    metadata = image.path(f"{image.workdir}/var/models/{version}/metadata.json")
    assert ATTRIBUTION in json.loads(metadata.read_text())["attribution"]

    print(f"\nclone {head}; image steps:")
    for step, seconds in image.step_seconds:
        if seconds >= 1:
            print(f"  {step}: {seconds:.0f} s")
    print(*(f"  note: {n}" for n in image.notes), sep="\n")
    print(f"built in {built - started:.0f} s, served and stopped in {served - built:.0f} s")
    shutil.rmtree(root)  # about 1.5 GB (venv, catalog, model); kept when the test fails


def _assert_runs_as_its_own_user(image: Image, root_setup: list[str]) -> None:
    """USER names the user useradd made, with a uid other than 0, who owns the folder the
    build writes (made by the root set-up, or copied with --chown)."""
    assert image.user not in {"", "root", "0"}, f"the image runs as {image.user!r}"
    name = image.user.partition(":")[0]
    assert image.users.get(name, 0) != 0, f"USER {name} is not a non-root user useradd made"
    setup = " ".join(root_setup)
    owned = re.search(rf"(?:-o\s+{name}\b|chown\s+\S*{name}\b)[^&;]*\s{image.workdir}\b", setup)
    assert owned, f"{image.workdir} is not made {name}'s by the root set-up"
    for destination, owner in image.chowns:
        assert owner.partition(":")[0] == name, f"COPY {destination} is owned by {owner}"


@contextmanager
def _running(
    builder: Builder, image: Image, port: int, output: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The image's start command, as `docker run -e HOST=127.0.0.1 -e PORT=... -e
    MEDCODE_ADMIN_TOKEN=...` would start it (loopback here: nothing publishes the port)."""
    env = builder.runtime_environment(
        HOST="127.0.0.1", PORT=str(port), MEDCODE_ADMIN_TOKEN=ADMIN_TOKEN
    )
    with output.open("wb") as sink:  # a file, not a pipe: a full pipe would block the service
        process = subprocess.Popen(
            image.start_command(),
            cwd=image.path(image.workdir),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # docker stop
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_until_healthy(
    builder: Builder, image: Image, port: int, process: subprocess.Popen[bytes], output: Path
) -> None:
    """Runs the HEALTHCHECK command, as Docker would, until it passes."""
    env = builder.runtime_environment(PORT=str(port))
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the service exited {process.returncode}:\n{_tail(output)}")
        try:
            check = subprocess.run(
                image.healthcheck,
                cwd=image.path(image.workdir),
                env=env,
                capture_output=True,
                timeout=image.healthcheck_timeout,
                check=False,
            )
            if check.returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(1)
    pytest.fail(f"the HEALTHCHECK did not pass in {READY_SECONDS} s:\n{_tail(output)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 60) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
