"""The machine interface: 0 success, 1 a run that failed for another reason, 2 bad user input.

Runs `tvdesk.cli.main` in this process (with capsys) so each case is fast; the subprocess tests
in test_cli.py prove the same through `python -m tvdesk`. Each bad-input case checks the exit
code, that stderr names the flag, file, key or Pine line to fix, and that no traceback leaks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tvdesk.cli import main
from tvdesk.errors import ConfigError, DataError, EngineError, InputError, PineError, TvdeskError
from tvdesk.pine.safety import RefusedScript

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"

# Line 5 is the broken one: an unbalanced parenthesis.
BROKEN = """//@version=6
strategy("Broken")
fastLen = input.int(10, "Fast Length")
plot(close)
x = ta.sma(close, fastLen))
"""

# Valid Pine that fails while it runs (array index out of range on bar 2).
FAILS_AT_RUNTIME = """//@version=6
strategy("Runtime")
a = array.new_float(0)
if bar_index == 2
    x = array.get(a, 5)
"""


@pytest.fixture
def small_data(tmp_path: Path) -> Path:
    """The first 300 bars of the bundled EURUSD data: enough for a run, quick to backtest."""
    lines = EURUSD.read_text().splitlines()[:301]
    path = tmp_path / "eurusd_small.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# --------------------------------------------------------------------------- the error classes


def test_error_classes_carry_the_documented_exit_codes() -> None:
    # Why: the exit code is the contract scripts and CI rely on; a Pine error is the user's
    # script, so it is bad input (2), while a valid script failing at runtime is a failed run.
    assert PineError("x", line=5).exit_code == 2
    assert RefusedScript("x", construct="os").exit_code == 2
    assert InputError("x").exit_code == 2
    assert DataError("x").exit_code == 2
    assert ConfigError("x").exit_code == 2
    assert EngineError("x").exit_code == 1
    assert TvdeskError("x").exit_code == 1


# --------------------------------------------------------------------------- Pine errors


def test_pine_syntax_error_exits_2_naming_the_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "broken.pine"
    script.write_text(BROKEN)
    code, _, err = run_cli(capsys, "evaluate", "--script", str(script), "--data", str(EURUSD))
    assert code == 2
    assert "broken.pine: Pine line 5:" in err


def test_optimize_with_a_broken_script_exits_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "broken.pine"
    script.write_text(BROKEN)
    code, _, err = run_cli(capsys, "optimize", "--script", str(script), "--data", str(EURUSD),
                           "--store", str(tmp_path / "runs.db"), "--max-iterations", "1")
    assert code == 2
    assert "broken.pine: Pine line 5:" in err


def test_a_non_strategy_script_exits_2(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "ind.pine"
    script.write_text('//@version=6\nindicator("i")\nplot(close)\n')
    code, _, err = run_cli(capsys, "evaluate", "--script", str(script), "--data", str(EURUSD))
    assert code == 2
    assert "ind.pine: this is not a strategy" in err


def test_a_runtime_error_of_a_valid_script_still_exits_1(
        tmp_path: Path, small_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "runtime.pine"
    script.write_text(FAILS_AT_RUNTIME)
    code, _, err = run_cli(capsys, "evaluate", "--script", str(script), "--data",
                           str(small_data))
    assert code == 1
    assert "the script failed while running" in err


# --------------------------------------------------------------------------- --input twice


@pytest.mark.parametrize(("first", "second"), [
    ("Fast Length=5", "fastLen=7"),        # by title, then by variable name
    ("fastLen=7", "Fast Length=5"),        # the other way round
    ("Fast Length=5", "Fast Length=7"),    # the same title twice
    ("Fast Length=5", "fast length=7"),    # the title in another case
])
def test_one_input_set_twice_on_the_command_line_exits_2_naming_both(
        capsys: pytest.CaptureFixture[str], first: str, second: str) -> None:
    code, _, err = run_cli(capsys, "evaluate", "--script", str(EXAMPLE), "--data", str(EURUSD),
                           "--input", first, "--input", second)
    assert code == 2
    assert (f"--input: --input {first!r} and --input {second!r} both set the input "
            "'Fast Length' (fastLen); give it once") in err


def test_optimize_refuses_one_input_set_twice(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "optimize", "--script", str(EXAMPLE), "--data", str(EURUSD),
                           "--store", str(tmp_path / "runs.db"), "--max-iterations", "1",
                           "--input", "Slow Length=40", "--input", "slowLen=50")
    assert code == 2
    assert "both set the input 'Slow Length' (slowLen)" in err


def test_different_inputs_are_not_duplicates(tmp_path: Path, small_data: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    code, _, err = run_cli(capsys, "evaluate", "--script", str(EXAMPLE), "--data",
                           str(small_data), "--input", "Fast Length=5", "--input", "slowLen=40",
                           "--json", str(out))
    assert code == 0, err
    inputs = json.loads(out.read_text())["properties"]["inputs"]
    assert inputs["Fast Length"] == 5 and inputs["Slow Length"] == 40


def test_a_flag_overrides_the_profiles_input_by_either_name(
        tmp_path: Path, small_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Why: a profile is the defaults a trader repeats; a flag on top is the one-off change,
    # not a second value given by mistake, so it wins without an error.
    config = tmp_path / "tvdesk.toml"
    config.write_text(f"""
