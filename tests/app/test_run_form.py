"""`tvdesk optimize`'s flags fill the same RunForm the GUI fills, field by field."""

from __future__ import annotations

from dataclasses import fields

from tvdesk.app.optimize_settings import _FLAG_DEST, RunForm, form_from_args
from tvdesk.app.requests import RunOptions
from tvdesk.cli import _build_parser, _options

# Flags that are not part of the form: where the run is kept, resume, what runs afterwards,
# the browser window, and the data flags (RunOptions, shared with evaluate).
NOT_FORM = {"help", "store", "resume", "confirm_top", "show_browser", "config", "command",
            *(f.name for f in fields(RunOptions)), "inputs"}


def _optimize_dests() -> set[str]:
    parser = _build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {a.dest for a in sub.choices["optimize"]._actions} - NOT_FORM


def test_every_optimize_flag_lands_in_a_form_field() -> None:
    form_fields = {f.name for f in fields(RunForm)}
    landed = {_FLAG_DEST.get(name, name) for name in form_fields}
    assert _optimize_dests() <= landed, _optimize_dests() - landed


def test_the_form_holds_what_was_given() -> None:
    args = _build_parser().parse_args([
        "optimize", "--script", "x.pine", "--target", "sharpe_ratio>=1", "--target",
        "total_trades>=30", "--target-potential", "sharpe_ratio>=0.5", "--objective",
        "profit_factor:max", "--max-llm-calls", "9", "--proposer", "both", "--seed", "7"])
    form = form_from_args(args, _options(args))
    assert form.targets == ["sharpe_ratio>=1", "total_trades>=30"]
    assert form.potential == ["sharpe_ratio>=0.5"]
    assert form.objectives == ["profit_factor:max"]
    assert (form.max_llm_calls, form.proposer, form.seed) == (9, "both", 7)
    assert form.options.script == "x.pine"
    assert form.search_ranges == {}  # GUI-only: the default


def test_a_runs_settings_are_decoded_in_one_place(tmp_path) -> None:
    """What the run stored is what resume, reports and re-runs get back; a snapshot that is
    not settings is a clear error naming the store."""
    import pytest

    from tvdesk.errors import InputError
    from tvdesk.model import BacktestRequest, SymbolSpec
    from tvdesk.optimize.settings import OptimizeSettings, stored_settings
    from tvdesk.pine.loader import load_strategy_source
    from tvdesk.store import RunStore

    pine = '//@version=6\nstrategy("S")\nlen = input.int(10, "Length")\n'
    request = BacktestRequest(strategy=load_strategy_source(pine),
                              symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001))
    settings = OptimizeSettings(request=request, max_iterations=7, max_llm_calls=11)
    with RunStore.open(tmp_path / "runs.db") as store:
        run_id = store.create_run(engine="local", strategy_title="S",
                                  settings=settings.to_dict())
        back = stored_settings(store, run_id)
        assert (back.max_iterations, back.max_llm_calls) == (7, 11)
        assert back.request.symbol.ticker == "FX:EURUSD"
        other = store.create_run(engine="local", strategy_title="S", settings={})
        with pytest.raises(InputError, match=f"run {other} has no settings this tvdesk can"):
            stored_settings(store, other)


def test_stored_llm_settings_without_models_get_the_default_models() -> None:
    """A stored `llm` table with no (or an empty) model list falls back to the default list,
    rather than failing to decode (the default is read from an instance: a slotted dataclass's
    class attribute is the slot, not the default)."""
    from tvdesk.model import BacktestRequest
    from tvdesk.optimize.settings import LLMSettings, OptimizeSettings
    from tvdesk.pine.loader import load_strategy_source

    pine = '//@version=6\nstrategy("S")\nlen = input.int(10, "Length")\n'
    data = OptimizeSettings(request=BacktestRequest(strategy=load_strategy_source(pine))).to_dict()
    del data["llm"]["models"]
    assert OptimizeSettings.from_dict(data).llm.models == LLMSettings().models
    data["llm"]["models"] = []
    assert OptimizeSettings.from_dict(data).llm.models == LLMSettings().models
