"""Text as a network takes it: lines cut to the network's limit, whole characters and,
where there is room, whole words."""


def lines_fit(text: str, *, max_bytes: int) -> list[str]:
    """`text` as lines of at most `max_bytes` UTF-8 bytes each; line breaks start new lines,
    empty lines are left out, a cut falls after a space where one is near."""
    lines: list[str] = []
    for line in text.splitlines():
        rest = line.strip()
        while rest:
            if len(rest.encode()) <= max_bytes:
                lines.append(rest)
                break
            cut = text_cut(rest, max_bytes=max_bytes)
            lines.append(rest[:cut].rstrip())
            rest = rest[cut:].lstrip()
    return lines


def text_cut(text: str, *, max_bytes: int, max_chars: int | None = None) -> int:
    """Where to cut `text`: the longest prefix, in characters, within `max_bytes` (and
    `max_chars`); back to the last space when that keeps at least half of it."""
    chars = len(text) if max_chars is None else max_chars
    if len(text) <= chars and len(text.encode()) <= max_bytes:
        return len(text)
    size, end = 0, 0
    for index, char in enumerate(text[:chars]):
        size += len(char.encode())
        if size > max_bytes:
            break
        end = index + 1
    space = text.rfind(" ", 0, end)
    return space + 1 if space >= end // 2 and space > 0 else max(end, 1)
