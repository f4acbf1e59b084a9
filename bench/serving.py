"""Confidential serving against plain serving: the same model, requests and server code (issue 17).

In one run, the shipped model (``engines.chat_model.SHIPPED_MODEL``) is served twice, with the same
engine settings (torch threads, max batch):

- **plain**: ``python -m engines.chat_server --model DIR --port N`` on local TCP: no TLS, no
  session tokens, no receipts, no sandbox. Clients: the official ``openai`` client with a plain
  ``base_url``.
- **confidential**: ``trusted_loader.serving.ServingEnclave`` in its own process (as the enclave is
  its own machine): a fresh TLS key made inside it, the engine started by it in the sandbox (as
  root; a plain child process otherwise) on a Unix socket, the HTTPS proxy that checks session
  tokens and vouchers, keeps the ledger and signs a receipt for every response with the enclave's
  eth key. Clients: the official ``openai`` client over ``enclava.client.serving.ServiceTransport``,
  after ``verify_service`` ran every guard on the service once (over the real TLS, with an in-memory
  chain view): every response's receipt is verified and the next voucher signed, as a customer's
  client does.

Certification is a one-time cost outside the measured path: the enclave's certificate is issued
here by a CA key made for the run (``certification_authority.certificates``, as the CA does after
attestation), and the chain's facts (service terms, the enclave bound and valid) are an in-memory
view; both are set up before anything is timed, as on a real service they are before its first
customer.

Load: 1, 4 and 16 concurrent clients (threads), one customer (wallet, transport) per client, since
the enclave serves one unvouched response per customer; each client sends one warm-up request first.
Fixed prompts, temperature 0, a fixed output length (``max_tokens`` with ``ignore_eos``), streamed,
so time to first token is measured. Plain and confidential alternate in rounds (the order flips each
round) to cancel machine noise. Per concurrency and side: completion tokens/s and requests/s over
the rounds' wall time, p50/p95 latency (request sent to the stream's end: for the confidential side
that includes the receipt check and the voucher signature) and p50 time to the first content token;
and the ratios confidential/plain, against the targets (throughput >= 0.95, latency and TTFT within
5 %). Prints a table; writes bench/results/serving.json. Measures; asserts nothing about timings.

    .venv/bin/python -m bench.serving [--quick] [--rounds 4] [--requests 4] [--max-tokens 48]
                                      [--threads 1] [--max-batch 16] [--out FILE]
                                      [--profile DIR] [--unsandboxed]

After the rounds, ``per_request_costs`` times, one at a time in this process, what the
confidential path adds to each request: the enclave's session-token and voucher checks and receipt
signature, the client's receipt check and voucher signature, and a pinned TLS handshake (the
``openai`` client closes a stream at ``[DONE]``, so each streamed request opens a new connection,
on both sides). ``--profile DIR`` runs the enclave's event loop under cProfile
(``DIR/enclave.prof``; slows it); ``--unsandboxed`` runs its engine outside the sandbox, to separate
the sandbox's share.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["run_serving", "format_table", "main", "DEFAULT_OUT", "TARGETS"]

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "serving.json"
MODEL_NAME = "pydoc-tiny"
CONCURRENCY = (1, 4, 16)
#: the issue's goals: throughput confidential/plain at least, latency and TTFT ratios at most
TARGETS = {"throughput_ratio_min": 0.95, "latency_ratio_max": 1.05, "ttft_ratio_max": 1.05}
#: fixed requests, sent round-robin (each client starts at its own offset)
PROMPTS = (
    "What is a list comprehension?",
    "How do I open a file for reading?",
    "Explain the with statement.",
    "What does the yield keyword do?",
    "How are exceptions raised and caught?",
    "What is a decorator?",
    "How do I format a string?",
    "What is the difference between a tuple and a list?",
)
CHAIN_ID = 31337
SERVICE_MARKET = "0x" + "5e" * 20
PROVIDER = "0x" + "01" * 20
MEASUREMENT = b"\x42" * 48
_START_TIMEOUT_S = 300.0


# ------------------------------------------------------------------------------------ set-up


@dataclass(frozen=True)
class Settings:
    rounds: int
    requests_per_client: int
    max_tokens: int
    threads: int
    max_batch: int
    concurrency: tuple[int, ...] = CONCURRENCY


class _Chain:
    """An in-memory ``ServiceChainView``: the service started and live, the enclave bound to it
    and VALID in the registry with the facts its certificate states."""

    def __init__(self, terms: Any, enclave: str, ca_signer: str) -> None:
        self.terms, self.enclave, self.ca_signer = terms, enclave, ca_signer

    @property
    def chain_id(self) -> int:
        return CHAIN_ID

    @property
    def service_market(self) -> str:
        return SERVICE_MARKET

    def service_terms(self, service_id: str) -> Any:
        return self.terms if service_id.lower() == self.terms.service_id else None

    def service_live(self, service_id: str) -> bool:
        return bool(service_id.lower() == self.terms.service_id)

    def service_enclave(self, service_id: str) -> str | None:
        return self.enclave if service_id.lower() == self.terms.service_id else None

    def enclave_status(self, address: str) -> tuple[Any, Any]:
        from enclava.chain.types import EnclaveRecord, EnclaveStatus

        record = EnclaveRecord(
            address=address,
            provider=PROVIDER,
            tee_type=self.terms.tee_type,
            expires_at=int(time.time()) + 86_400,
            revoked=False,
            ca=self.ca_signer,
            measurement=hashlib.sha256(MEASUREMENT).digest(),
        )
        return EnclaveStatus.VALID, record

    def tee_offer_gpu_class(self, tee_offer_id: int) -> str:
        return ""


@dataclass
class _Identity:
    """What certification and the chain would give: the CA's certificate, the enclave's key and
    certificate, the service terms, and the chain view the client verifies against."""

    ca_pem: str
    enclave_key: str
    enclave_pem: str
    terms: Any
    chain: _Chain


def _certified_identity(model_hash: str) -> _Identity:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from eth_account import Account

    from certification_authority.certificates import (
        issue_ca_certificate,
        issue_enclave_certificate,
    )
    from enclava.protocol.csr import build_csr
    from enclava.protocol.service_terms import ServiceTerms
    from enclava.protocol.tee import TeeType

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = issue_ca_certificate(ca_key, "Bench CA")
    key = ec.generate_private_key(ec.SECP256K1())
    csr = x509.load_pem_x509_csr(build_csr(key, "age1benchrecipient"))
    cert = issue_enclave_certificate(
        ca_key,
        ca_cert,
        csr,
        tee_type=int(TeeType.TDX),
        measurement=MEASUREMENT,
        provider_address=PROVIDER,
        simulated=False,
        now=int(time.time()) - 60,
        lifetime_s=86_400,
    )
    enclave_key = "0x" + key.private_numbers().private_value.to_bytes(32, "big").hex()
    enclave = Account.from_key(enclave_key).address
    terms = ServiceTerms(
        nonce=1,
        provider=PROVIDER,
        tee_offer_id=1,
        tee_type=int(TeeType.TDX),
        model_id=1,
        model_owner="0x" + "02" * 20,
        model_hash=model_hash,
        input_token_price=2,
        output_token_price=5,
        provider_per_token=True,
        provider_price=1,
        ends_at=int(time.time()) + 6 * 3600,
    )
    return _Identity(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        enclave_key=enclave_key,
        enclave_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        terms=terms,
        chain=_Chain(terms, enclave, "0x" + "ca" * 20),
    )


def _model_copy(folder: Path) -> tuple[Path, str]:
    """The shipped model copied world-readable (the sandboxed engine runs as another uid), and the
    SHA-256 of its files (stands for the ciphertext hash: the bench decrypts nothing)."""
    from engines.chat_model import SHIPPED_MODEL

    folder.mkdir(mode=0o755)
    digest = hashlib.sha256()
    for source in sorted(SHIPPED_MODEL.iterdir()):
        if source.is_file():
            shutil.copyfile(source, folder / source.name)
            os.chmod(folder / source.name, 0o644)
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    os.chmod(folder, 0o755)
    return folder, "0x" + digest.hexdigest()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _engine_env(threads: int) -> dict[str, str]:
    return {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _plain_server(model: Path, settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``engines.chat_server`` alone on local TCP (started; :func:`_wait_plain` waits for it)."""
    port = _free_port()
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engines.chat_server",
                "--model",
                str(model),
                "--port",
                str(port),
                "--name",
                MODEL_NAME,
                "--threads",
                str(settings.threads),
                "--max-batch",
                str(settings.max_batch),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=_engine_env(settings.threads),
        )
    process.port = port  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        _stop(process)


