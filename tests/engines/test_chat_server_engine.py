"""The serving engine below HTTP: loading (typed errors), the continuous-batching scheduler
(batched greedy == alone greedy, rows join and leave, cancellation frees the row), sampling and
incremental text with stop strings. A tiny random Llama folder stands in for a real model."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from engines.chat_server.batch import KvBatch
from engines.chat_server.errors import (
    DeviceUnavailable,
    EngineStopped,
    ModelFolderInvalid,
    NotACausalLM,
    TokenizerInvalid,
)
from engines.chat_server.loading import LoadedModel, load_model, pick_device
from engines.chat_server.sampling import SamplingParams, make_generator, next_token
from engines.chat_server.scheduler import Delta, Event, Failed, Finished, Scheduler, Sequence
from engines.chat_server.text import TextTracker
from engines.chat_server.tiny_model import build_tiny_llama

PROMPTS = [
    "hello",
    "The quick brown fox jumps over the lazy dog, again and again and again.",
    "class",
    "Modules are imported by name, and packages are folders of modules.",
    "naïve café",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    torch.set_num_threads(1)
    return load_model(build_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama"), "cpu")


class Collector:
    """Gathers one request's events; ``done`` is set at its end."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.end: Finished | Failed | None = None
        self.done = threading.Event()
        self.tokens = threading.Semaphore(0)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Delta):
            self.parts.append(event.text)
            self.tokens.release()
            return
        if isinstance(event, Finished):
            self.parts.append(event.text)
        self.end = event
        self.done.set()

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def finished(self) -> Finished:
        assert self.done.wait(60)
        assert isinstance(self.end, Finished), self.end
        return self.end


def greedy(max_tokens: int = 24) -> SamplingParams:
    return SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)


def ids_of(tiny: LoadedModel, text: str) -> list[int]:
    return [int(i) for i in tiny.tokenizer.encode(text)]


def run_alone(tiny: LoadedModel, prompt: str, params: SamplingParams) -> list[int]:
    scheduler = Scheduler(tiny, max_batch=1)
    scheduler.start()
    try:
        collector = Collector()
        sequence = scheduler.submit(ids_of(tiny, prompt), params, collector)
        collector.finished()
        return sequence.output_ids
    finally:
        scheduler.stop()


def test_batched_greedy_equals_alone_greedy(tiny: LoadedModel) -> None:
    alone = [run_alone(tiny, p, greedy()) for p in PROMPTS]
    scheduler = Scheduler(tiny, max_batch=8)
    collectors = [Collector() for _ in PROMPTS]
    # queued before the thread starts, so all five are prefilled and decode in one batch
    sequences = [
        scheduler.submit(ids_of(tiny, p), greedy(), c) for p, c in zip(PROMPTS, collectors)
    ]
    scheduler.start()
    try:
        for c in collectors:
            c.finished()
        stats = scheduler.stats()
    finally:
        scheduler.stop()
    assert [s.output_ids for s in sequences] == alone
    # a request hears that it has finished only after its cache rows are gone
    assert (stats["running"], stats["cache_rows"]) == (0, 0)
    assert all(s.cache is None for s in sequences)
    assert stats["batched"] is True
    assert stats["max_batch_seen"] == len(PROMPTS)
    assert stats["batch_sizes"][str(len(PROMPTS))] >= 1


def test_request_joining_a_running_batch_decodes_as_alone(tiny: LoadedModel) -> None:
    long_params = SamplingParams(max_tokens=120, temperature=0.0, ignore_eos=True)
    expected_long = run_alone(tiny, PROMPTS[1], long_params)
    expected_short = [run_alone(tiny, p, greedy(10)) for p in (PROMPTS[0], PROMPTS[3])]
    scheduler = Scheduler(tiny, max_batch=4)
    scheduler.start()
    try:
        first = Collector()
        running = scheduler.submit(ids_of(tiny, PROMPTS[1]), long_params, first)
        for _ in range(3):  # the long request is decoding: the others join mid-way, then leave
            assert first.tokens.acquire(timeout=60)
        late = [Collector(), Collector()]
        joined = [
            scheduler.submit(ids_of(tiny, p), greedy(10), c)
            for p, c in zip((PROMPTS[0], PROMPTS[3]), late)
        ]
        for c in [first, *late]:
            c.finished()
    finally:
        scheduler.stop()
    assert running.output_ids == expected_long
    assert [s.output_ids for s in joined] == expected_short


