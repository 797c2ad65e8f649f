"""LLM rewrites with `git_repository`: each new best is committed after the worker's round, so
the committed pc_<n>.pine is the new best's code; the API key never reaches the repository."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tvdesk.app.optimize import run_optimization
from tvdesk.engines.local import LocalEngine
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.optimize.settings import LLMSettings, OptimizeSettings
from tvdesk.pine.loader import load_strategy_source
from tvdesk.store import RunStore

from fake_openai import DEV_PINE, dev_variant, fake_openai_server, good

ROOT = Path(__file__).resolve().parents[2]
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
_ = fake_openai_server  # the fixture is used by name below (fake_llm)


@pytest.fixture(autouse=True)
def no_user_git_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The commits use tvdesk's fallback author, never the user's git settings."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def test_llm_new_bests_are_committed_with_the_workers_file_as_it_is_after_the_round(
        fake_llm, llm_key: str, tmp_path: Path) -> None:
    fake_llm.script(good(dev_variant(8)), good(dev_variant(20)), good(dev_variant(30)))
    request = BacktestRequest(strategy=load_strategy_source(DEV_PINE), data_path=str(EURUSD),
                              symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001,
                                                pointvalue=1))
    repo = tmp_path / "repo"
    settings = replace(OptimizeSettings(
        request=request, proposer="llm", holdout=0, max_iterations=4,
        llm=LLMSettings(base_url=fake_llm.base_url, models=("fake-a",), model="fake-a"),
        workspace=str(tmp_path / "ws")), git_repository=str(repo))

    async def main():
        async with LocalEngine(processes=1) as engine:
            return await run_optimization(settings, store, engine=engine)

    with RunStore.open(tmp_path / "runs.db") as store:
        outcome = asyncio.run(main())
        new_bests = [e.payload["trial_id"] for e in store.events(outcome.run_id,
                                                                 kind="new_best")]
        assert len(new_bests) >= 2  # the base script, then a better rewrite
        assert outcome.git is not None and outcome.git.warnings == []
        assert [trial for trial, _ in outcome.git.commits] == new_bests
        shas = git(repo, "rev-list", "--reverse", "HEAD").split()
        assert shas == [sha for _, sha in outcome.git.commits]
        for sha, trial_id in zip(shas, new_bests, strict=True):
            trial = store.trial(trial_id)
            assert git(repo, "show", f"{sha}:pc_1.pine") == store.get_source(trial.source_hash)
            best = load_strategy_source(git(repo, "show", f"{sha}:best.pine"))
            assert {s.title: s.default for s in best.inputs} == {
                s.title: trial.inputs.get(s.title, s.default) for s in best.inputs}
            assert git(repo, "log", "-1", "--format=%s", sha).startswith(
                f"tvdesk: new best trial {trial_id} (strategy) net ")
        history = git(repo, "log", "-p", "--format=%B")
        assert llm_key not in history
        assert git(repo, "ls-files").split() == ["best.pine", "pc_1.pine"]
