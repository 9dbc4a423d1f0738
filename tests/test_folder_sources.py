"""Folder sync reads images under an allowed folder and never follows a symbolic link out of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgsearch.errors import InvalidRequest, NotFound
from imgsearch.jobs import folder_sources


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """An allowed folder with photos, and a secret folder beside it that links inside try to reach."""
    allowed, secret = tmp_path / "photos", tmp_path / "secret"
    (allowed / "2025").mkdir(parents=True)
    secret.mkdir()
    (allowed / "a.jpg").write_bytes(b"photo a")
    (allowed / "2025" / "b.png").write_bytes(b"photo b")
    (allowed / "notes.txt").write_bytes(b"not an image by name")
    (secret / "key.jpg").write_bytes(b"SECRET")
    (secret / "deeper").mkdir()
    (secret / "deeper" / "more.jpg").write_bytes(b"SECRET TOO")
    return allowed, secret


def read_all(folder: Path, allowed: Path) -> dict[str, bytes]:
    return {Path(name.removeprefix("file://")).name: read() for name, read in folder_sources(str(folder), [allowed])}


def test_images_under_the_folder_are_read(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    assert read_all(allowed, allowed) == {"a.jpg": b"photo a", "b.png": b"photo b"}


def test_links_out_of_the_folder_are_not_followed(layout: tuple[Path, Path]) -> None:
    allowed, secret = layout
    (allowed / "leak.jpg").symlink_to(secret / "key.jpg")
    (allowed / "leaky-folder").symlink_to(secret, target_is_directory=True)
    (allowed / "2025" / "up.jpg").symlink_to("../../secret/deeper/more.jpg")
    found = read_all(allowed, allowed)
    assert b"SECRET" not in b"".join(found.values())
    assert set(found) == {"a.jpg", "b.png"}


def test_a_link_that_stays_inside_is_read(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    (allowed / "same-as-a.jpg").symlink_to(allowed / "a.jpg")
    assert set(read_all(allowed, allowed).values()) == {b"photo a", b"photo b"}


def test_a_file_swapped_for_a_link_after_listing_is_not_read(layout: tuple[Path, Path]) -> None:
    allowed, secret = layout
    sources = dict(folder_sources(str(allowed), [allowed]))
    target = allowed / "a.jpg"
    target.unlink()
    target.symlink_to(secret / "key.jpg")
    with pytest.raises(OSError):
        sources[f"file://{target}"]()


def test_the_folder_itself_must_lie_inside_an_allowed_one(layout: tuple[Path, Path]) -> None:
    allowed, secret = layout
    with pytest.raises(InvalidRequest):
        folder_sources(str(secret), [allowed])
    (allowed / "door").symlink_to(secret, target_is_directory=True)
    with pytest.raises(InvalidRequest):
        folder_sources(str(allowed / "door"), [allowed])
    with pytest.raises(InvalidRequest):
        folder_sources(str(allowed / ".." / "secret"), [allowed])
    with pytest.raises(NotFound):
        folder_sources(str(allowed / "missing"), [allowed])
    with pytest.raises(InvalidRequest):
        folder_sources(str(allowed), [])
