"""The web UI in a real browser: ingest, search by image / object / drawn region, gallery, phone width."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import API_KEY, LiveServer
from tests.fixtures import jpeg_bytes, scene

pytestmark = pytest.mark.e2e

OVERLAY_LABEL = re.compile(r"^\S.* -?\d\.\d\d$")  # "cat 0.83"


def _jpeg(seed: int, width: int = 320, height: int = 240) -> bytes:
    return jpeg_bytes(scene(width, height, seed=seed))


def _search_with_upload(page: Page, data: bytes) -> None:
    page.goto("/#/search")
    page.get_by_test_id("search-file-input").set_input_files(
        {"name": "query.jpg", "mimeType": "image/jpeg", "buffer": data}
    )
    expect(page.get_by_test_id("query-image")).to_be_visible()
    expect(page.get_by_test_id("query-used")).to_have_attribute("data-kind", "whole")
    expect(page.get_by_test_id("result").first).to_be_visible()


def _assert_results_have_overlays(page: Page) -> None:
    results = page.get_by_test_id("result")
    expect(results.first).to_be_visible()
    first = results.first
    boxes = first.get_by_test_id("result-box")
    assert boxes.count() >= 1
    assert OVERLAY_LABEL.match(boxes.first.inner_text().strip()), boxes.first.inner_text()
    # The thumbnail really loaded, and its overlays lie inside it.
    thumbnail = first.locator("img")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    frame = first.locator(".boxed").bounding_box()
    box = boxes.first.bounding_box()
    assert frame and box
    assert frame["x"] - 1 <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
    assert frame["y"] - 1 <= box["y"] and box["y"] + box["height"] <= frame["y"] + frame["height"] + 1


def test_ingest_page_reports_each_file_and_asks_for_the_api_key(keyless_page: Page, artifacts: Path) -> None:
    page = keyless_page
    page.goto("/#/ingest")
    files = [
        {"name": f"new-{seed}.jpg", "mimeType": "image/jpeg", "buffer": _jpeg(seed, 400, 300)} for seed in (100, 101)
    ]
    files.append({"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": b"this is not an image"})

    page.get_by_test_id("ingest-file-input").set_input_files(files)
    rows = page.get_by_test_id("ingest-result")
    expect(rows).to_have_count(3)
    expect(page.locator("[data-testid=ingest-result][data-status=failed]")).to_have_count(3)
    expect(rows.first).to_contain_text("API key")
    key_input = page.get_by_test_id("api-key-input")
    expect(key_input).to_be_visible()  # a 401 opens the key panel

    key_input.fill(API_KEY)
    key_input.press("Enter")
    page.get_by_role("button", name="Retry failed").click()
    expect(page.locator("[data-testid=ingest-result][data-status=new]")).to_have_count(2)
    broken = page.locator("[data-testid=ingest-result][data-status=failed]")
    expect(broken).to_have_count(1)
    expect(broken).to_contain_text("broken.jpg")
    assert "API key" not in broken.inner_text()

    page.get_by_test_id("ingest-file-input").set_input_files(files[0])
    expect(page.locator("[data-testid=ingest-result][data-status=duplicate]")).to_have_count(1)
    expect(page.get_by_test_id("ingest-summary")).to_contain_text("2 new · 1 duplicate · 1 failed")
    expect(page.get_by_test_id("stats")).not_to_contain_text("0 images")  # the footer follows the index
    page.screenshot(path=str(artifacts / "ingest.png"), full_page=True)


def test_folder_sync_shows_live_progress(page: Page, live_server: LiveServer) -> None:
    for seed in (200, 201, 202):
        (live_server.sync_folder / f"synced-{seed}.jpg").write_bytes(_jpeg(seed))
    page.goto("/#/ingest")
    page.get_by_test_id("sync-mode-folder").check(force=True)
    page.get_by_test_id("sync-folder").fill(str(live_server.sync_folder))
    page.get_by_test_id("sync-start").click()
    job = page.get_by_test_id("sync-job")
    expect(job).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.get_by_test_id("sync-counts")).to_contain_text("3 / 3 done")
    assert page.get_by_test_id("sync-progress").evaluate("bar => bar.value === bar.max")


def test_search_by_upload_object_and_region(
    page: Page, live_server: LiveServer, indexed: list[str], artifacts: Path
) -> None:
    with live_server.client() as client:
        total = client.get("/api/v1/stats").json()["images"]
    _search_with_upload(page, _jpeg(3))
    query_boxes = page.get_by_test_id("query-box")
    assert query_boxes.count() >= 2, "the test pipeline detects about three objects per image"
    for index in range(query_boxes.count()):
        assert query_boxes.nth(index).get_attribute("aria-label")
    _assert_results_have_overlays(page)
    expect(page.get_by_test_id("results-summary")).to_contain_text("24 images so far")

    page.get_by_test_id("load-more").click()
    expect(page.get_by_test_id("result")).to_have_count(total)  # every image, when nothing filters them
    expect(page.get_by_test_id("load-more")).to_have_count(0)

    # A click on a detected box (on its label: a smaller box may cover its middle) searches by that object.
    second_box = page.locator("[data-testid=query-box][data-index='1']")
    second_box.locator(".box-label").click()
    used = page.get_by_test_id("query-used")
    expect(used).to_have_attribute("data-kind", "object")
    expect(used).to_have_attribute("data-index", "1")
    expect(used).to_contain_text("object 2")
    expect(second_box).to_have_attribute("aria-pressed", "true")
    _assert_results_have_overlays(page)
    page.screenshot(path=str(artifacts / "search-results.png"), full_page=True)

    # A drag on the image searches by the drawn region, in query-image pixels (the query is 320x240).
    frame = page.get_by_test_id("query-image").bounding_box()
    assert frame
    page.mouse.move(frame["x"] + frame["width"] * 0.25, frame["y"] + frame["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(frame["x"] + frame["width"] * 0.5, frame["y"] + frame["height"] * 0.5, steps=5)
    page.mouse.move(frame["x"] + frame["width"] * 0.75, frame["y"] + frame["height"] * 0.75, steps=5)
    page.mouse.up()
    expect(used).to_have_attribute("data-kind", "region")
    expect(page.get_by_test_id("query-region")).to_be_visible()
    region = json.loads(used.get_attribute("data-bbox") or "null")
    assert region == pytest.approx([80, 60, 240, 180], abs=3), region
    expect(used).to_contain_text(f"the region {region[2] - region[0]:.0f}")
    _assert_results_have_overlays(page)

    # The full image opens in a viewer with the same overlays.
    first = page.get_by_test_id("result").first
    matches = first.get_by_test_id("result-box").count()
    first.locator("button.boxed").click()
    expect(page.get_by_test_id("viewer")).to_be_visible()
    expect(page.get_by_test_id("viewer-box")).to_have_count(matches)
    assert page.get_by_test_id("viewer-image").evaluate("img => img.decode().then(() => img.naturalWidth > 0)")
    page.screenshot(path=str(artifacts / "viewer.png"))
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("viewer")).to_have_count(0)


def test_gallery_browses_deletes_and_searches_like_this(
    page: Page, live_server: LiveServer, indexed: list[str], artifacts: Path
) -> None:
    with live_server.client() as client:
        response = client.post("/api/v1/images", files={"file": ("doomed.jpg", _jpeg(300), "image/jpeg")})
        assert response.status_code == 201, response.text
        doomed = response.json()["images"][0]["id"]

    page.goto("/#/gallery")
    items = page.get_by_test_id("gallery-item")
    expect(items.first).to_have_attribute("data-id", doomed)  # newest first
    expect(items).to_have_count(24)
    expect(items.first.get_by_test_id("gallery-box").first).to_be_attached()
    page.get_by_test_id("gallery-load-more").click()
    # The button also hides while the page loads: wait for the page itself, then for the button to stay away.
    expect(items).not_to_have_count(24)
    expect(page.get_by_test_id("gallery-loading")).to_have_count(0)
    expect(page.get_by_test_id("gallery-load-more")).to_have_count(0)
    total = items.count()
    assert total > len(indexed)
    page.screenshot(path=str(artifacts / "gallery.png"))

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"[data-testid=gallery-item][data-id='{doomed}']").get_by_test_id("delete-button").click()
    expect(items).to_have_count(total - 1)
    with live_server.client() as client:
        assert client.get(f"/api/v1/images/{doomed}").status_code == 404

    target = items.nth(2)
    target_id = target.get_attribute("data-id")
    target.get_by_test_id("search-like").click()
    expect(page).to_have_url(re.compile(rf"#/search\?image={target_id}$"))
    expect(page.get_by_test_id("query-used")).to_have_attribute("data-kind", "whole")
    _assert_results_have_overlays(page)
    result_ids = page.get_by_test_id("result").evaluate_all("cards => cards.map(card => card.dataset.id)")
    assert target_id not in result_ids  # an indexed image is left out of its own results


def test_phone_width_has_no_horizontal_scroll(phone_page: Page, indexed: list[str], artifacts: Path) -> None:
    page = phone_page
    _search_with_upload(page, _jpeg(5))
    _assert_results_have_overlays(page)
    page.locator("[data-testid=query-box][data-index='0'] .box-label").click()
    expect(page.get_by_test_id("query-used")).to_have_attribute("data-kind", "object")
    page.screenshot(path=str(artifacts / "search-results-phone.png"), full_page=True)
    for route in ("search", "gallery", "ingest"):
        if route != "search":
            page.goto(f"/#/{route}")
            page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"#{route} is {width}px wide on a 360px screen"


@pytest.mark.parametrize("gesture", ["drop", "paste"])
def test_search_takes_a_dropped_or_pasted_image(page: Page, indexed: list[str], gesture: str) -> None:
    page.goto("/#/search")
    # Synthetic events carrying a real File: what a drag from the desktop or Ctrl+V of a copied image delivers.
    page.evaluate(
        """([gesture, bytes]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "query.jpg", { type: "image/jpeg" }));
            const target = document.querySelector("[data-testid=search-drop-zone]");
            const event = gesture === "drop"
                ? new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true })
                : new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
            target.dispatchEvent(event);
        }""",
        [gesture, list(_jpeg(7))],
    )
    expect(page.get_by_test_id("query-image")).to_be_visible()
    expect(page.get_by_test_id("query-box").first).to_be_visible()
    _assert_results_have_overlays(page)
