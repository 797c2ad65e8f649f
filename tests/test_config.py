"""Settings files: profiles load, and every mistake names file, key and expectation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tvdesk.config import load_settings
from tvdesk.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_profile_fields_and_relative_paths(tmp_path: Path) -> None:
    path = write(tmp_path, """
processes = 2
[profiles.eu]
script = "pine/s.pine"
data = "d.csv"
timezone = "Europe/Berlin"
mintick = 0.0001
from = 2020-01-01
to = "2021-06-30"
conditions = "1-3,7"
[profiles.eu.inputs]
"Fast Length" = 9
[profiles.eu.targets]
min_trades = 30
max_drawdown = 15.5
""")
    settings = load_settings(path)
    eu = settings.profile("eu")
    assert settings.processes == 2
    assert eu.script == tmp_path / "pine" / "s.pine"
    assert eu.date_from == date(2020, 1, 1) and eu.date_to == date(2021, 6, 30)
    assert eu.inputs == {"Fast Length": 9}
    assert eu.targets == {"min_trades": 30.0, "max_drawdown": 15.5}
    assert eu.conditions == "1-3,7"


def test_missing_default_file_means_defaults(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("TVDESK_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.engine == "local" and settings.profiles == {}


@pytest.mark.parametrize(("text", "message"), [
    ("processes = 'two'", "key 'processes': expected a whole number ≥ 1, got 'two'"),
    ("engine = 'cloud'", "key 'engine': expected \"local\" or \"tradingview\""),
    ("colour = 1", "unknown key 'colour'"),
    ("[profiles.a]\nmintick = 'small'", "key 'profiles.a.mintick': expected a positive number"),
    ("[profiles.a]\nfrom = 'yesterday'", "key 'profiles.a.from': expected a date YYYY-MM-DD"),
    ("[profiles.a]\nsymbl = 'X'", "unknown key 'profiles.a.symbl'"),
    ("[profiles.a.targets]\nmin_trades = 'many'", "key 'profiles.a.targets.min_trades'"),
    # A bad timezone is the file's mistake: named by its key, not as the --timezone flag.
    ("timezone = 'Mars/Olympus'", "key 'timezone': expected an IANA timezone name such as "
     "\"UTC\" or \"America/New_York\", got 'Mars/Olympus'"),
    ("timezone = 'America'", "key 'timezone': expected an IANA timezone name"),
    ("timezone = ' UTC'", "key 'timezone': expected an IANA timezone name"),
    ("timezone = 3", "key 'timezone': expected an IANA timezone name"),
    ("[profiles.a]\ntimezone = 'Mars/Olympus'",
     "key 'profiles.a.timezone': expected an IANA timezone name such as \"UTC\" or "
     "\"America/New_York\", got 'Mars/Olympus'"),
    ("x = [", "not valid TOML"),
])
def test_bad_config_names_file_key_and_expectation(tmp_path: Path, text: str,
                                                   message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("key", ["password", "tradingview_password", "api_key", "totp_secret",
                                 "openai_token"])
def test_secrets_are_refused_with_a_pointer_to_the_keyring(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, f"[llm]\n{key} = 'hunter2'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "keyring" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_unknown_profile_lists_known_ones(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[profiles.alpha]\n[profiles.beta]\n"))
    with pytest.raises(ConfigError, match="no profile named 'gamma' \\(profiles: alpha, beta\\)"):
        settings.profile("gamma")


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "missing.toml")


def test_good_timezones_are_kept(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "timezone = 'America/New_York'\n"
                                             "[profiles.a]\ntimezone = 'Asia/Tokyo'\n"))
    assert settings.timezone == "America/New_York"
    assert settings.profile("a").timezone == "Asia/Tokyo"


def test_check_settings_names_a_bad_timezone_as_load_settings_does() -> None:
    from tvdesk.config import Settings, check_settings

    with pytest.raises(ConfigError) as caught:
        check_settings(Settings(timezone="America"), "settings.toml")
    assert "settings.toml: key 'timezone': expected an IANA timezone name" in str(caught.value)


def test_profile_security_files_and_magnifier_round_trip(tmp_path: Path) -> None:
    from dataclasses import replace

    from tvdesk.config import save_settings

    path = write(tmp_path, """
[profiles.mtf]
data = "eth_15m.csv"
magnifier_data = "eth_1m.csv"
[profiles.mtf.security]
"BINANCE:BTCUSDT" = "btc_15m.csv"
""")
    mtf = load_settings(path).profile("mtf")
    assert mtf.security == {"BINANCE:BTCUSDT": tmp_path / "btc_15m.csv"}
    assert mtf.magnifier_data == tmp_path / "eth_1m.csv"
    # Written back from the Profile (a changed one), the paths stay relative to the file.
    settings = load_settings(path)
    changed = replace(mtf, symbol="BINANCE:ETHUSDT")
    save_settings(replace(settings, profiles={"mtf": changed}), path)
    text = path.read_text()
    assert 'magnifier_data = "eth_1m.csv"' in text and '"BINANCE:BTCUSDT" = "btc_15m.csv"' in text
    again = load_settings(path).profile("mtf")
    assert again.security == mtf.security and again.magnifier_data == mtf.magnifier_data


def test_profile_security_must_be_a_table_of_paths(tmp_path: Path) -> None:
    path = write(tmp_path, """
[profiles.mtf]
security = "btc.csv"
""")
    with pytest.raises(ConfigError, match=r"profiles\.mtf\.security.*symbol = bars file"):
        load_settings(path)
    path = write(tmp_path, """
[profiles.mtf.security]
"BINANCE:BTCUSDT" = 3
""")
    with pytest.raises(ConfigError, match=r"profiles\.mtf\.security\.BINANCE:BTCUSDT"):
        load_settings(path)


def test_watchlists_and_a_profiles_watchlist_keys_read_check_and_save(tmp_path: Path) -> None:
    from tvdesk.config import save_settings

    file = tmp_path / "tvdesk.toml"
    file.write_text('[watchlists]\ncrypto = ["BINANCE:BTCUSDT", "BINANCE:ETHUSDT"]\n\n'
                    '[profiles.robust]\nscript = "s.pine"\nwatchlist = "crypto"\n'
                    'timeframes = ["15", 60]\naggregate = "min"\nsearch_timeframe = true\n')
    settings = load_settings(file)
    assert settings.watchlist("crypto") == ("BINANCE:BTCUSDT", "BINANCE:ETHUSDT")
    profile = settings.profile("robust")
    assert (profile.watchlist, profile.timeframes, profile.aggregate,
            profile.search_timeframe) == ("crypto", ("15", "60"), "min", True)
    copy = tmp_path / "copy.toml"
    save_settings(settings, copy)
    again = load_settings(copy)
    assert again.watchlists == settings.watchlists
    assert again.profile("robust").aggregate == "min"
    with pytest.raises(ConfigError, match=r"no watchlist named 'fx'.*crypto"):
        settings.watchlist("fx")
    file.write_text('[profiles.robust]\naggregate = "best"\n')
    with pytest.raises(ConfigError, match=r"profiles\.robust\.aggregate"):
        load_settings(file)
    file.write_text('[watchlists]\nfx = "FX:EURUSD"\n')
    with pytest.raises(ConfigError, match=r"watchlists\.fx"):
        load_settings(file)
