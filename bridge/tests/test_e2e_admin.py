"""Staff put a bot on IRC from the admin, in a real browser, and it answers there."""

import pytest
from playwright.sync_api import expect, sync_playwright

from botsite.tests.sites import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, chromium_required, embedded_site
from bridge.tests.humans import Human
from bridge.tests.ircd import ngircd, once_in_ci

pytestmark = [pytest.mark.e2e, once_in_ci]


def test_staff_add_an_irc_server_and_channel_in_the_admin_and_the_bot_answers_there(tmp_path):
    chromium_required()
    with (
        ngircd(tmp_path) as ircd,
        embedded_site(tmp_path, HTTP_ALLOWED_HOSTS=f"127.0.0.1:{ircd.port}") as site,
        sync_playwright() as play,
    ):
        password = (tmp_path / "data" / "admin-password").read_text().strip()
        alice = Human(ircd.port, "alice")
        alice.join("#lobby")
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(20_000)
        page.goto(f"{site.base}/admin/login/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()

        page.goto(f"{site.base}/admin/conversations/connector/add/")
        page.get_by_label("Bot").select_option(label="Demo bot")
        page.get_by_label("Kind").select_option("irc")
        page.get_by_label("Name").fill("Test network")
        page.get_by_label("Config").fill(
            f'{{"host": "127.0.0.1", "port": {ircd.port}, "tls": false, "nick": "botsite", '
            '"channels": ["#lobby"]}'
        )
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".messagelist")).to_contain_text("was added successfully")

        alice.wait(lambda: ("#lobby", "botsite") in alice.joins, what="the bot to join")
        alice.say("#lobby", "!ping")
        alice.wait(lambda: "pong" in alice.heard_from("botsite", "#lobby"), what="pong")

        page.get_by_role("link", name="Test network", exact=True).click()
        # The state shown is what the bridge reported last (every few seconds).
        expect(page.locator(".field-status_shown")).to_contain_text("Connected")
        for _ in range(20):
            if "#lobby" in page.locator(".field-joined_shown").inner_text():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(page.locator(".field-joined_shown")).to_contain_text("#lobby")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "connector-admin.png"), full_page=True)

        # "Test connection": a connection of its own, with a clear answer.
        page.goto(f"{site.base}/admin/conversations/connector/")
        page.locator("input[name=_selected_action]").first.check()
        page.locator("select[name=action]").select_option("connection_test")
        page.get_by_role("button", name="Go").click()
        expect(page.locator(".messagelist .success")).to_contain_text(
            "Test network: Connected; joined #lobby."
        )
        page.screenshot(path=str(ARTIFACTS / "connector-test.png"))
        browser.close()
        alice.quit()
