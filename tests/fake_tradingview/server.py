"""A fake TradingView website for the browser-automation tests: real HTTP, real pages, knobs.

The pages (static/) reproduce the DOM of TradingView's sign-in page and chart page closely
enough that tvdesk's Playwright bot drives them in a real Chromium with the selectors of
`tvdesk/engines/tradingview/selectors.toml`. The backtests behind the Strategy report run on
tvdesk's own local engine, in-process, on one bundled data file whatever the symbol.

    with FakeTradingView() as tv:
        page.goto(tv.base_url + "/chart/?symbol=FX%3AEURUSD")
        ...
        assert tv.backtests[-1]["inputs"] == {"Fast Length": 12, ...}

Knobs (settable at any time, read by request handlers or sent to the page on each update):
`captcha`, `too_many_attempts`, `stale_exports`, `deep_backtesting`, `broken`,
`expose_monaco`, `popups`, `focus_modals`, `report_delay`. Records: `events` (modals shown,
closed, keys typed into them, and `layout-change:<id>:<what>`), `layouts`, `password_logins`,
`signin_attempts`, `totp_failures`, `backtests`, `exports`, `accept_languages`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import mimetypes
import random
import re
import secrets
import threading
import traceback
import uuid
from datetime import UTC, date, datetime, time, timedelta
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pyotp

from tvdesk.errors import PineError, TvdeskError
from tvdesk.model import BacktestRequest, BacktestResult, FrozenMap, Strategy, SymbolSpec
from tvdesk.paths import resources_dir

STATIC_DIR = Path(__file__).resolve().parent / "static"
LAYOUT_ID = "Ab12Cd34"
SESSION_COOKIE = "sessionid"
SESSION_MAX_AGE = 90 * 24 * 3600

# Features the `broken` knob can render with a changed DOM (what the bot's selectors meet when
# TradingView ships a redesign). Each keeps working for a human; see chart.js for the DOM.
BROKEN_FEATURES = frozenset({
    "add_to_chart",        # <button class="apply-v2">Apply</button>: no candidate matches
    "interval_button",     # no aria-label: only `#header-toolbar-intervals button` matches
    "legend_item",         # data-name instead of data-qa-id: the second candidate matches
    "report_button",       # no data-qa-id: `button[data-name='backtesting']` matches
    "export_menu_button",  # no title: `role=button name="Open context menu"` matches
    "date_range_button",   # name without years: `[data-qa-id='date-range-button']` matches
    "layout_menu",         # no layout menu at all: tvdesk works on the layout it opened
})

OLD_STRATEGY_SOURCE = """//@version=6
strategy("Old Strategy", overlay=true, initial_capital=10000)
length = input.int(20, "Length", minval=2)
basis = ta.sma(close, length)
if ta.crossover(close, basis)
    strategy.entry("Long", strategy.long)
if ta.crossunder(close, basis)
    strategy.close("Long")
plot(basis, "Basis")
"""

_PROPERTY_SETTINGS = {"initial_capital": "initial_capital", "order_size": "default_qty_value",
                      "commission": "commission_value", "slippage": "slippage",
                      "pyramiding": "pyramiding", "order_size_type": "default_qty_type"}
_QTY_TYPES = {"Contracts": "strategy.fixed", "USD": "strategy.cash",
              "% of equity": "strategy.percent_of_equity"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTERVAL = re.compile(r"^\s*(\d*)\s*([a-zA-Z]*)\s*$")


class _TOTP(pyotp.TOTP):
    # pyotp 2.12+ refuses secrets under 112 bits; 16-character (80-bit) ones are still common.
    min_secret_length_bits = 0


def totp(secret: str) -> pyotp.TOTP:
    """pyotp's TOTP for a secret of any length (the default secret is 80 bits)."""
    return _TOTP(secret)


def default_data_csv() -> Path:
    return resources_dir() / "data" / "EURUSD_1h.csv"


