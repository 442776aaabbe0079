"""Text side of the envs: the reply format every prompt ends with, and the reply parser.

The model answers with one JSON object {"thoughts": "...", "action": "<symbol>"}. parse_action reads it
with json (tolerating code fences and text around it; the first object with an "action" key wins), falls
back to a regex for `"action": "<symbol>"`, and never evaluates anything. It never raises and looks at
the first MAX_REPLY_CHARS characters only.
"""
import json
import re
from functools import lru_cache

MAX_REPLY_CHARS = 4096
MAX_OBJECT_STARTS = 64  # '{' positions tried as JSON objects, so work stays small on brace-heavy text

_DECODER = json.JSONDecoder()
_ACTION_RE = re.compile(
    r"""["']action["']\s*:\s*(?:"([^"\n]{0,32})"|'([^'\n]{0,32})'|(-?\d{1,6})(?![\d.]))""", re.IGNORECASE
)


def reply_format(symbols) -> str:
    """The closing sentence of every prompt: the reply format and the allowed action symbols."""
    allowed = ", ".join(f'"{s}"' for s in symbols)
    return f'Reply with a JSON object {{"thoughts": "<short reasoning>", "action": "<symbol>"}}, symbol one of {allowed}.'


@lru_cache(maxsize=64)
def _symbol_table(symbols: tuple) -> tuple[dict, dict]:
    exact = {s: i for i, s in enumerate(symbols)}
    words = {s.lower(): i for i, s in enumerate(symbols) if s.replace(" ", "").isalpha()}  # words: any case
    return exact, words


def _json_action(text: str):
    """The "action" value of the first JSON object in `text` that has one, else None."""
    start = text.find("{")
    for _ in range(MAX_OBJECT_STARTS):
        if start < 0:
            return None
        try:
            obj, _ = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict) and "action" in obj:
            value = obj["action"]
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                return ""  # present but not a symbol: counts as an answer, an illegal one
            return str(value)
        start = text.find("{", start + 1)
    return None


def parse_action(text, symbols: tuple[str, ...]) -> tuple[int, bool]:
    """Reply text -> (action index, True), or (-1, False) when the reply names no legal symbol."""
    if not isinstance(text, str):
        return -1, False
    text = text[:MAX_REPLY_CHARS]
    value = _json_action(text)
    if value is None:
        match = _ACTION_RE.search(text)
        if match is None:
            return -1, False
        value = next(g for g in match.groups() if g is not None)
    exact, words = _symbol_table(tuple(symbols))
    value = value.strip()
    index = exact.get(value, words.get(value.lower(), -1))
    return index, index >= 0
