"""Continuous batching: one background thread drives the model. At each decoding step, waiting
requests are prefilled and join the running batch, every running request gets one token, and
finished or cancelled requests leave (their cache rows are freed at once).

Requests talk to the thread through :meth:`Scheduler.submit` (which hands back a
:class:`Sequence`) and the ``on_event`` callback it is given, called on the scheduler's thread with
a :class:`Delta` per token and one :class:`Finished` or :class:`Failed` at the end. Nothing of a
prompt or completion is logged.
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

import torch

from .batch import KvBatch, batchable, fresh_cache
from .errors import EngineOverloaded, EngineStopped
from .loading import LoadedModel
from .sampling import SamplingParams, make_generator, next_token
from .text import TextTracker

__all__ = ["Delta", "Event", "Failed", "Finished", "Scheduler", "Sequence"]

log = logging.getLogger("engines.chat_server")


@dataclasses.dataclass(frozen=True)
class Delta:
    text: str


@dataclasses.dataclass(frozen=True)
class Finished:
    text: str  # the last piece of text, released at the end
    finish_reason: str  # "stop" | "length"
    prompt_tokens: int
    completion_tokens: int


@dataclasses.dataclass(frozen=True)
class Failed:
    message: str


Event = Delta | Finished | Failed


class Sequence:
    """One request inside the scheduler: its tokens, its sampler and its own cache until it
    joins the batch."""

    def __init__(
        self,
        number: int,
        prompt_ids: list[int],
        params: SamplingParams,
        on_event: Callable[[Event], None],
        tracker: TextTracker,
    ) -> None:
        self.number = number
        self.prompt_ids = prompt_ids
        self.params = params
        self.on_event = on_event
        self.tracker = tracker
        self.generator = make_generator(params.seed)
        self.output_ids: list[int] = []
        self.cache: Any = None  # the prefill cache, until the batch takes it over
        self.cancelled = threading.Event()

    @property
    def length(self) -> int:
        """Tokens in this request's cache: the prompt and every generated token but the last."""
        return len(self.prompt_ids) + len(self.output_ids) - 1


@dataclasses.dataclass
class Stats:
    steps: int = 0
    prefills: int = 0
    max_batch_seen: int = 0
    tokens_generated: int = 0
    prompt_tokens: int = 0
    requests_finished: int = 0
    requests_cancelled: int = 0
    requests_failed: int = 0
    batch_sizes: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)


