"""A thin async client for OpenAI-compatible chat endpoints, and the `--model auto` rule.

The official `openai` package speaks the protocol (OpenAI itself, OpenRouter, a local
Ollama/LM Studio/vLLM server: anything with `/v1/chat/completions`). This module adds only
what the optimiser needs on top: one small error type whose `kind` the loop can act on
(wait, switch model, give up), our own retry policy instead of the package's hidden one (so
every attempt is counted and logged), and the guarantee that the API key never leaves the
`AsyncOpenAI` object: not in messages, logs or exceptions, even when a server echoes it back.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import openai

from tvdesk.errors import TvdeskError

log = logging.getLogger(__name__)

LLMErrorKind = Literal["timeout", "rate_limited", "server", "auth", "bad_response", "budget"]
RETRYABLE: frozenset[str] = frozenset({"rate_limited", "server"})
_MAX_DETAIL = 300


class LLMError(TvdeskError):
    """A chat request that gave no usable reply, classified so the caller can react.

    `kind`: `timeout` (no answer in time; not retried here), `rate_limited` (HTTP 429),
    `server` (5xx, 409 or no connection), `auth` (401/403: the key is wrong or lacks access),
    `bad_response` (another 4xx such as an unknown model, or a reply without text), `budget`
    (the client's call budget is used up: no request was sent).
    `retry_after` is the server's requested wait in seconds, when it named one.
    """

    def __init__(self, kind: LLMErrorKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, attempts: int = 1) -> None:
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.attempts = attempts
        super().__init__(f"LLM {kind}: {message}")


@dataclass(frozen=True, slots=True)
class LLMReply:
    """The reply text, the model that answered (as the server names it) and how long the
    successful request took (backoff waits excluded: they measure the queue, not the model)."""

    text: str
    model: str
    latency_seconds: float
    finish_reason: str | None = None
    attempts: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Rng(Protocol):
    def random(self) -> float: ...


class LLMClient:
    """One endpoint and key. Use from one event loop; close with `aclose()` or `async with`.

    `max_attempts` counts the first try: 3 means up to two retries of a rate-limited or
    failed-server request. Waits are `backoff_base * 2**(n-1)` seconds (capped at
    `max_backoff`, with jitter between half and all of it), or the server's `Retry-After`
    when it sends one. A `Retry-After` longer than `max_retry_after` is not waited out: the
    error goes to the caller at once, which can switch to another model meanwhile.
    """

    def __init__(self, *, base_url: str, api_key: str, timeout: float = 120.0,
                 max_attempts: int = 3, backoff_base: float = 1.0, max_backoff: float = 30.0,
                 max_retry_after: float = 60.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: _Rng | None = None, max_calls: int | None = None) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        # Local servers accept any key, but the package refuses an empty one.
        self._secret = api_key
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "none",
                                          timeout=timeout, max_retries=0)
        self.base_url = base_url
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._rng: _Rng = rng or random.Random()
        # Every request sent counts, retries included: each one is one a provider can bill.
        self.max_calls = max_calls
        self.calls = 0

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.base_url!r}, timeout={self.timeout!r})"

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(self, messages: Sequence[Mapping[str, str]], *, model: str,
                       temperature: float | None = 0.7,
                       max_tokens: int | None = None) -> LLMReply:
        """Send one chat request, retrying rate limits and server failures; raise LLMError.

        `temperature=None` leaves it out (some reasoning models refuse the parameter).
        """
        extra: dict[str, Any] = {}
        if temperature is not None:
            extra["temperature"] = temperature
        if max_tokens is not None:
            extra["max_tokens"] = max_tokens
        attempt = 0
        while True:
            attempt += 1
            self._spend(attempt)
            started = time.monotonic()
            error: LLMError | None = None
            try:
                response = await self._client.chat.completions.create(
                    model=model, messages=list(messages), **extra)  # type: ignore[arg-type]
            except openai.OpenAIError as exc:
                # Built here, raised below: no exception chain that could carry the request.
                error = self._classify(exc, attempt)
            if error is None:
                return self._reply(response, model, time.monotonic() - started, attempt)
            delay = self._delay(error, attempt)
            if delay is None:
                raise error
            log.warning("%s (model %s, attempt %d of %d); retrying in %.1f s",
                        error, model, attempt, self.max_attempts, delay)
            await self._sleep(delay)

    # ------------------------------------------------------------------ internals

    def _spend(self, attempt: int) -> None:
        """Count one request against the budget, or refuse it when the budget is used up."""
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise LLMError("budget", f"the budget of {self.max_calls} LLM calls is used up "
                           "(--max-llm-calls)", attempts=attempt - 1)
        self.calls += 1

    def _redact(self, text: str) -> str:
        if self._secret and len(self._secret) >= 4:
            text = text.replace(self._secret, "[redacted]")
        return text

    def _classify(self, exc: openai.OpenAIError, attempt: int) -> LLMError:
        kind: LLMErrorKind
        status: int | None = None
        retry_after: float | None = None
        if isinstance(exc, openai.APITimeoutError):
            kind, detail = "timeout", f"no reply within {self.timeout:g} s"
        elif isinstance(exc, openai.APIConnectionError):
            kind, detail = "server", f"cannot reach {self.base_url} ({exc.message})"
        elif isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = f"HTTP {status}: {_server_message(exc)}"
            retry_after = _retry_after(exc.response.headers)
            if status == 429:
                kind = "rate_limited"
            elif status in (401, 403):
                kind = "auth"
            elif status == 408:
                kind = "timeout"
            elif status == 409 or status >= 500:
                kind = "server"
            else:
                kind = "bad_response"
        else:  # APIResponseValidationError and anything the package adds later
            kind, detail = "bad_response", type(exc).__name__
        detail = self._redact(detail)
        if len(detail) > _MAX_DETAIL:
            detail = detail[:_MAX_DETAIL] + "…"
        return LLMError(kind, detail, status=status, retry_after=retry_after, attempts=attempt)

    def _delay(self, error: LLMError, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if error.kind not in RETRYABLE or attempt >= self.max_attempts:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return max(0.0, error.retry_after)
        full = min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1))
        return full / 2 + self._rng.random() * full / 2

    def _reply(self, response: Any, model: str, latency: float, attempt: int) -> LLMReply:
        try:
            choice = response.choices[0]
            text = choice.message.content
        except (AttributeError, IndexError, TypeError):
            text, choice = None, None
        if not isinstance(text, str) or not text.strip():
            reason = getattr(choice, "finish_reason", None)
            raise LLMError("bad_response", f"the reply has no text (finish_reason={reason})",
                           attempts=attempt)
        usage = getattr(response, "usage", None)
        return LLMReply(
            text=text,
            model=str(getattr(response, "model", None) or model),
            latency_seconds=latency,
            finish_reason=getattr(choice, "finish_reason", None),
            attempts=attempt,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )


def _server_message(exc: openai.APIStatusError) -> str:
    """The `error.message` of an OpenAI error body, else the package's own message."""
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return exc.message


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, else `Retry-After` as seconds or as an HTTP date; None if absent."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / divisor
        except ValueError:
            continue
        if math.isfinite(value):
            return max(0.0, value)
    raw = headers.get("retry-after")
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


# --------------------------------------------------------------------------- --model auto


WARMUP_ATTEMPTS = 3
LATENCY_SCALE_SECONDS = 30.0


class _ChoiceRng(Protocol):
    def random(self) -> float: ...
    def choice(self, seq: Sequence[str]) -> str: ...


def model_score(stats: tuple[int, int, float | None]) -> float:
    """(successes + 1) / (attempts + 2), divided by (1 + mean_latency / 30 s).

    A model with no timed attempt yet (latency None) is scored as if instant."""
    attempts, successes, latency = stats
    return ((successes + 1) / (attempts + 2)) / (1 + max(0.0, latency or 0.0)
                                                 / LATENCY_SCALE_SECONDS)


def choose_model(models: Sequence[str], stats: Mapping[str, tuple[int, int, float | None]], *,
                 explore: float = 0.1, rng: _ChoiceRng) -> str:
    """Pick the model for the next request (`--model auto`).

    `stats[model]` is `(attempts, successes, mean_latency_seconds)` (see tvdesk.store.ModelStats); a
    model missing from it has made no attempt. "Success" is whatever the caller counts as a
    usable reply (typically: a script that transpiled and was not a duplicate).

    Rule:
    1. Warm-up: while any model has fewer than 3 attempts, take the one with the fewest
       attempts, ties going to the earlier model in `models` (round robin in list order).
    2. Otherwise score each model as (successes + 1) / (attempts + 2), the Laplace-smoothed
       success rate, divided by (1 + mean_latency / 30 s): a model averaging 30 s per reply
       counts half as much as an instant one with the same success rate. The best score
       wins (ties: the earlier model in `models`).
    3. Except that with probability `explore` a uniformly random *other* model is taken, so
       a model that was unlucky early still gets the occasional chance to recover.
    """
    if not models:
        raise ValueError("choose_model needs at least one model")
    record = {m: stats.get(m, (0, 0, 0.0)) for m in models}
    fewest = min(models, key=lambda m: record[m][0])
    if record[fewest][0] < WARMUP_ATTEMPTS:
        return fewest
    best = max(models, key=lambda m: model_score(record[m]))  # max keeps the first of ties
    others = [m for m in models if m != best]
    if others and rng.random() < explore:
        return rng.choice(others)
    return best
