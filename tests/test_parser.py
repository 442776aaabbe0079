"""parse_action: JSON first, regex fallback, exact symbols; never raises, never evaluates, bounded work."""
import builtins
import time

import pytest

from envs.text import MAX_REPLY_CHARS, command_format, parse_action, reply_format
from envs.text import parse_command as command_parse

NUMBERLINE = ("-", "+")
BLACKJACK = ("stand", "hit")
EZPOINTS = tuple(str(v) for v in range(1, 11)) + ("+", "*", "=")

GOOD = [
    (NUMBERLINE, '{"thoughts": "move up", "action": "+"}', 1),
    (NUMBERLINE, '{"action": "-"}', 0),
    (NUMBERLINE, '{"action": " + "}', 1),  # whitespace around the symbol is stripped
    (NUMBERLINE, '```json\n{"thoughts": "t", "action": "+"}\n```', 1),
    (NUMBERLINE, '```\n{"action": "-"}\n```\nDone.', 0),
    (NUMBERLINE, 'Sure! Here is my answer: {"thoughts": "x", "action": "-"} Hope this helps.', 0),
    (NUMBERLINE, '{"thoughts": "a {brace} inside", "action": "+"}', 1),
    (NUMBERLINE, '{"thoughts": "no action here"} {"action": "-"}', 0),  # first object WITH an action
    (NUMBERLINE, '{"action": "+"} {"action": "-"}', 1),  # several objects: the first wins
    (NUMBERLINE, '{"reply": {"action": "-"}}', 0),  # nested object
    (NUMBERLINE, '{"thoughts": "cut off", "action": "+"', 1),  # unterminated JSON: regex fallback
    (NUMBERLINE, '"action": "-"', 0),
    (NUMBERLINE, "{'thoughts': 'python dict', 'action': '+'}", 1),  # single quotes: regex fallback
    (NUMBERLINE, '{"Action": "+", "thoughts": "capital key, not JSON-matched"', 1),
    (NUMBERLINE, '{"thoughts": "\u00fcnicode \u2192 ok \U0001F600", "action": "+"}', 1),
    (BLACKJACK, '{"thoughts": "17 is enough", "action": "stand"}', 0),
    (BLACKJACK, '{"action": "HIT"}', 1),  # words match case-insensitively
    (BLACKJACK, '{"action": " Stand\\n"}', 0),
    (EZPOINTS, '{"action": 10}', 9),  # numbers may be JSON ints
    (EZPOINTS, '{"action": "10"}', 9),
    (EZPOINTS, '{"action": "*"}', 11),
    (EZPOINTS, '{"thoughts": "x", "action": 3', 2),  # unterminated, bare int: regex fallback
]