class Scheduler:
    """The model's only driver. ``max_batch`` rows decode together; up to ``max_waiting``
    requests wait for a row (more are refused with :class:`EngineOverloaded`)."""

    def __init__(self, loaded: LoadedModel, max_batch: int = 16, max_waiting: int = 1024) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.loaded = loaded
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.batched = batchable(loaded.model)
        accepted = inspect.signature(loaded.model.forward).parameters
        self._accepts_logits_to_keep = "logits_to_keep" in accepted
        # transformers renamed ``past_key_values`` to ``cache`` (5.x); older models keep it
        self._cache_kwarg = "cache" if "cache" in accepted else "past_key_values"
        self._numbers = itertools.count(1)
        self._waiting: collections.deque[Sequence] = collections.deque()
        self._running: list[Sequence] = []
        self._kv = KvBatch()
        self._wake = threading.Condition()
        self._stopping = False
        self._warm = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats = Stats()
        self._stats_lock = threading.Lock()

    # ---------------------------------------------------------------- public, any thread

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="chat-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    @property
    def ready(self) -> bool:
        """Running and warmed up: what ``/healthz`` reports."""
        return self.running and self._warm.is_set()

    def submit(
        self, prompt_ids: list[int], params: SamplingParams, on_event: Callable[[Event], None]
    ) -> Sequence:
        """Queue a request (also before :meth:`start`: it waits for the thread); ``on_event``
        is called on the scheduler's thread."""
        if self._stopping:
            raise EngineStopped("the scheduler is stopping")
        tracker = TextTracker(self.loaded.tokenizer, params.stop)
        sequence = Sequence(next(self._numbers), list(prompt_ids), params, on_event, tracker)
        with self._wake:
            if len(self._waiting) >= self.max_waiting:
                raise EngineOverloaded(f"{len(self._waiting)} requests are already waiting")
            self._waiting.append(sequence)
            self._wake.notify()
        return sequence

    def cancel(self, sequence: Sequence) -> None:
        """Stop generating for ``sequence``; it leaves the batch before the next step."""
        sequence.cancelled.set()
        with self._wake:
            self._wake.notify()

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            s = self._stats
            data: dict[str, Any] = {
                "steps": s.steps,
                "prefills": s.prefills,
                "max_batch_seen": s.max_batch_seen,
                "tokens_generated": s.tokens_generated,
                "prompt_tokens": s.prompt_tokens,
                "requests_finished": s.requests_finished,
                "requests_cancelled": s.requests_cancelled,
                "requests_failed": s.requests_failed,
                "batch_sizes": {str(k): v for k, v in sorted(s.batch_sizes.items())},
            }
        with self._wake:
            data["running"] = len(self._running)
            data["waiting"] = len(self._waiting)
        data["cache_rows"] = self._kv.rows
        data.update(max_batch=self.max_batch, batched=self.batched, device=self.loaded.device.type)
        return data

    # ---------------------------------------------------------------- the scheduler thread

    def _warm_up(self) -> None:
        """One prefill and one decoding step on a throw-away cache, so that the first request
        does not pay for kernel selection; nothing is counted."""
        device = self.loaded.device
        ids = torch.zeros((1, 2), dtype=torch.long, device=device)
        cache = fresh_cache(self.loaded.model)
        positions = torch.arange(2, device=device).unsqueeze(0)
        self._forward(
            cache, input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=positions
        )
        self._forward(
            cache,
            input_ids=ids[:, :1],
            attention_mask=torch.ones((1, 3), dtype=torch.long, device=device),
            position_ids=positions[:, 1:] + 1,
        )

    def _run(self) -> None:
        with torch.inference_mode():
            try:
                self._warm_up()
            except Exception as exc:  # the first request will meet (and report) the same failure
                log.error("warm-up failed: %s", type(exc).__name__)
            self._warm.set()
            while True:
                with self._wake:
                    while not self._stopping and not self._waiting and not self._running:
                        self._wake.wait()
                    if self._stopping:
                        break
                try:
                    self._admit()
                    self._drop_cancelled()
                    if self._running:
                        self._decode()
                except (
                    Exception
                ) as exc:  # a model failure ends the requests it touched, not the server
                    log.error("decoding step failed: %s", type(exc).__name__)
                    self._fail_all(f"the engine failed: {type(exc).__name__}")
        self._fail_all("the server is stopping")

    def _forward(self, cache: Any, **inputs: Any) -> torch.Tensor:
        inputs[self._cache_kwarg] = cache
        if self._accepts_logits_to_keep:
            inputs["logits_to_keep"] = 1
        out = self.loaded.model(use_cache=True, **inputs)
        logits: torch.Tensor = out.logits[:, -1, :]
        return logits

    def _admit(self) -> None:
        while len(self._running) < self.max_batch:
            with self._wake:
                if not self._waiting:
                    return
                sequence = self._waiting.popleft()
            if sequence.cancelled.is_set():
                self._count(cancelled=1)
                continue
            self._prefill(sequence)

    def _prefill(self, sequence: Sequence) -> None:
        device = self.loaded.device
        cache = fresh_cache(self.loaded.model)
        ids = torch.tensor([sequence.prompt_ids], dtype=torch.long, device=device)
        logits = self._forward(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            position_ids=torch.arange(ids.shape[1], device=device).unsqueeze(0),
            cache=cache,
        )
        with self._stats_lock:
            self._stats.prefills += 1
            self._stats.prompt_tokens += len(sequence.prompt_ids)
        sequence.cache = cache
        end = self._take(sequence, logits[0])
        if end is not None:
            sequence.cache = None
            sequence.on_event(end)
            return
        if self.batched:
            self._kv.add(cache, len(sequence.prompt_ids), device)
            sequence.cache = None
        self._running.append(sequence)

    def _decode(self) -> None:
        if self.batched:
            logits = self._decode_batched()
        else:
            logits = torch.cat([self._decode_alone(s) for s in self._running])
        size = len(self._running)
        with self._stats_lock:
            self._stats.steps += 1
            self._stats.max_batch_seen = max(self._stats.max_batch_seen, size)
            self._stats.batch_sizes[size] += 1
        # greedy rows take one argmax over the whole batch (one device sync, not one per row)
        greedy = logits.argmax(dim=-1).tolist()
        ends = [self._take(s, logits[i], greedy[i]) for i, s in enumerate(self._running)]
        done = [(s, end) for s, end in zip(self._running, ends, strict=True) if end is not None]
        self._leave([i for i, end in enumerate(ends) if end is None])
        for sequence, end in done:  # told only once its cache rows are gone
            sequence.on_event(end)

    def _decode_batched(self) -> torch.Tensor:
        device = self.loaded.device
        tokens = [[s.output_ids[-1]] for s in self._running]
        positions = [[s.length] for s in self._running]
        return self._forward(
            input_ids=torch.tensor(tokens, dtype=torch.long, device=device),
            attention_mask=self._kv.step_mask(),
            position_ids=torch.tensor(positions, dtype=torch.long, device=device),
            cache=self._kv.cache,
        )

    def _decode_alone(self, sequence: Sequence) -> torch.Tensor:
        device = self.loaded.device
        total = sequence.length + 1
        return self._forward(
            input_ids=torch.tensor([[sequence.output_ids[-1]]], dtype=torch.long, device=device),
            attention_mask=torch.ones((1, total), dtype=torch.long, device=device),
            position_ids=torch.tensor([[sequence.length]], dtype=torch.long, device=device),
            cache=sequence.cache,
        )

    def _take(
        self, sequence: Sequence, logits: torch.Tensor, greedy: int | None = None
    ) -> Finished | None:
        """Sample the next token of ``sequence`` and deliver its text; the :class:`Finished`
        to deliver once the request has left the batch, or ``None`` while it runs on."""
        if greedy is not None and sequence.params.temperature <= 0.0:
            token = int(greedy)
        else:
            token = next_token(logits, sequence.params, sequence.generator)
        sequence.output_ids.append(token)
        with self._stats_lock:
            self._stats.tokens_generated += 1
        reason: str | None = None
        delta = ""
        if token in self.loaded.eos_token_ids and not sequence.params.ignore_eos:
            reason = "stop"
        else:
            delta, stopped = sequence.tracker.add(token)
            if stopped:
                reason = "stop"
        if reason is None and (
            len(sequence.output_ids) >= sequence.params.max_tokens
            or sequence.length + 1 >= self.loaded.context_length
        ):
            reason = "length"
        if reason is None:
            if delta:
                sequence.on_event(Delta(delta))
            return None
        if reason == "length":
            delta += sequence.tracker.flush()
        with self._stats_lock:
            self._stats.requests_finished += 1
        return Finished(delta, reason, len(sequence.prompt_ids), len(sequence.output_ids))

    def _drop_cancelled(self) -> None:
        keep = [i for i, s in enumerate(self._running) if not s.cancelled.is_set()]
        if len(keep) < len(self._running):
            self._count(cancelled=len(self._running) - len(keep))
            self._leave(keep)

    def _leave(self, keep: list[int]) -> None:
        if len(keep) == len(self._running):
            return
        for i, sequence in enumerate(self._running):
            if i not in keep:
                sequence.cache = None
        if self.batched:
            self._kv.keep(keep)
        self._running = [self._running[i] for i in keep]

    def _fail_all(self, message: str) -> None:
        with self._wake:
            doomed = self._running + list(self._waiting)
            self._waiting.clear()
        self._running = []
        self._kv = KvBatch()
        for sequence in doomed:
            sequence.cache = None
            sequence.on_event(Failed(message))
        self._count(failed=len(doomed))

    def _count(self, cancelled: int = 0, failed: int = 0) -> None:
        with self._stats_lock:
            self._stats.requests_cancelled += cancelled
            self._stats.requests_failed += failed
