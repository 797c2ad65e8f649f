"""`tvdesk optimize`'s flags fill the same RunForm the GUI fills, field by field."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from tvdesk.app.optimize_settings import _FLAG_DEST, RunForm, form_from_args
from tvdesk.app.requests import RunOptions
from tvdesk.cli import _build_parser, _options

# Flags that are not part of the form: where the run is kept, resume, what runs afterwards,
# the browser window, and the data flags (RunOptions, shared with evaluate).
# Where and how a run is carried out, not what it is: not stored with it (a run started on a
# Dask cluster may resume on this machine).
NOT_FORM = {"help", "store", "resume", "confirm_top", "show_browser", "config", "command",
            "cluster", *(f.name for f in fields(RunOptions)), "inputs"}


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


# ---------------------------------------------------------------- checks before a run starts

ROOT = Path(__file__).resolve().parents[2]
MULTI = ROOT / "pine" / "examples" / "multi_condition.pine"
SMA = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"


def _settings(**form_fields):
    from tvdesk.app.optimize_settings import settings_from_form
    from tvdesk.config import Settings

    options = form_fields.pop("options", {})
    form = RunForm(options=RunOptions(**{"script": str(MULTI), "data": str(EURUSD),
                                         "mintick": 0.00001, **options}), **form_fields)
    return settings_from_form(form, Settings())


def _refused(**form_fields):
    import pytest

    from tvdesk.errors import InputError

    with pytest.raises(InputError) as caught:
        _settings(**form_fields)
    return caught.value


def test_conditions_outside_the_condition_inputs_declared_range_are_refused() -> None:
    error = _refused(conditions="7-9")
    assert error.source == "--conditions" and error.key == "Condition"
    assert "condition 7" in str(error) and "'Condition'" in str(error)
    assert "1 … 4" in str(error)
    assert _settings(conditions="1-4").conditions == ("1", "2", "3", "4")


def test_conditions_must_be_among_a_choice_inputs_options() -> None:
    import pytest

    from tvdesk.app.form_checks import check_conditions
    from tvdesk.errors import InputError
    from tvdesk.model import InputSpec

    spec = InputSpec(name="rule", title="Rule", kind="int", default=1, options=(1, 2, 5))
    check_conditions(("1", "5"), spec)
    with pytest.raises(InputError, match=r"condition 3 .*'Rule', which allows one of 1, 2, 5"):
        check_conditions(("1", "3"), spec)


def test_a_target_on_an_unknown_metric_names_it_and_the_close_names() -> None:
    error = _refused(targets=["foo_bar>=3"])
    assert error.source == "--target" and "unknown metric 'foo_bar'" in str(error)
    typo = _refused(targets=["net_proft>=1"])
    assert "did you mean net_profit" in str(typo)
    assert _refused(potential=["sharpe>=1"]).source == "--target-potential"
    assert "sharpe_ratio" in str(_refused(potential=["sharpe>=1"]))
    assert _refused(objectives=["profit:max"]).source == "--objective"
    targets = _settings(targets=["sharpe_ratio>=0.2", "min_trades=5"]).targets
    assert [c.describe() for c in targets.constraints] == ["sharpe_ratio >= 0.2",
                                                           "total_trades >= 5"]


def test_every_metric_a_backtest_reports_is_a_valid_target(tmp_path: Path) -> None:
    """The known names come from the catalog; this proves the engine reports nothing else,
    so no real metric is refused as a target."""
    from tvdesk.optimize.targets import check_metric, known_metrics

    from engine_helpers import backtest, flat_bars

    pine = ('//@version=6\nstrategy("T", initial_capital=1000)\n'
            'if bar_index % 5 == 0\n    strategy.entry("L", strategy.long)\n'
            'if bar_index % 5 == 3\n    strategy.close("L")\n')
    result = backtest(tmp_path, pine, flat_bars(40))
    assert len(result.metrics) > 100
    assert set(result.metrics) <= known_metrics(), set(result.metrics) - known_metrics()
    for key in result.metrics:
        assert check_metric(key) == key


def test_missing_files_are_refused_at_their_field(tmp_path: Path) -> None:
    data = _refused(options={"data": str(tmp_path / "gone.csv")})
    assert data.source == "--data" and f"{tmp_path / 'gone.csv'}: file not found" in str(data)
    script = _refused(options={"script": str(tmp_path / "gone.pine")})
    assert script.source == "--script" and "gone.pine: file not found" in str(script)


def test_search_ranges_that_make_no_sense_are_refused_naming_the_input() -> None:
    flipped = _refused(search_ranges={"Length": {"min": 50.0, "max": 10.0, "step": 1.0}})
    assert flipped.source == "search ranges" and flipped.key == "Length"
    assert "min 50 is above max 10" in str(flipped)
    step = _refused(search_ranges={"ATR Stop": {"min": 1.0, "max": 2.0, "step": 0.0}})
    assert step.key == "ATR Stop" and "step must be above 0" in str(step)
    below = _refused(search_ranges={"Length": {"min": 1.0, "max": 10.0}})
    assert "below the minimum 5" in str(below) and "5 … 200" in str(below)
    ok = _settings(search_ranges={"Length": {"min": 10.0, "max": 30.0, "step": 2.0}})
    assert ok.search_ranges == {"Length": {"min": 10.0, "max": 30.0, "step": 2.0}}


def test_a_date_window_outside_the_data_is_refused_naming_the_datas_span() -> None:
    from tvdesk.app.form_checks import data_span

    span = data_span(EURUSD)
    assert span is not None and span.describe() == "data: 2017-04-19 … 2018-02-07"
    late = _refused(options={"date_from": "2019-01-01"})
    assert late.source == "--from" and "2017-04-19 … 2018-02-07" in str(late)
    early = _refused(options={"date_to": "2016-01-01"})
    assert early.source == "--to"
    assert _settings(options={"date_from": "2017-06-01"}).request.date_from is not None


def test_the_data_span_reads_only_the_files_ends(tmp_path: Path) -> None:
    """First and last dates of a big file from its two ends; a file it cannot read gives
    None (no range offered), never an error."""
    from tvdesk.app.form_checks import data_span

    big = tmp_path / "big.csv"
    lines = ["time,open,high,low,close"] + [f"{1_500_000_000 + i * 60},1,2,0.5,1.5"
                                            for i in range(200_000)]
    lines[100_000] = "not,a,bar,at,all"  # the middle is never read
    big.write_text("\n".join(lines) + "\n\n")
    span = data_span(big)
    assert span is not None
    # the last bar is 2017-11-29 23:59 UTC: already the 30th in the chart's Tokyo time
    assert (span.first.isoformat(), span.last.isoformat()) == ("2017-07-14", "2017-11-29")
    assert data_span(big, "Asia/Tokyo").last.isoformat() == "2017-11-30"  # type: ignore[union-attr]
    junk = tmp_path / "junk.csv"
    junk.write_text("hello\nworld\n")
    assert data_span(junk) is None and data_span(tmp_path / "none.csv") is None


def test_strategy_settings_overrides_reach_the_request_and_the_backtest(tmp_path: Path) -> None:
    """A changed commission is in the request's settings and the local engine charges it."""
    from tvdesk.engines.local.backtest import BacktestContext, run_backtest
    from tvdesk.pine.transpile import TranspileCache

    plain = _settings(options={"script": str(SMA), "date_to": "2017-08-31"})
    dearer = _settings(options={"script": str(SMA), "date_to": "2017-08-31",
                                "settings": (("commission_value", 0.5),)})
    assert plain.request.settings == ()
    assert dearer.request.settings == (("commission_value", 0.5),)
    context = BacktestContext(TranspileCache(tmp_path / "transpiled"))
    base = run_backtest(plain.request, context).metrics
    more = run_backtest(dearer.request, context).metrics
    assert base["total_trades"] == more["total_trades"] > 0
    assert more["commission_paid"] > 10 * base["commission_paid"]
    assert more["net_profit"] < base["net_profit"]


def test_strategy_settings_that_make_no_sense_are_refused_naming_the_setting() -> None:
    for settings, key, text in (
            ((("initial_capital", 0.0),), "initial_capital", "above 0"),
            ((("commission_value", -1.0),), "commission_value", "0 or more"),
            ((("slippage", 1.5),), "slippage", "whole number"),
            ((("default_qty_type", "lots"),), "default_qty_type", "strategy.fixed")):
        error = _refused(options={"settings": settings})
        assert (error.source, error.key) == ("settings", key) and text in str(error)
