"""The serving engine over HTTP, driven by the official ``openai`` client: chat and completions,
streaming and not, exact usage, continuous batching of concurrent requests, OpenAI-shaped 400s,
and the Unix-socket mode the enclave uses. The server is the real one (uvicorn in a thread) over a
tiny random Llama folder."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import torch
import uvicorn
from openai.types.chat import ChatCompletionMessageParam

from engines.chat_server.app import build_app
from engines.chat_server.loading import LoadedModel, load_model
from engines.chat_server.scheduler import Scheduler
from engines.chat_server.server import bind_unix_socket
from engines.chat_server.tiny_model import build_tiny_llama

MODEL = "tiny-llama"


class Served:
    def __init__(self, loaded: LoadedModel, scheduler: Scheduler, base_url: str) -> None:
        self.loaded = loaded
        self.scheduler = scheduler
        self.base_url = base_url

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url + "/v1", api_key="unused", max_retries=0)

    def stats(self) -> dict[str, object]:
        return httpx.get(self.base_url + "/v1/engine/stats").json()  # type: ignore[no-any-return]

    def tokens(self, text: str, special: bool = True) -> list[int]:
        return [int(i) for i in self.loaded.tokenizer.encode(text, add_special_tokens=special)]


def serve(config: uvicorn.Config, scheduler: Scheduler) -> Iterator[uvicorn.Server]:
    """Run the server in a thread until it listens and its scheduler has warmed up."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (server.started and scheduler.ready):
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("served") / MODEL)


@pytest.fixture(scope="module")
def served(model_dir: Path) -> Iterator[Served]:
    torch.set_num_threads(1)
    loaded = load_model(model_dir, "cpu")
    scheduler = Scheduler(loaded, max_batch=8)
    port = free_port()
    config = uvicorn.Config(
        build_app(loaded, scheduler), host="127.0.0.1", port=port, log_level="warning"
    )
    for _ in serve(config, scheduler):
        yield Served(loaded, scheduler, f"http://127.0.0.1:{port}")


def chat_prompt_ids(served: Served, content: str) -> list[int]:
    text = served.loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
    )
    return served.tokens(text, special=False)


def test_models_lists_the_served_model(served: Served) -> None:
    models = served.client().models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert httpx.get(served.base_url + "/healthz").json()["status"] == "ok"


def test_chat_answers_with_exact_usage(served: Served) -> None:
    reply = served.client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me about modules."}],
        max_tokens=12,
        temperature=0,
        extra_body={"ignore_eos": True},
    )
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and reply.model == MODEL
    assert choice.message.role == "assistant" and choice.finish_reason == "length"
    assert isinstance(choice.message.content, str)
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == len(chat_prompt_ids(served, "Tell me about modules."))
    assert reply.usage.completion_tokens == 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 12


def test_chat_stream_equals_non_stream_and_ends_with_usage(served: Served) -> None:
    client = served.client()
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello"}]
    whole = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=20, temperature=0
    )
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=messages,
            max_tokens=20,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finals = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finals == [whole.choices[0].finish_reason]
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_completion_stream_and_not(served: Served) -> None:
    client = served.client()
    prompt = "The quick brown fox"
    whole = client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=15, temperature=0, extra_body={"ignore_eos": True}
    )
    assert whole.object == "text_completion" and whole.choices[0].finish_reason == "length"
    assert whole.usage is not None
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens) == (
        len(served.tokens(prompt)),
        15,
    )
    stream = client.completions.create(
        model=MODEL,
        prompt=prompt,
        max_tokens=15,
        temperature=0,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_completion_takes_token_ids_and_stop_strings(served: Served) -> None:
    client = served.client()
    ids = served.tokens("class")
    by_ids = client.completions.create(model=MODEL, prompt=ids, max_tokens=10, temperature=0)
    by_text = client.completions.create(model=MODEL, prompt="class", max_tokens=10, temperature=0)
    assert by_ids.choices[0].text == by_text.choices[0].text
    text = by_text.choices[0].text
    if len(text) >= 3 and by_text.choices[0].finish_reason == "length":
        stop = text[1:3]
        cut = client.completions.create(
            model=MODEL, prompt="class", max_tokens=10, temperature=0, stop=[stop]
        )
        assert cut.choices[0].finish_reason == "stop"
        assert cut.choices[0].text == text[: text.find(stop)]


def test_concurrent_requests_are_batched_and_decode_as_alone(served: Served) -> None:
    client = served.client()
    prompts = ["hello", "class", "Modules are imported by name.", "a function returns"]

    def ask(prompt: str) -> str:
        reply = client.completions.create(
            model=MODEL,
            prompt=prompt,
            max_tokens=40,
            temperature=0,
            extra_body={"ignore_eos": True},
        )
        return reply.choices[0].text

    alone = [ask(p) for p in prompts]
    # a long stream holds the batch open while the four others join it
    long = client.completions.create(
        model=MODEL,
        prompt="The quick brown fox",
        max_tokens=480,
        temperature=0,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    first = next(iter(long))
    with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
        together = list(pool.map(ask, prompts))
    rest = "".join(c.choices[0].text for c in long)
    assert together == alone
    assert len(first.choices[0].text + rest) > 0
    stats = served.stats()
    assert isinstance(stats["max_batch_seen"], int) and stats["max_batch_seen"] > 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 3}, "temperature"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**6}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "logprobs": True}, "logprobs"),
        ({"messages": [{"role": "user", "content": "hi"}], "stop": 5}, "stop"),
        ({"messages": [{"role": "user", "content": "hi"}], "stream_options": {}}, "stream_options"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content",
        ),
    ],
)
def test_bad_chat_requests_answer_400_in_openai_shape(
    served: Served, body: dict[str, object], param: str
) -> None:
    answer = httpx.post(served.base_url + "/v1/chat/completions", json={"model": MODEL, **body})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param


