"""Setting input defaults in Pine text: only the default changes, whatever the declaration."""

from __future__ import annotations

import pytest

from tvdesk.errors import PineError
from tvdesk.pine.input_defaults import input_calls, set_input_defaults

SCRIPT = '''//@version=6
strategy("Knobs, (with) commas", overlay=true)
// fast = input.int(99, "Fast") is only a comment
fast = input.int(9, "Fast", minval=1, tooltip="bars, (not) minutes")
slow = input.int(defval = 21,
     title = "Slow",
     minval = math.max(1, 2))   // spans lines
mult = input.float(2.0, "Mult", step=0.1)
go   = input.bool(true, "Go long")
mode = input.string('it\\'s "fast"', "Mode", options=['it\\'s "fast"', "slow"])
src  = input.source(close, "Source")
plain = input(5)
'''


def test_only_the_defaults_change_and_everything_else_stays_byte_for_byte() -> None:
    out = set_input_defaults(SCRIPT, {"Fast": 12, "Slow": 34, "Mult": 1.75, "Go long": False,
                                      "Mode": "slow", "Source": "hl2", "plain": 7})
    expected = (SCRIPT.replace('input.int(9, "Fast"', 'input.int(12, "Fast"')
                .replace("defval = 21", "defval = 34")
                .replace('input.float(2.0, "Mult"', 'input.float(1.75, "Mult"')
                .replace('input.bool(true, "Go long")', 'input.bool(false, "Go long")')
                .replace('''input.string('it\\'s "fast"', "Mode"''',
                         '''input.string('slow', "Mode"''')
                .replace("input.source(close,", "input.source(hl2,")
                .replace("input(5)", "input(7)"))
    assert out == expected
    assert "input.int(99" in out  # the comment is not an input


def test_a_value_equal_to_the_written_default_keeps_its_spelling() -> None:
    source = 'strategy("s")\nx = input.float(2., "X")\nn = input.int(0x1 + 4, "N")\n'
    assert set_input_defaults(source, {"X": 2.0}) == source


def test_floats_stay_floats_and_are_written_exactly() -> None:
    source = 'strategy("s")\nx = input.float(2.5, "X")\n'
    assert 'input.float(3.0, "X")' in set_input_defaults(source, {"X": 3})
    noisy = 0.1 + 0.2
    written = set_input_defaults(source, {"X": noisy})
    assert float(written.split("input.float(")[1].split(",")[0]) == noisy


def test_pine_v4_input_with_type_keyword() -> None:
    source = '//@version=4\nstrategy("s")\nlen = input(title="Length", type=input.integer, ' \
             'defval=14)\nk = input(1.5, "K", type=input.float)\n'
    out = set_input_defaults(source, {"Length": 20, "K": 2})
    assert 'defval=20)' in out and 'input(2.0, "K"' in out


def test_calls_are_listed_with_title_variable_kind_and_line() -> None:
    calls = {c.title or c.variable: c for c in input_calls(SCRIPT)}
    assert calls["Slow"].line == 5 and calls["Slow"].variable == "slow"
    assert calls["Slow"].default_text == "21"
    assert calls["Fast"].kind == "int" and calls["plain"].title is None


@pytest.mark.parametrize(("values", "words"), [
    ({"Nope": 1}, "input 'Nope': no input() with that title"),
    ({"Fast": 1.5}, "line 4: input 'Fast': 1.5 is not a whole number"),
    ({"Go long": "yes"}, "is not true or false"),
    ({"Source": "close; x"}, "is not a price source"),
])
def test_values_that_cannot_be_written_name_the_input(values: dict, words: str) -> None:
    with pytest.raises(PineError, match=words.replace("(", r"\(").replace(")", r"\)")):
        set_input_defaults(SCRIPT, values)


def test_two_inputs_with_one_title_are_refused_naming_both_lines() -> None:
    source = 'strategy("s")\na = input.int(1, "Len")\nb = input.int(2, "Len")\n'
    with pytest.raises(PineError, match=r"declared 2 times \(lines 2, 3\)"):
        set_input_defaults(source, {"Len": 5})
