"""Symbol names as traders write them: "BINANCE:BTCUSDT", "binance:btcusdt" or "BTCUSDT".

One rule for every place that matches a symbol a trader or a script wrote against one tvdesk
holds (the market data library, `request.security`'s `--security` files): with an exchange on
both sides both must agree; a bare ticker on either side matches the same ticker on any
exchange (a trader writes "BTCUSDT" as often as "BINANCE:BTCUSDT").
"""

from __future__ import annotations


def split_symbol(symbol: str) -> tuple[str, str]:
    """("BINANCE", "ETHUSDT") of "binance:ethusdt"; a bare ticker has no prefix."""
    prefix, _, ticker = symbol.strip().upper().rpartition(":")
    return prefix, ticker


def same_symbol(asked: str, given: str) -> bool:
    """Whether `asked` names the symbol `given` (see the module docstring)."""
    asked_prefix, asked_ticker = split_symbol(asked)
    given_prefix, given_ticker = split_symbol(given)
    if asked_ticker != given_ticker:
        return False
    return not asked_prefix or not given_prefix or asked_prefix == given_prefix
