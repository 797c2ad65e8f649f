"""The TradingView contract through the real CLI (subprocesses), a real keyring file backend,
headless Chromium and the fake TradingView site; and no secret anywhere tvdesk writes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fake_tradingview import FakeTradingView

ROOT = Path(__file__).resolve().parents[3]
SMA = ROOT / "pine" / "examples" / "sma_cross.pine"
DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"


class Cli:
    """`tvdesk ...` as a user runs it, with its own home, keyring file and config."""

    def __init__(self, tmp_path: Path, fake_tv: FakeTradingView, chromium_path: str) -> None:
        self.tmp = tmp_path
        self.fake = fake_tv
        self.config = tmp_path / "settings.toml"
        self.config.write_text("[tradingview]\npause_seconds = [0, 0]\nstep_timeout = 10\n"
                               "report_timeout = 30\n")
        self.env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                    "XDG_DATA_HOME": str(tmp_path / "xdg"), "TVDESK_HOME": str(tmp_path / "home"),
                    "TVDESK_TRADINGVIEW_URL": fake_tv.base_url, "TVDESK_BROWSER": chromium_path}

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tvdesk", "--config", str(self.config),
                               *args], input=stdin, text=True, capture_output=True,
                              env=self.env, cwd=ROOT, timeout=240)

    def store_credentials(self) -> None:
        run = self("credentials", "set", "tradingview", "--allow-plaintext-keyring",
                   stdin=f"{self.fake.username}\n{self.fake.password}\n"
                         f"{self.fake.totp_secret}\n")
        assert run.returncode == 0, run.stderr


@pytest.fixture
def cli(tmp_path: Path, fake_tv: FakeTradingView, chromium_path: str) -> Cli:
    tool = Cli(tmp_path, fake_tv, chromium_path)
    tool.store_credentials()
    return tool


def test_credentials_check_logs_in_once_then_reuses_the_session(cli: Cli) -> None:
    first = cli("credentials", "check", "tradingview")
    assert first.returncode == 0, first.stderr
    assert "TradingView login works (logged in" in first.stdout
    second = cli("credentials", "check", "tradingview")
    assert second.returncode == 0, second.stderr
    assert "session reused" in second.stdout
    assert cli.fake.password_logins == 1


def test_wrong_password_exits_1_with_tradingviews_message(cli: Cli) -> None:
    cli("credentials", "set", "tradingview", "--allow-plaintext-keyring",
        stdin=f"{cli.fake.username}\nwrong-pass\n\n")
    run = cli("credentials", "check", "tradingview")
    assert run.returncode == 1
    assert "Invalid username or password" in run.stdout + run.stderr


def test_evaluate_on_tradingview_writes_the_same_document(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = cli("evaluate", "--engine", "tradingview", "--script", str(SMA), "--symbol",
              "FX:EURUSD", "--timeframe", "1h", "--from", "2017-06-01", "--to", "2017-12-31",
              "--input", "Fast Length=14", "--input", "Allow Shorts=on", "--headless",
              "--json", str(out))
    assert run.returncode == 0, run.stderr
    document = json.loads(out.read_text())
    assert document["source"] == "tradingview"
    assert document["properties"]["inputs"]["Fast Length"] == 14
    assert document["properties"]["inputs"]["Allow Shorts"] is True
    assert len(document["trades"]) > 0
    assert "Net profit" in run.stdout


def test_compile_error_exits_2_with_the_line(cli: Cli, tmp_path: Path) -> None:
    """The script is the user's input: a compile error is bad input (exit 2), as locally."""
    bad = tmp_path / "bad.pine"
    lines = SMA.read_text().splitlines()
    index = next(i for i, text in enumerate(lines) if text.startswith("slow = ta.sma"))
    lines[index] = "slow = ta.sma(close, slowLen"
    bad.write_text("\n".join(lines) + "\n")
    run = cli("evaluate", "--engine", "tradingview", "--script", str(bad), "--symbol",
              "FX:EURUSD", "--timeframe", "60")
    assert run.returncode == 2
    assert "TradingView could not compile" in run.stderr
    assert "Pine line" in run.stderr


