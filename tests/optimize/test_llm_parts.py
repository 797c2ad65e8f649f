"""The LLM optimiser's building blocks: Pine text handling, the client, model choice, prompts.

The client is tested through the real `openai` package against a fake HTTP server, so status
codes, headers and timeouts take the production path. Backoff waits go through an injected
sleep that only records, so no test waits for real backoff and none asserts on wall time.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Sequence
from typing import Any

import openai
import pytest

from tvdesk.errors import PineError
from tvdesk.optimize.llm_client import LLMClient, LLMError, LLMReply, choose_model
from tvdesk.optimize.pine_text import (
    comment_of,
    extract_pine,
    normalized_hash,
    normalized_source,
)
from tvdesk.optimize.prompts import build_messages
from tvdesk.pine.loader import load_strategy_source
from tvdesk.store import ModelStats

from fake_openai import (
    BROKEN_PINE,
    DEV_PINE,
    FakeOpenAI,
    broken,
    duplicate,
    fake_openai_server,  # noqa: F401  (registers the fixture fake_llm)
    good,
    prose,
    rate_limit,
    server_error,
    timeout,
)

SECRET = "sk-test-SECRET-123"
GOOD_PINE = DEV_PINE.replace('input.int(12, "Fast Length"', 'input.int(9, "Fast Length"')
MESSAGES = [{"role": "system", "content": "You write Pine."},
            {"role": "user", "content": "Improve this strategy."}]


# --------------------------------------------------------------------------- normalized_hash


def test_normalized_hash_ignores_comments_blank_lines_and_spacing() -> None:
    cosmetic = (
        DEV_PINE
        .replace("fast = ta.ema(close, fastLen)",
                 "// the fast average\nfast   =\tta.ema( close ,fastLen )   // EMA\n\n\n")
        .replace("strategy(\"tvdesk Base\", overlay=true, initial_capital=10000,",
                 "strategy(\"tvdesk Base\",\n   overlay = true,\n   initial_capital=10000,")
        .replace("    strategy.entry(", "\tstrategy.entry(")
        .replace("\n", "   \n")
    )
    assert cosmetic != DEV_PINE
    assert normalized_hash(cosmetic) == normalized_hash(DEV_PINE)
    assert len(normalized_hash(DEV_PINE)) == 32


def test_normalized_hash_sees_code_changes() -> None:
    base = normalized_hash(DEV_PINE)
    assert normalized_hash(GOOD_PINE) != base
    # Indentation is Pine's block structure: moving a line out of its block is a change.
    dedented = DEV_PINE.replace("        strategy.close(", "    strategy.close(")
    assert normalized_hash(dedented) != base
    # `//` inside a string literal is text, not a comment.
    in_string = DEV_PINE.replace('comment="Trend end"', 'comment="Trend // end"')
    assert normalized_hash(in_string) != base
    assert '"Trend // end"' in normalized_source(in_string)
    # Spacing inside a string is text too.
    assert normalized_hash('x = "a  b"') != normalized_hash('x = "a b"')
    assert normalized_source("s = 'it\\'s // here' // gone") == "s='it\\'s // here'"
    # The version annotation looks like a comment but is not one.
    assert normalized_hash(DEV_PINE.replace("//@version=6", "//@version=5")) != base


def test_a_duplicate_reply_normalises_to_the_original() -> None:
    content = duplicate(GOOD_PINE).content
    assert content is not None
    code = extract_pine(content)
    assert code is not None and code != GOOD_PINE
    assert normalized_hash(code) == normalized_hash(GOOD_PINE)


# --------------------------------------------------------------------------- extract_pine


def test_extract_pine_from_a_tagged_fence() -> None:
    reply = f"I shortened the fast EMA.\n\n```pine\n{GOOD_PINE}```\n\nGood luck."
    assert extract_pine(reply) == GOOD_PINE
    assert comment_of(reply) == "I shortened the fast EMA.\n\nGood luck."


def test_extract_pine_from_an_untagged_fence_adds_the_version_line() -> None:
    body = GOOD_PINE.replace("//@version=6\n", "")
    code = extract_pine(f"Here:\n```\n{body}```")
    assert code == "//@version=6\n" + body


def test_extract_pine_from_a_bare_script() -> None:
    assert extract_pine(GOOD_PINE) == GOOD_PINE
    assert comment_of(GOOD_PINE) == ""
    assert extract_pine("Sure, here it is:\n" + GOOD_PINE) == GOOD_PINE
    assert comment_of("Sure, here it is:\n" + GOOD_PINE) == "Sure, here it is:"
    bare = 'strategy("x")\nif close > open\n    strategy.entry("L", strategy.long)\n'
    assert extract_pine(bare) == "//@version=6\n" + bare


def test_extract_pine_takes_the_longest_strategy_block_preferring_pine_tags() -> None:
    snippet = "```pine\nfast = ta.ema(close, 9)\n```"
    short = '```pine\n//@version=6\nstrategy("short")\n```'
    untagged_longer = f"```\n{DEV_PINE}{'// padding' * 50}\n```"
    full = f"```pinescript\n{GOOD_PINE}```"
    reply = "\n\n".join(["Change:", snippet, short, "Full script:", full, "Old:",
                         untagged_longer])
    assert extract_pine(reply) == GOOD_PINE
    assert extract_pine(f"{snippet}\n{untagged_longer}\n") == DEV_PINE + "// padding" * 50 + "\n"


def test_extract_pine_returns_none_without_a_script() -> None:
    assert extract_pine("I would add a trend filter and widen the stop.") is None
    assert extract_pine("Use this helper:\n```python\nprint('hi')\n```") is None
    assert extract_pine("Change one line:\n```pine\nfastLen = 9\n```") is None
    assert extract_pine("") is None


def test_extract_pine_ignores_thinking_and_accepts_a_cut_off_block() -> None:
    reply = f"<think>draft:\n```pine\n{DEV_PINE}```\n</think>Final:\n```pine\n{GOOD_PINE}```"
    assert extract_pine(reply) == GOOD_PINE
    assert comment_of(reply) == "Final:"
    cut = f"Here:\n```pine\n{GOOD_PINE}"
    assert extract_pine(cut) == GOOD_PINE


def test_comment_of_is_trimmed() -> None:
    reply = "word " * 1000 + f"\n```pine\n{GOOD_PINE}```"
    comment = comment_of(reply)
    assert len(comment) <= 1500 and comment.endswith("…")


# --------------------------------------------------------------------------- client


class Sleeps(list[float]):
    """An injected sleep: records the wait and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _complete(server: FakeOpenAI, *, api_key: str | None = None, timeout_s: float = 10.0,
              attempts: int = 3, sleeps: Sleeps | None = None) -> LLMReply:
    async def go() -> LLMReply:
        async with LLMClient(base_url=server.base_url, api_key=api_key or server.api_key,
                             timeout=timeout_s, max_attempts=attempts,
                             sleep=sleeps if sleeps is not None else Sleeps()) as client:
            return await client.complete(MESSAGES, model="fake-small", temperature=0.2)
    return asyncio.run(go())


