"""The playground in a real headless browser (Debian's chromium driven by Playwright) against the
real `voice-api serve` process with authentication on: a wrong key, then the admin key; a real
two-speaker transcript; a two-speaker script played back; a clone found in the voice picker; the
voices and status panels; the API docs pages. Every request the browser makes must go to the
server itself. Screenshots of each panel go to $PLAYGROUND_SCREENSHOTS (docs/playground/ holds the
committed ones) or to the test's temporary folder."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.support.audio import espeak, sample_wav, silence, wav_bytes
from tests.support.processes import ServeProcess, project_env

pytestmark = pytest.mark.slow
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")

TASK_TIMEOUT_MS = 180_000
REFERENCE_SENTENCES = [
    "The harbour was quiet in the early morning, and the gulls circled above the fishing boats.",
    "She wrote three letters before breakfast, then walked to the post office by the old bridge.",
    "Every winter the village held a market where farmers sold cheese, honey and warm bread.",
]


def chromium_path() -> str:
    path = os.environ.get("PLAYGROUND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is not installed (scripts/install.sh --dev installs it)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("playground")
    serve = ServeProcess(project_env(VOICE_API_STORAGE__DATA_DIR=str(folder / "data")), folder / "serve.log")
    try:
        serve.wait_healthy()
        serve.admin_key = re.search(r"^\s+(va_\S+)$", serve.log(), re.MULTILINE).group(1)
        yield serve
    finally:
        serve.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PLAYGROUND_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=chromium_path(),
            args=[
                "--no-sandbox",
                "--autoplay-policy=no-user-gesture-required",
                # a fake microphone (a beeping tone) that needs no permission prompt
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def visited(server):
    """Every URL the browser asked for during the module."""
    return []


@pytest.fixture(scope="module")
def page(browser, server, visited):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, permissions=["microphone"]
    )
    context.on("request", lambda request: visited.append(request.url))
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(f"{server.base_url}/playground")
    yield tab
    context.close()


def test_a_wrong_key_shows_the_servers_401_message(page, shots):
    page.fill("#api-key", "va_not-a-real-key")
    page.click("#key-form button[type=submit]")
    error = page.locator("#error-text")
    playwright_api.expect(error).to_contain_text("a valid API key is required")
    playwright_api.expect(page.locator("#key-status")).to_have_text("Key refused")
    page.screenshot(path=shots / "key-error.png")


def test_transcribe_sample_shows_words_and_two_speaker_colours(page, server, shots):
    page.fill("#api-key", server.admin_key)
    page.click("#key-form button[type=submit]")
    playwright_api.expect(page.locator("#key-status")).to_contain_text("Connected as")
    playwright_api.expect(page.locator("#error")).to_be_hidden()

    page.set_input_files("#stt-file", str(sample_wav()))
    page.click("#stt-submit")
    page.wait_for_selector("#stt-transcript .turn", timeout=TASK_TIMEOUT_MS)
    assert page.locator("#stt-progress").get_attribute("value") == "100"
    text = page.inner_text("#stt-transcript").lower()
    assert "hello" in text and "chicago" in text, text  # words of pyannote's sample
    colours = page.eval_on_selector_all(
        "#stt-transcript .turn", "turns => turns.map(t => getComputedStyle(t).borderLeftColor)"
    )
    speakers = page.eval_on_selector_all("#stt-transcript .turn", "turns => turns.map(t => t.dataset.speaker)")
    assert len(set(speakers)) == 2 and len(set(colours)) == 2, (speakers, colours)

    second = page.locator("#stt-transcript .turn").nth(1)
    start = float(second.get_attribute("data-start"))
    second.click()
    page.wait_for_function("() => !document.querySelector('#stt-audio').seeking")
    assert page.evaluate("document.querySelector('#stt-audio').currentTime") == pytest.approx(start, abs=0.6)

    with page.expect_download() as download:
        page.click("#stt-downloads button[data-format=srt]")
    srt = Path(download.value.path()).read_text()
    assert "-->" in srt and "hello" in srt.lower()
    page.screenshot(path=shots / "stt.png", full_page=True)


def test_the_page_fits_a_phone(page, shots):
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("#tab-stt")  # with the transcript of the test above
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=shots / "phone-stt.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_microphone_recording_is_sent_as_webm_and_transcribed(page):
    page.uncheck("#stt-diarize")  # a beep has no speakers to find; this checks the recording path
    page.click("#stt-record")
    playwright_api.expect(page.locator("#stt-record")).to_have_attribute("aria-pressed", "true")
    playwright_api.expect(page.locator("#stt-record-time")).to_contain_text("recording 0:01")
    page.click("#stt-record")
    playwright_api.expect(page.locator("#stt-file-name")).to_contain_text("recording.webm")
    page.click("#stt-submit")
    playwright_api.expect(page.locator("#stt-progress-text")).to_have_text("done", timeout=TASK_TIMEOUT_MS)
    playwright_api.expect(page.locator("#error")).to_be_hidden()
    page.check("#stt-diarize")


def test_tabs_follow_the_arrow_keys(page):
    page.focus("#tab-stt")
    page.keyboard.press("ArrowRight")
    playwright_api.expect(page.locator("#tab-tts")).to_be_focused()
    playwright_api.expect(page.locator("#tab-tts")).to_have_attribute("aria-selected", "true")
    playwright_api.expect(page.locator("#panel-tts")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    playwright_api.expect(page.locator("#panel-stt")).to_be_visible()


def test_a_two_speaker_script_becomes_playable_audio(page, shots):
    page.click("#tab-tts")
    page.wait_for_selector("#tts-cue option[value=whisper]", state="attached")
    page.wait_for_selector("#tts-voice-1 option", state="attached")
    page.fill("#tts-text", "Good morning, and welcome.")
    page.click("#tts-marker-buttons button:has-text('Speaker 1')")  # inserts <|speaker:1|>
    page.keyboard.type("Thank you, it is a pleasure.")
    page.select_option("#tts-cue", "laugh")
    page.click("#tts-cue-insert")
    page.keyboard.type("[flabbergasted] Shall we begin?")
    script = page.input_value("#tts-text")
    assert "<|speaker:1|>" in script and "[laugh]" in script

    page.click("#tts-submit")
    page.wait_for_function(
        "() => { const a = document.querySelector('#tts-audio'); return !a.hidden && a.duration > 0 }",
        timeout=TASK_TIMEOUT_MS,
    )
    duration = page.evaluate("document.querySelector('#tts-audio').duration")
    assert 2.0 < duration < 30.0
    playwright_api.expect(page.locator("#tts-warnings")).to_contain_text("flabbergasted")
    page.screenshot(path=shots / "tts.png", full_page=True)


def speech_file(path: Path, sentences: list[str]) -> Path:
    voice = [np.concatenate([espeak(s, "en-us+f3", pitch=80), silence(0.4)]) for s in sentences]
    path.write_bytes(wav_bytes(np.concatenate(voice)))
    return path


def test_the_clone_gate_refusal_is_shown_in_plain_words(page, shots, tmp_path):
    page.click("#tab-clone")
    page.set_input_files("#clone-file", str(speech_file(tmp_path / "short.wav", REFERENCE_SENTENCES[:1])))
    playwright_api.expect(page.locator("#clone-length")).to_contain_text("more needed")
    page.fill("#clone-title", "Too Short")
    page.click("#clone-submit")
    refusal = page.locator("#clone-rejected")
    playwright_api.expect(refusal).to_contain_text("Too short", timeout=TASK_TIMEOUT_MS)
    playwright_api.expect(refusal).to_contain_text("at least 10 s")
    page.screenshot(path=shots / "clone-refused.png", full_page=True)


def test_a_clone_from_a_file_is_at_once_in_the_voice_picker(page, shots, tmp_path):
    reference = speech_file(tmp_path / "reference.wav", REFERENCE_SENTENCES)
    page.click("#tab-clone")
    page.set_input_files("#clone-file", str(reference))
    playwright_api.expect(page.locator("#clone-length")).to_contain_text("long enough")
    page.fill("#clone-title", "Browser Narrator")
    page.fill("#clone-tags", "calm, story")
    page.click("#clone-submit")
    page.wait_for_selector("#clone-done:not([hidden])", timeout=TASK_TIMEOUT_MS)
    model_id = re.search(r"\((\S+)\)", page.inner_text("#clone-done-text")).group(1)
    assert page.locator(f"#tts-voice-0 option[value='{model_id}']").count() == 1
    assert page.input_value("#tts-voice-0") == model_id
    page.click("#clone-sample")  # the new voice speaks the sample sentence
    page.wait_for_function(
        "() => { const a = document.querySelector('#clone-sample-audio'); return !a.hidden && a.duration > 0 }",
        timeout=TASK_TIMEOUT_MS,
    )
    page.screenshot(path=shots / "clone.png", full_page=True)


def test_voices_and_status_panels(page, shots):
    page.click("#tab-voices")
    page.fill("#voices-title", "browser narator")  # fuzzy: misspelt
    page.click("#voices-form button[type=submit]")
    first = page.locator("#voices-table tbody tr").first
    playwright_api.expect(first).to_contain_text("Browser Narrator")
    playwright_api.expect(first.locator("button:has-text('Delete')")).to_be_visible()  # an own clone
    page.fill("#voices-title", "")
    page.click("#voices-form button[type=submit]")
    playwright_api.expect(page.locator("#voices-count")).to_contain_text("voice")
    page.screenshot(path=shots / "voices.png", full_page=True)

    page.fill("#voices-title", "browser narrator")
    page.click("#voices-form button[type=submit]")
    row = page.locator("#voices-table tbody tr", has_text="Browser Narrator")
    page.once("dialog", lambda dialog: dialog.accept())  # "Delete the voice …?"
    row.locator("button:has-text('Delete')").click()
    playwright_api.expect(row).to_have_count(0)
    playwright_api.expect(page.locator("#tts-voice-0 option", has_text="Browser Narrator")).to_have_count(0)

    page.click("#tab-status")
    playwright_api.expect(page.locator("#status-health")).to_contain_text("embedded")
    playwright_api.expect(page.locator("#status-usage")).to_contain_text("admin")
    page.screenshot(path=shots / "status.png", full_page=True)


@pytest.mark.parametrize(("route", "rendered"), [("/docs/swagger", ".swagger-ui .info"), ("/docs", ".scalar-app")])
def test_api_docs_render_from_the_server_alone(browser, server, shots, route, rendered):
    requests: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("request", lambda request: requests.append(request.url))
    tab = context.new_page()
    tab.goto(f"{server.base_url}{route}")
    tab.wait_for_selector(rendered, timeout=30_000)
    playwright_api.expect(tab.locator("body")).to_contain_text("Voice API")
    tab.screenshot(path=shots / f"docs-{route.strip('/').replace('/', '-')}.png")
    context.close()
    here = urlsplit(server.base_url).netloc
    assert [u for u in requests if urlsplit(u).netloc != here and not u.startswith("data:")] == []


def test_the_playground_asked_nothing_of_another_host(visited, server):
    assert visited
    here = urlsplit(server.base_url).netloc
    assert [u for u in visited if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != here] == []


def test_with_authentication_off_the_page_needs_no_key(browser, tmp_path):
    env = project_env(VOICE_API_STORAGE__DATA_DIR=str(tmp_path / "data"), VOICE_API_AUTH__ENABLED="false")
    open_server = ServeProcess(env, tmp_path / "serve.log")
    try:
        open_server.wait_healthy()
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(f"{open_server.base_url}/")
        playwright_api.expect(tab.locator("#key-status")).to_contain_text("Connected as local")
        tab.wait_for_selector("#tts-voice-0 option[value='en_US-joe-medium']", state="attached")
        playwright_api.expect(tab.locator("#error")).to_be_hidden()
        context.close()
    finally:
        open_server.stop()