[profiles.demo]
script = "{EXAMPLE.as_posix()}"
data = "{small_data.as_posix()}"
[profiles.demo.inputs]
fastLen = 8
"Slow Length" = 40
""")
    out = tmp_path / "r.json"
    code, _, err = run_cli(capsys, "--config", str(config), "evaluate", "--profile", "demo",
                           "--input", "Fast Length=12", "--input", "slowLen=45",
                           "--json", str(out))
    assert code == 0, err
    inputs = json.loads(out.read_text())["properties"]["inputs"]
    assert inputs["Fast Length"] == 12 and inputs["Slow Length"] == 45


# --------------------------------------------------------------------------- symbol flags


@pytest.mark.parametrize(("flag", "value"), [
    ("--mintick", "inf"), ("--mintick", "nan"), ("--mintick", "-inf"),
    ("--pointvalue", "inf"), ("--pointvalue", "nan"),
])
def test_a_non_finite_tick_or_point_value_exits_2_naming_the_flag(
        small_data: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    # argparse reads "inf" and "nan" as floats: an infinite tick crashed the worker with an
    # IndexError traceback (exit 1) and an infinite or NaN point value was accepted.
    code, _, err = run_cli(capsys, "evaluate", "--script", str(EXAMPLE), "--data",
                           str(small_data), f"{flag}={value}")  # "=": -inf is no option
    assert code == 2
    assert f"{flag}: expected a positive finite number, got {float(value)!r}" in err


# --------------------------------------------------------------------------- timezones


def test_a_bad_timezone_in_the_config_names_the_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tvdesk.toml"
    config.write_text('timezone = "Mars/Olympus"\n')
    code, _, err = run_cli(capsys, "--config", str(config), "evaluate", "--script",
                           str(EXAMPLE), "--data", str(EURUSD))
    assert code == 2
    assert (f"{config}: key 'timezone': expected an IANA timezone name such as \"UTC\" or "
            "\"America/New_York\", got 'Mars/Olympus'") in err
    assert "--timezone" not in err


def test_a_bad_timezone_in_a_profile_names_the_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tvdesk.toml"
    config.write_text('[profiles.demo]\ntimezone = "Mars/Olympus"\n')
    code, _, err = run_cli(capsys, "--config", str(config), "evaluate", "--profile", "demo",
                           "--script", str(EXAMPLE), "--data", str(EURUSD))
    assert code == 2
    assert f"{config}: key 'profiles.demo.timezone': expected an IANA timezone name" in err
    assert "'Mars/Olympus'" in err and "--timezone" not in err


@pytest.mark.parametrize("name", ["Mars/Olympus", "America", "x" * 300])
def test_a_bad_timezone_flag_names_the_flag(capsys: pytest.CaptureFixture[str],
                                            name: str) -> None:
    # "America" is a folder of the tz database and a 300-character name is too long for a
    # file name: ZoneInfo raises OSError for both, which used to escape as a traceback.
    code, _, err = run_cli(capsys, "evaluate", "--script", str(EXAMPLE), "--data", str(EURUSD),
                           "--timezone", name)
    assert code == 2
    assert f"--timezone: unknown timezone {name!r}" in err


def test_a_timezone_flag_wins_over_a_good_config_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tvdesk.toml"
    config.write_text('timezone = "Europe/Berlin"\n')
    code, _, err = run_cli(capsys, "--config", str(config), "evaluate", "--script",
                           str(EXAMPLE), "--data", str(EURUSD), "--timezone", "Mars/Olympus")
    assert code == 2
    assert "--timezone: unknown timezone 'Mars/Olympus'" in err
    assert str(config) not in err


def test_a_bad_tv_timezone_flag_names_that_flag(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    trades = tmp_path / "trades.csv"
    trades.write_text("Trade #,Type\n")
    code, _, err = run_cli(capsys, "parity", "--script", str(EXAMPLE), "--data", str(EURUSD),
                           "--tv-trades", str(trades), "--tv-timezone", "America")
    assert code == 2
    assert "--tv-timezone: unknown timezone 'America'" in err


def test_a_bad_timezone_flag_on_evaluate_from_exports_names_the_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from export_fixtures import write_csv

    sheets = tmp_path / "sheets"
    sheets.mkdir()
    write_csv(sheets / "trades.csv")
    code, _, err = run_cli(capsys, "evaluate", "--from-exports", str(sheets),
                           "--timezone", "Mars/Olympus")
    assert code == 2
    assert "--timezone: unknown timezone 'Mars/Olympus'" in err
