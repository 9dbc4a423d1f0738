"""A real server (embedded index, test pipeline) serving the built UI, and a headless Chromium to drive it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from api.main import FRONTEND_DIST, create_app
from imgsearch.settings import Settings
from pipeline.runner import Pipeline
from tests.fixtures import jpeg_bytes, scene

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_KEY = "e2e-secret"
ARTIFACTS = Path(__file__).parent / "artifacts"
# More than one search page (24) so "Load more" has something to load.
INDEXED_IMAGES = 30


@dataclass(frozen=True)
class LiveServer:
    url: str
    sync_folder: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": API_KEY}, timeout=60)


@pytest.fixture(scope="session")
def live_server(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """uvicorn on a free loopback port in a thread: the embedded back end, an API key, one syncable folder."""
    if not (FRONTEND_DIST / "index.html").is_file():
        pytest.fail(f"{FRONTEND_DIST}/index.html is missing: run scripts/frontend to build the UI first")
    root = tmp_path_factory.mktemp("e2e")
    sync_folder = root / "sync"
    sync_folder.mkdir()
    # model_validate with explicit values: the environment (CI sets IMGSEARCH_ES_URL, ...) must not pick servers.
    settings = Settings.model_validate(
        {
            "data_dir": root / "data",
            "es_url": None,
            "s3_endpoint": None,
            "api_key": API_KEY,
            "cors_origins": [],
            "sync_folders": [sync_folder],
            "model_queue": 32,
            "log_level": "WARNING",
        }
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, pipeline), log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="e2e-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the e2e server did not start (see the log above)")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", sync_folder=sync_folder)
    server.should_exit = True
    thread.join(timeout=15)
    listener.close()


@pytest.fixture(scope="session")
def indexed(live_server: LiveServer) -> list[str]:
    """Ids of generated images ingested through the API (the UI's own upload is tested separately)."""
    files = [
        ("files", (f"scene-{seed:02d}.jpg", jpeg_bytes(scene(320, 240, seed=seed)), "image/jpeg"))
        for seed in range(INDEXED_IMAGES)
    ]
    with live_server.client() as client:
        response = client.post("/api/v1/images", files=files)
    assert response.status_code in (200, 201), response.text
    return [image["id"] for image in response.json()["images"]]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _page(browser: Browser, live_server: LiveServer, *, width: int, height: int, api_key: str | None) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
    if api_key:
        context.add_init_script(f"window.localStorage.setItem('imgsearch.apiKey', {json.dumps(api_key)})")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A desktop-sized page whose browser already holds the API key."""
    yield from _page(browser, live_server, width=1280, height=900, api_key=API_KEY)


@pytest.fixture
def keyless_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A page that has not been given the API key yet."""
    yield from _page(browser, live_server, width=1280, height=900, api_key=None)


@pytest.fixture
def phone_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    yield from _page(browser, live_server, width=360, height=740, api_key=API_KEY)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
