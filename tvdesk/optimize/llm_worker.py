"""One worker improving a strategy's code with an LLM, keeping the best version.

Each round: show the model the best version so far with its metrics, the targets, a few other
versions (worst to best), what was already tried and the last error; take one complete Pine
script from the reply; refuse it if it does not compile on the local engine or if it is a
duplicate (the same normalised source, or the same trade list as a version seen before);
backtest it; keep it only if it beats the best. A rewrite that scores worse never becomes the
base. After `max_duplicate_consecutive_errors` duplicates in a row the worker restarts from the
base template (or another elite version) and says so; a track whose workers restart
`FRUITLESS_RESTARTS` times with no new trial in between stops (the model has nothing new to
offer), and every request counts against the run's LLM call budget, so a run always ends.
With the proposer "both", every new structure also gets a small parameter study, its trials
counted like all others.
Every prompt and reply is stored with its outcome; `--model auto` ranks models by those.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tvdesk.errors import PineError
from tvdesk.optimize.llm_client import LLMError, choose_model
from tvdesk.optimize.param_search import ParamSearch
from tvdesk.optimize.pine_text import comment_of, extract_pine, normalized_hash
from tvdesk.optimize.prompts import build_messages
from tvdesk.optimize.space import build_space
from tvdesk.pine.loader import load_strategy_source
from tvdesk.pine.safety import RefusedScript

if TYPE_CHECKING:
    from tvdesk.model import Trade
    from tvdesk.optimize.loop import Optimizer, TrackState, Version
    from tvdesk.optimize.targets import Targets
    from tvdesk.store.records import LlmOutcome

ARCHIVE_IN_PROMPT = 3
FRUITLESS_RESTARTS = 3
TRIED_IN_PROMPT = 8
# The longest reply read: a complete script with a short explanation is far smaller. A larger
# reply (a runaway model, a hostile endpoint) is recorded cut short and counts as an error.
MAX_REPLY_BYTES = 256 * 1024


@dataclass(slots=True)
class Candidate:
    version: Version
    metrics: dict[str, Any]
    score: tuple[int, float]
    trial_id: int | None
    summary: str = ""


@dataclass(slots=True)
class WorkerState:
    best: Candidate | None = None
    archive: list[Candidate] = field(default_factory=list)
    previous_comment: str | None = None
    last_error: str | None = None
    consecutive_duplicates: int = 0
    tried: list[str] = field(default_factory=list)


def make_candidate(targets: Targets, version: Version, metrics: dict[str, Any],
                   trial_id: int | None, comment: str = "") -> Candidate:
    """A version with its score (feasible first, then the objective) and a one-line summary
    for prompts (the first line of the model's comment, else the trial it came from)."""
    score = (0 if targets.failures(metrics) else 1, targets.score(metrics))
    summary = (comment.splitlines()[0][:160] if comment else "") or f"trial {trial_id}"
    return Candidate(version, metrics, score, trial_id, summary)


def trades_fingerprint(trades: tuple[Trade, ...]) -> str:
    """Two versions that trade identically are the same strategy, whatever the code says."""
    digest = hashlib.sha256()
    for t in trades:
        digest.update(f"{t.side}|{t.entry_time.isoformat()}|{t.entry_price:.10g}|"
                      f"{t.exit_time.isoformat() if t.exit_time else ''}|"
                      f"{t.exit_price if t.exit_price is not None else ''}\n".encode())
    return digest.hexdigest()


class LLMWorker:
    def __init__(self, optimizer: Optimizer, track: TrackState, worker: int,
                 seen_normalized: set[str], seen_trades: set[str]) -> None:
        self.opt = optimizer
        self.track = track
        self.worker = worker
        self.settings = optimizer.settings
        self.seen_normalized = seen_normalized
        self.seen_trades = seen_trades
        self.rng = random.Random(self.settings.seed * 1000 + worker)
        self.state = WorkerState()
        assert optimizer.workspace is not None, "workers start after the run's workspace"
        self.file = optimizer.workspace / f"pc_{worker}.pine"

    # ------------------------------------------------------------------ loop

    async def run(self, base: Candidate) -> None:
        self.state.best = base
        self.state.archive.append(base)
        while not self.opt.should_stop(self.track):
            await self._round()
            # After the round this worker's pc_<n>.pine is its best: commit its new bests now.
            await self.opt.commit_new_bests(self.worker)

    async def _round(self) -> None:
        state = self.state
        assert state.best is not None
        messages = build_messages(
            current_pine=state.best.version.strategy.source, metrics=state.best.metrics,
            tag=None, reasons=self.settings.targets.failures(state.best.metrics),
            targets={c.metric: (c.op, c.value) for c in self.settings.targets.constraints},
            previous_comment=state.previous_comment,
            archive=[(c.summary or f"version from trial {c.trial_id}", c.metrics)
                     for c in self._archive_sample()],
            tried_summaries=state.tried[-TRIED_IN_PROMPT:], last_error=state.last_error)
        model = self._model()
        prompt = json.dumps(messages, ensure_ascii=False)
        llm = self.opt.llm
        assert llm is not None, "the LLM track refuses to start without a client"
        try:
            reply = await llm.complete(messages, model=model,
                                       temperature=self.settings.llm.temperature)
        except LLMError as exc:
            if exc.kind == "budget":  # nothing was sent; the whole run is out of calls
                self.track.stop_reason = self.track.stop_reason or str(exc.message)
                return
            failed: LlmOutcome = exc.kind if exc.kind in ("timeout", "rate_limited") else "error"
            self._exchange(model, prompt, None, None, failed)
            self._error(str(exc))
            return
        reply_bytes = len(reply.text.encode("utf-8"))
        if reply_bytes > MAX_REPLY_BYTES:
            reason = (f"the reply was {reply_bytes // 1024} KB; replies over "
                      f"{MAX_REPLY_BYTES // 1024} KB are not read")
            self._exchange(model, prompt, reply.text[:MAX_REPLY_BYTES], reply.latency_seconds,
                           "refused", error=reason)
            self._error(reason)
            return
        code = extract_pine(reply.text)
        if code is None:
            self._exchange(model, prompt, reply.text, reply.latency_seconds, "no_code")
            self._error("the reply had no Pine script in a ```pine block")
            return
        norm = normalized_hash(code)
        if norm in self.seen_normalized:
            self._exchange(model, prompt, reply.text, reply.latency_seconds, "duplicate")
            self._duplicate("the same script as an earlier version (only comments or spacing "
                            "differ)")
            return
        self.seen_normalized.add(norm)
        try:
            strategy = load_strategy_source(code)
        except RefusedScript as exc:
            # Untrusted code the safety check refused: recorded with why, never run.
            self._exchange(model, prompt, reply.text, reply.latency_seconds, "refused",
                           error=str(exc))
            self._error(f"the script was refused by the safety check: {exc}")
            return
        except PineError as exc:
            self._exchange(model, prompt, reply.text, reply.latency_seconds, "compile_error",
                           error=str(exc))
            self._error(f"the script did not compile: {exc}")
            return
        version = self.opt.add_version(code, strategy, normalized_hash=norm,
                                       parent=state.best.version)
        self.opt.track_iteration(self.track)
        outcome = await self.opt.run_trial(self.track, worker=self.worker, proposed={},
                                        proposal=None, version=version, proposer="llm")
        self._exchange(model, prompt, reply.text, reply.latency_seconds,
                       "ok" if outcome.result is not None else "error", outcome.trial_id)
        if outcome.result is None:  # already counted as an error by the trial itself
            self.state.last_error = f"the backtest failed: {outcome.error}"
            return
        fingerprint = trades_fingerprint(outcome.result.trades)
        if fingerprint in self.seen_trades:
            self._duplicate("it trades exactly like an earlier version")
            return
        self.seen_trades.add(fingerprint)
        self.track.fruitless_restarts = 0
        state.consecutive_duplicates = 0
        state.last_error = None
        state.previous_comment = comment_of(reply.text) or None
        candidate = self._candidate(version, outcome.metrics or {}, outcome.trial_id,
                                    comment_of(reply.text))
        if self.settings.proposer == "both":
            candidate = await self._tune(candidate)
        self._remember(candidate)

    # ------------------------------------------------------------------ helpers

    def _candidate(self, version: Version, metrics: dict[str, Any], trial_id: int | None,
                   comment: str = "") -> Candidate:
        return make_candidate(self.settings.targets, version, metrics, trial_id, comment)

    def _remember(self, candidate: Candidate) -> None:
        state = self.state
        state.archive.append(candidate)
        state.tried.append(f"{candidate.summary}: net "
                           f"{candidate.metrics.get('net_profit_percent', 0):+.2f}%")
        assert state.best is not None
        if candidate.score > state.best.score:
            state.best = candidate
            if self.file is not None:
                self.file.write_text(candidate.version.strategy.source, encoding="utf-8")

    async def _tune(self, candidate: Candidate) -> Candidate:
        """A small parameter study on a new structure; returns it at its best inputs."""
        space = build_space(candidate.version.strategy,
                            condition_input=self.settings.condition_input)
        if not space:
            return candidate
        search = ParamSearch(space, self.settings.targets, sampler="tpe",
                             seed=self.settings.seed + self.worker)
        best = candidate
        for _ in range(self.settings.llm.study_trials):
            if self.opt.should_stop(self.track):
                break
            proposal = search.ask()
            self.opt.track_iteration(self.track)
            outcome = await self.opt.run_trial(self.track, worker=self.worker,
                                            proposed=proposal.inputs, proposal=proposal,
                                            version=candidate.version, proposer="params")
            search.tell(proposal, outcome.metrics)
            if outcome.metrics is not None:
                tuned = self._candidate(candidate.version, outcome.metrics, outcome.trial_id,
                                        candidate.summary)
                if tuned.score > best.score:
                    best = tuned
        return best

    def _archive_sample(self) -> list[Candidate]:
        """A few other versions, worst to best, for contrast in the prompt."""
        others = [c for c in self.state.archive if c is not self.state.best]
        others.sort(key=lambda c: c.score)
        if len(others) <= ARCHIVE_IN_PROMPT:
            return others
        picks = {0, len(others) - 1, len(others) // 2}
        return [others[i] for i in sorted(picks)]

    def _model(self) -> str:
        llm = self.settings.llm
        if llm.model != "auto":
            return llm.model
        stats = self.opt.store.llm_model_stats(str(self.opt.run_id))
        return choose_model(list(llm.models), stats, rng=self.rng)

    def _exchange(self, model: str, prompt: str, reply: str | None, latency: float | None,
                  outcome: LlmOutcome, trial_id: int | None = None,
                  error: str | None = None) -> None:
        self.opt.store.add_llm_exchange(str(self.opt.run_id), model=model, prompt=prompt,
                                        reply=reply, latency=latency,
                                        outcome=outcome,
                                        worker=self.worker, trial_id=trial_id, error=error)

    def _error(self, message: str) -> None:
        """An LLM-side failure (no reply, no code, no compile): counts towards the limit."""
        self.state.last_error = message
        self.track.consecutive_errors += 1
        self.opt.publish_error(self.track, self.worker, message)
        limit = self.settings.max_consecutive_errors
        if self.track.consecutive_errors >= limit:
            self.track.stop_reason = (f"{self.track.consecutive_errors} consecutive errors "
                                      f"(max {limit}); last: {message}")

    def _duplicate(self, why: str) -> None:
        state = self.state
        state.consecutive_duplicates += 1
        state.last_error = f"rejected as a duplicate: {why}; propose a different idea"
        self.opt.publish_duplicate(self.track, self.worker, why, state.consecutive_duplicates)
        if state.consecutive_duplicates >= self.settings.max_duplicate_consecutive_errors:
            self._restart()

    def _restart(self) -> None:
        """Start again from the base template, or from another elite when there is one."""
        state = self.state
        elites = sorted((c for c in state.archive if c is not state.best),
                        key=lambda c: c.score, reverse=True)[:3]
        base = state.archive[0]
        start = self.rng.choice(elites) if elites and self.rng.random() < 0.5 else base
        count, state.consecutive_duplicates = state.consecutive_duplicates, 0
        state.previous_comment = None
        self.opt.publish_restart(self.track, self.worker, count,
                                 "base template" if start is base else
                                 f"elite version from trial {start.trial_id}")
        state.best = start
        self.track.fruitless_restarts += 1
        if self.track.fruitless_restarts >= FRUITLESS_RESTARTS and not self.track.stop_reason:
            self.track.stop_reason = (
                f"no new trial after {self.track.fruitless_restarts} restarts: the model keeps "
                "proposing versions already tried")