BAD = [
    (NUMBERLINE, ""),
    (NUMBERLINE, " "),
    (NUMBERLINE, "\x00\x01\x02"),
    (NUMBERLINE, "+"),  # a bare symbol is not the reply format
    (NUMBERLINE, "I choose +"),
    (NUMBERLINE, "{}"),
    (NUMBERLINE, "{"),
    (NUMBERLINE, "}"),
    (NUMBERLINE, "[]"),
    (NUMBERLINE, "null"),
    (NUMBERLINE, '"action"'),
    (NUMBERLINE, '{"action": ""}'),
    (NUMBERLINE, '{"action": "  "}'),
    (NUMBERLINE, '{"action": null}'),
    (NUMBERLINE, '{"action": true}'),
    (NUMBERLINE, '{"action": 1}'),  # an int is not a symbol of NumberLine
    (NUMBERLINE, '{"action": 1.0}'),
    (NUMBERLINE, '{"action": ["+"]}'),
    (NUMBERLINE, '{"action": {"symbol": "+"}}'),
    (NUMBERLINE, '{"action": "++"}'),
    (NUMBERLINE, '{"action": "plus"}'),
    (NUMBERLINE, '{"action": "\uff0b"}'),  # full-width plus
    (NUMBERLINE, '{"action": "+1"}'),
    (NUMBERLINE, '{"thoughts": "+", "answer": "+"}'),  # no action key
    (NUMBERLINE, '{"action": "left"} {"action": "+"}'),  # the first object with an action decides
    (NUMBERLINE, '{"action": "__import__(\'os\').system(\'echo pwned\')"}'),
    (NUMBERLINE, "__import__('os').system('echo pwned')"),
    (NUMBERLINE, '{"action": eval("1+1")}'),
    (NUMBERLINE, '{"action": "exec(\'import os\')"}'),
    (NUMBERLINE, "{'action': __import__('builtins').exit()}"),
    (NUMBERLINE, '{"action": "${jndi:ldap://x}"}'),
    (NUMBERLINE, '{"action": "+" + "-"}'),  # not JSON, but the regex fallback reads "+" (REGEX_READS)
    (NUMBERLINE, "```json\n```"),
    (NUMBERLINE, "```json\n{\"action\": }\n```"),
    (NUMBERLINE, '{"action": "-", }'),  # trailing comma: not JSON, the regex fallback reads "-" (REGEX_READS)
    (NUMBERLINE, "\ud800"),  # lone surrogate
    (NUMBERLINE, "{" * 5000),
    (NUMBERLINE, "[" * 100_000 + '{"action": "+"}'),  # the action lies beyond the first 4096 characters
    (NUMBERLINE, " " * MAX_REPLY_CHARS + '{"action": "+"}'),
    (NUMBERLINE, '{"a": ' * 3000 + '{"action": "+"}' + "}" * 3000),  # too deep and beyond the limit
    (NUMBERLINE, "x" * 10_000_000),
    (BLACKJACK, '{"action": "stand up"}'),
    (BLACKJACK, '{"action": "h i t"}'),
    (BLACKJACK, '{"action": "hít"}'),
    (BLACKJACK, '{"action": 1}'),
    (BLACKJACK, '{"action": "1"}'),
    (EZPOINTS, '{"action": 11}'),
    (EZPOINTS, '{"action": 0}'),
    (EZPOINTS, '{"action": -1}'),
    (EZPOINTS, '{"action": "1O"}'),
    (EZPOINTS, '{"action": "10.0"}'),
    (EZPOINTS, '{"action": 1e1}'),
    (EZPOINTS, '{"action": "x"}'),
    (EZPOINTS, '{"action": "÷"}'),
]


@pytest.mark.parametrize("symbols,reply,index", GOOD)
def test_good_replies(symbols, reply, index):
    assert parse_action(reply, symbols) == (index, True)


# Two entries in BAD are not JSON but still carry `"action": "<symbol>"`; the regex fallback reads them.
REGEX_READS = {'{"action": "+" + "-"}': 1, '{"action": "-", }': 0}


@pytest.mark.parametrize("symbols,reply", BAD)
def test_malformed_replies(symbols, reply):
    expected = (REGEX_READS[reply], True) if reply in REGEX_READS else (-1, False)
    assert parse_action(reply, symbols) == expected


def test_enough_malformed_cases():
    assert sum(reply not in REGEX_READS for _, reply in BAD) >= 50


@pytest.mark.parametrize("value", [None, 42, b'{"action": "+"}', ["+"], {"action": "+"}])
def test_non_string_input(value):
    assert parse_action(value, NUMBERLINE) == (-1, False)


def test_no_code_is_executed():
    names = ("eval", "exec", "__import__", "compile")
    originals, called = {n: getattr(builtins, n) for n in names}, []
    for n in names:
        setattr(builtins, n, lambda *a, _o=originals[n], _n=n, **k: called.append(_n) or _o(*a, **k))
    try:
        for symbols, reply in BAD:
            parse_action(reply, symbols)
    finally:
        for n in names:
            setattr(builtins, n, originals[n])
    assert called == []