def test_client_returns_the_reply_text(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(good(GOOD_PINE))
    reply = _complete(fake_llm)
    assert extract_pine(reply.text) == GOOD_PINE
    assert reply.model == "fake-small" and reply.attempts == 1
    assert reply.finish_reason == "stop" and reply.latency_seconds >= 0
    [request] = fake_llm.requests
    assert request.authorized and request.model == "fake-small"
    assert request.messages == MESSAGES
    assert request.body["temperature"] == 0.2


def test_client_retries_a_rate_limit_honouring_retry_after(
        fake_llm: FakeOpenAI) -> None:
    fake_llm.script(rate_limit(retry_after=0), good(GOOD_PINE))
    sleeps = Sleeps()
    reply = _complete(fake_llm, sleeps=sleeps)
    assert extract_pine(reply.text) == GOOD_PINE and reply.attempts == 2
    assert len(fake_llm.requests) == 2
    assert sleeps == [0.0]

    fake_llm.script(rate_limit(retry_after=7), good(GOOD_PINE))
    sleeps = Sleeps()
    _complete(fake_llm, sleeps=sleeps)
    assert sleeps == [7.0]  # recorded, not waited


def test_client_gives_up_on_a_retry_after_longer_than_allowed(
        fake_llm: FakeOpenAI) -> None:
    fake_llm.script(rate_limit(retry_after=3600), good(GOOD_PINE))
    with pytest.raises(LLMError) as caught:
        _complete(fake_llm)
    assert caught.value.kind == "rate_limited" and caught.value.retry_after == 3600
    assert len(fake_llm.requests) == 1


def test_client_reports_a_timeout(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(timeout(30))
    with pytest.raises(LLMError) as caught:
        _complete(fake_llm, timeout_s=0.3)
    assert caught.value.kind == "timeout"
    assert len(fake_llm.requests) == 1  # a timeout is not retried here


def test_client_retries_server_errors_up_to_max_attempts(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(server_error(), server_error(), server_error(), good(GOOD_PINE))
    sleeps = Sleeps()
    with pytest.raises(LLMError) as caught:
        _complete(fake_llm, attempts=3, sleeps=sleeps)
    error = caught.value
    assert error.kind == "server" and error.status == 500 and error.attempts == 3
    assert len(fake_llm.requests) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_client_reports_a_reply_without_text(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(prose(""))
    with pytest.raises(LLMError) as caught:
        _complete(fake_llm)
    assert caught.value.kind == "bad_response"


def test_the_api_key_never_leaks(fake_llm: FakeOpenAI,
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the openai package and its HTTP client log too
    # A wrong key: this fake server, like a careless real one, echoes the key it received.
    fake_llm.api_key = "sk-the-right-key"
    with pytest.raises(LLMError) as caught:
        _complete(fake_llm, api_key=SECRET)
    auth_error = caught.value
    assert auth_error.kind == "auth" and auth_error.status == 401
    assert "[redacted]" in str(auth_error)

    fake_llm.api_key = SECRET
    fake_llm.script(rate_limit(), server_error(), server_error(), timeout(30))
    with pytest.raises(LLMError) as caught:
        _complete(fake_llm, api_key=SECRET)
    server_failure = caught.value
    with pytest.raises(LLMError) as caught:
        _complete(fake_llm, api_key=SECRET, timeout_s=0.3)
    timed_out = caught.value
    assert (server_failure.kind, timed_out.kind) == ("server", "timeout")
    assert any("retrying" in r.getMessage() for r in caplog.records)  # logs were captured

    for error in (auth_error, server_failure, timed_out):
        assert SECRET not in str(error) and SECRET not in repr(error)
        assert SECRET.encode() not in pickle.dumps(error)
        assert error.__cause__ is None and error.__context__ is None
    assert SECRET not in caplog.text
    for record in caplog.records:
        assert SECRET not in record.getMessage() and SECRET not in repr(record.args)
    client = LLMClient(base_url=fake_llm.base_url, api_key=SECRET)
    assert SECRET not in repr(client)
    asyncio.run(client.aclose())


def test_fake_server_lists_models_and_checks_the_key(fake_llm: FakeOpenAI) -> None:
    async def go(key: str) -> list[str]:
        async with openai.AsyncOpenAI(base_url=fake_llm.base_url, api_key=key,
                                      max_retries=0) as client:
            return [model.id async for model in client.models.list()]
    assert asyncio.run(go(fake_llm.api_key)) == ["fake-small", "fake-large"]
    with pytest.raises(openai.AuthenticationError):
        asyncio.run(go("sk-wrong"))


# --------------------------------------------------------------------------- end to end


def test_replies_through_extraction_and_the_loader(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(good(GOOD_PINE), broken(), duplicate(GOOD_PINE), prose())
    texts = [_complete(fake_llm).text for _ in range(4)]
    good_code, broken_code, duplicate_code, no_code = (extract_pine(t) for t in texts)

    assert good_code is not None
    strategy = load_strategy_source(good_code)
    fast = strategy.input_by_key("Fast Length")
    assert fast is not None and fast.default == 9
    assert comment_of(texts[0]).startswith("I tightened")

    assert broken_code == BROKEN_PINE
    with pytest.raises(PineError) as caught:
        load_strategy_source(broken_code)
    assert caught.value.line is not None

    assert duplicate_code is not None
    assert normalized_hash(duplicate_code) == normalized_hash(good_code)
    assert no_code is None and comment_of(texts[3]).startswith("I think")


# --------------------------------------------------------------------------- choose_model


class StubRng:
    """A deterministic rng: fixed `random()` values, `choice` takes the first element."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.choices: list[list[str]] = []

    def random(self) -> float:
        return self.values.pop(0)

    def choice(self, seq: Sequence[str]) -> str:
        self.choices.append(list(seq))
        return seq[0]


MODELS = ["a", "b", "c"]


def test_choose_model_warms_up_round_robin_in_list_order() -> None:
    rng = StubRng()  # no random draw during warm-up: popping would fail
    assert choose_model(MODELS, {}, rng=rng) == "a"
    assert choose_model(MODELS, {"a": (1, 1, 5.0)}, rng=rng) == "b"
    assert choose_model(MODELS, {"a": (1, 0, 5.0), "b": (1, 1, 5.0)}, rng=rng) == "c"
    stats = {"a": (3, 3, 1.0), "b": (2, 2, 1.0), "c": (5, 5, 1.0)}
    assert choose_model(MODELS, stats, rng=rng) == "b"


def test_choose_model_picks_the_best_score() -> None:
    # Scores: a (3+1)/(10+2)/(1+0/30) = 0.333; b (8+1)/(10+2)/(1+30/30) = 0.375;
    # c (6+1)/(10+2)/(1+3/30) = 0.530.
    stats: dict[str, tuple[int, int, float]] = {
        "a": ModelStats(10, 3, 0.0), "b": ModelStats(10, 8, 30.0), "c": ModelStats(10, 6, 3.0)}
    assert choose_model(MODELS, stats, rng=StubRng(0.5)) == "c"
    # Latency matters: the same success rate but slower loses.
    stats["c"] = ModelStats(10, 6, 60.0)  # 7/12/3 = 0.194
    assert choose_model(MODELS, stats, rng=StubRng(0.5)) == "b"
    # Ties go to list order.
    same = {m: (4, 2, 10.0) for m in MODELS}
    assert choose_model(MODELS, same, rng=StubRng(0.99)) == "a"


def test_choose_model_explores_another_model_with_probability_explore() -> None:
    stats = {"a": (10, 9, 1.0), "b": (10, 2, 1.0), "c": (10, 1, 1.0)}
    rng = StubRng(0.05)
    assert choose_model(MODELS, stats, explore=0.1, rng=rng) == "b"
    assert rng.choices == [["b", "c"]]  # the best is never the "other" model
    assert choose_model(MODELS, stats, explore=0.1, rng=StubRng(0.1)) == "a"
    assert choose_model(["only"], {"only": (9, 0, 99.0)}, rng=StubRng()) == "only"
    with pytest.raises(ValueError):
        choose_model([], {}, rng=StubRng())


# --------------------------------------------------------------------------- prompts


def _messages(**overrides: Any) -> list[dict[str, str]]:
    arguments: dict[str, Any] = {
        "current_pine": GOOD_PINE,
        "metrics": {"net_profit_percent": 12.345, "max_drawdown_percent": 8.1,
                    "total_trades": 42, "percent_profitable": 47.62, "profit_factor": None,
                    "holdout_net_profit_percent": 999.99},
        "tag": "too_few_trades",
        "reasons": ["total_trades 42 < 60"],
        "targets": {"min_trades": 60, "max_drawdown": 15, "profit_factor_min": 1.3},
        "previous_comment": "I shortened the fast EMA to react sooner.",
        "archive": [("Base template", {"net_profit_percent": -3.5, "total_trades": 10}),
                    (DEV_PINE, {"net_profit_percent": 4.25, "total_trades": 30})],
        "tried_summaries": ["EMA crossover with fixed stop", "RSI mean reversion"],
        "last_error": "Pine line 7: Unexpected token in expression",
    }
    arguments.update(overrides)
    return build_messages(**arguments)


def test_build_messages_contains_what_the_model_needs() -> None:
    system, user = _messages()
    assert system["role"] == "system" and user["role"] == "user"
    assert "```pine" in system["content"] and "ONE" in system["content"]
    text = user["content"]
    for expected in ("12.35 %", "8.10 %", "Total trades: 42", "47.62 %", "Profit factor: n/a",
                     "too_few_trades", "total_trades 42 < 60",
                     "Total trades >= 60", "Max equity drawdown (intrabar) % <= 15",
                     "Profit factor >= 1.3",
                     "I shortened the fast EMA to react sooner.",
                     "Pine line 7: Unexpected token in expression",
                     "EMA crossover with fixed stop", "RSI mean reversion",
                     "Version 1: Base template", "-3.50 %", "4.25 %"):
        assert expected in text, expected
    assert f"```pine\n{GOOD_PINE.strip()}\n```" in text
    assert DEV_PINE.strip() in text  # an archived version's source is shown in full
    assert text.index("Base template") < text.index("4.25 %")  # worst first
    assert "999.99" not in text  # only the key metrics are shown


def test_build_messages_is_pure_and_handles_empty_parts() -> None:
    assert _messages() == _messages()
    _, user = _messages(tag=None, reasons=[], targets={}, previous_comment=None, archive=[],
                        tried_summaries=[], last_error=None, metrics={})
    text = user["content"]
    assert "Net profit: n/a" in text and GOOD_PINE.strip() in text
    for absent in ("previous comment", "could not be used", "Other versions", "Already tried"):
        assert absent not in text
