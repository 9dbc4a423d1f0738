"""The web UI in a real browser: ingest, search by image / main object / other objects / several / drawn region,
query sessions, gallery, tags, phone width."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from tests.e2e.conftest import API_KEY, LiveServer
from tests.fixtures import jpeg_bytes, scene

pytestmark = pytest.mark.e2e

OVERLAY_LABEL = re.compile(r"^\S.* -?\d\.\d\d$")  # "cat 0.83"


def _jpeg(seed: int, width: int = 320, height: int = 240) -> bytes:
    return jpeg_bytes(scene(width, height, seed=seed))


def _is_search(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/api/v1/search")


def _upload(page: Page, data: bytes) -> Request:
    """Choose a query file on the Search page; the search request it sends."""
    # Chromium gives Playwright the body of a multipart request holding a file only when the request is routed.
    page.route("**/api/v1/search", lambda route: route.continue_())
    page.goto("/#/search")
    with page.expect_request(_is_search) as sent:
        page.get_by_test_id("search-file-input").set_input_files(
            {"name": "query.jpg", "mimeType": "image/jpeg", "buffer": data}
        )
    return sent.value


def _search_with_upload(page: Page, data: bytes) -> None:
    _upload(page, data)
    expect(page.get_by_test_id("query-image")).to_be_visible()
    # Nothing clicked yet: the server searched by the main object it chose.
    expect(page.get_by_test_id("query-used")).to_have_attribute("data-kind", "object")
    expect(page.get_by_test_id("query-used")).to_have_attribute("data-auto", "true")
    expect(page.get_by_test_id("result").first).to_be_visible()


def _carries_file(request: Request) -> bool:
    body = request.post_data_buffer or b""
    return (
        request.headers.get("content-type", "").startswith("multipart/form-data") and b'name="file"; filename=' in body
    )


def _session_search(request: Request, query_id: str) -> dict:
    """The JSON body of a search that names the upload's session and sends no image."""
    assert request.headers.get("content-type", "").startswith("application/json"), request.headers
    assert not _carries_file(request)
    body = request.post_data_json
    assert body["query_id"] == query_id, body
    assert not {"file", "url", "image_id"} & body.keys(), body
    return body


def _is_browse(request: Request) -> bool:
    return request.method == "GET" and urlsplit(request.url).path == "/api/v1/images"


