"""The browser-facing pages: the playground and the API docs are served by the app itself, and no
page (nor a stylesheet of ours) points the browser at another host, so all of it works air-gapped.
The routes the playground needs before a key exists (cues, clone limits) are public."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from litestar.testing import TestClient

from engines.tts.emotion import resolve_cue
from server.http.app import create_app
from server.http.web_assets import PLAYGROUND_DIR

PAGES = ["/", "/playground", "/docs", "/docs/swagger"]
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""")


class _Links(HTMLParser):
    """Every URL a browser would fetch from the page by itself: scripts, styles, icons, media."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name in ("src", "poster", "srcset") or (name == "href" and tag in ("link", "base"))):
                self.urls.append(value)
            if value and name == "style":
                self.urls += [a or b for a, b in CSS_URL.findall(value)]

    def handle_data(self, data: str) -> None:
        self.urls += [a or b for a, b in CSS_URL.findall(data)]  # inline <style>


def fetched_urls(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def is_external(url: str, page: str) -> bool:
    absolute = urljoin(f"http://testserver{page}", url)
    parts = urlsplit(absolute)
    return parts.scheme != "http" or parts.netloc != "testserver"


@pytest.fixture
def client(make_settings):
    with TestClient(create_app(make_settings(auth={"enabled": True}))) as test_client:
        yield test_client


@pytest.mark.parametrize("page", PAGES)
def test_no_served_page_references_an_external_url(client, page):
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    urls = fetched_urls(response.text)
    assert urls, "the page loads its scripts and styles from somewhere"
    external = [u for u in urls if is_external(u, page) and not u.startswith("data:")]
    assert external == [], external
    for url in urls:
        if url.startswith("data:"):
            continue
        asset = client.get(urljoin(page, url))
        assert asset.status_code == 200, (page, url)
        if url.endswith(".css"):  # a stylesheet can pull fonts or images from a CDN too
            nested = [a or b for a, b in CSS_URL.findall(asset.text)]
            assert [u for u in nested if is_external(u, url) and not u.startswith("data:")] == []


def test_the_playground_scripts_only_talk_to_this_server(client):
    scripts = sorted(PLAYGROUND_DIR.glob("*.js"))
    assert {"main.js", "api.js"} <= {p.name for p in scripts}
    for path in scripts:
        response = client.get(f"/static/playground/{path.name}")
        assert response.status_code == 200 and "javascript" in response.headers["content-type"], path.name
        # relative API paths only: the page works behind a proxy prefix and never calls another host
        assert not re.search(r"https?://", response.text), path.name
    api_module = client.get("/static/playground/api.js").text
    assert "localStorage" in api_module and "Authorization" in api_module


def test_root_and_playground_are_the_same_page(client):
    assert client.get("/").content == client.get("/playground").content
    assert 'id="key-form"' in client.get("/").text


def test_a_trailing_slash_goes_back_to_the_page_its_relative_links_fit(client):
    response = client.get("/playground/", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "../playground"
    assert client.get("/playground/").url.path == "/playground"  # followed, as a browser does


def test_docs_use_the_packaged_assets(client):
    scalar = client.get("/docs").text
    assert "/static/scalar/standalone.js" in scalar and "withDefaultFonts" in scalar
    swagger = client.get("/docs/swagger").text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in swagger
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text[:100_000] + bundle.text[-100_000:]


def test_static_files_do_not_escape_their_folder(client):
    assert client.get("/static/playground/../../app.py").status_code == 404
    assert client.get("/static/playground/%2e%2e/%2e%2e/app.py").status_code == 404


def test_cue_list_is_public_and_every_name_resolves_to_itself(client):
    response = client.get("/v1/tts/cues")  # no key: the editor shows cues before one is entered
    assert response.status_code == 200, response.text
    body = response.json()
    styles = {s["name"]: s for s in body["styles"]}
    events = {e["name"]: e for e in body["events"]}
    assert {"whisper", "excited", "sad"} <= set(styles) and {"pause", "laugh", "sigh"} <= set(events)
    assert events["pause"]["silence_s"] > 0 and events["laugh"]["silence_s"] is None
    for kind, items in (("style", styles), ("event", events)):
        for name, item in items.items():
            assert resolve_cue(name) == (kind, name)
            for alias in item["aliases"]:
                assert resolve_cue(alias) == (kind, name), alias


def test_clone_limits_are_public_and_follow_the_settings(make_settings):
    settings = make_settings(auth={"enabled": True}, clone={"min_speech_s": 12.0, "max_audio_s": 60.0})
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/clone/limits")
    assert response.status_code == 200
    assert response.json() == {"min_speech_s": 12.0, "max_audio_s": 60.0}


def test_every_web_file_is_declared_as_package_data():
    # A file the wheel leaves out would be a 404 on an installed server but not in a checkout.
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["server.http"]
    package_dir = PLAYGROUND_DIR.parents[1]
    shipped = {p for pattern in patterns for p in package_dir.glob(pattern) if p.is_file()}
    on_disk = {p for p in (package_dir / "web").rglob("*") if p.is_file()}
    assert on_disk and on_disk == shipped, on_disk ^ shipped
