"""Transpile cache, the safety check on generated code, and reading declared inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tvdesk.app.requests import merge_inputs
from tvdesk.config import Profile
from tvdesk.errors import ConfigError, InputError, PineError
from tvdesk.model import InputSpec, Strategy
from tvdesk.pine.declarations import coerce_input
from tvdesk.pine.loader import load_strategy, load_strategy_source
from tvdesk.pine.transpile import TranspileCache

ROOT = Path(__file__).resolve().parents[2]

def test_every_bundled_script_passes_the_safety_check(tmp_path: Path) -> None:
    cache = TranspileCache(tmp_path)
    scripts = sorted((ROOT / "pine").rglob("*.pine"))
    assert len(scripts) >= 4
    for script in scripts:
        strategy = load_strategy(script, cache=cache)
        assert strategy.title and strategy.inputs


def test_transpile_cache_writes_once_and_reuses(tmp_path: Path) -> None:
    source = (ROOT / "pine" / "examples" / "sma_cross.pine").read_text()
    first = TranspileCache(tmp_path).get(source)
    stamp = first.path.stat().st_mtime_ns
    second = TranspileCache(tmp_path).get(source)  # a new process would do the same
    assert second.path == first.path and second.path.stat().st_mtime_ns == stamp
    changed = TranspileCache(tmp_path).get(source + "\n// tweak\n")
    assert changed.path != first.path
    assert len(list(tmp_path.glob("s_*.py"))) == 2
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left behind"


def test_declared_inputs_carry_titles_ranges_and_options(tmp_path: Path) -> None:
    pine = """//@version=5
strategy("Decl", initial_capital=5000, commission_value=0.05)
src = input.source(close, "Source")
n = input.int(14, "RSI Length", minval=2, maxval=50, step=2)
lvl = input.float(30, "Oversold", minval=5, maxval=50)
mode = input.string("Fast", "Mode", options=["Fast", "Slow"])
flag = input.bool(false, "Use Filter")
pct = input.float(2.0, "Stop %") / 100
r = ta.rsi(src, n)
if r < lvl and flag
    strategy.entry("L", strategy.long)
"""
    strategy = load_strategy_source(pine, cache=TranspileCache(tmp_path))
    assert strategy.title == "Decl"
    assert strategy.settings["initial_capital"] == 5000
    by_title = {spec.title: spec for spec in strategy.inputs}
    assert by_title["RSI Length"].kind == "int"
    assert (by_title["RSI Length"].minval, by_title["RSI Length"].maxval,
            by_title["RSI Length"].step) == (2, 50, 2)
    assert by_title["Oversold"].default == 30.0 and by_title["Oversold"].kind == "float"
    assert by_title["Mode"].options == ("Fast", "Slow")
    assert by_title["Source"].kind == "source" and by_title["Source"].default == "close"
    assert by_title["Use Filter"].default is False
    assert by_title["Stop %"].overridable is False
    assert strategy.input_by_key("n") is by_title["RSI Length"]
    assert strategy.input_by_key("rsi length") is by_title["RSI Length"]


def test_coerce_input_by_kind() -> None:
    floats = InputSpec(name="x", title="X", kind="float", default=1.0, minval=0, maxval=10)
    assert coerce_input(floats, "2.5") == 2.5
    with pytest.raises(ValueError, match="above the maximum 10"):
        coerce_input(floats, "11")
    choice = InputSpec(name="m", title="M", kind="string", default="a", options=("a", "b"))
    with pytest.raises(ValueError, match="expected one of 'a', 'b'"):
        coerce_input(choice, "c")
    source = InputSpec(name="s", title="S", kind="source", default="close")
    assert coerce_input(source, "hl2") == "hl2"
    with pytest.raises(ValueError, match="price source"):
        coerce_input(source, "vwapx")


def test_a_syntax_error_keeps_its_pine_line_through_the_loader(tmp_path: Path) -> None:
    # Why: the line is what makes the error actionable, and the loader re-raises with the
    # file name in front; the line must survive that, in the message and as `line`.
    pine = '//@version=6\nstrategy("b")\nplot(close)\nplot(open)\nx = ta.sma(close, 3))\n'
    with pytest.raises(PineError) as caught:
        load_strategy_source(pine, path="broken.pine", cache=TranspileCache(tmp_path))
    assert caught.value.line == 5
    assert str(caught.value).startswith("broken.pine: Pine line 5: ")
    assert caught.value.exit_code == 2


TWO_INPUTS = Strategy(source="", inputs=(
    InputSpec(name="fastLen", title="Fast Length", kind="int", default=10),
    InputSpec(name="slowLen", title="Slow Length", kind="int", default=30),
))


@pytest.mark.parametrize("flags", [
    ("Fast Length=5", "fastLen=7"),
    ("fastLen=7", "Fast Length=5"),
    ("Fast Length=5", "Fast Length=7"),
    ("Fast Length=5", "FAST LENGTH=7"),
    ("fastLen=5", "fastLen=7"),
])
def test_two_flags_for_one_input_are_refused_naming_both(flags: tuple[str, str]) -> None:
    with pytest.raises(InputError) as caught:
        merge_inputs(Profile(name=""), flags, TWO_INPUTS)
    assert caught.value.source == "--input" and caught.value.exit_code == 2
    assert str(caught.value) == (f"--input: --input {flags[0]!r} and --input {flags[1]!r} both "
                                 "set the input 'Fast Length' (fastLen); give it once")


def test_flags_override_the_profile_whatever_name_either_uses() -> None:
    profile = Profile(name="p", inputs={"fastLen": 8, "Slow Length": 40})
    merged = merge_inputs(profile, ("Fast Length=12",), TWO_INPUTS)
    assert merged == {"Fast Length": "12", "Slow Length": 40}
    assert merge_inputs(profile, (), TWO_INPUTS) == {"fastLen": 8, "Slow Length": 40}


def test_unknown_keys_pass_through_for_the_engine_to_report() -> None:
    merged = merge_inputs(Profile(name=""), ("Fast=3", "fastLen=4"), TWO_INPUTS)
    assert merged == {"Fast": "3", "fastLen": "4"}


def test_a_profile_naming_one_input_twice_is_refused() -> None:
    profile = Profile(name="demo", inputs={"Fast Length": 8, "fastLen": 9})
    with pytest.raises(ConfigError, match="profile 'demo': inputs 'Fast Length' and 'fastLen' "
                       "both set the input 'Fast Length' \\(fastLen\\); give it once"):
        merge_inputs(profile, (), TWO_INPUTS)


def test_a_cache_that_cannot_be_written_still_translates(tmp_path, caplog) -> None:
    """A full disk or an unwritable cache folder costs the cache, not the backtest."""
    from tvdesk.pine.transpile import TranspileCache

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    cache = TranspileCache(blocker / "transpiled")
    pine = '//@version=6\nstrategy("S")\nlen = input.int(10, "Length")\n'
    with caplog.at_level("WARNING", logger="tvdesk.pine.transpile"):
        done = cache.get(pine)
    assert "def main" in done.python
    assert not done.path.exists()
    assert "could not keep the translation in the cache" in caplog.text