def test_bounded_work_on_huge_and_adversarial_input():
    nasty = ['{"a": [' * 700, '{"action": ' * 400, '{"x": "' + "\\" * 4000, "{" * 4096,
             '{"action": "' + "a" * 10**6, "\"action\": '" * 1000]
    start = time.perf_counter()
    for reply in nasty:
        for _ in range(5):
            assert parse_action(reply, NUMBERLINE) == (-1, False)
    assert time.perf_counter() - start < 5.0  # generous; each call stays in the millisecond range


def test_reply_format_lists_symbols():
    text = reply_format(BLACKJACK)
    assert '"stand"' in text and '"hit"' in text and '"thoughts"' in text and '"action"' in text


def test_multi_word_symbols_match_in_any_case():
    symbols = ("turn left", "turn right", "move forward", "move back")
    assert parse_action('{"thoughts": "", "action": "Turn Left"}', symbols) == (0, True)
    assert parse_action('{"action": "MOVE FORWARD"}', symbols) == (2, True)
    assert parse_action('{"action": "move  forward"}', symbols) == (-1, False)


# --- text-action envs: a reply names one of the commands legal now -------------------------------------
COMMANDS = ("go to fridge 1", "go to countertop 1", "take apple 1 from countertop 1", "move apple 1 to fridge 1", "look")


@pytest.mark.parametrize("reply, index", [
    ('{"thoughts": "t", "action": "go to fridge 1"}', 0),  # exact
    ('{"action": "Go To Fridge 1"}', 0),  # case
    ('{"action": "take the apple 1 from the countertop 1"}', 2),  # articles
    ('{"action": "move an apple 1 to a fridge 1."}', 3),  # articles and trailing punctuation
    ('{"action": "  look!  "}', 4),
    ('{"action": "go to   countertop 1", "thoughts": "x"', 1),  # unterminated: regex fallback, spaces collapsed
])
def test_parse_command_matches(reply, index):
    assert command_parse(reply, COMMANDS) == (index, True)


@pytest.mark.parametrize("reply", ["", "look", '{"action": ""}', '{"action": "go to fridge 2"}',  # not admissible
                                   '{"action": "take apple 1"}', '{"action": 4}', '{"action": ["look"]}', None, 17])
def test_parse_command_refuses(reply):
    assert command_parse(reply, COMMANDS) == (-1, False)


def test_parse_command_ambiguous_normalisation_is_refused():
    assert command_parse('{"action": "take apple"}', ("take an apple", "take the apple")) == (-1, False)
    assert command_parse('{"action": "take the apple"}', ("take an apple", "take the apple")) == (1, True)  # exact wins


def test_command_format_lists_the_commands():
    text = command_format(COMMANDS)
    assert all(c in text for c in COMMANDS) and '"action": "<command>"' in text


@pytest.mark.parametrize("reply, index", [
    ('{"thoughts": "t", "action": "3"}', 2), ('{"action": 5}', 4), ('{"action": " 1. "}', 0),
    ('{"action": 2, "thoughts": "x"', 1),  # unterminated: the regex fallback reads a bare number too
    ('{"action": "look"}', 4), ('{"action": "Go to the fridge 1"}', 0),  # the command itself is still accepted
])
def test_parse_command_numbered_matches(reply, index):
    assert command_parse(reply, COMMANDS, numbered=True) == (index, True)


@pytest.mark.parametrize("reply", ['{"action": "0"}', '{"action": 6}', '{"action": "-1"}', '{"action": "2.5"}',
                                   '{"action": "٣"}', '{"action": "1 2"}', '{"action": ""}', "", None])
def test_parse_command_numbered_refuses(reply):
    assert command_parse(reply, COMMANDS, numbered=True) == (-1, False)


def test_command_format_numbered_lists_numbers_and_asks_for_one():
    text = command_format(COMMANDS, numbered=True)
    assert "1: go to fridge 1; 2: go to countertop 1;" in text and "5: look." in text and '"action": "<number>"' in text
