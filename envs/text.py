"""Text side of the envs: the reply format every prompt ends with, and the reply parser.

The model answers with one JSON object {"thoughts": "...", "action": "<symbol>"}. parse_action reads it
with json (tolerating code fences and text around it; the first object with an "action" key wins), falls
back to a regex for `"action": "<symbol>"`, and never evaluates anything. It never raises and looks at
the first MAX_REPLY_CHARS characters only.

Text-action envs (ALFWorld, WebShop) list the commands legal at each step instead of fixed symbols:
command_format asks for one of them, parse_command matches the reply's "action" against that list,
exactly first, then after normalise() (case, whitespace, articles, trailing punctuation). Numbered, the list
shows "1: <command>; 2: ..." and the reply names a number (parse_command with numbered=True: a number in
range, else the command itself as above).
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
_COMMAND_RE = re.compile(r"""["']action["']\s*:\s*(?:"([^"\n]{0,256})"|'([^'\n]{0,256})'|(\d{1,6})(?![\d.]))""", re.IGNORECASE)
_ARTICLES = frozenset(("a", "an", "the"))


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


def _reply_action(text, fallback: re.Pattern):
    """The reply's "action" value: from JSON, else from the `fallback` regex; None when it has none."""
    if not isinstance(text, str):
        return None
    text = text[:MAX_REPLY_CHARS]
    value = _json_action(text)
    if value is None:
        match = fallback.search(text)
        value = None if match is None else next(g for g in match.groups() if g is not None)
    return value


def parse_action(text, symbols: tuple[str, ...]) -> tuple[int, bool]:
    """Reply text -> (action index, True), or (-1, False) when the reply names no legal symbol."""
    value = _reply_action(text, _ACTION_RE)
    if value is None:
        return -1, False
    exact, words = _symbol_table(tuple(symbols))
    value = value.strip()
    index = exact.get(value, words.get(value.lower(), -1))
    return index, index >= 0


def command_format(commands, numbered: bool = False) -> str:
    """The closing sentences of a text-action prompt: the commands legal now and the reply format."""
    if numbered:
        return ("Admissible commands: " + "; ".join(f"{k}: {c}" for k, c in enumerate(commands, 1)) + '.\nReply with '
                'a JSON object {"thoughts": "<short reasoning>", "action": "<number>"}, the number of one of the commands.')
    return ("Admissible commands: " + "; ".join(commands) + '.\nReply with a JSON object {"thoughts": '
            '"<short reasoning>", "action": "<command>"}, command one of the admissible commands.')


def normalise(command: str) -> str:
    """Lowercase, words split on whitespace, the articles a / an / the and trailing . ! ? dropped."""
    words = command.lower().strip().rstrip(".!?").split()
    return " ".join(w for w in words if w not in _ARTICLES)


def parse_command(text, commands, numbered: bool = False) -> tuple[int, bool]:
    """Reply text -> (index into `commands`, True), or (-1, False) when the reply names none of them.
    The reply's "action" is read as in parse_action; numbered, a whole number k in 1..len(commands) (spaces
    and one trailing "." allowed) names commands[k - 1]; else it matches a command exactly, else after
    normalise() when exactly one command normalises the same way. Never raises."""
    value = _reply_action(text, _COMMAND_RE)
    if value is None:
        return -1, False
    commands = list(commands)
    number = value.strip().removesuffix(".")
    if numbered and number.isascii() and number.isdigit():
        k = int(number)
        return (k - 1, True) if 1 <= k <= len(commands) else (-1, False)
    if value in commands:
        return commands.index(value), True
    key = normalise(value)
    hits = [k for k, c in enumerate(commands) if normalise(c) == key] if key else []
    return (hits[0], True) if len(hits) == 1 else (-1, False)