def engine_timeframe(interval: str) -> str:
    """The chart's interval text as a TradingView timeframe code ("1h" -> "60")."""
    match = _INTERVAL.match(interval)
    if not match:
        return interval
    count = int(match.group(1) or 1)
    unit = match.group(2)
    if unit == "":
        return str(count)
    if unit in ("m", "min"):
        return str(count)
    if unit.lower() in ("h", "hr", "hour"):
        return str(count * 60)
    if unit.lower() in ("s", "sec"):
        return f"{count}S"
    if unit.lower() in ("d", "day"):
        return f"{count}D"
    if unit.lower() in ("w", "week"):
        return f"{count}W"
    if unit == "M" or unit.lower() in ("mo", "month"):
        return f"{count}M"
    return interval


class FakeTradingView:
    """The fake site: a ThreadingHTTPServer on 127.0.0.1 in a background thread, and its state."""

    def __init__(self, *, username: str = "trader@example.com",
                 password: str = "correct-horse-battery",
                 totp_secret: str | None = "JBSWY3DPEHPK3PXP", data_csv: Path | None = None,
                 popups: bool = True, seed: int = 0, report_delay: float = 0.6,
                 monaco_dir: Path | None = None) -> None:
        self.username = username
        self.password = password
        self.totp_secret = totp_secret
        self.data_csv = Path(data_csv) if data_csv else default_data_csv()
        self.popups = popups
        self.seed = seed
        self.report_delay = report_delay
        self.monaco_dir = monaco_dir
        # knobs
        self.captcha = False
        self.too_many_attempts = False
        self.stale_exports = 0
        self.deep_backtesting = False
        self.broken: set[str] = set()
        self.expose_monaco = True
        # The real site's modal offers: aria-modal, they take the keyboard focus, and they open
        # at random moments (after the chart loads, while the report opens, after settings).
        self.focus_modals = False
        # The account's chart layouts (id -> name); the first is the trader's own.
        self.layouts: dict[str, str] = {LAYOUT_ID: "My main layout"}
        self.chart_timezone = "Etc/UTC"  # the account's chart setting; exports use it
        # records
        self.password_logins = 0
        self.signin_attempts = 0
        self.totp_failures = 0
        self.backtests: list[dict[str, Any]] = []
        self.exports: list[str] = []
        self.accept_languages: list[str] = []
        self.events: list[str] = []  # what pages reported: modals shown, closed, keys they got
        # internals
        self._lock = threading.RLock()
        self._engine_lock = threading.Lock()
        self._sessions: set[str] = set()
        self._pending_2fa: set[str] = set()
        self._captcha_solved = False
        self._results: dict[str, BacktestResult] = {}
        self._result_order: list[str] = []
        self._old_report: dict[str, Any] | None = None
        self._context: Any = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._data_range, self._bars = self._read_data()
        rng = random.Random(seed)
        self._delays = {"cookie_banner_ms": rng.randint(0, 400),
                        "gopro_ms": rng.randint(850, 1250),
                        "gopro_report_ms": rng.randint(250, 600),
                        "modal_chart_ms": rng.randint(1000, 2000),
                        "modal_report_ms": rng.randint(100, 400),
                        "modal_settings_ms": rng.randint(50, 300)}
        self.base_url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeTradingView:
        if self._server is not None:
            return self
        if self.monaco_dir is None:
            from fake_tradingview.monaco import ensure_monaco

            self.monaco_dir = ensure_monaco()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        port = server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=server.serve_forever, name="fake-tradingview",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeTradingView:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers

    def solve_captcha(self) -> None:
        """What a human finishing the captcha does: the waiting sign-in page then logs in."""
        with self._lock:
            self._captcha_solved = True

    def create_session(self) -> str:
        """A valid `sessionid` value, for tests that start on the chart already signed in."""
        with self._lock:
            token = secrets.token_hex(16)
            self._sessions.add(token)
            return token

    def expire_sessions(self) -> None:
        """Forget every session, as TradingView does when a login expires: the cookie a
        browser kept no longer signs it in."""
        with self._lock:
            self._sessions.clear()

    def result(self, result_id: str) -> BacktestResult:
        with self._lock:
            return self._results[result_id]

    @property
    def data_range(self) -> tuple[str, str]:
        """First and last date of the data file (the report's default testing period)."""
        return self._data_range

    # ------------------------------------------------------------------ state used by pages

    def page_config(self) -> dict[str, Any]:
        with self._lock:
            return {
                "popups": self.popups,
                "focus_modals": self.focus_modals,
                "layouts": dict(self.layouts),
                "chart_timezone": self.chart_timezone,
                "seed": self.seed,
                "delays": dict(self._delays),
                "deep_backtesting": self.deep_backtesting,
                "expose_monaco": self.expose_monaco,
                "broken": sorted(self.broken & BROKEN_FEATURES),
                "report_delay": self.report_delay,
                "data_range": {"from": self._data_range[0], "to": self._data_range[1]},
            }

    def _read_data(self) -> tuple[tuple[str, str], dict[str, list[float]]]:
        from tvdesk.data.market_data import load_bars

        bars = load_bars(self.data_csv, timezone="UTC")
        first = datetime.fromtimestamp(int(bars.times[0]) / 1000, UTC).date().isoformat()
        last = datetime.fromtimestamp(int(bars.times[-1]) / 1000, UTC).date().isoformat()
        tail = slice(max(0, len(bars) - 240), len(bars))
        shown = {"time": [int(t) for t in bars.times[tail]],
                 "open": [float(v) for v in bars.open[tail]],
                 "high": [float(v) for v in bars.high[tail]],
                 "low": [float(v) for v in bars.low[tail]],
                 "close": [float(v) for v in bars.close[tail]]}
        return (first, last), shown

    def _new_session(self) -> str:
        token = secrets.token_hex(16)
        self._sessions.add(token)
        return token

    def logged_in(self, cookie_header: str | None) -> bool:
        token = _cookie(cookie_header, SESSION_COOKIE)
        with self._lock:
            return token is not None and token in self._sessions

    def record_language(self, value: str | None) -> None:
        with self._lock:
            self.accept_languages.append(value or "")

    # ------------------------------------------------------------------ sign-in

    def signin(self, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """(reply, session token to set) for one username/password submission."""
        with self._lock:
            self.signin_attempts += 1
            if self.too_many_attempts:
                return {"ok": False, "captcha": True,
                        "error": "Too many attempts. Please try again later."}, None
            if self.captcha:
                return {"ok": False, "captcha": True}, None
            user = str(body.get("username") or "").strip()
            password = str(body.get("password") or "")
            if user.casefold() != self.username.casefold() or password != self.password:
                return {"ok": False, "error": "Invalid username or password"}, None
            self.password_logins += 1
            if self.totp_secret:
                token = secrets.token_hex(12)
                self._pending_2fa.add(token)
                return {"ok": False, "two_factor": True, "token": token}, None
            return {"ok": True}, self._new_session()

    def two_factor(self, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        with self._lock:
            token = str(body.get("token") or "")
            if token not in self._pending_2fa or not self.totp_secret:
                return {"ok": False, "error": "Your session expired, sign in again",
                        "restart": True}, None
            code = re.sub(r"\s+", "", str(body.get("code") or ""))
            if not (code.isdigit() and totp(self.totp_secret).verify(code, valid_window=1)):
                self.totp_failures += 1
                return {"ok": False, "error": "Invalid code"}, None
            self._pending_2fa.discard(token)
            return {"ok": True}, self._new_session()

    def captcha_status(self) -> tuple[dict[str, Any], str | None]:
        with self._lock:
            if not self._captcha_solved:
                return {"ok": False}, None
            self._captcha_solved = False
            return {"ok": True}, self._new_session()

    # ------------------------------------------------------------------ Pine and backtests

    def compile(self, source: str) -> dict[str, Any]:
        from tvdesk.pine.loader import load_strategy_source

        try:
            strategy = load_strategy_source(source)
        except PineError as exc:
            unclosed = _unclosed_bracket(source)
            if unclosed is not None:  # where TradingView's compiler stops, not the recovery
                line, column, bracket = unclosed
                closer = {"(": ")", "[": "]"}[bracket]
                return {"ok": False, "errors": [{
                    "line": line, "column": column,
                    "message": "Mismatched input 'end of line without line continuation' "
                               f"expecting '{closer}'"}]}
            return {"ok": False, "errors": [_pine_error(exc, source)]}
        except TvdeskError as exc:
            return {"ok": False, "errors": [{"line": 1, "column": 1, "message": str(exc)}]}
        return {"ok": True, **_strategy_json(strategy)}

    def _run(self, request: BacktestRequest) -> BacktestResult:
        from tvdesk.engines.local.backtest import BacktestContext, run_backtest

        with self._engine_lock:
            if self._context is None:
                self._context = BacktestContext()
            return run_backtest(request, self._context)

    def _store(self, result: BacktestResult) -> str:
        result_id = uuid.uuid4().hex
        with self._lock:
            self._results[result_id] = result
            self._result_order.append(result_id)
        return result_id

    def backtest(self, body: dict[str, Any]) -> dict[str, Any]:
        from tvdesk.pine.loader import load_strategy_source

        with self._lock:
            self.backtests.append(json.loads(json.dumps(body)))
        try:
            strategy = load_strategy_source(str(body.get("source") or ""))
            symbol = str(body.get("symbol") or "BINANCE:BTCUSDT")
            interval = str(body.get("interval") or "1D")
            inputs = dict(body.get("inputs") or {})
            date_from = _day(body.get("date_from"), start=True)
            date_to = _day(body.get("date_to"), start=False)
            settings = []
            for key, value in (body.get("properties") or {}).items():
                if key not in _PROPERTY_SETTINGS:
                    return {"error": f"unknown property {key!r}"}
                if key == "order_size_type":
                    value = _QTY_TYPES.get(str(value), "?")
                settings.append((_PROPERTY_SETTINGS[key], value))
            request = BacktestRequest(
                strategy=strategy, data_path=str(self.data_csv),
                symbol=SymbolSpec(ticker=symbol, timeframe=engine_timeframe(interval),
                                  timezone="UTC"),
                inputs=tuple(inputs.items()), date_from=date_from, date_to=date_to,
                settings=tuple(settings))
            result = self._run(request)
        except TvdeskError as exc:
            return {"error": str(exc)}
        except Exception as exc:  # the fake must answer, and say what went wrong
            traceback.print_exc()
            return {"error": f"{type(exc).__name__}: {exc}"}
        properties = dict(result.properties)
        properties["symbol"] = symbol  # exactly as the chart shows it
        properties["timeframe"] = interval
        properties["timezone"] = str(body.get("timezone") or "Etc/UTC")  # the chart's
        result = dataclasses.replace(result, properties=FrozenMap(properties))
        return _summary(self._store(result), result)

    def old_report(self) -> dict[str, Any]:
        """The strategy left on the layout by an earlier session, and its (cached) report."""
        from tvdesk.pine.loader import load_strategy_source

        with self._lock:
            if self._old_report is not None:
                return self._old_report
        strategy = load_strategy_source(OLD_STRATEGY_SOURCE)
        request = BacktestRequest(strategy=strategy, data_path=str(self.data_csv),
                                  symbol=SymbolSpec(ticker="BINANCE:BTCUSDT", timeframe="1D",
                                                    timezone="UTC"))
        try:
            result = self._run(request)
            properties = {**result.properties, "symbol": "BINANCE:BTCUSDT"}
            result = dataclasses.replace(result, properties=FrozenMap(properties))
            report = _summary(self._store(result), result)
        except TvdeskError as exc:
            report = {"error": str(exc)}
        payload = {"source": OLD_STRATEGY_SOURCE, **_strategy_json(strategy), "report": report}
        with self._lock:
            if self._old_report is None:
                self._old_report = payload
            return self._old_report

    def export(self, result_id: str, kind: str) -> tuple[bytes, str] | None:
        """(file bytes, file name) of a result; XLSX honours `stale_exports`."""
        from tvdesk.reports.tradingview_workbook import render_tradingview_xlsx

        with self._lock:
            if result_id not in self._results:
                return None
            served = result_id
            if kind == "xlsx":
                if self.stale_exports > 0:
                    self.stale_exports -= 1
                    index = self._result_order.index(result_id)
                    served = self._result_order[max(0, index - 1)]
                self.exports.append(served)
            result = self._results[served]
        title = str(result.properties.get("strategy_title") or "Strategy")
        symbol = str(result.properties.get("symbol") or "")
        stem = "_".join(part for part in (title, *symbol.split(":"), date.today().isoformat())
                        if part)
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem.replace(" ", "_"))
        if kind == "xlsx":
            return render_tradingview_xlsx(result), f"{stem}.xlsx"
        return _trades_csv(result), f"{stem}.csv"


# --------------------------------------------------------------------------- helpers


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    jar = cookies.SimpleCookie()
    try:
        jar.load(header)
    except cookies.CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def _day(value: Any, *, start: bool) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if not _DATE.match(text):
        raise TvdeskError(f"bad date {text!r}: expected YYYY-MM-DD")
    day = date.fromisoformat(text)
    if start:
        return datetime.combine(day, time(0, 0), UTC)
    return datetime.combine(day, time(0, 0), UTC) + timedelta(days=1, microseconds=-1)


def _pine_error(exc: PineError, source: str) -> dict[str, Any]:
    message = re.sub(r"^Pine line \d+:\s*", "", str(exc))
    line = exc.line
    if line is None and "not a strategy" in message:
        message = "Script is not a strategy: " + message
        for number, text in enumerate(source.splitlines(), start=1):
            if re.match(r"\s*(indicator|library|study)\s*\(", text):
                line = number
                break
    lines = max(1, len(source.splitlines()))
    return {"line": min(max(1, line or 1), lines), "column": 1, "message": message}


def _unclosed_bracket(source: str) -> tuple[int, int, str] | None:
    """(line, end-of-line column, bracket) of a bracket its statement never closes.

    Pine continues a statement on lines indented deeper than its first line; a line indented
    no deeper while a bracket is open ends the statement, and the bracket stays open.
    """
    stack: list[tuple[str, int, int]] = []  # bracket, line, indent of the statement
    lines = source.splitlines()

    def report() -> tuple[int, int, str]:
        bracket, line, _indent = stack[-1]
        return line, len(lines[line - 1].rstrip()) + 1, bracket

    for number, text in enumerate(lines, start=1):
        body = text.strip()
        if not body or body.startswith("//"):
            continue
        indent = len(text) - len(text.lstrip())
        if stack and indent <= stack[0][2]:
            return report()
        quote = ""
        index = 0
        while index < len(text):
            char = text[index]
            if quote:
                if char == "\\":
                    index += 1
                elif char == quote:
                    quote = ""
            elif char in "\"'":
                quote = char
            elif text.startswith("//", index):
                break
            elif char in "([":
                stack.append((char, number, stack[0][2] if stack else indent))
            elif char in ")]" and stack and {"(": ")", "[": "]"}[stack[-1][0]] == char:
                stack.pop()
            index += 1
    return report() if stack else None


def _strategy_json(strategy: Strategy) -> dict[str, Any]:
    inputs = [{"title": spec.title, "kind": spec.kind, "default": spec.default,
               "options": list(spec.options), "minval": spec.minval, "maxval": spec.maxval}
              for spec in strategy.inputs if spec.overridable]
    settings = {k: v for k, v in strategy.settings.items()
                if isinstance(v, (int, float, str, bool)) or v is None}
    return {"title": strategy.title, "inputs": inputs, "settings": settings}


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def _summary(result_id: str, result: BacktestResult) -> dict[str, Any]:
    metrics = result.metrics
    trades = [{"number": t.number, "side": t.side, "entry_time": t.entry_time.isoformat(),
               "exit_time": t.exit_time.isoformat() if t.exit_time else None,
               "entry_price": t.entry_price, "exit_price": t.exit_price,
               "profit": _number(t.profit), "open": t.open}
              for t in result.trades[-100:]]
    return {
        "result_id": result_id,
        "net_profit": _number(metrics.get("net_profit")),
        "net_profit_percent": _number(metrics.get("net_profit_percent")),
        "max_drawdown": _number(metrics.get("max_drawdown")),
        "max_drawdown_percent": _number(metrics.get("max_drawdown_percent")),
        "total_trades": _number(metrics.get("total_trades")),
        "winning_trades": _number(metrics.get("winning_trades")),
        "percent_profitable": _number(metrics.get("percent_profitable")),
        "profit_factor": _number(metrics.get("profit_factor")),
        "currency": str(result.properties.get("currency") or "USD"),
        "trades": trades,
    }


def _trades_csv(result: BacktestResult) -> bytes:
    from tvdesk.reports.tradingview_workbook import TRADE_HEADERS, trade_rows

    currency = str(result.properties.get("currency") or "USD")
    initial = result.metrics.get("initial_capital")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([h.format(cur=currency) for h in TRADE_HEADERS])
    for row in trade_rows(result.trades, UTC, initial if _number(initial) else None):
        writer.writerow(["" if v is None else f"{v:%Y-%m-%d %H:%M}" if isinstance(v, datetime)
                         else v for v in row])
    return buffer.getvalue().encode("utf-8")


def _make_handler(site: FakeTradingView) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeTradingView/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        # -------------------------------------------------------------- responses

        def _send(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None,
                  set_cookie: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if set_cookie:
                # Persistent like TradingView's: it survives a browser restart.
                self.send_header("Set-Cookie", f"{SESSION_COOKIE}={set_cookie}; Path=/; "
                                               f"Max-Age={SESSION_MAX_AGE}; HttpOnly; "
                                               "SameSite=Lax")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, data: Any, status: int = 200, set_cookie: str | None = None) -> None:
            self._send(status, json.dumps(data).encode("utf-8"), "application/json",
                       {"Cache-Control": "no-store"}, set_cookie)

        def _redirect(self, location: str) -> None:
            self._send(302, b"", "text/plain", {"Location": location})

        def _not_found(self) -> None:
            self._send(404, b"not found", "text/plain; charset=utf-8")

        def _page(self, name: str) -> None:
            site.record_language(self.headers.get("Accept-Language"))
            html = (STATIC_DIR / name).read_text("utf-8")
            config = json.dumps(site.page_config()).replace("</", "<\\/")
            html = html.replace("<!--CONFIG-->",
                                f"<script>window.__FAKE_TV__ = {config};</script>")
            self._send(200, html.encode("utf-8"), "text/html; charset=utf-8",
                       {"Cache-Control": "no-store"})

        def _file(self, root: Path, relative: str) -> None:
            base = root.resolve()
            target = (base / relative).resolve()
            if not target.is_relative_to(base) or not target.is_file():
                self._not_found()
                return
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            self._send(200, target.read_bytes(), kind, {"Cache-Control": "max-age=600"})

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                return None
            return data if isinstance(data, dict) else None

        def _logged_in(self) -> bool:
            return site.logged_in(self.headers.get("Cookie"))

        # -------------------------------------------------------------- routes

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._get()

        def do_POST(self) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._post()

        def _get(self) -> None:
            url = urlsplit(self.path)
            path, query = url.path, parse_qs(url.query)
            if path == "/":
                self._home()
            elif path in ("/accounts/signin", "/accounts/signin/"):
                self._page("signin.html")
            elif path == "/accounts/captcha-frame":
                self._send(200, _CAPTCHA_FRAME.encode("utf-8"), "text/html; charset=utf-8")
            elif path == "/accounts/captcha-status":
                reply, token = site.captcha_status()
                self._json(reply, set_cookie=token)
            elif path in ("/chart", "/chart/"):
                suffix = f"?{url.query}" if url.query else ""
                self._redirect(f"/chart/{LAYOUT_ID}/{suffix}")
            elif re.fullmatch(r"/chart/[A-Za-z0-9]+/?", path):
                layout = path.split("/")[2]
                if layout not in site.layouts:  # deleted, or another account's: the own one
                    suffix = f"?{url.query}" if url.query else ""
                    self._redirect(f"/chart/{LAYOUT_ID}/{suffix}")
                elif not self._logged_in():
                    target = path + (f"?{url.query}" if url.query else "")
                    self._redirect("/accounts/signin/?next=" + quote(target, safe=""))
                elif not path.endswith("/"):
                    self._redirect(path + "/" + (f"?{url.query}" if url.query else ""))
                else:
                    self._page("chart.html")
            elif path.startswith("/static/monaco/"):
                self._file(Path(site.monaco_dir or "."), path[len("/static/monaco/"):])
            elif path.startswith("/static/"):
                self._file(STATIC_DIR, path[len("/static/"):])
            elif path == "/api/config":
                self._json(site.page_config())
            elif path == "/api/bars":
                self._json(site._bars)
            elif path == "/api/initial-report":
                if not self._logged_in():
                    self._json({"error": "not signed in"}, 401)
                else:
                    self._json(site.old_report())
            elif path in ("/api/export.xlsx", "/api/export.csv"):
                self._export(path.rsplit(".", 1)[1], (query.get("result") or [""])[0])
            elif path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            else:
                self._not_found()

        def _home(self) -> None:
            site.record_language(self.headers.get("Accept-Language"))
            if self._logged_in():
                body = ('<p class="home-status" data-name="signed-in">Signed in</p>'
                        '<p><a href="/chart/">Open the chart</a></p>')
            else:
                body = '<p><a href="/accounts/signin/" data-name="header-signin">Sign in</a></p>'
            config = json.dumps(site.page_config()).replace("</", "<\\/")
            html = _HOME.replace("<!--BODY-->", body).replace(
                "<!--CONFIG-->", f"<script>window.__FAKE_TV__ = {config};</script>")
            self._send(200, html.encode("utf-8"), "text/html; charset=utf-8",
                       {"Cache-Control": "no-store"})

        def _export(self, kind: str, result_id: str) -> None:
            if not self._logged_in():
                self._send(401, b"not signed in", "text/plain")
                return
            found = site.export(result_id, kind)
            if found is None:
                self._not_found()
                return
            data, name = found
            content_type = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                            if kind == "xlsx" else "text/csv; charset=utf-8")
            self._send(200, data, content_type,
                       {"Content-Disposition": f'attachment; filename="{name}"',
                        "Cache-Control": "no-store"})

        def _post(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            if body is None:
                self._json({"error": "expected a JSON object"}, 400)
                return
            if path in ("/accounts/signin", "/accounts/signin/"):
                reply, token = site.signin(body)
                self._json(reply, set_cookie=token)
            elif path in ("/accounts/two-factor", "/accounts/two-factor/"):
                reply, token = site.two_factor(body)
                self._json(reply, set_cookie=token)
            elif path == "/api/layouts":
                name = str(body.get("name") or "").strip()
                if not self._logged_in() or not name:
                    self._json({"error": "a layout needs a name"}, 400)
                else:
                    with site._lock:
                        layout = secrets.token_hex(4)
                        site.layouts[layout] = name
                    self._json({"id": layout})
            elif path == "/api/event":
                with site._lock:
                    site.events.append(str(body.get("name") or "?"))
                self._json({"ok": True})
            elif path in ("/api/compile", "/api/backtest"):
                if not self._logged_in():
                    self._json({"error": "not signed in"}, 401)
                elif path == "/api/compile":
                    self._json(site.compile(str(body.get("source") or "")))
                else:
                    self._json(site.backtest(body))
            else:
                self._not_found()

    return Handler


_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TradingView</title>
<link rel="stylesheet" href="/static/style.css"><!--CONFIG--></head>
<body class="page-home">
<header class="site-header"><span class="logo">TV</span><span>TradingView</span></header>
<main class="home"><h1>Look first / Then leap.</h1><!--BODY--></main>
<script src="/static/common.js"></script>
</body></html>
"""

_CAPTCHA_FRAME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reCAPTCHA</title>
<style>
body { margin: 0; font: 14px sans-serif; background: #f9f9f9; color: #222; }
.box { display: flex; align-items: center; gap: 12px; padding: 18px; border: 1px solid #d3d3d3;
       border-radius: 3px; width: 260px; }
.tick { width: 24px; height: 24px; border: 2px solid #c1c1c1; border-radius: 2px; }
</style></head>
<body><div class="box"><div class="tick" role="checkbox" aria-checked="false"
 aria-label="I'm not a robot" tabindex="0"></div><span>I'm not a robot</span></div>
<p style="padding:0 18px;font-size:12px">Select all images with traffic lights.</p>
</body></html>
"""
