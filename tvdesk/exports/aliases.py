"""Every name TradingView has used in its exports, in one data table.

TradingView renames sheets, columns and labels every few months and translates all of them into
the UI language. The readers never compare names in code: they ask this module, which maps every
known spelling to one canonical name. A renamed column or a new language is therefore one more
string in a tuple below, and nothing else changes.

Lookups normalise both sides (`normalise`): case, accents, spacing, "&" versus "and" and the
spellings of P&L ("P&L", "PnL", "P and L", Portuguese "L&P") do not matter. Column headers may
end in a currency code ("Price USD", "Net P&L USDT"); `split_currency` strips a trailing run of
3–5 capitals when the full header is not known by itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Literal, TypeVar

from tvdesk.metric_catalog import METRICS, Scope

Role = Literal["entry", "exit"]
SheetKind = Literal["performance", "trades_analysis", "risk_adjusted", "trades", "properties"]

# --------------------------------------------------------------------------- sheets

SHEET_ORDER: tuple[SheetKind, ...] = (
    "performance", "trades_analysis", "risk_adjusted", "trades", "properties",
)
"""Position of each sheet in the workbook: the fallback when no name is known."""

SHEETS: dict[SheetKind, tuple[str, ...]] = {
    "performance": ("Performance", "Desempenho"),
    "trades_analysis": ("Trades analysis", "Análise de negociações", "Análise de trades"),
    "risk_adjusted": ("Risk-adjusted performance", "Risk performance ratios",
                      "Desempenho ajustado ao risco", "Índices de desempenho de risco"),
    "trades": ("List of trades", "Trades", "Lista de negociações", "Negociações",
               "Lista de trades"),
    "properties": ("Properties", "Propriedades"),
}

# --------------------------------------------------------------------------- List of trades

TRADE_FIELDS: tuple[str, ...] = (
    "trade_number", "type", "signal", "datetime", "price", "qty", "position_value", "profit",
    "profit_percent", "cum_profit", "cum_profit_percent", "run_up", "run_up_percent",
    "drawdown", "drawdown_percent", "duration_bars", "commission",
)
REQUIRED_TRADE_FIELDS: tuple[str, ...] = ("trade_number", "type", "datetime", "price")

# ≤2024: Trade #, Type, Signal, Date/Time, Price, Contracts, Profit, Cum. Profit, Run-up, Drawdown
# late 2025: Date and time, Position size (qty/value), Net P&L, MFE, MAE, Cumulative P&L
# early 2026: Size (qty), Favorable/Adverse excursion
# mid 2026: Trade number, Size (value), Net PnL, Return %, Duration (bars), Commission
# A field `x_percent` also accepts every alias of `x` followed by " %" (see _percent_aliases).
TRADE_COLUMNS: dict[str, tuple[str, ...]] = {
    "trade_number": ("Trade #", "Trade number", "Trade no.", "Trade", "Negociação nº",
                     "Negociação #", "Nº da negociação", "Número da negociação", "Trade nº"),
    "type": ("Type", "Tipo"),
    "signal": ("Signal", "Sinal"),
    "datetime": ("Date/Time", "Date and time", "Date", "Time", "Data/Hora", "Data e hora",
                 "Data"),
    "price": ("Price", "Preço"),
    "qty": ("Contracts", "Position size (qty)", "Size (qty)", "Quantity", "Qty", "Contratos",
            "Tamanho da posição (qtd)", "Tamanho (qtd)", "Quantidade"),
    "position_value": ("Position size (value)", "Size (value)", "Position value",
                       "Tamanho da posição (valor)", "Tamanho (valor)"),
    "profit": ("Profit", "Net P&L", "Net profit", "P&L", "Lucro", "Lucro líquido",
               "L&P líquido"),
    "profit_percent": ("Return %", "Retorno %"),
    "cum_profit": ("Cum. Profit", "Cumulative profit", "Cumulative P&L", "Lucro cumulativo",
                   "Lucro acumulado", "L&P cumulativo", "L&P acumulado"),
    "cum_profit_percent": (),
    "run_up": ("Run-up", "MFE", "Favorable excursion", "Excursão favorável"),
    "run_up_percent": (),
    "drawdown": ("Drawdown", "MAE", "Adverse excursion", "Excursão adversa", "Rebaixamento"),
    "drawdown_percent": (),
    "duration_bars": ("Duration (bars)", "Bars", "Duração (barras)", "Barras"),
    "commission": ("Commission", "Comissão"),
}

# Type cell → (role, side). A role of None means the cell names only the side; the reader then
# tells entry from exit by time (see tvdesk.exports.trades).
TRADE_TYPES: dict[tuple[Role | None, str], tuple[str, ...]] = {
    ("entry", "long"): ("Entry long", "Long entry", "Entrada de compra", "Entrada comprada",
                        "Entrada long"),
    ("exit", "long"): ("Exit long", "Long exit", "Saída de compra", "Saída comprada",
                       "Saída long"),
    ("entry", "short"): ("Entry short", "Short entry", "Entrada de venda", "Entrada vendida",
                         "Entrada short"),
    ("exit", "short"): ("Exit short", "Short exit", "Saída de venda", "Saída vendida",
                        "Saída short"),
    (None, "long"): ("Long", "Buy", "Compra", "Comprado"),
    (None, "short"): ("Short", "Sell", "Venda", "Vendido"),
}

OPEN_SIGNALS: tuple[str, ...] = ("Open", "Aberta", "Aberto", "Em aberto")
"""Signal of the exit row of a trade still open at the last bar."""

# --------------------------------------------------------------------------- metric sheets

METRIC_COLUMNS: dict[Scope, tuple[str, ...]] = {
    "all": ("All", "Todos", "Todas", "Total"),
    "long": ("Long", "Compra", "Comprado", "Compras"),
    "short": ("Short", "Venda", "Vendido", "Vendas"),
}
"""Scope words of the metric-sheet header; a trailing " %" marks the percent column."""

# Extra labels per metric key; each key's label in tvdesk.metric_catalog is always accepted too.
METRIC_LABELS: dict[str, tuple[str, ...]] = {
    "initial_capital": ("Capital inicial",),
    "open_pl": ("Open PL", "Unrealized P&L", "L&P em aberto", "L&P aberto"),
    "net_profit": ("Net P&L", "Total P&L", "Lucro líquido", "L&P líquido"),
    "gross_profit": ("Lucro bruto",),
    "gross_loss": ("Prejuízo bruto", "Perda bruta"),
    "commission_paid": ("Comissão paga",),
    "buy_hold_return": ("Buy and hold return", "Retorno de comprar e manter",
                        "Retorno de compra e retenção"),
    "max_contracts_held": ("Máx. de contratos mantidos", "Máximo de contratos mantidos"),
    "max_runup": ("Max run-up", "Max equity run-up",
                  "Valorização máxima do patrimônio (intrabarra)", "Valorização máxima"),
    "max_runup_close_to_close": ("Valorização máxima do patrimônio (fechamento a fechamento)",),
    "max_drawdown": ("Max drawdown", "Max equity drawdown",
                     "Rebaixamento máximo do patrimônio (intrabarra)", "Rebaixamento máximo"),
    "max_drawdown_close_to_close": (
        "Rebaixamento máximo do patrimônio (fechamento a fechamento)",),
    "max_runup_of_initial_capital": (
        "Valorização máxima do patrimônio como % do capital inicial (intrabarra)",),
    "max_drawdown_of_initial_capital": (
        "Rebaixamento máximo do patrimônio como % do capital inicial (intrabarra)",),
    "max_drawdown_duration_close_to_close_days": (
        "Duração máxima do rebaixamento do patrimônio (fechamento a fechamento)",),
    "max_runup_duration_close_to_close_days": (
        "Duração máxima da valorização do patrimônio (fechamento a fechamento)",),
    "return_on_initial_capital": ("Retorno sobre o capital inicial",),
    "annualized_return": ("Annualized return", "CAGR", "Rentabilidade anualizada (CAGR)",
                          "Retorno anualizado (CAGR)"),
    "total_open_trades": ("Total de negociações em aberto", "Negociações em aberto"),
    "total_trades": ("Total closed trades", "Total de negociações",
                     "Total de negociações fechadas"),
    "winning_trades": ("Number winning trades", "Negociações vencedoras",
                       "Número de negociações vencedoras"),
    "losing_trades": ("Number losing trades", "Negociações perdedoras",
                      "Número de negociações perdedoras"),
    "even_trades": ("Negociações empatadas",),
    "percent_profitable": ("Profitable trades", "Percentual lucrativo",
                           "Porcentagem lucrativa"),
    "avg_trade": ("Avg trade", "Avg P&L", "Expected payoff", "Average trade", "L&P médio",
                  "Negociação média", "Média de negociação", "Retorno esperado"),
    "avg_winning_trade": ("Média de negociações vencedoras", "Média de negociação vencedora"),
    "avg_losing_trade": ("Média de negociações perdedoras", "Média de negociação perdedora"),
    "ratio_avg_win_loss": ("Razão média de ganho / média de perda",
                           "Razão média ganho / média perda"),
    "largest_winning_trade": ("Maior negociação vencedora",),
    "largest_losing_trade": ("Maior negociação perdedora",),
    "avg_bars_in_trades": ("Média de # barras nas negociações",),
    "avg_bars_in_winning_trades": ("Média de # barras nas negociações vencedoras",),
    "avg_bars_in_losing_trades": ("Média de # barras nas negociações perdedoras",),
    "sharpe_ratio": ("Índice de Sharpe", "Índice Sharpe"),
    "sortino_ratio": ("Índice de Sortino", "Índice Sortino"),
    "profit_factor": ("Fator de lucro",),
    "margin_calls": ("Chamadas de margem",),
}

# Labels that name the percent variant of a key on their own row ("Largest winning trade
# percent"): the value goes to `<key>_percent` whichever column holds it.
METRIC_PERCENT_LABELS: dict[str, tuple[str, ...]] = {
    "largest_winning_trade": ("Largest winning trade percent", "Largest winning trade %",
                              "Maior negociação vencedora %",
                              "Maior negociação vencedora em porcentagem"),
    "largest_losing_trade": ("Largest losing trade percent", "Largest losing trade %",
                             "Maior negociação perdedora %",
                             "Maior negociação perdedora em porcentagem"),
    "avg_winning_trade": ("Avg winning trade percent", "Avg winning trade %"),
    "avg_losing_trade": ("Avg losing trade percent", "Avg losing trade %"),
    "avg_trade": ("Avg trade percent", "Avg P&L %", "Avg P&L percent"),
}

UNDEFINED_VALUES: tuple[str, ...] = ("N/A", "NA", "n/d", "—", "–", "-", "∞", "inf", "NaN", "#N/A",
                                   "#DIV/0!")
"""Cell texts that mean "undefined" (a profit factor with no losses): the metric becomes None."""

# --------------------------------------------------------------------------- Properties

PROPERTIES: dict[str, tuple[str, ...]] = {
    "trading_range": ("Trading range", "Intervalo de negociação", "Período de negociação"),
    "backtesting_range": ("Backtesting range", "Intervalo de backtesting",
                          "Período de backtesting", "Período de backtest"),
    "symbol": ("Symbol", "Símbolo"),
    "timeframe": ("Timeframe", "Interval", "Resolution", "Tempo gráfico", "Intervalo"),
    "point_value": ("Point value", "Valor do ponto"),
    "currency": ("Currency", "Moeda"),
    "tick_size": ("Tick size", "Min tick", "Tamanho do tick", "Tick mínimo"),
    "initial_capital": ("Initial capital", "Capital inicial"),
    "base_currency": ("Base currency", "Moeda base"),
    "order_size": ("Order size", "Default order size", "Tamanho da ordem",
                   "Tamanho padrão da ordem"),
    "pyramiding": ("Pyramiding", "Piramidação", "Piramidagem"),
    "commission": ("Commission", "Comissão"),
    "slippage": ("Slippage", "Derrapagem"),
    "margin_long": ("Margin for long positions", "Margem para posições compradas"),
    "margin_short": ("Margin for short positions", "Margem para posições vendidas"),
    "verify_price_for_limit_orders": ("Verify price for limit orders",
                                      "Verificar preço para ordens limitadas"),
    "recalculate_after_order_filled": ("Recalculate after order is filled",
                                       "After order is filled",
                                       "Recalcular após a ordem ser executada"),
    "recalculate_on_every_tick": ("Recalculate on every tick", "On every tick",
                                  "Recalcular a cada tick"),
    "fill_orders_on_bar_close": ("Fill orders on bar close", "Using bar close",
                                 "Executar ordens no fechamento da barra"),
    "fill_orders_standard_ohlc": ("Fill orders using standard OHLC",
                                  "Executar ordens usando OHLC padrão"),
    "bar_magnifier": ("Using bar magnifier", "Bar magnifier", "Usar lupa de barras"),
    "precision": ("Precision", "Precisão"),
    "risk_free_rate": ("Risk-free rate", "Taxa livre de risco"),
}

PROPERTY_SECTIONS: tuple[str, ...] = (
    "Name", "Value", "Nome", "Valor", "Inputs", "Entradas", "Parâmetros", "Properties",
    "Propriedades", "Symbol info", "Strategy properties", "Propriedades da estratégia",
)
"""Header or section rows of the Properties sheet: skipped, never taken for an input."""

BOOL_VALUES: dict[bool, tuple[str, ...]] = {
    True: ("On", "True", "Yes", "Ligado", "Ativado", "Sim", "Verdadeiro"),
    False: ("Off", "False", "No", "Desligado", "Desativado", "Não", "Falso"),
}

# --------------------------------------------------------------------------- normalisation

_PNL = re.compile(r"\bp\s*(?:&|and)\s*l\b|\bl\s*&\s*p\b|\bpnl\b")
_SPACES = re.compile(r"\s+")
_CURRENCY = re.compile(r"^(.*\S)\s+([A-Z]{3,5})$")


def normalise(label: object) -> str:
    """The lookup form of a label: casefolded, no accents, single spaces, one spelling of P&L."""
    text = unicodedata.normalize("NFKD", str(label))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _PNL.sub(" pnl ", text).replace("&", " and ")
    return _SPACES.sub(" ", text).strip().rstrip(":").strip()


def split_currency(header: str) -> tuple[str, str | None]:
    """"Price USDT" -> ("Price", "USDT"); a header without a currency code comes back whole."""
    match = _CURRENCY.match(header.strip())
    if match is None:
        return header.strip(), None
    return match.group(1), match.group(2)


_K = TypeVar("_K")


def _index(table: Mapping[_K, Iterable[str]], name: str) -> dict[str, _K]:
    """Normalised alias -> canonical key. Two keys claiming one alias is a table bug: fail loud."""
    index: dict[str, _K] = {}
    for key, aliases in table.items():
        for alias in aliases:
            norm = normalise(alias)
            if index.get(norm, key) != key:
                raise ValueError(f"{name}: alias {alias!r} maps to {index[norm]!r} and {key!r}")
            index[norm] = key
    return index


def _percent_aliases() -> dict[str, tuple[str, ...]]:
    table = {field: list(aliases) for field, aliases in TRADE_COLUMNS.items()}
    for field in TRADE_COLUMNS:
        if f"{field}_percent" in table:
            table[f"{field}_percent"] += [f"{alias} %" for alias in TRADE_COLUMNS[field]]
    return {field: tuple(aliases) for field, aliases in table.items()}


_SHEETS = _index(SHEETS, "SHEETS")
_TRADE_COLUMNS = _index(_percent_aliases(), "TRADE_COLUMNS")
_TRADE_TYPES = _index(TRADE_TYPES, "TRADE_TYPES")
_OPEN = frozenset(normalise(s) for s in OPEN_SIGNALS)
_METRIC_COLUMNS = _index(METRIC_COLUMNS, "METRIC_COLUMNS")
_METRIC_LABELS = _index(
    {m.key: (m.label, *METRIC_LABELS.get(m.key, ())) for m in METRICS}
    | {f"{k}%": v for k, v in METRIC_PERCENT_LABELS.items()},
    "METRIC_LABELS",
)
_UNDEFINED = frozenset(normalise(s) for s in UNDEFINED_VALUES)
_PROPERTIES = _index(PROPERTIES, "PROPERTIES")
_SECTIONS = frozenset(normalise(s) for s in PROPERTY_SECTIONS)
_BOOLS = _index(BOOL_VALUES, "BOOL_VALUES")


# --------------------------------------------------------------------------- lookups


def sheet_kind(name: str) -> SheetKind | None:
    return _SHEETS.get(normalise(name))


def trade_column(header: str) -> tuple[str, str | None] | None:
    """Canonical List-of-trades field and the currency the header names, or None if unknown."""
    field = _TRADE_COLUMNS.get(normalise(header))
    if field is not None:
        return str(field), None
    base, currency = split_currency(header)
    field = _TRADE_COLUMNS.get(normalise(base)) if currency else None
    return None if field is None else (str(field), currency)


def known_trade_headers() -> str:
    """Every accepted List-of-trades header, grouped by field, for error messages."""
    groups = _percent_aliases()
    return "; ".join(f"{field}: {' / '.join(groups[field])}" for field in TRADE_FIELDS)


def trade_type(value: str) -> tuple[Role | None, str] | None:
    return _TRADE_TYPES.get(normalise(value))


def is_open_signal(value: object) -> bool:
    return value is not None and normalise(value) in _OPEN


def metric_column(header: str) -> tuple[Scope, bool, str | None] | None:
    """"Long USD" -> ("long", False, "USD"); "All %" -> ("all", True, None); else None."""
    base, currency = split_currency(header)
    percent = base.endswith("%")
    if percent:
        base = base[:-1]
    scope = _METRIC_COLUMNS.get(normalise(base))
    return None if scope is None else (scope, percent, currency)


def metric_label(label: str) -> tuple[str, bool] | None:
    """Metric key for a row label and whether the label itself names the percent variant."""
    key = _METRIC_LABELS.get(normalise(label))
    if key is None:
        return None
    key = str(key)
    return (key[:-1], True) if key.endswith("%") else (key, False)


def is_undefined(value: str) -> bool:
    return normalise(value) in _UNDEFINED


def property_name(name: str) -> str | None:
    found = _PROPERTIES.get(normalise(name))
    return None if found is None else str(found)


def is_property_section(name: str) -> bool:
    return normalise(name) in _SECTIONS


def bool_value(text: str) -> bool | None:
    found = _BOOLS.get(normalise(text))
    return None if found is None else bool(found)


def slug(label: str) -> str:
    """snake_case key for a label no table knows, so its number is kept rather than dropped."""
    text = normalise(label).replace("%", " percent ").replace("#", " number ")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_") or "unnamed"
