import pytest

from bridge.connection import Say, addressed_stripped
from bridge.irc import TwitchConnection
from bridge.text import lines_fit


def test_short_lines_pass_and_empty_lines_go():
    assert lines_fit("one\n\n  two  \n", max_bytes=100) == ["one", "two"]


def test_a_long_line_is_cut_after_a_space_within_the_byte_limit():
    text = "word " * 30
    lines = lines_fit(text, max_bytes=42)
    assert all(len(line.encode()) <= 42 for line in lines)
    assert " ".join(lines).split() == text.split()
    assert all(not line.startswith(" ") and not line.endswith(" ") for line in lines)


@pytest.mark.parametrize("text", ["é" * 100, "日本語のテキスト" * 20, "🙂" * 50, "a" * 300])
def test_a_cut_never_splits_a_character_and_loses_nothing(text):
    lines = lines_fit(text, max_bytes=50)
    assert all(len(line.encode()) <= 50 for line in lines)
    assert "".join(lines) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("botsite: !ping", (True, "!ping")),
        ("BotSite, get me the latest post", (True, "get me the latest post")),
        ("botsite hi", (True, "hi")),
        ("botsites are fun", (False, "botsites are fun")),
        ("hello botsite", (False, "hello botsite")),
        ("@botsite latest post", (True, "latest post")),
        ("@BotSite: hi", (True, "hi")),
    ],
)
def test_the_bots_nick_in_front_addresses_it_and_is_taken_off(text, expected):
    assert addressed_stripped(text, "botsite") == expected


def twitch_pieces(lines: list[str]) -> list[str]:
    connection = TwitchConnection(
        1, {"nick": "bot"}, "", deliver=None, sent=None, local_answer=lambda text: None
    )
    return connection._pieces(Say(1, "#c", lines))


def test_on_twitch_a_replys_lines_go_together_in_messages_of_500_characters_at_most():
    assert twitch_pieces(["!ping — pong", "", "!help — this"]) == ["!ping — pong · !help — this"]
    lines = [f"!command{n} — does thing number {n}" for n in range(40)]
    pieces = twitch_pieces(lines)
    assert len(pieces) > 1
    assert all(len(piece) <= 500 for piece in pieces)
    assert all(not piece.endswith("·") and not piece.startswith("·") for piece in pieces)
    assert " ".join(pieces).replace(" · ", " ").split() == " ".join(lines).split()


def test_on_twitch_non_latin_text_is_cut_within_ircs_bytes_too():
    pieces = twitch_pieces(["日本語のテキスト " * 100])
    assert all(len(f"PRIVMSG #c :{piece}".encode()) <= 510 for piece in pieces)
    assert "".join(pieces).replace(" ", "") == ("日本語のテキスト" * 100)