def test_captcha_exits_1_with_the_way_to_finish_by_hand(cli: Cli) -> None:
    cli.fake.captcha = True
    run = cli("evaluate", "--engine", "tradingview", "--script", str(SMA), "--symbol",
              "FX:EURUSD", "--timeframe", "60")
    assert run.returncode == 1
    assert "captcha" in run.stderr and "--show-browser" in run.stderr
    assert cli.fake.signin_attempts == 1


def test_tv_check_prints_the_steps_and_fails_on_a_changed_page(cli: Cli,
                                                                tmp_path: Path) -> None:
    ok = cli("tv", "check", "--symbol", "FX:EURUSD", "--timeframe", "60",
             "--from", "2017-06-01", "--json", str(tmp_path / "check.json"))
    assert ok.returncode == 0, ok.stderr
    assert "the flow works" in ok.stdout
    rows = {r["step"]: r for r in json.loads((tmp_path / "check.json").read_text())["steps"]}
    assert rows["add_to_chart"]["status"] == "ok"
    assert rows["add_to_chart"]["selector"] == "[data-qa-id='add-script-to-chart']"
    assert rows["export_xlsx"]["status"] == "ok"
    assert rows["date_range_dialog"]["status"] == "ok"
    assert rows["settings_dialog"]["status"] == "ok"
    assert not [r for r in rows.values() if r["status"] in ("FAILED", "FALLBACK")]
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["popups_closed"].get("upgrade offer", 0) >= 1  # the fake shows it twice
    popups = next(text for text in ok.stdout.splitlines() if text.startswith("pop-ups closed:"))
    assert "'upgrade offer' ×" in popups  # other pop-ups may be closed too, in any order
    assert "unknown dialogs with form fields, left open: none" in ok.stdout
    cli.fake.broken = {"add_to_chart"}
    broken = cli("tv", "check", "--symbol", "FX:EURUSD", "--timeframe", "60")
    assert broken.returncode == 1
    line = next(text for text in broken.stdout.splitlines() if text.startswith("add_to_chart"))
    assert "FAILED" in line
    assert "diagnostics" in broken.stderr


def test_optimize_confirm_top_stores_tradingview_results_with_parity(cli: Cli,
                                                                     tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    run = cli("optimize", "--script", str(SMA), "--data", str(DATA), "--symbol", "FX:EURUSD",
              "--timeframe", "60", "--max-iterations", "6", "--holdout", "0",
              "--store", str(store), "--confirm-top", "2")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("confirm trial") == 2
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT proposer, status, metrics_json FROM trials "
                            "WHERE segment = 'confirm'").fetchall()
    assert len(rows) == 2
    for proposer, status, metrics_json in rows:
        assert (proposer, status) == ("confirm", "done")
        # The fake site runs the same engine: every trade must match.
        assert json.loads(metrics_json)["parity_matched_percent"] == 100.0


def test_no_secret_in_logs_diagnostics_reports_store_or_profile(cli: Cli,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("evaluate", "--engine", "tradingview", "--script", str(SMA), "--symbol",
               "FX:EURUSD", "--timeframe", "60", "--report", str(out)).returncode == 0
    cli.fake.broken = {"add_to_chart"}
    assert cli("tv", "check", "--symbol", "FX:EURUSD", "--timeframe", "60").returncode == 1
    secrets = [cli.fake.password.encode(), cli.fake.totp_secret.encode()]
    keyring_file = next((tmp_path / "xdg").rglob("keyring_pass.cfg"))
    scanned = 0
    kinds = set()
    for path in tmp_path.rglob("*"):
        if not path.is_file() or path == keyring_file:
            continue
        data = path.read_bytes()
        scanned += 1
        kinds.add(path.suffix)
        for secret in secrets:
            assert secret not in data, f"a secret leaked into {path}"
    assert {".png", ".html", ".log", ".xlsx"} <= kinds
    assert scanned > 20
