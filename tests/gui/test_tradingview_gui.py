"""TradingView from the desktop app: the trial view's "Re-run on TradingView" and the
Credentials dialog's "Check login…", against the fake TradingView site in headless Chromium
and a real keyring file backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tvdesk.app.credentials import store_credentials
from tvdesk.gui.controller import RunController
from tvdesk.gui.credentials_dialog import CredentialsDialog
from tvdesk.gui.trial_view import TrialView

from engine_helpers import optimise_example
from fake_tradingview import FakeTradingView


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_tv: FakeTradingView,
            chromium_path: str, plaintext_keyring) -> FakeTradingView:
    """The fake site's account in a real (file) keyring; tvdesk's folders in tmp_path."""
    monkeypatch.setenv("TVDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TVDESK_TRADINGVIEW_URL", fake_tv.base_url)
    monkeypatch.setenv("TVDESK_BROWSER", chromium_path)
    store_credentials("tradingview", {"username": fake_tv.username,
                                      "password": fake_tv.password,
                                      "totp_secret": fake_tv.totp_secret},
                      allow_plaintext=True)
    return fake_tv


def test_rerun_on_tradingview_stores_the_result_beside_the_trial(
        qtbot, loop, tmp_path: Path, account: FakeTradingView) -> None:
    store_path = tmp_path / "runs.db"
    optimise_example(store_path, max_iterations=3, holdout=0.0)
    controller = RunController(store_path)
    view = TrialView(controller)
    qtbot.addWidget(view)
    trial = controller.store().trials(controller.store().latest_run_id())[0]
    view.show_trial(trial.id)
    assert view.rerun_button.isEnabled()

    async def rerun() -> tuple:
        done = asyncio.get_running_loop().create_future()
        controller.confirm_finished.connect(
            lambda trial_id, summary: done.done() or done.set_result((trial_id, summary)))
        view.rerun_button.click()
        assert not view.rerun_button.isEnabled()
        return await asyncio.wait_for(done, 180)

    trial_id, summary = loop.run_until_complete(rerun())
    assert trial_id == trial.id
    assert "(100.0%)" in summary, summary
    assert view.status_label.text() == f"TradingView: {summary}"
    assert view.rerun_button.isEnabled()
    [confirm] = controller.store().trials(trial.run_id, segment="confirm")
    assert confirm.status == "done" and confirm.proposer == "confirm"
    assert confirm.inputs == trial.inputs
    result = controller.store().trial_result(confirm.id)
    assert result is not None and result.source == "tradingview"
    assert result.properties["confirms_trial"] == trial.id
    assert json.dumps(result.to_dict()).count(account.password) == 0
    loop.run_until_complete(controller.shutdown())


def test_credentials_dialog_checks_the_login(qtbot, loop, account: FakeTradingView) -> None:
    dialog = CredentialsDialog()
    qtbot.addWidget(dialog)
    dialog.check_show_browser = False  # no display in CI; the login itself is the same
    ok, message = loop.run_until_complete(dialog.check_login())
    assert ok, message
    assert "TradingView login works" in dialog.check_note.text()
    assert account.password_logins == 1
    account.captcha = True  # a new profile would hit the captcha; this one keeps its session
    ok, message = loop.run_until_complete(dialog.check_login())
    assert ok and "session reused" in message
