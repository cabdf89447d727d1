import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Not deselected by `make test` (only `bench` is): the image must start.
    config.addinivalue_line(
        "markers", "container: builds and starts the Docker image's steps on a fresh clone"
    )
