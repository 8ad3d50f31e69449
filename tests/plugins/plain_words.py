"""What a person sees on a page, and the internal words in it (issue 14: "Schedule_follow_up",
interpretation-code URIs): shared by the plain-words test and the browser walks."""

import re
from html.parser import HTMLParser

SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+\b")
URI = re.compile(r"\b(?:https?|urn):", re.IGNORECASE)


class VisibleText(HTMLParser):
    """The text a person sees: text outside script/style, and the title attributes (tooltips)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1
        self.parts.extend(value for name, value in attrs if name in ("title", "placeholder") and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def internal_words(html: str, *, uris: bool = True) -> list[str]:
    """The snake_case words and (unless ``uris`` is off) the URIs, with their context, in what a person sees."""
    parser = VisibleText()
    parser.feed(html)
    text = " ".join(parser.parts)
    found = SNAKE.findall(text)
    if uris:
        found += [text[max(m.start() - 40, 0) : m.end() + 60] for m in URI.finditer(text)]
    return found
