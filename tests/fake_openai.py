"""A fake OpenAI-compatible server for tests: real HTTP, scripted replies, recorded requests.

Tests of the LLM side go through the real `openai` package and a real socket, so the wire
format, headers, status codes and timeouts are the ones production meets. Standard library
only. Use the fixture from a test module (tests/conftest.py puts tests/ on sys.path):

    from fake_openai import fake_openai_server, good, rate_limit  # noqa: F401 (fixture)

    def test_something(fake_llm):
        fake_llm.script(rate_limit(), good(code))
        client = LLMClient(base_url=fake_llm.base_url, api_key=fake_llm.api_key)
        ...
        assert len(fake_llm.requests) == 2

The fixture function `fake_openai_server` registers under the name `fake_llm`: a test
parameter with the same name as the imported function would shadow the import (ruff F811).

Each chat request takes the next scripted behaviour; with the script used up the server
answers HTTP 500 ("fake server: script exhausted"), or as `forever(...)` says. A request whose
`Authorization` header is not `Bearer <api_key>` gets HTTP 401 and consumes nothing (it is
still recorded).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

DEV_PINE = (Path(__file__).resolve().parent.parent / "pine" / "dev.pine").read_text("utf-8")


def dev_variant(default_fast: int) -> str:
    """dev.pine with another Fast Length default: a real, different strategy."""
    return DEV_PINE.replace('input.int(12, "Fast Length"',
                            f'input.int({default_fast}, "Fast Length"')


# Does not transpile: an unclosed call.
BROKEN_PINE = '//@version=6\nstrategy("Broken", overlay=true)\nlen = input.int(14, "Length"\n' \
              'plot(ta.sma(close, len)\n'
DEFAULT_KEY = "sk-test-SECRET-123"


@dataclass(frozen=True)
class Behaviour:
    """What the server does for one chat request."""

    kind: str
    content: str | None = None
    seconds: float = 0.0
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    error: dict[str, Any] | None = None


def _fenced(code: str, prose: str) -> str:
    return f"{prose}\n\n```pine\n{code.rstrip()}\n```\n"


def good(code: str, comment: str = "I tightened the entry and widened the target.") -> Behaviour:
    """A normal reply: prose, then the code in a ```pine block."""
    return Behaviour("good", content=_fenced(code, comment))


def broken(code: str = BROKEN_PINE) -> Behaviour:
    """A reply whose code does not transpile."""
    return Behaviour("broken", content=_fenced(code, "Here is a bolder version."))


def duplicate(code: str, *, cosmetic: bool = True) -> Behaviour:
    """The same script again; with `cosmetic`, with only comments and spacing changed."""
    if cosmetic:
        lines = [line.rstrip() + "   " for line in code.splitlines()]
        lines.insert(1, "// reworded: same strategy, fresh comment")
        code = "\n".join(lines).replace(" = ", "  =  ") + "\n\n"
    return Behaviour("duplicate", content=_fenced(code, "A refined version of the strategy."))


def prose(text: str = "I think the strategy could use a trend filter and a wider stop.") -> \
        Behaviour:
    """A reply with no code at all."""
    return Behaviour("prose", content=text)


def timeout(seconds: float = 5.0) -> Behaviour:
    """Answer only after `seconds` (longer than the client's timeout); cut short at stop."""
    return Behaviour("timeout", content=_fenced(DEV_PINE, "Late."), seconds=seconds)


def rate_limit(retry_after: float = 0) -> Behaviour:
    """HTTP 429 with a Retry-After header and OpenAI's error JSON."""
    return Behaviour("rate_limit", status=429,
                     headers=(("Retry-After", f"{retry_after:g}"),),
                     error={"message": "Rate limit reached for requests", "type": "requests",
                            "param": None, "code": "rate_limit_exceeded"})


def server_error() -> Behaviour:
    """HTTP 500 with OpenAI's error JSON."""
    return Behaviour("server_error", status=500,
                     error={"message": "The server had an error while processing your request.",
                            "type": "server_error", "param": None, "code": None})


@dataclass
class RecordedRequest:
    path: str
    model: str | None
    messages: list[dict[str, Any]]
    body: dict[str, Any]
    authorized: bool
    behaviour: str | None = None


@dataclass
class FakeOpenAI:
    """The server's state: the script of behaviours and every request seen."""

    api_key: str = DEFAULT_KEY
    echo_key_on_401: bool = True  # a careless real server does this; the client must redact
    requests: list[RecordedRequest] = field(default_factory=list)
    _queue: deque[Behaviour] = field(default_factory=deque)
    _forever: Behaviour | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def forever(self, behaviour: Behaviour) -> None:
        """Once the script is used up, answer every request with `behaviour` (a model stuck on
        one answer, or an endpoint that keeps failing)."""
        with self._lock:
            self._forever = behaviour

    def next_behaviour(self) -> Behaviour | None:
        with self._lock:
            return self._queue.popleft() if self._queue else self._forever

    def start(self) -> FakeOpenAI:
        state = self

        class Handler(_Handler):
            fake = state

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05}, name="fake-openai")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes any handler sleeping in timeout()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send_json(self, status: int, payload: dict[str, Any],
                   headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) and closed the connection

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.fake.api_key}"

    def _unauthorized(self) -> None:
        sent = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        shown = sent if self.fake.echo_key_on_401 else "***"
        self._send_json(401, {"error": {"message": f"Incorrect API key provided: {shown}.",
                                        "type": "invalid_request_error", "param": None,
                                        "code": "invalid_api_key"}})

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request"}})
            return
        if not self._authorized():
            self._unauthorized()
            return
        self._send_json(200, {"object": "list", "data": [
            {"id": name, "object": "model", "created": 1700000000, "owned_by": "fake"}
            for name in ("fake-small", "fake-large")]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        authorized = self._authorized()
        record = RecordedRequest(path=self.path, model=body.get("model"),
                                 messages=list(body.get("messages") or []), body=body,
                                 authorized=authorized)
        self.fake.requests.append(record)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request"}})
            return
        if not authorized:
            self._unauthorized()
            return
        behaviour = self.fake.next_behaviour()
        if behaviour is None:
            self._send_json(500, {"error": {"message": "fake server: script exhausted",
                                            "type": "server_error"}})
            return
        record.behaviour = behaviour.kind
        if behaviour.seconds:
            self.fake._stopping.wait(behaviour.seconds)
        if behaviour.error is not None:
            self._send_json(behaviour.status, {"error": behaviour.error}, behaviour.headers)
            return
        self._send_json(200, _completion(str(body.get("model") or "fake-model"),
                                         behaviour.content or ""))


def _completion(model: str, content: str) -> dict[str, Any]:
    """The JSON shape of a real chat completion."""
    prompt_tokens, completion_tokens = 100, max(1, len(content) // 4)
    return {
        "id": f"chatcmpl-fake{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                             "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
        "system_fingerprint": "fp_fake",
    }


@pytest.fixture(name="fake_llm")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """A started FakeOpenAI on 127.0.0.1 (free port), stopped after the test."""
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()
