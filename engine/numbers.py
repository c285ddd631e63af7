"""Numbers, ordinals and durations as people type them: "3", "three", "6th", "sixth",
"twenty-one", "in 20 minutes", "an hour and a half"."""

import re

UNITS = {
    "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "couple": 2, "few": 3, "dozen": 12,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
    "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90, "hundredth": 100,
    "last": 1, "latest": 1, "newest": 1,
}  # fmt: skip
UNIT_SECONDS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "week": 604800, "weeks": 604800,
}  # fmt: skip

DIGIT_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
WORD_SPLIT = re.compile(r"[\s,-]+")
DURATION_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+")
FILLER = {"and", "of", "in", "for", "after"}


def number_parse(text: str) -> int | None:
    """ "3", "three", "twenty-one", "a hundred", "a couple" → int; None if it is not one."""
    cleaned = text.strip().lower().removeprefix("the ").strip()
    if cleaned.isdigit():
        return int(cleaned)
    words = [word for word in WORD_SPLIT.split(cleaned) if word and word not in FILLER]
    if len(words) > 1:
        words = [word for word in words if word not in {"a", "an"}]  # "a dozen", "a hundred"
    if not words:
        return None
    total = 0
    current = 0
    for word in words:
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
    return total + current


def ordinal_parse(text: str) -> int | None:
    """ "6th", "sixth", "twenty-first", "last" → its position (1-based); None if not one."""
    cleaned = text.strip().lower().removeprefix("the ").strip()
    match = DIGIT_ORDINAL.match(cleaned)
    if match:
        return int(match.group(1))
    if cleaned in ORDINAL_WORDS:
        return ORDINAL_WORDS[cleaned]
    words = WORD_SPLIT.split(cleaned)
    if len(words) > 1 and words[-1] in ORDINAL_WORDS:
        base = number_parse(" ".join(words[:-1]))
        return base + ORDINAL_WORDS[words[-1]] if base is not None else None
    return None


def duration_parse(text: str) -> int | None:
    """ "20 minutes", "an hour and a half", "1h30m", "two days" → seconds; None otherwise."""
    total = 0.0
    amount_words: list[str] = []
    last_unit = 0
    is_half_pending = False
    found = False
    for word in DURATION_TOKEN.findall(text.lower()):
        if word in UNIT_SECONDS:
            if amount_words:
                amount = _amount(amount_words)
            elif is_half_pending:
                amount = 0.5
            else:
                return None
            if amount is None:
                return None
            total += amount * UNIT_SECONDS[word]
            last_unit = UNIT_SECONDS[word]
            amount_words, is_half_pending, found = [], False, True
        elif word == "half":
            if last_unit and amount_words in ([], ["a"], ["an"]):  # "an hour and a half"
                total += 0.5 * last_unit
                amount_words = []
            else:  # "half an hour"
                is_half_pending = True
                amount_words = []
        elif word in FILLER or (word in {"a", "an"} and is_half_pending):
            continue
        else:
            amount_words.append(word)
    if amount_words or is_half_pending or not found:
        return None
    return round(total)


def _amount(words: list[str]) -> float | None:
    if len(words) == 1:
        try:
            return float(words[0])
        except ValueError:
            pass
    return number_parse(" ".join(words))


def duration_text(seconds: int) -> str:
    """1200 → "20 minutes"; 5400 → "1 hour 30 minutes"; 90061 → "1 day 1 hour 1 minute"."""
    parts = []
    remaining = seconds
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, remaining = divmod(remaining, size)
        if amount and (name != "second" or seconds < 3600):
            parts.append(f"{amount} {name}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"