def _wait_plain(process: subprocess.Popen[bytes], log: Path) -> str:
    import httpx2

    url = f"http://127.0.0.1:{process.port}"  # type: ignore[attr-defined]
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the plain server exited: {log.read_text()[-2000:]}")
        try:
            if httpx2.get(url + "/healthz", timeout=2).status_code == 200:
                return url
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the plain server did not answer /healthz")


@contextmanager
def _enclave_server(
    config: dict[str, Any], folder: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The service enclave in its own process (``--enclave-child``); it serves until its stdin
    closes."""
    path = folder / "enclave.json"
    path.write_text(json.dumps(config))
    os.chmod(path, 0o600)
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.serving", "--enclave-child", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=_engine_env(config["threads"]),
        )
    try:
        yield process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _stop(process)


def _wait_enclave(process: subprocess.Popen[bytes], log: Path) -> int:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=30)
        raise RuntimeError(f"the service enclave exited: {log.read_text()[-3000:]}")
    return int(json.loads(line)["port"])


def _enclave_child(config_path: str) -> int:
    """Run one ServingEnclave from the config the parent wrote; print its port; serve until stdin
    closes."""
    from eth_account import Account

    from enclava.protocol.service_terms import ServiceTerms
    from trusted_loader.serving import ServingEnclave, ServingSettings

    path = Path(config_path)
    config = json.loads(path.read_text())
    path.unlink()  # it holds the enclave's key
    settings = ServingSettings(
        hosts=("127.0.0.1", "localhost"),
        bind_host="127.0.0.1",
        port=0,
        chain_id=CHAIN_ID,
        service_market=SERVICE_MARKET,
        model_name=MODEL_NAME,
        engine_memory_mb=4096,
        engine_threads=config["threads"],
        engine_args=("--max-batch", str(config["max_batch"])),
        engine_startup_timeout_s=_START_TIMEOUT_S,
        insecure_unsandboxed_engine=not config["sandboxed"],
        scratch_root=config["scratch"],
    )
    terms = ServiceTerms.from_json(config["terms"])
    enclave = ServingEnclave(
        account=Account.from_key(config["enclave_key"]),
        enclave_certificate_pem=config["enclave_pem"],
        terms=terms,
        service_id=terms.service_id,
        model_dir=Path(config["model"]),
        model_hash=terms.model_hash,
        weights_sha256=config["weights_sha256"],
        settings=settings,
    )
    enclave.start()
    profile_out = config.get("profile")
    try:
        if not profile_out:
            enclave.serve_in_thread()
            print(json.dumps({"port": enclave.port}), flush=True)
            sys.stdin.read()  # until the parent closes it
            return 0
        _serve_profiled(enclave, Path(profile_out))
    finally:
        enclave.stop()
    return 0


def _serve_profiled(enclave: Any, out: Path) -> None:
    """Serve in this (main) thread under cProfile; its stats (the proxy's event loop: TLS, auth,
    vouchers, forwarding, hashing, signing) go to ``out``."""
    import cProfile

    server = enclave._server

    def announce_then_wait() -> None:
        while not server.started:
            time.sleep(0.02)
        print(json.dumps({"port": enclave.port}), flush=True)
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=announce_then_wait, daemon=True).start()
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        enclave.serve()
    finally:
        profiler.disable()
        profiler.dump_stats(str(out))


# ------------------------------------------------------------------------------------ load


@dataclass(frozen=True)
class Sample:
    latency_s: float
    ttft_s: float
    completion_tokens: int


@dataclass
class Side:
    """The samples and wall time one side gathered at one concurrency, over every round."""

    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        latencies = sorted(s.latency_s for s in self.samples)
        tokens = sum(s.completion_tokens for s in self.samples)
        return {
            "requests": len(self.samples),
            "completion_tokens": tokens,
            "wall_s": round(self.wall_s, 4),
            "tokens_per_s": round(tokens / self.wall_s, 2) if self.wall_s else 0.0,
            "requests_per_s": round(len(self.samples) / self.wall_s, 3) if self.wall_s else 0.0,
            "latency_p50_s": round(_quantile(latencies, 0.50), 4),
            "latency_p95_s": round(_quantile(latencies, 0.95), 4),
            "ttft_p50_s": round(_quantile(sorted(s.ttft_s for s in self.samples), 0.50), 4),
        }


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (sorted ``values``)."""
    if not values:
        return 0.0
    position = (len(values) - 1) * q
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _request(client: Any, prompt: str, max_tokens: int) -> Sample:
    """One streamed chat completion; the time to its first content token and to its end."""
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    stream = client.chat.completions.create(
        model=MODEL_NAME,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    ended = time.perf_counter()
    if tokens != max_tokens:
        raise RuntimeError(f"the engine returned {tokens} completion tokens, not {max_tokens}")
    return Sample(ended - started, (first or ended) - started, tokens)


def _phase(clients: Sequence[Any], requests_per_client: int, max_tokens: int) -> Side:
    """Every client sends its requests one after another, all clients at once."""
    samples: list[list[Sample]] = [[] for _ in clients]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(clients) + 1)

    def work(index: int) -> None:
        barrier.wait()
        try:
            for n in range(requests_per_client):
                prompt = PROMPTS[(index + n) % len(PROMPTS)]
                samples[index].append(_request(clients[index], prompt, max_tokens))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return Side([s for mine in samples for s in mine], wall)


def _plain_clients(url: str, count: int) -> list[Any]:
    import httpx2
    import openai

    return [
        openai.OpenAI(
            base_url=url + "/v1",
            api_key="plain",
            http_client=httpx2.Client(timeout=300),
            max_retries=0,
        )
        for _ in range(count)
    ]


def _confidential_clients(verified: Any, count: int) -> tuple[list[Any], list[Any]]:
    import httpx2
    import openai
    from eth_account import Account

    from enclava.client.serving import ServiceTransport

    clients, transports = [], []
    for _ in range(count):
        transport = ServiceTransport(verified, Account.create())
        transports.append(transport)
        clients.append(
            openai.OpenAI(
                base_url=verified.endpoint + "/v1",
                api_key=transport.api_key,
                http_client=httpx2.Client(transport=transport, timeout=300),
                max_retries=0,
            )
        )
    return clients, transports


# ------------------------------------------------------------------------------------ costs


def _mean_ms(action: Callable[[], object], runs: int) -> float:
    action()
    started = time.perf_counter()
    for _ in range(runs):
        action()
    return round((time.perf_counter() - started) / runs * 1000, 3)


def _per_request_costs(verified: Any, port: int, runs: int = 10) -> dict[str, Any]:
    """What the confidential path adds to each request, measured one operation at a time in this
    process: the enclave's checks and signature, the client's, and a pinned TLS handshake."""
    from eth_account import Account
    from eth_keys.main import KeyAPI

    from enclava.protocol.serving import (
        Cumulative,
        Receipt,
        bearer_token,
        encode_session_token,
        issue_session_token,
        sha256_hex,
        sign_receipt,
        sign_voucher_envelope,
        verify_receipt_signature,
        verify_session_token,
        verify_voucher_envelope,
    )

    customer, enclave = Account.create(), Account.create()
    terms = verified.terms
    token = issue_session_token(
        customer, service_id=terms.service_id, expires_at=int(time.time()) + 600
    )
    encoded = encode_session_token(token)
    counts = Cumulative(1000, 2000, 3000)

    def voucher() -> Any:
        return sign_voucher_envelope(
            customer,
            terms,
            counts,
            chain_id=verified.chain_id,
            contract=verified.service_market,
        )

    signed_voucher = voucher()
    receipt = sign_receipt(
        enclave,
        Receipt(
            service_id=terms.service_id,
            enclave=enclave.address,
            customer=customer.address,
            sequence=1,
            method="POST",
            path="/v1/chat/completions",
            request_sha256=sha256_hex(b"request"),
            response_sha256=sha256_hex(b"response"),
            model_hash=terms.model_hash,
            prompt_tokens=20,
            completion_tokens=48,
            compute_ms=100,
            cumulative=counts,
            created_at=int(time.time()),
        ),
    )
    context = verified.ssl_context()

    def handshake() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                pass

    enclave_side = {
        "session_token_verify": _mean_ms(
            lambda: verify_session_token(
                bearer_token("Bearer " + encoded), service_id=terms.service_id, now=int(time.time())
            ),
            runs,
        ),
        "voucher_verify": _mean_ms(
            lambda: verify_voucher_envelope(
                signed_voucher, chain_id=verified.chain_id, contract=verified.service_market
            ),
            runs,
        ),
        "receipt_sign": _mean_ms(lambda: sign_receipt(enclave, receipt), runs),
    }
    client_side = {
        "receipt_verify": _mean_ms(
            lambda: verify_receipt_signature(receipt, enclave=enclave.address), runs
        ),
        "voucher_sign": _mean_ms(voucher, runs),
    }
    return {
        "ecdsa_backend": type(KeyAPI().backend).__name__,
        "session_token_bytes": len(encoded),
        "enclave_ms": enclave_side,
        "client_ms": client_side,
        "tls_handshake_ms": _mean_ms(handshake, runs),
        "signatures_ms_per_request": round(
            sum(enclave_side.values()) + sum(client_side.values()), 3
        ),
    }


# ------------------------------------------------------------------------------------ the run


def _ratios(plain: dict[str, Any], confidential: dict[str, Any]) -> dict[str, Any]:
    def ratio(key: str) -> float:
        return round(confidential[key] / plain[key], 4) if plain[key] else 0.0

    ratios = {
        "throughput": ratio("tokens_per_s"),
        "requests_per_s": ratio("requests_per_s"),
        "latency_p50": ratio("latency_p50_s"),
        "latency_p95": ratio("latency_p95_s"),
        "ttft_p50": ratio("ttft_p50_s"),
    }
    ratios["meets_targets"] = bool(
        ratios["throughput"] >= TARGETS["throughput_ratio_min"]
        and ratios["latency_p50"] <= TARGETS["latency_ratio_max"]
        and ratios["latency_p95"] <= TARGETS["latency_ratio_max"]
        and ratios["ttft_p50"] <= TARGETS["ttft_ratio_max"]
    )
    return ratios


def run_serving(
    settings: Settings,
    *,
    log: Callable[[str], None] = print,
    profile: Path | None = None,
    unsandboxed: bool = False,
) -> dict[str, Any]:
    """Start both servers, verify the service, warm every client up, run the alternating rounds."""
    from enclava.client.serving import verify_service

    sandboxed = os.geteuid() == 0 and not unsandboxed
    load_before = round(os.getloadavg()[0], 2)
    most = max(settings.concurrency)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-serving-")))
        os.chmod(tmp, 0o755)
        model, model_hash = _model_copy(tmp / "model")
        identity = _certified_identity(model_hash)
        (tmp / "scratch").mkdir()
        begun = time.perf_counter()
        plain = stack.enter_context(_plain_server(model, settings, tmp / "plain.log"))
        enclave = stack.enter_context(
            _enclave_server(
                {
                    "threads": settings.threads,
                    "max_batch": settings.max_batch,
                    "sandboxed": sandboxed,
                    "scratch": str(tmp / "scratch"),
                    "terms": identity.terms.to_json(),
                    "enclave_key": identity.enclave_key,
                    "enclave_pem": identity.enclave_pem,
                    "model": str(model),
                    "weights_sha256": model_hash,
                    "profile": str(profile / "enclave.prof") if profile else "",
                },
                tmp,
                tmp / "enclave.log",
            )
        )
        plain_url = _wait_plain(plain, tmp / "plain.log")
        port = _wait_enclave(enclave, tmp / "enclave.log")
        log(f"servers up in {time.perf_counter() - begun:.1f} s (sandboxed engine: {sandboxed})")
        verified = verify_service(
            f"https://127.0.0.1:{port}",
            identity.terms.service_id,
            identity.chain,
            ca_certificate_pem=identity.ca_pem,
            ca_signer=identity.chain.ca_signer,
            timeout=30,
        )
        plain_clients = _plain_clients(plain_url, most)
        confidential_clients, transports = _confidential_clients(verified, most)
        for client in (*plain_clients, *confidential_clients):
            stack.callback(client.close)
        warm = settings.max_tokens
        _phase(plain_clients, 1, warm)  # a warm-up request per client, all at once
        _phase(confidential_clients, 1, warm)
        sent = most  # confidential requests so far

        results: dict[str, Any] = {}
        for concurrency in settings.concurrency:
            sides = {"plain": Side(), "confidential": Side()}
            for round_ in range(settings.rounds):
                order = ("plain", "confidential") if round_ % 2 == 0 else ("confidential", "plain")
                for name in order:
                    clients = plain_clients if name == "plain" else confidential_clients
                    got = _phase(
                        clients[:concurrency], settings.requests_per_client, settings.max_tokens
                    )
                    sides[name].samples.extend(got.samples)
                    sides[name].wall_s += got.wall_s
                    if name == "confidential":
                        sent += len(got.samples)
            row = {name: side.summary() for name, side in sides.items()}
            row["ratios"] = _ratios(row["plain"], row["confidential"])
            results[str(concurrency)] = row
            log(
                f"concurrency {concurrency}: throughput ratio {row['ratios']['throughput']:.3f}, "
                f"latency p50 ratio {row['ratios']['latency_p50']:.3f}"
            )
        costs = _per_request_costs(verified, port)
        journal = sum(len(t.journal) for t in transports)
        vouched = sum(t.vouched.output_tokens for t in transports)
    return {
        "benchmark": "serving",
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": MODEL_NAME,
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
            "load_avg_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        },
        "settings": {
            "rounds": settings.rounds,
            "requests_per_client": settings.requests_per_client,
            "max_tokens": settings.max_tokens,
            "engine_threads": settings.threads,
            "max_batch": settings.max_batch,
            "concurrency": list(settings.concurrency),
            "prompts": len(PROMPTS),
            "sandboxed_engine": sandboxed,
        },
        "targets": TARGETS,
        "concurrency": results,
        "per_request_costs": costs,
        "verified": {
            "confidential_requests": sent,
            "journal_entries": journal,
            "vouched_output_tokens": vouched,
        },
    }


def format_table(data: dict[str, Any]) -> str:
    head = (
        f"{'clients':>7} {'side':<12} {'tok/s':>8} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} "
        f"{'ttft s':>7}"
    )
    lines = [head, "-" * len(head)]
    for concurrency, row in data["concurrency"].items():
        for name in ("plain", "confidential"):
            s = row[name]
            lines.append(
                f"{concurrency:>7} {name:<12} {s['tokens_per_s']:>8.1f} "
                f"{s['requests_per_s']:>7.2f} "
                f"{s['latency_p50_s']:>7.3f} {s['latency_p95_s']:>7.3f} {s['ttft_p50_s']:>7.3f}"
            )
        r = row["ratios"]
        lines.append(
            f"{concurrency:>7} {'conf/plain':<12} {r['throughput']:>8.3f} "
            f"{r['requests_per_s']:>7.3f} {r['latency_p50']:>7.3f} {r['latency_p95']:>7.3f} "
            f"{r['ttft_p50']:>7.3f}  {'meets targets' if r['meets_targets'] else 'misses targets'}"
        )
    v = data["verified"]
    lines.append(
        f"confidential responses verified: {v['journal_entries']} of {v['confidential_requests']}"
    )
    c = data["per_request_costs"]
    lines.append(
        f"per request, {c['ecdsa_backend']}: enclave "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in c["enclave_ms"].items())
        + "; client "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in c["client_ms"].items())
        + f"; pinned TLS handshake {c['tls_handshake_ms']:.2f} ms"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few, short requests")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 4)")
    parser.add_argument(
        "--requests", type=int, default=None, help="requests per client per round (default 4)"
    )
    parser.add_argument("--max-tokens", type=int, default=None, help="tokens per answer (48)")
    parser.add_argument("--threads", type=int, default=1, help="engine torch threads (both sides)")
    parser.add_argument("--max-batch", type=int, default=16, help="engine max batch (both sides)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--profile",
        type=Path,
        help="write the enclave's cProfile stats to DIR/enclave.prof",
    )
    parser.add_argument(
        "--unsandboxed",
        action="store_true",
        help="run the enclave's engine outside the sandbox (to separate the sandbox's share)",
    )
    parser.add_argument("--enclave-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.enclave_child:
        return _enclave_child(args.enclave_child)
    quick = (1, 1, 8) if args.quick else (4, 4, 48)
    settings = Settings(
        rounds=args.rounds or quick[0],
        requests_per_client=args.requests or quick[1],
        max_tokens=args.max_tokens or quick[2],
        threads=args.threads,
        max_batch=args.max_batch,
    )
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    data = run_serving(
        settings,
        profile=args.profile.resolve() if args.profile else None,
        unsandboxed=args.unsandboxed,
    )
    data["settings"]["quick"] = bool(args.quick)
    print(format_table(data))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