def test_finished_counts_prompt_and_completion_tokens(tiny: LoadedModel) -> None:
    scheduler = Scheduler(tiny)
    scheduler.start()
    try:
        collector = Collector()
        prompt = ids_of(tiny, PROMPTS[2])
        sequence = scheduler.submit(prompt, greedy(7), collector)
        end = collector.finished()
    finally:
        scheduler.stop()
    assert (end.finish_reason, end.prompt_tokens, end.completion_tokens) == (
        "length",
        len(prompt),
        7,
    )
    assert len(sequence.output_ids) == 7
    assert collector.text == tiny.tokenizer.decode(sequence.output_ids, skip_special_tokens=True)


def test_eos_ends_with_stop_unless_ignored(tiny: LoadedModel) -> None:
    eos = min(tiny.eos_token_ids)
    bias = torch.zeros(tiny.model.config.vocab_size)
    bias[eos] = 100.0  # make the model answer EOS at once
    head = tiny.model.lm_head
    saved = head.bias
    head.bias = torch.nn.Parameter(bias)
    scheduler = Scheduler(tiny)
    scheduler.start()
    try:
        stops, ignores = Collector(), Collector()
        scheduler.submit(
            ids_of(tiny, "hello"), SamplingParams(max_tokens=5, temperature=0.0), stops
        )
        scheduler.submit(ids_of(tiny, "hello"), greedy(5), ignores)
        stopped, ignored = stops.finished(), ignores.finished()
    finally:
        scheduler.stop()
        head.bias = saved
    assert (stopped.finish_reason, stopped.completion_tokens) == ("stop", 1)
    assert (ignored.finish_reason, ignored.completion_tokens) == ("length", 5)


def test_cancelled_request_leaves_and_frees_its_row(tiny: LoadedModel) -> None:
    scheduler = Scheduler(tiny, max_batch=2)
    scheduler.start()
    try:
        doomed, other = Collector(), Collector()
        big = SamplingParams(max_tokens=400, temperature=0.0, ignore_eos=True)
        sequence = scheduler.submit(ids_of(tiny, "hello"), big, doomed)
        assert doomed.tokens.acquire(timeout=60)
        scheduler.cancel(sequence)
        scheduler.submit(ids_of(tiny, "class"), greedy(5), other)
        other.finished()
    finally:
        scheduler.stop()  # would fail (and tell) any request still running
    stats = scheduler.stats()
    assert not doomed.done.is_set()  # a cancelled request gets no more events
    assert sequence.cache is None
    assert len(sequence.output_ids) < 400
    assert stats["requests_cancelled"] == 1 and stats["requests_failed"] == 0


def test_stopped_scheduler_refuses_and_fails_waiting(tiny: LoadedModel) -> None:
    scheduler = Scheduler(tiny)
    waiting = Collector()
    scheduler.submit(ids_of(tiny, "hello"), greedy(), waiting)
    scheduler.stop()  # never started: nothing ran, the request is failed by no one
    with pytest.raises(EngineStopped):
        scheduler.submit(ids_of(tiny, "hello"), greedy(), Collector())


def test_seeded_sampling_repeats_and_differs_by_seed(tiny: LoadedModel) -> None:
    def sampled(seed: int) -> list[int]:
        params = SamplingParams(
            max_tokens=16, temperature=1.5, top_p=0.9, seed=seed, ignore_eos=True
        )
        return run_alone(tiny, "hello", params)

    assert sampled(7) == sampled(7)
    assert sampled(7) != sampled(8)


def test_next_token_greedy_and_top_p() -> None:
    logits = torch.tensor([0.0, 5.0, 1.0, 4.9])
    assert next_token(logits, SamplingParams(max_tokens=1, temperature=0.0), make_generator(0)) == 1
    # top_p this small keeps only the most likely token, whatever the seed
    nucleus = SamplingParams(max_tokens=1, temperature=1.0, top_p=0.01)
    assert {next_token(logits, nucleus, make_generator(s)) for s in range(20)} == {1}


def test_kv_batch_pads_left_and_trims_after_leave() -> None:
    def cache(length: int, value: float) -> object:
        from transformers import DynamicCache

        k = torch.full((1, 2, length, 4), value)
        return DynamicCache(ddp_cache_data=[(k, k.clone())])

    batch = KvBatch()
    batch.add(cache(3, 1.0), 3, torch.device("cpu"))
    batch.add(cache(5, 2.0), 5, torch.device("cpu"))
    assert batch.mask is not None
    assert batch.mask.tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    assert batch.cache.layers[0].keys[0, 0, :, 0].tolist() == [0, 0, 1, 1, 1]
    batch.keep([0])
    assert batch.mask.tolist() == [[1, 1, 1]]
    assert batch.cache.layers[0].keys.shape == (1, 2, 3, 4)
    batch.keep([])
    assert batch.rows == 0 and batch.cache is None


