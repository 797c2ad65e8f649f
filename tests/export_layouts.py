"""What TradingView's exports looked like, variant by variant: the literal strings to write.

Kept apart from the reader's alias table on purpose: the fixtures spell every name out as
TradingView wrote it, so a test fails if the reader's table loses a spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- List of trades

HEADERS_2024 = (
    ("trade_number", "Trade #"), ("type", "Type"), ("signal", "Signal"),
    ("datetime", "Date/Time"), ("price", "Price {cur}"), ("qty", "Contracts"),
    ("profit", "Profit {cur}"), ("profit_percent", "Profit %"),
    ("cum_profit", "Cum. Profit {cur}"), ("cum_profit_percent", "Cum. Profit %"),
    ("run_up", "Run-up {cur}"), ("run_up_percent", "Run-up %"),
    ("drawdown", "Drawdown {cur}"), ("drawdown_percent", "Drawdown %"),
)
HEADERS_2025 = (
    ("trade_number", "Trade #"), ("type", "Type"), ("datetime", "Date and time"),
    ("signal", "Signal"), ("price", "Price {cur}"), ("qty", "Position size (qty)"),
    ("position_value", "Position size (value)"), ("profit", "Net P&L {cur}"),
    ("profit_percent", "Net P&L %"), ("run_up", "MFE {cur}"), ("run_up_percent", "MFE %"),
    ("drawdown", "MAE {cur}"), ("drawdown_percent", "MAE %"),
    ("cum_profit", "Cumulative P&L {cur}"), ("cum_profit_percent", "Cumulative P&L %"),
)
HEADERS_2026_EARLY = (
    ("trade_number", "Trade #"), ("type", "Type"), ("datetime", "Date and time"),
    ("signal", "Signal"), ("price", "Price {cur}"), ("qty", "Size (qty)"),
    ("position_value", "Position size (value)"), ("profit", "Net P&L {cur}"),
    ("profit_percent", "Net P&L %"), ("run_up", "Favorable excursion {cur}"),
    ("run_up_percent", "Favorable excursion %"), ("drawdown", "Adverse excursion {cur}"),
    ("drawdown_percent", "Adverse excursion %"), ("cum_profit", "Cumulative P&L {cur}"),
    ("cum_profit_percent", "Cumulative P&L %"),
)
HEADERS_2026_MID = (
    ("trade_number", "Trade number"), ("type", "Type"), ("datetime", "Date and time"),
    ("signal", "Signal"), ("price", "Price {cur}"), ("qty", "Size (qty)"),
    ("position_value", "Size (value)"), ("profit", "Net PnL {cur}"),
    ("profit_percent", "Return %"), ("run_up", "Favorable excursion {cur}"),
    ("run_up_percent", "Favorable excursion %"), ("drawdown", "Adverse excursion {cur}"),
    ("drawdown_percent", "Adverse excursion %"), ("cum_profit", "Cumulative PnL {cur}"),
    ("cum_profit_percent", "Cumulative PnL %"), ("duration_bars", "Duration (bars)"),
    ("commission", "Commission {cur}"),
)
HEADERS_PT = (
    ("trade_number", "Negociação nº"), ("type", "Tipo"), ("signal", "Sinal"),
    ("datetime", "Data/Hora"), ("price", "Preço {cur}"), ("qty", "Contratos"),
    ("profit", "Lucro {cur}"), ("profit_percent", "Lucro %"),
    ("cum_profit", "Lucro cumulativo {cur}"), ("cum_profit_percent", "Lucro cumulativo %"),
    ("run_up", "Run-up {cur}"), ("run_up_percent", "Run-up %"),
    ("drawdown", "Drawdown {cur}"), ("drawdown_percent", "Drawdown %"),
)

TYPES_EN = {("entry", "long"): "Entry long", ("exit", "long"): "Exit long",
            ("entry", "short"): "Entry short", ("exit", "short"): "Exit short"}
TYPES_PT = {("entry", "long"): "Entrada de compra", ("exit", "long"): "Saída de compra",
            ("entry", "short"): "Entrada de venda", ("exit", "short"): "Saída de venda"}

# --------------------------------------------------------------------------- metric sheets

# (sheet, key, layout, labels by label set). Layouts: "both" = money and % for All/Long/Short;
# "money" / "pct" = one column per scope; "all_*" = the All columns only; "duration" = text in
# All money. A None label leaves the row out of that label set.
METRIC_ROWS: tuple[tuple[str, str, str, dict[str, str | None]], ...] = (
    ("performance", "initial_capital", "all_money", {
        "en2024": "Initial Capital", "en2025": "Initial capital", "en2026": "Initial capital",
        "pt": "Capital inicial"}),
    ("performance", "open_pl", "both", {
        "en2024": "Open PL", "en2025": "Open P&L", "en2026": "Open PnL",
        "pt": "L&P em aberto"}),
    ("performance", "net_profit", "both", {
        "en2024": "Net Profit", "en2025": "Net profit", "en2026": "Net PnL",
        "pt": "Lucro líquido"}),
    ("performance", "gross_profit", "both", {
        "en2024": "Gross Profit", "en2025": "Gross profit", "en2026": "Gross profit",
        "pt": "Lucro bruto"}),
    ("performance", "gross_loss", "both", {
        "en2024": "Gross Loss", "en2025": "Gross loss", "en2026": "Gross loss",
        "pt": "Prejuízo bruto"}),
    ("performance", "avg_trade", "both", {
        "en2024": None, "en2025": "Expected payoff", "en2026": None, "pt": None}),
    ("performance", "commission_paid", "money", {
        "en2024": "Commission Paid", "en2025": "Commission paid", "en2026": "Commission paid",
        "pt": "Comissão paga"}),
    ("performance", "buy_hold_return", "all_both", {
        "en2024": "Buy & Hold Return", "en2025": "Buy & hold return",
        "en2026": "Buy and hold return", "pt": "Retorno de comprar e manter"}),
    ("performance", "max_contracts_held", "money", {
        "en2024": "Max Contracts Held", "en2025": "Max contracts held",
        "en2026": "Max contracts held", "pt": "Máx. de contratos mantidos"}),
    ("performance", "annualized_return", "all_pct", {
        "en2024": "Annualized Return (CAGR)", "en2025": "Annualized return (CAGR)",
        "en2026": "Annualized return (CAGR)", "pt": "Rentabilidade anualizada (CAGR)"}),
    ("performance", "return_on_initial_capital", "all_pct", {
        "en2024": "Return on Initial Capital", "en2025": "Return on initial capital",
        "en2026": "Return on initial capital", "pt": "Retorno sobre o capital inicial"}),
    ("performance", "max_runup", "all_both", {
        "en2024": "Max Run-up", "en2025": "Max equity run-up (intrabar)",
        "en2026": "Max equity run-up (intrabar)",
        "pt": "Valorização máxima do patrimônio (intrabarra)"}),
    ("performance", "max_drawdown", "all_both", {
        "en2024": "Max Drawdown", "en2025": "Max equity drawdown (intrabar)",
        "en2026": "Max equity drawdown (intrabar)",
        "pt": "Rebaixamento máximo do patrimônio (intrabarra)"}),
    ("performance", "max_drawdown_close_to_close", "all_both", {
        "en2024": "Max equity drawdown (close-to-close)",
        "en2025": "Max equity drawdown (close-to-close)",
        "en2026": "Max equity drawdown (close-to-close)",
        "pt": "Rebaixamento máximo do patrimônio (fechamento a fechamento)"}),
    ("performance", "max_drawdown_of_initial_capital", "all_pct", {
        "en2024": "Max equity drawdown as % of initial capital (intrabar)",
        "en2025": "Max equity drawdown as % of initial capital (intrabar)",
        "en2026": "Max Equity Drawdown as % of Initial Capital (Intrabar)",
        "pt": "Rebaixamento máximo do patrimônio como % do capital inicial (intrabarra)"}),
    ("performance", "max_drawdown_duration_close_to_close_days", "duration", {
        "en2024": "Max equity drawdown duration (close-to-close)",
        "en2025": "Max equity drawdown duration (close-to-close)",
        "en2026": "Max equity drawdown duration (close-to-close)",
        "pt": "Duração máxima do rebaixamento do patrimônio (fechamento a fechamento)"}),
    ("trades_analysis", "total_open_trades", "money", {
        "en2024": "Total Open Trades", "en2025": "Total open trades",
        "en2026": "Total open trades", "pt": "Total de negociações em aberto"}),
    ("trades_analysis", "total_trades", "money", {
        "en2024": "Total Closed Trades", "en2025": "Total trades", "en2026": "Total trades",
        "pt": "Total de negociações"}),
    ("trades_analysis", "winning_trades", "money", {
        "en2024": "Number Winning Trades", "en2025": "Winning trades",
        "en2026": "Winning trades", "pt": "Negociações vencedoras"}),
    ("trades_analysis", "losing_trades", "money", {
        "en2024": "Number Losing Trades", "en2025": "Losing trades",
        "en2026": "Losing trades", "pt": "Negociações perdedoras"}),
    ("trades_analysis", "even_trades", "money", {
        "en2024": "Even Trades", "en2025": "Even trades", "en2026": "Even trades",
        "pt": "Negociações empatadas"}),
    ("trades_analysis", "percent_profitable", "pct", {
        "en2024": "Percent Profitable", "en2025": "Percent profitable",
        "en2026": "Percent profitable", "pt": "Percentual lucrativo"}),
    ("trades_analysis", "avg_trade", "both", {
        "en2024": "Avg Trade", "en2025": "Avg P&L", "en2026": "Avg PnL", "pt": "L&P médio"}),
    ("trades_analysis", "avg_winning_trade", "both", {
        "en2024": "Avg Winning Trade", "en2025": "Avg winning trade",
        "en2026": "Avg winning trade", "pt": "Média de negociações vencedoras"}),
    ("trades_analysis", "avg_losing_trade", "both", {
        "en2024": "Avg Losing Trade", "en2025": "Avg losing trade",
        "en2026": "Avg losing trade", "pt": "Média de negociações perdedoras"}),
    ("trades_analysis", "ratio_avg_win_loss", "money", {
        "en2024": "Ratio Avg Win / Avg Loss", "en2025": "Ratio avg win / avg loss",
        "en2026": "Ratio avg win / avg loss", "pt": "Razão média de ganho / média de perda"}),
    ("trades_analysis", "largest_winning_trade", "both", {
        "en2024": "Largest Winning Trade", "en2025": "Largest winning trade",
        "en2026": "Largest winning trade", "pt": "Maior negociação vencedora"}),
    ("trades_analysis", "largest_losing_trade", "both", {
        "en2024": "Largest Losing Trade", "en2025": "Largest losing trade",
        "en2026": "Largest losing trade", "pt": "Maior negociação perdedora"}),
    ("trades_analysis", "avg_bars_in_trades", "money", {
        "en2024": "Avg # Bars in Trades", "en2025": "Avg # bars in trades",
        "en2026": "Avg # bars in trades", "pt": "Média de # barras nas negociações"}),
    ("risk_adjusted", "sharpe_ratio", "all_money", {
        "en2024": "Sharpe Ratio", "en2025": "Sharpe ratio", "en2026": "Sharpe ratio",
        "pt": "Índice de Sharpe"}),
    ("risk_adjusted", "sortino_ratio", "all_money", {
        "en2024": "Sortino Ratio", "en2025": "Sortino ratio", "en2026": "Sortino ratio",
        "pt": "Índice de Sortino"}),
    ("risk_adjusted", "profit_factor", "money", {
        "en2024": "Profit Factor", "en2025": "Profit factor", "en2026": "Profit factor",
        "pt": "Fator de lucro"}),
    ("risk_adjusted", "margin_calls", "money", {
        "en2024": "Margin Calls", "en2025": "Margin calls", "en2026": "Margin calls",
        "pt": "Chamadas de margem"}),
)

# From late 2025 the percent of the largest trades has its own row in English.
SPLIT_PERCENT_ROWS = {
    "en2025": {"largest_winning_trade": "Largest winning trade percent",
               "largest_losing_trade": "Largest losing trade percent"},
    "en2026": {"largest_winning_trade": "Largest winning trade percent",
               "largest_losing_trade": "Largest losing trade percent"},
}

# --------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Layout:
    """One TradingView export format: sheet names, headers, words, label set."""

    sheets: tuple[str, str, str, str, str]
    trade_headers: tuple[tuple[str, str], ...]
    labels: str
    scopes: tuple[str, str, str]
    types: dict[tuple[str, str], str]
    open_signal: str
    bools: tuple[str, str]
    property_names: tuple[str, ...]
    range_style: str  # "iso" | "named" | "day_named"
    negative_mae: bool = False
    newest_first: bool = False
    duration_unit: str = "days"


_EN_SHEETS = ("Performance", "Trades analysis", "Risk-adjusted performance", "List of trades",
              "Properties")
_EN_PROPS = ("Trading range", "Backtesting range", "Symbol", "Timeframe", "Point value",
             "Currency", "Tick size", "Initial capital", "Order size", "Pyramiding",
             "Commission", "Slippage", "Margin for long positions",
             "Margin for short positions", "Recalculate after order is filled")
_PT_PROPS = ("Intervalo de negociação", "Intervalo de backtesting", "Símbolo", "Tempo gráfico",
             "Valor do ponto", "Moeda", "Tamanho do tick", "Capital inicial",
             "Tamanho da ordem", "Piramidação", "Comissão", "Derrapagem",
             "Margem para posições compradas", "Margem para posições vendidas",
             "Recalcular após a ordem ser executada")

LAYOUTS: dict[str, Layout] = {
    "2024": Layout(
        ("Performance", "Trades analysis", "Risk performance ratios", "List of trades",
         "Properties"), HEADERS_2024, "en2024", ("All", "Long", "Short"), TYPES_EN, "Open",
        ("On", "Off"), _EN_PROPS, "named"),
    "2025": Layout(_EN_SHEETS, HEADERS_2025, "en2025", ("All", "Long", "Short"), TYPES_EN,
                   "Open", ("On", "Off"), _EN_PROPS, "iso", negative_mae=True),
    "2026early": Layout(_EN_SHEETS, HEADERS_2026_EARLY, "en2025", ("All", "Long", "Short"),
                        TYPES_EN, "Open", ("On", "Off"), _EN_PROPS, "iso"),
    "2026mid": Layout(
        ("Performance", "Trades analysis", "Risk-adjusted performance", "Trades",
         "Properties"), HEADERS_2026_MID, "en2026", ("All", "Long", "Short"), TYPES_EN,
        "Open", ("On", "Off"), _EN_PROPS, "iso", newest_first=True),
    "pt": Layout(
        ("Desempenho", "Análise de negociações", "Desempenho ajustado ao risco",
         "Lista de negociações", "Propriedades"), HEADERS_PT, "pt",
        ("Todos", "Compra", "Venda"), TYPES_PT, "Aberta", ("Ligado", "Desligado"), _PT_PROPS,
        "day_named", duration_unit="dias"),
}


# --------------------------------------------------------------------------- every UI language

_PROPERTY_KEYS = ("trading_range", "backtesting_range", "symbol", "timeframe", "point_value",
                  "currency", "tick_size", "initial_capital", "order_size", "pyramiding",
                  "commission", "slippage", "margin_long", "margin_short",
                  "recalculate_after_order_filled")
_SHEET_KINDS = ("performance", "trades_analysis", "risk_adjusted", "trades", "properties")


def locale_layout(locale: Any) -> str:
    """The late-2025 layout written with one language's words from the reader's label data
    (each table's first spelling; English where the language file has none). Returns the
    variant name to pass to the writers."""
    name = f"locale-{locale.code}"
    if name in LAYOUTS:
        return name

    def first(table: str, key: str, fallback: str) -> str:
        words = [w for w in locale.words(table, key)
                 if table != "sheets" or not set(w) & set("[]:*?/\\")]  # Excel's rule
        return words[0] if words else fallback

    headers = []
    english = dict(HEADERS_2025)
    for field, header in HEADERS_2025:
        base = field.removesuffix("_percent")
        word = first("trade_columns", base, english[base].replace(" {cur}", ""))
        if field.endswith("_percent"):
            headers.append((field, f"{word} %"))
        else:
            headers.append((field, f"{word} {{cur}}" if "{cur}" in header else word))
    for _kind, key, _shape, labels in METRIC_ROWS:
        fallback = labels["en2025"]
        labels[name] = None if fallback is None else first("metrics", key, fallback)
    LAYOUTS[name] = Layout(
        sheets=tuple(first("sheets", kind, english_name)[:31]  # type: ignore[arg-type]
                     for kind, english_name in zip(_SHEET_KINDS, _EN_SHEETS, strict=True)),
        trade_headers=tuple(headers), labels=name,
        scopes=tuple(first("metric_columns", scope, scope.title())  # type: ignore[arg-type]
                     for scope in ("all", "long", "short")),
        types={(role, side): first("trade_types", f"{role}_{side}", TYPES_EN[(role, side)])
               for role, side in TYPES_EN},
        open_signal=first("open_signals", "values", "Open"),
        bools=(first("bools", "true", "On"), first("bools", "false", "Off")),
        property_names=tuple(first("properties", key, english_name)
                             for key, english_name in zip(_PROPERTY_KEYS, _EN_PROPS,
                                                          strict=True)),
        range_style="iso", duration_unit=first("duration_units", "days", "days"))
    return name
