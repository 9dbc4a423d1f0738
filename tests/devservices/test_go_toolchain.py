"""Which Go builds MinIO: the local one, a fetched newer one, or a clear refusal."""

from __future__ import annotations

import pytest

from imgsearch.devservices.go_toolchain import FETCHED_TOOLCHAIN, local_version, parse_version, toolchain_setting


@pytest.mark.parametrize(
    ("text", "version"),
    [("go1.26.8\n", (1, 26)), ("go1.22.2", (1, 22)), ("go1.19", (1, 19)), ("devel +abc", None), ("", None)],
)
def test_versions_are_read_from_go_env(text: str, version: tuple[int, int] | None) -> None:
    assert parse_version(text) == version


def test_a_new_enough_go_builds_as_it_is_and_an_older_one_fetches_a_toolchain() -> None:
    assert toolchain_setting((1, 24)) is None
    assert toolchain_setting((1, 26)) is None
    assert toolchain_setting((1, 22)) == FETCHED_TOOLCHAIN  # Ubuntu 24.04's golang-go
    assert toolchain_setting((1, 21)) == FETCHED_TOOLCHAIN


def test_a_go_too_old_to_switch_or_none_at_all_is_one_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"Go 1.19 is too old .* install Go 1.21 or newer"):
        toolchain_setting((1, 19))  # Debian 12's golang-go
    with pytest.raises(RuntimeError, match="Go is needed to build MinIO"):
        toolchain_setting(None)


def test_this_machines_go_is_read() -> None:
    version = local_version()
    assert version is not None and version >= (1, 21)