def test_text_tracker_holds_back_a_possible_stop_and_cuts_at_it(tiny: LoadedModel) -> None:
    ids = ids_of(tiny, "The quick brown fox jumps")
    tracker = TextTracker(tiny.tokenizer, ("brown",))
    released, stopped = "", False
    for token in ids:
        delta, stopped = tracker.add(token)
        released += delta
        assert "brow" not in released
        if stopped:
            break
    assert stopped and released == "The quick "


def test_text_tracker_never_releases_half_a_character(tiny: LoadedModel) -> None:
    tracker = TextTracker(tiny.tokenizer)
    ids = ids_of(tiny, "東京 🙂")
    released = "".join(tracker.add(t)[0] for t in ids) + tracker.flush()
    assert released == "東京 🙂"


def test_load_refuses_what_is_not_a_model_folder(tmp_path: Path, tiny: LoadedModel) -> None:
    with pytest.raises(ModelFolderInvalid):
        load_model(tmp_path / "missing", "cpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFolderInvalid):
        load_model(empty, "cpu")


def test_load_refuses_a_config_that_is_not_a_causal_lm(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel, T5Config

    folder = tmp_path / "bert"
    config = BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    BertModel(config).save_pretrained(folder)  # an encoder: architectures ["BertModel"]
    with pytest.raises(NotACausalLM):
        load_model(folder, "cpu")
    T5Config(d_model=32, num_layers=1, num_heads=2, d_ff=32).save_pretrained(folder)
    with pytest.raises(NotACausalLM):  # an encoder-decoder
        load_model(folder, "cpu")
    (folder / "config.json").write_text(json.dumps({"model_type": "no-such-model"}))
    with pytest.raises(NotACausalLM):
        load_model(folder, "cpu")


def test_load_refuses_a_folder_without_tokenizer(tmp_path: Path) -> None:
    folder = build_tiny_llama(tmp_path / "m")
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(TokenizerInvalid):
        load_model(folder, "cpu")


def test_pick_device_refuses_a_missing_gpu() -> None:
    assert pick_device("cpu").type == "cpu"
    if torch.cuda.is_available():
        assert pick_device("auto").type == "cuda"
    else:
        assert pick_device("auto").type == "cpu"
        with pytest.raises(DeviceUnavailable):
            pick_device("cuda")


def test_sequence_length_counts_cached_tokens() -> None:
    sequence = Sequence(1, [1, 2, 3], greedy(), lambda e: None, TextTracker(None))
    sequence.output_ids.append(9)
    assert sequence.length == 3


def test_cli_exits_2_with_the_error_code_for_a_bad_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engines.chat_server.server import main

    assert main(["--model", str(tmp_path / "nothing"), "--port", "1"]) == 2
    assert "model_folder_invalid" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", str(tmp_path), "--port", "1", "--uds", "/tmp/x.sock"])


def test_unix_socket_is_for_its_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    from engines.chat_server.server import bind_unix_socket

    path = str(tmp_path / "engine.sock")
    first = bind_unix_socket(path)
    first.close()  # leaves a stale socket file behind, which the next bind replaces
    second = bind_unix_socket(path)
    try:
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    finally:
        second.close()
    (tmp_path / "file").write_text("not a socket")
    with pytest.raises(OSError):
        bind_unix_socket(str(tmp_path / "file"))


def test_sliding_window_model_is_served_one_row_at_a_time(tmp_path: Path) -> None:
    from transformers import MistralConfig, MistralForCausalLM

    folder = build_tiny_llama(tmp_path / "mistral")
    for old in folder.glob("*.safetensors"):
        old.unlink()
    config = MistralConfig(
        vocab_size=400,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        sliding_window=8,
        eos_token_id=0,
    )
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(folder)
    loaded = load_model(folder, "cpu")
    alone = [run_alone(loaded, p, greedy(20)) for p in PROMPTS[:3]]
    scheduler = Scheduler(loaded, max_batch=4)
    assert scheduler.batched is False  # a sliding-window cache cannot be padded and stacked
    collectors = [Collector() for _ in PROMPTS[:3]]
    sequences = [
        scheduler.submit(ids_of(loaded, p), greedy(20), c) for p, c in zip(PROMPTS, collectors)
    ]
    scheduler.start()
    try:
        for c in collectors:
            c.finished()
        stats = scheduler.stats()
    finally:
        scheduler.stop()
    assert [s.output_ids for s in sequences] == alone
    assert stats["max_batch_seen"] == 3  # still continuous: three requests ran in each step