def _browse_query(request: Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def _is_tag_update(image_id: str) -> Callable[[Request], bool]:
    return lambda request: request.method == "PATCH" and request.url.endswith(f"/api/v1/images/{image_id}")


def _set_tags(live_server: LiveServer, image_ids: list[str], tags: list[str]) -> None:
    with live_server.client() as client:
        for image_id in image_ids:
            response = client.patch(f"/api/v1/images/{image_id}", json={"tags": tags})
            assert response.status_code == 200, response.text


def _tags_of(live_server: LiveServer, image_id: str) -> list[str]:
    with live_server.client() as client:
        return client.get(f"/api/v1/images/{image_id}").json()["tags"]


def _open_in_gallery(page: Page, image_id: str) -> Locator:
    page.locator(f"[data-testid=gallery-item][data-id='{image_id}'] button.boxed").click()
    viewer = page.get_by_test_id("viewer")
    expect(viewer).to_be_visible()
    return viewer


def _result_ids(page: Page) -> list[str]:
    return page.get_by_test_id("result").evaluate_all("cards => cards.map(card => card.dataset.id)")


def _query_box_label(page: Page, index: int) -> Locator:
    # The label: a smaller box may cover the middle of a larger one.
    return page.locator(f"[data-testid=query-box][data-index='{index}'] .box-label")


def _assert_results_have_overlays(page: Page) -> None:
    results = page.get_by_test_id("result")
    expect(results.first).to_be_visible()
    first = results.first
    boxes = first.get_by_test_id("result-box")
    assert boxes.count() >= 1
    # Each query part's best match is drawn strongly with a label; any others faintly, their text in the tooltip.
    best = first.locator("[data-testid=result-box][data-emphasis=best]")
    assert best.count() >= 1
    assert OVERLAY_LABEL.match(best.first.inner_text().strip()), best.first.inner_text()
    for index in range(boxes.count()):
        assert re.search(r"similarity -?\d\.\d\d$", boxes.nth(index).get_attribute("title") or "")
    # The thumbnail really loads (decode() waits for it: right after the results render it may still be arriving),
    # and its overlays lie inside it.
    thumbnail = first.locator("img")
    assert thumbnail.evaluate("img => img.decode().then(() => img.naturalWidth > 0)")
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


def _job_body(job_id: str, kind: str, state: str, *, done: int = 2, total: int = 5) -> dict:
    """A JobPublic as the API answers it."""
    stamp = "2024-05-01T10:00:00Z"
    return {
        "id": job_id,
        "kind": kind,
        "state": state,
        "total": total,
        "done": done,
        "duplicates": 0,
        "failed": 0,
        "errors": [],
        "created_at": stamp,
        "finished_at": None,
        "updated_at": stamp,
        "optimized": None,
    }


INTERRUPTED_SYNC = "a" * 32
INTERRUPTED_INDEX = "b" * 32


def _mock_interrupted_jobs(page: Page) -> None:
    """The job list answers with an interrupted sync and an interrupted command-line run (a restart's leftovers)."""
    jobs = [
        _job_body(INTERRUPTED_SYNC, "sync folder /srv/photos", "interrupted"),
        _job_body(INTERRUPTED_INDEX, "index", "interrupted"),
    ]
    page.route(re.compile(r"/api/v1/jobs$"), lambda route: route.fulfill(json=jobs))


def test_jobs_list_follows_a_sync_until_done(page: Page, live_server: LiveServer) -> None:
    folder = live_server.sync_folder / "jobs-list"
    folder.mkdir()
    try:
        for seed in (210, 211):
            (folder / f"listed-{seed}.jpg").write_bytes(_jpeg(seed))
        page.goto("/#/ingest")
        expect(page.get_by_test_id("jobs").or_(page.get_by_test_id("jobs-empty"))).to_be_visible()
        with live_server.client() as client:
            response = client.post("/api/v1/jobs/sync", json={"folder": str(folder)})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        page.get_by_test_id("jobs-refresh").click()  # then the list polls by itself while the job runs
        row = page.locator(f"[data-testid=job][data-job-id='{job_id}']")
        expect(row).to_have_attribute("data-state", "done", timeout=30_000)
        expect(row.get_by_test_id("job-counts")).to_have_text("2 / 2 done · 0 duplicates · 0 failed")
        expect(row).to_contain_text(f"sync folder {folder}")
        expect(row.get_by_test_id("job-cancel")).to_have_count(0)
        expect(row.get_by_test_id("job-resume")).to_have_count(0)
    finally:
        for path in folder.iterdir():  # the other folder-sync test counts what the whole folder holds
            path.unlink()
        folder.rmdir()


def test_jobs_list_resumes_an_interrupted_sync_and_points_index_runs_to_the_cli(page: Page) -> None:
    _mock_interrupted_jobs(page)
    resumed = _job_body(INTERRUPTED_SYNC, "sync folder /srv/photos", "running")
    page.route(f"**/api/v1/jobs/{INTERRUPTED_SYNC}/resume", lambda route: route.fulfill(status=202, json=resumed))
    page.goto("/#/ingest")
    sync_row = page.locator(f"[data-testid=job][data-job-id='{INTERRUPTED_SYNC}']")
    index_row = page.locator(f"[data-testid=job][data-job-id='{INTERRUPTED_INDEX}']")
    expect(sync_row.get_by_test_id("job-state")).to_have_text("interrupted")
    expect(sync_row.get_by_test_id("job-counts")).to_have_text("2 / 5 done · 0 duplicates · 0 failed")
    expect(index_row.get_by_test_id("job-resume")).to_have_count(0)
    expect(index_row.get_by_test_id("job-resume-hint")).to_contain_text(f"imgsearch index --resume {INTERRUPTED_INDEX}")
    expect(index_row.get_by_test_id("job-cancel")).to_be_visible()

    with page.expect_request(lambda request: request.url.endswith("/resume")) as sent:
        sync_row.get_by_test_id("job-resume").click()
    assert sent.value.method == "POST"
    assert sent.value.url.endswith(f"/api/v1/jobs/{INTERRUPTED_SYNC}/resume")
    assert sent.value.headers.get("x-api-key") == API_KEY
    expect(page.get_by_test_id("jobs-action-error")).to_have_count(0)


def test_jobs_list_shows_refused_actions(page: Page, keyless_page: Page) -> None:
    # A job that finished meanwhile: the server refuses with 409, and the message says why.
    _mock_interrupted_jobs(page)
    refused = {"error": {"code": "job_not_resumable", "message": "job is done: only an interrupted job can be resumed"}}
    page.route("**/api/v1/jobs/*/resume", lambda route: route.fulfill(status=409, json=refused))
    page.goto("/#/ingest")
    page.locator(f"[data-testid=job][data-job-id='{INTERRUPTED_SYNC}']").get_by_test_id("job-resume").click()
    expect(page.get_by_test_id("jobs-action-error")).to_contain_text("only an interrupted job can be resumed")

    # Without the API key the real server answers 401: the app asks for the key, as everywhere else.
    _mock_interrupted_jobs(keyless_page)
    keyless_page.goto("/#/ingest")
    row = keyless_page.locator(f"[data-testid=job][data-job-id='{INTERRUPTED_INDEX}']")
    with keyless_page.expect_response(lambda response: response.url.endswith("/cancel")) as answered:
        row.get_by_test_id("job-cancel").click()
    assert answered.value.status == 401
    expect(keyless_page.get_by_test_id("jobs-action-error")).to_contain_text("needs an API key")
    expect(keyless_page.get_by_test_id("api-key-input")).to_be_visible()  # a 401 opens the key panel


def test_upload_searches_its_main_object_and_later_clicks_send_no_file(page: Page, indexed: list[str]) -> None:
    upload = _upload(page, _jpeg(3))
    assert _carries_file(upload)
    assert b'name="object"' not in upload.post_data_buffer  # nothing named: the server picks
    first = upload.response().json()
    query_id = first["query_id"]
    objects = len(first["query"]["objects"])
    assert query_id and objects >= 2, first["query"]  # overlapping boxes merged, two things remain
    main = first["query"]["used"]
    assert main["kind"] == "object" and main["auto"], main

    used = page.get_by_test_id("query-used")
    expect(used).to_have_attribute("data-kind", "object")
    expect(used).to_have_attribute("data-index", str(main["object"]))
    expect(page.get_by_test_id("query-auto")).to_contain_text("chosen for you")
    expect(page.locator(f"[data-testid=query-box][data-index='{main['object']}']")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.get_by_test_id("search-whole")).to_be_enabled()  # the whole image is one click away
    expect(page.get_by_test_id("result")).to_have_count(len(first["results"]))
    assert _result_ids(page) == [result["id"] for result in first["results"]]
    _assert_results_have_overlays(page)

    # Another box: the session is searched again, the image is not sent again.
    other = next(index for index in range(objects) if index != main["object"])
    with page.expect_request(_is_search) as clicked:
        _query_box_label(page, other).click()
    body = _session_search(clicked.value, query_id)
    assert body["object"] == other and "objects" not in body, body
    second = clicked.value.response().json()
    expect(used).to_have_attribute("data-index", str(other))
    expect(used).to_have_attribute("data-auto", "false")
    second_ids = [result["id"] for result in second["results"]]
    assert second_ids and _result_ids(page) == second_ids
    assert second_ids != [result["id"] for result in first["results"]]  # the results did change

    # Shift-click adds the main object back: images holding both.
    with page.expect_request(_is_search) as shifted:
        _query_box_label(page, main["object"]).click(modifiers=["Shift"])
    body = _session_search(shifted.value, query_id)
    assert body["objects"] == [other, main["object"]] and "object" not in body, body
    both = shifted.value.response().json()
    assert [part["object"] for part in both["query"]["parts"]] == [other, main["object"]]
    expect(used).to_have_attribute("data-kind", "several")
    expect(used).to_have_attribute("data-objects", json.dumps([other, main["object"]], separators=(",", ":")))
    for index in (other, main["object"]):
        expect(page.locator(f"[data-testid=query-chip][data-index='{index}']")).to_have_attribute(
            "aria-pressed", "true"
        )
    assert both["results"], "the indexed copy of the query image holds both objects"
    assert _result_ids(page) == [result["id"] for result in both["results"]]
    # A best box for each part on every card.
    for card in page.get_by_test_id("result").all():
        expect(card.locator("[data-testid=result-box][data-emphasis=best]")).to_have_count(2)


def test_select_several_whole_image_and_an_expired_session(page: Page, indexed: list[str]) -> None:
    upload = _upload(page, _jpeg(5))
    query_id = upload.response().json()["query_id"]
    used = page.get_by_test_id("query-used")
    expect(used).to_have_attribute("data-index", "0")

    # On a touch screen "Select several" stands in for Shift: a tap adds, a second tap takes out again.
    page.get_by_test_id("select-several").check()
    with page.expect_request(_is_search) as added:
        page.locator("[data-testid=query-chip][data-index='1']").click()
    assert _session_search(added.value, query_id)["objects"] == [0, 1]
    expect(used).to_have_attribute("data-kind", "several")
    with page.expect_request(_is_search) as removed:
        page.locator("[data-testid=query-chip][data-index='0']").click()
    assert _session_search(removed.value, query_id)["object"] == 1
    expect(used).to_have_attribute("data-kind", "object")
    expect(used).to_have_attribute("data-index", "1")
    page.get_by_test_id("select-several").uncheck()

    with page.expect_request(_is_search) as whole:
        page.get_by_test_id("search-whole").click()
    body = _session_search(whole.value, query_id)
    assert body["target"] == "image" and not {"object", "objects", "box", "boxes"} & body.keys(), body
    expect(used).to_have_attribute("data-kind", "whole")
    expect(page.get_by_test_id("search-whole")).to_have_attribute("aria-pressed", "true")
    _assert_results_have_overlays(page)

    # The server forgot the session: the UI sends the file it kept once more, with the same choice.
    expired: list[str] = []

    def expire_once(route: Route) -> None:
        if not expired and route.request.headers.get("content-type", "").startswith("application/json"):
            expired.append(route.request.post_data_json["query_id"])
            route.fulfill(status=410, json={"error": {"code": "query_expired", "message": "query expired"}})
        else:
            route.continue_()

    page.route("**/api/v1/search", expire_once)
    searches: list[Request] = []
    page.on("request", lambda request: searches.append(request) if _is_search(request) else None)
    _query_box_label(page, 1).click()
    expect(used).to_have_attribute("data-kind", "object")
    expect(used).to_have_attribute("data-index", "1")
    expect(page.get_by_test_id("search-error")).to_have_count(0)
    assert expired == [query_id]
    assert len(searches) == 2, [request.post_data for request in searches]
    assert searches[0].post_data_json["object"] == 1
    assert _carries_file(searches[1]) and b'name="object"\r\n\r\n1\r\n' in searches[1].post_data_buffer
    renewed = searches[1].response().json()["query_id"]
    assert renewed and renewed != query_id
    page.unroute("**/api/v1/search")

    with page.expect_request(_is_search) as later:
        _query_box_label(page, 0).click()
    assert _session_search(later.value, renewed)["object"] == 0  # and goes on with the new session
    expect(used).to_have_attribute("data-index", "0")


def test_search_by_upload_object_and_region(
    page: Page, live_server: LiveServer, indexed: list[str], artifacts: Path
) -> None:
    with live_server.client() as client:
        total = client.get("/api/v1/stats").json()["images"]
    upload = _upload(page, _jpeg(3))
    query_id = upload.response().json()["query_id"]
    expect(page.get_by_test_id("query-used")).to_have_attribute("data-auto", "true")
    query_boxes = page.get_by_test_id("query-box")
    assert query_boxes.count() >= 2, "the test pipeline detects about three objects per image"
    for index in range(query_boxes.count()):
        assert query_boxes.nth(index).get_attribute("aria-label")
    _assert_results_have_overlays(page)
    expect(page.get_by_test_id("results-summary")).to_contain_text("24 images so far")

    # The next page comes from the session too.
    with page.expect_request(_is_search) as more:
        page.get_by_test_id("load-more").click()
    assert _session_search(more.value, query_id)["cursor"]
    expect(page.get_by_test_id("result")).to_have_count(total)  # every image, when nothing filters them
    expect(page.get_by_test_id("load-more")).to_have_count(0)

    # A click on a detected box searches by that object.
    second_box = page.locator("[data-testid=query-box][data-index='1']")
    _query_box_label(page, 1).click()
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
    with page.expect_request(_is_search) as drawn:
        page.mouse.move(frame["x"] + frame["width"] * 0.25, frame["y"] + frame["height"] * 0.25)
        page.mouse.down()
        page.mouse.move(frame["x"] + frame["width"] * 0.5, frame["y"] + frame["height"] * 0.5, steps=5)
        page.mouse.move(frame["x"] + frame["width"] * 0.75, frame["y"] + frame["height"] * 0.75, steps=5)
        page.mouse.up()
    assert _session_search(drawn.value, query_id)["box"] == pytest.approx([80, 60, 240, 180], abs=3)
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
    with page.expect_request(_is_search) as liked:
        target.get_by_test_id("search-like").click()
    assert liked.value.post_data_json == {"image_id": target_id, "k": 24, "kinds": ["object", "image"]}
    expect(page).to_have_url(re.compile(rf"#/search\?image={target_id}$"))
    used = page.get_by_test_id("query-used")
    expect(used).to_have_attribute("data-kind", "object")  # its main object, as for an upload
    expect(used).to_have_attribute("data-auto", "true")
    _assert_results_have_overlays(page)
    # An indexed image keeps being searched by its id: that costs no detection either.
    with page.expect_request(_is_search) as clicked:
        page.get_by_test_id("query-chip").last.click()
    assert clicked.value.post_data_json["image_id"] == target_id
    expect(used).to_have_attribute("data-auto", "false")
    _assert_results_have_overlays(page)
    result_ids = page.get_by_test_id("result").evaluate_all("cards => cards.map(card => card.dataset.id)")
    assert target_id not in result_ids  # an indexed image is left out of its own results


def test_viewer_tags_an_image_and_the_gallery_filters_by_tag(
    page: Page, live_server: LiveServer, indexed: list[str]
) -> None:
    trip = "trip:paris 2024"  # a colon and a space: both must survive the body, the address and the query string
    page.goto("/#/gallery")
    items = page.get_by_test_id("gallery-item")
    expect(items).to_have_count(24)
    target = items.nth(2).get_attribute("data-id")
    assert target
    card = page.locator(f"[data-testid=gallery-item][data-id='{target}']")
    # 24 more images hold the tag already, so the filtered gallery has a second page to load.
    others = [image_id for image_id in indexed if image_id != target][:24]
    _set_tags(live_server, others, [trip])
    patches: list[Request] = []
    page.on("request", lambda request: patches.append(request) if request.method == "PATCH" else None)

    viewer = _open_in_gallery(page, target)
    expect(viewer.get_by_test_id("viewer-no-tags")).to_be_visible()
    tag_input = viewer.get_by_test_id("viewer-tag-input")
    # A tag the server would refuse is named before any request.
    tag_input.fill("no+plus")
    tag_input.press("Enter")
    expect(viewer.get_by_test_id("viewer-tag-error")).to_contain_text('"no+plus"')
    assert patches == []

    tag_input.fill(trip)
    with page.expect_request(_is_tag_update(target)) as added:
        viewer.get_by_test_id("viewer-tag-add").click()
    assert added.value.post_data_json == {"tags": [trip]}
    assert added.value.all_headers().get("x-api-key") == API_KEY
    chips = viewer.get_by_test_id("viewer-tag")
    expect(chips).to_have_count(1)
    expect(chips).to_have_attribute("data-tag", trip)
    expect(tag_input).to_have_value("")
    expect(viewer.get_by_test_id("viewer-tag-error")).to_have_count(0)
    expect(card.get_by_test_id("gallery-tag")).to_have_text([trip])  # the card behind follows
    assert _tags_of(live_server, target) == [trip]

    # The chip links to the gallery filtered by it; the filter goes with "Load more" too.
    with page.expect_request(_is_browse) as browsed:
        chips.get_by_role("link", name=trip).click()
    assert _browse_query(browsed.value)["tag"] == [trip]
    assert "cursor" not in _browse_query(browsed.value)
    expect(viewer).to_have_count(0)
    expect(page.get_by_test_id("gallery-tag-filter")).to_have_value(trip)
    # Every card shown holds the tag (before the filtered page arrived, only one did).
    expect(items.get_by_test_id("gallery-tag")).to_have_count(24)
    expect(items).to_have_count(24)
    with page.expect_request(_is_browse) as more:
        page.get_by_test_id("gallery-load-more").click()
    assert _browse_query(more.value)["tag"] == [trip]
    assert _browse_query(more.value)["cursor"]
    expect(items).to_have_count(25)
    expect(page.get_by_test_id("gallery-load-more")).to_have_count(0)
    shown = items.evaluate_all("cards => cards.map(card => card.dataset.id)")
    assert sorted(shown) == sorted({target, *others})

    viewer = _open_in_gallery(page, target)
    expect(chips).to_have_attribute("data-tag", trip)
    with page.expect_request(_is_tag_update(target)) as removed:
        viewer.get_by_role("button", name=f"Remove tag {trip}").click()
    assert removed.value.post_data_json == {"tags": []}
    assert removed.value.all_headers().get("x-api-key") == API_KEY
    expect(chips).to_have_count(0)
    expect(viewer.get_by_test_id("viewer-no-tags")).to_be_visible()
    assert _tags_of(live_server, target) == []
    viewer.get_by_test_id("viewer-close").click()
    expect(card.get_by_test_id("gallery-tag")).to_have_count(0)
    _set_tags(live_server, others, [])


def test_tagging_without_the_api_key_asks_for_it(
    keyless_page: Page, live_server: LiveServer, indexed: list[str]
) -> None:
    page = keyless_page
    page.goto("/#/gallery")
    first = page.get_by_test_id("gallery-item").first
    expect(first).to_be_visible()
    target = first.get_attribute("data-id")
    assert target
    viewer = _open_in_gallery(page, target)
    with page.expect_response(lambda response: _is_tag_update(target)(response.request)) as refused:
        viewer.get_by_test_id("viewer-tag-input").fill("e2e keyless")
        viewer.get_by_test_id("viewer-tag-input").press("Enter")
    assert refused.value.status == 401
    expect(viewer.get_by_test_id("viewer-tag-error")).to_contain_text("API key")
    expect(viewer.get_by_test_id("viewer-tag")).to_have_count(0)
    assert _tags_of(live_server, target) == []

    # The key panel lies under the modal viewer: the error's button closes the viewer and goes to the key.
    viewer.get_by_test_id("viewer-enter-key").click()
    expect(viewer).to_have_count(0)
    key_input = page.get_by_test_id("api-key-input")
    expect(key_input).to_be_focused()
    key_input.fill(API_KEY)
    key_input.press("Enter")
    viewer = _open_in_gallery(page, target)
    viewer.get_by_test_id("viewer-tag-input").fill("e2e keyless")
    with page.expect_request(_is_tag_update(target)) as sent:
        viewer.get_by_test_id("viewer-tag-add").click()
    assert sent.value.all_headers().get("x-api-key") == API_KEY
    expect(viewer.get_by_test_id("viewer-tag")).to_have_attribute("data-tag", "e2e keyless")
    assert _tags_of(live_server, target) == ["e2e keyless"]
    _set_tags(live_server, [target], [])


def test_search_filters_by_tags(page: Page, live_server: LiveServer, indexed: list[str]) -> None:
    query_id, *rest = indexed
    tagged = rest[3:6]
    _set_tags(live_server, tagged, ["e2e-search", "kept"])
    _set_tags(live_server, rest[6:8], ["e2e-search"])  # holds one of the two tags only: left out
    page.goto(f"/#/search?image={query_id}")
    expect(page.get_by_test_id("result").first).to_be_visible()
    tags_field = page.get_by_test_id("filter-tags")

    tags_field.fill("e2e-search, kept")
    with page.expect_request(
        lambda request: _is_search(request) and (request.post_data_json or {}).get("tags") == ["e2e-search", "kept"]
    ) as sent:
        tags_field.press("Enter")
    assert sent.value.post_data_json["image_id"] == query_id
    expect(page.get_by_test_id("search-loading")).to_have_count(0)
    expect(page.get_by_test_id("result")).to_have_count(len(tagged))
    assert sorted(_result_ids(page)) == sorted(tagged)

    # A bad tag is named, and not sent.
    searches: list[Request] = []
    page.on("request", lambda request: searches.append(request) if _is_search(request) else None)
    tags_field.fill("e2e-search, #bad")
    tags_field.press("Enter")
    expect(page.get_by_test_id("search-error")).to_contain_text('"#bad"')
    expect(page.get_by_test_id("result")).to_have_count(0)
    assert searches == []
    _set_tags(live_server, rest[3:8], [])


def test_phone_width_has_no_horizontal_scroll(phone_page: Page, indexed: list[str], artifacts: Path) -> None:
    page = phone_page
    _search_with_upload(page, _jpeg(5))
    _assert_results_have_overlays(page)
    expect(page.get_by_test_id("select-several")).to_be_visible()
    _query_box_label(page, 1).click()
    expect(page.get_by_test_id("query-used")).to_have_attribute("data-index", "1")
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