def test_bad_bodies_and_prompts_answer_400(served: Served) -> None:
    url = served.base_url + "/v1/completions"
    for content in (
        b"{not json",
        b"[1, 2]",
        b'{"prompt": 5}',
        b'{"prompt": [99999999]}',
        b'{"prompt": ""}',
    ):
        answer = httpx.post(url, content=content, headers={"content-type": "application/json"})
        assert answer.status_code == 400, content
        assert answer.json()["error"]["type"] == "invalid_request_error"
    too_long = "hello " * 2000
    answer = httpx.post(url, json={"prompt": too_long, "max_tokens": 1})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "context_length_exceeded"


def test_openai_client_raises_bad_request_and_not_found(served: Served) -> None:
    client = served.client()
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], n=3
        )
    assert refused.value.code == "unsupported_parameter"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    answer = httpx.get(served.base_url + "/v1/nothing-here")
    assert answer.status_code == 404 and "error" in answer.json()


def test_unix_socket_mode_serves_the_same_answers(
    served: Served, model_dir: Path, tmp_path: Path
) -> None:
    path = str(tmp_path / "engine.sock")
    loaded = load_model(model_dir, "cpu")
    scheduler = Scheduler(loaded)
    sock = bind_unix_socket(path)  # as ``--uds`` does: mode 0600
    config = uvicorn.Config(build_app(loaded, scheduler), fd=sock.fileno(), log_level="warning")
    body = {"model": MODEL, "prompt": "hello", "max_tokens": 8, "temperature": 0}
    expected = httpx.post(served.base_url + "/v1/completions", json=body).json()["choices"][0][
        "text"
    ]
    for _ in serve(config, scheduler):
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=path), base_url="http://engine"
        ) as http:
            assert http.get("/healthz").json()["status"] == "ok"
            answer = http.post("/v1/completions", json=body)
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["text"] == expected


def test_max_completion_tokens_and_seed(served: Served) -> None:
    client = served.client()

    def ask(seed: int) -> tuple[str | None, int]:
        reply = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            max_completion_tokens=6,
            temperature=1.2,
            top_p=0.95,
            seed=seed,
            extra_body={"ignore_eos": True},
        )
        assert reply.usage is not None
        return reply.choices[0].message.content, reply.usage.completion_tokens

    assert ask(11) == ask(11)
    assert ask(11)[1] == 6


SHIPPED = Path(__file__).resolve().parents[2] / "engines" / "chat_model" / "pydoc-tiny"


@pytest.mark.skipif(
    not (SHIPPED / "config.json").is_file(), reason="engines/chat_model/pydoc-tiny is not built"
)
def test_serves_the_shipped_model() -> None:
    loaded = load_model(SHIPPED, "cpu")
    port = free_port()
    scheduler = Scheduler(loaded)
    app = build_app(loaded, scheduler)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    for _ in serve(config, scheduler):
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(
            model=loaded.name,
            messages=[{"role": "user", "content": "What does the for statement do?"}],
            max_tokens=40,
            temperature=0,
        )
    text = reply.choices[0].message.content
    assert text and text.strip()
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 40


def test_client_leaving_a_stream_frees_its_row(served: Served) -> None:
    before = served.stats()["requests_cancelled"]
    assert isinstance(before, int)
    body = {
        "model": MODEL,
        "prompt": "hello",
        "max_tokens": 480,
        "stream": True,
        "ignore_eos": True,
    }
    with httpx.stream("POST", served.base_url + "/v1/completions", json=body) as answer:
        assert next(answer.iter_lines()).startswith("data: ")
    # the connection is closed mid-stream: the request leaves the batch before it is done
    deadline = time.monotonic() + 60
    while served.stats()["requests_cancelled"] == before:
        assert time.monotonic() < deadline, "the abandoned request kept running"
        time.sleep(0.05)
    stats = served.stats()
    assert stats["requests_cancelled"] == before + 1
