"""The web chat and the widget in a real browser (Playwright driving Debian's Chromium)
against the real embedded server: daphne, the Celery worker and beat in one process."""

import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from botsite.tests.sites import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium_required,
    embedded_site,
    once_in_ci,
)

pytestmark = [pytest.mark.e2e, once_in_ci]


@pytest.fixture(scope="module")
def browser():
    chromium_required()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def site(tmp_path):
    with embedded_site(tmp_path) as site:
        yield site


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 420, "height": 760})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def say(page: Page, text: str) -> None:
    page.get_by_label("Message to Demo bot").fill(text)
    page.get_by_label("Message to Demo bot").press("Enter")


def bot_messages(page: Page):
    return page.locator("#log li.bot .text")


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_chat_answers_keeps_history_over_a_reload_and_runs_no_script(site, page):
    page.goto(f"{site.base}/chat/demo/")
    expect(page.locator("#status")).to_have_text("Connected")

    say(page, "!ping")
    expect(bot_messages(page).last).to_have_text("pong")
    say(page, "!help")  # answered by the Celery worker
    expect(bot_messages(page).last).to_contain_text("!latest-post — Shows the most recent posts.")
    say(page, '<img src=x onerror="window.__xss = 1">')
    expect(page.locator("#log li.participant .text").last).to_have_text(
        '<img src=x onerror="window.__xss = 1">'
    )
    screenshot(page, "chat")

    page.reload()
    expect(bot_messages(page).filter(has_text=re.compile(r"^pong$"))).to_have_count(1)
    expect(page.locator("#log li.participant .text").first).to_have_text("!ping")
    assert page.evaluate("window.__xss") is None


def test_bot_html_is_sanitised_before_it_reaches_the_page(site, page):
    site.django(
        "from actions.models import ResponseTemplate\n"
        "ResponseTemplate.objects.create(bot_id=1, key='unknown_command', text='plain',"
        " html='<b>bold</b><script>window.__bot_xss = 1</script>"
        '<img src=x onerror="window.__bot_xss = 2">\')\n'
    )
    page.goto(f"{site.base}/chat/demo/")

    say(page, "!dance")

    expect(bot_messages(page).last.locator("b")).to_have_text("bold")
    assert page.evaluate("window.__bot_xss") is None
    assert "<script" not in bot_messages(page).last.inner_html()


def test_the_page_reconnects_after_a_restart_and_shows_what_came_meanwhile(site, page):
    page.goto(f"{site.base}/chat/demo/")
    say(page, "!ping")
    expect(bot_messages(page).last).to_have_text("pong")

    site.stop()
    expect(page.locator("#status")).to_contain_text("Offline")
    site.django(
        "from conversations.models import Message, Room\n"
        "room = Room.objects.get(bot__slug='demo')\n"
        "Message.objects.create(room=room, sender_kind='bot', text='Sent while you were away')\n"
    )
    site.start()

    expect(page.locator("#status")).to_have_text("Connected", timeout=30_000)
    expect(bot_messages(page).last).to_have_text("Sent while you were away")
    expect(bot_messages(page).filter(has_text=re.compile(r"^pong$"))).to_have_count(1)
    screenshot(page, "chat-after-restart")


def test_the_page_places_a_late_reply_in_the_order_messages_were_stored(site, page):
    """Replies are committed in any order (a worker's may land after a later message), so
    frames can arrive out of id order; the page shows them in id order all the same."""
    pongs: list[str] = []

    def hold_the_first_pong(page_socket):
        """Between the page and the real server: the first "pong" reaches the page only
        right after the second one."""
        server = page_socket.connect_to_server()

        def from_server(frame: str) -> None:
            if json.loads(frame).get("text") == "pong":
                pongs.append(frame)
                if len(pongs) == 1:
                    return
                if len(pongs) == 2:
                    page_socket.send(frame)
                    frame = pongs[0]
            page_socket.send(frame)

        server.on_message(from_server)

    page.route_web_socket(re.compile(r"/ws/chat/demo/"), hold_the_first_pong)
    page.goto(f"{site.base}/chat/demo/")
    say(page, "!ping")
    expect(page.locator("#log li.participant")).to_have_count(1)
    expect(bot_messages(page)).to_have_count(0)
    say(page, "!ping")

    expect(bot_messages(page)).to_have_count(2)
    items = page.locator("#log li")
    ids = [int(item.get_attribute("data-id")) for item in items.all()]
    assert ids == sorted(ids)
    assert items.locator(".text").all_inner_texts() == ["!ping", "pong", "!ping", "pong"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve_page(directory) -> tuple[str, ThreadingHTTPServer]:
    """Another site: a second origin (another port) serving a page that embeds the widget."""
    handler = lambda *args: QuietHandler(*args, directory=str(directory))  # noqa: E731
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def test_the_widget_works_on_an_allowed_site_and_is_refused_elsewhere(site, page, tmp_path):
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>Shop</title><h1>A shop</h1>"
        f'<script src="{site.base}/widget.js" data-bot="demo"></script>'
    )
    shop, shop_server = serve_page(tmp_path)
    other, other_server = serve_page(tmp_path)
    site.django(
        "from conversations.models import Bot\n"
        f"Bot.objects.filter(slug='demo').update(allowed_origins={json.dumps([shop])})\n"
    )
    try:
        page.goto(f"{shop}/index.html")
        page.get_by_role("button", name="Chat").click()
        chat = page.frame_locator("iframe[title='Chat with demo']")
        expect(chat.locator("#status")).to_have_text("Connected")
        chat.get_by_label("Message to Demo bot").fill("!ping")
        chat.get_by_label("Message to Demo bot").press("Enter")
        expect(chat.locator("#log li.bot .text").last).to_have_text("pong")
        screenshot(page, "widget")

        refused = page.context.new_page()
        refused.goto(f"{other}/index.html")
        refused.get_by_role("button", name="Chat").click()
        frame = refused.frame_locator("iframe[title='Chat with demo']")
        expect(frame.locator("#status")).to_have_count(0, timeout=5_000)
        screenshot(refused, "widget-refused")
    finally:
        shop_server.shutdown()
        other_server.shutdown()
