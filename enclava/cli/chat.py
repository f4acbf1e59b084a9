"""`enclava chat SERVICE_ID`: talk to a confidential service, every answer verified.

Before anything is sent, the service is verified (docs/SERVING.md, "The client"): the attested CA,
then the enclave's statement against the chain (``verify_service``); a refusal is the guard's typed
error and hint, and nothing leaves the client. Then the official ``openai`` client talks to the
endpoint through :class:`~enclava.client.serving.ServiceTransport` (TLS pinned inside the enclave,
each receipt checked, vouchers signed only for what receipts show). After each answer a one-line
receipt summary is printed; ``--save-dir`` keeps each exchange for `enclava service verify`.

The latest voucher is kept under ``$ENCLAVA_HOME/serving/vouchers/`` so that the next session
continues the cumulative counts, and it is sent before the command exits.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from enclava.cli.context import DevnetOption, ManifestOption, WalletOption, network, unlock_wallet
from enclava.console import friendly_errors
from enclava.errors import EnclavaError

if TYPE_CHECKING:
    import openai
    from eth_account.signers.local import LocalAccount

    from enclava.cli.context import CliContext
    from enclava.client.serving import ServiceTransport, VerifiedService
    from enclava.protocol.serving import SignedVoucher

__all__ = [
    "chat_command",
    "ChatSession",
    "ServiceAnswerRefused",
    "voucher_file",
    "load_voucher",
    "store_voucher",
]

err_console = Console(stderr=True, highlight=False)

_QUIT = frozenset({"/quit", "/exit", "/q"})


class ServiceAnswerRefused(EnclavaError):
    """The enclave answered with an HTTP error (no answer, nothing to verify, nothing charged)."""

    code = "service_answer_refused"
    hint = (
        "Check your deposit (`enclava service account SERVICE_ID`, `enclava service deposit`) "
        "and the service's state (`enclava service show SERVICE_ID`)."
    )


# ---------------------------------------------------------------- the last voucher, kept


def voucher_file(chain_id: int, service_id: str, customer: str) -> Path:
    from enclava.paths import user_home

    name = f"{int(chain_id)}-{service_id.lower()}-{customer.lower()}.json"
    return user_home() / "serving" / "vouchers" / name


def load_voucher(path: Path, *, service_id: str, customer: str) -> SignedVoucher | None:
    """The voucher kept at ``path`` if it is one for this service and customer, else None."""
    from enclava.protocol.serving import SignedVoucher

    if not path.is_file():
        return None
    try:
        voucher = SignedVoucher.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, EnclavaError):
        err_console.print(f"[yellow]note[/]: ignoring an unreadable voucher file {path}")
        return None
    v = voucher.voucher
    if v.service_id.lower() != service_id.lower() or v.customer.lower() != customer.lower():
        return None
    return voucher


def store_voucher(path: Path, voucher: SignedVoucher) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(voucher.to_json(), sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


# ---------------------------------------------------------------- one conversation


@dataclass
class ChatSession:
    """A conversation with one verified service: history, receipts, saved exchanges."""

    service: VerifiedService
    customer: LocalAccount
    last_voucher: SignedVoucher | None = None
    stream: bool = True
    max_tokens: int = 128
    system: str | None = None
    save_dir: Path | None = None
    messages: list[dict[str, str]] = field(default_factory=list[dict[str, str]])
    saved: list[Path] = field(default_factory=list[Path])
    _client: openai.OpenAI | None = field(default=None, repr=False)
    _transport: ServiceTransport | None = field(default=None, repr=False)
    _sent: int = 0  # journal entries whose voucher the enclave has received

    def __post_init__(self) -> None:
        import httpx2
        import openai

        from enclava.client.serving import ServiceTransport

        transport = ServiceTransport(self.service, self.customer, last_voucher=self.last_voucher)
        self._transport = transport
        self._client = openai.OpenAI(
            base_url=self.service.endpoint + "/v1",
            api_key=transport.api_key,
            http_client=httpx2.Client(transport=transport, timeout=300),
            max_retries=0,
        )
        if self.system:
            self.messages.append({"role": "system", "content": self.system})
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)

    @property
    def transport(self) -> ServiceTransport:
        assert self._transport is not None
        return self._transport

    @property
    def client(self) -> openai.OpenAI:
        assert self._client is not None
        return self._client

    @property
    def model(self) -> str:
        return self.service.statement.model_name

    def ask(self, text: str) -> str:
        """Send ``text`` with the history, print the answer as it arrives, then its receipt line.

        A refused answer raises its typed error (and the history keeps neither message)."""
        before = self._vouched_amount()
        messages: Any = [*self.messages, {"role": "user", "content": text}]
        self.client.api_key = self.transport.api_key  # renewed when close to its expiry
        with _answer_errors():
            if self.stream:
                answer = self._streamed(messages)
            else:
                reply = self.client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=self.max_tokens
                )
                answer = (reply.choices[0].message.content or "") if reply.choices else ""
                sys.stdout.write(_printable(answer) + "\n")
                sys.stdout.flush()
        self._sent = len(self.transport.journal) - 1  # this request carried the previous voucher
        self.messages += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer},
        ]
        self._receipt_line(before)
        return answer

    def _streamed(self, messages: Any) -> str:
        parts: list[str] = []
        try:
            for chunk in self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=self.max_tokens, stream=True
            ):
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    parts.append(delta)
                    sys.stdout.write(_printable(delta))
                    sys.stdout.flush()
        except EnclavaError:
            sys.stdout.write("\n")
            err_console.print("[bold red]the text above is not verified: discard it[/]")
            raise
        sys.stdout.write("\n")
        sys.stdout.flush()
        return "".join(parts)

    def _vouched_amount(self) -> int:
        latest = self.transport.latest_voucher
        return 0 if latest is None else int(latest.voucher.amount)

    def _receipt_line(self, before: int) -> None:
        exchange = self.transport.journal[-1]
        r = exchange.receipt
        total = self._vouched_amount()
        line = (
            f"receipt #{r.sequence} verified (enclave {r.enclave[:10]}…): {r.prompt_tokens} "
            f"prompt + {r.completion_tokens} completion tokens, {r.compute_ms} ms, cost "
            f"{total - before} wei (vouched so far {total} wei)"
        )
        if self.save_dir is not None:
            from enclava.client.serving import save_response

            path = save_response(exchange, self.save_dir / f"response-{r.sequence:05d}.json")
            self.saved.append(path)
            line += f"; saved {path}"
        err_console.print(f"[dim]{line}[/]")

    def finish(self) -> SignedVoucher | None:
        """Send the latest voucher (carried by a ``/v1/models`` request) and close; returns it."""
        try:
            if self.transport.journal and self._sent < len(self.transport.journal):
                with _answer_errors():
                    self.client.api_key = self.transport.api_key
                    self.client.models.list()
                self._sent = len(self.transport.journal) - 1
        finally:
            self.client.close()
        return self.transport.latest_voucher


@contextmanager
def _answer_errors() -> Iterator[None]:
    """The ``openai`` client's errors as typed ones (the transport's own pass through)."""
    import openai

    from enclava.client.serving import ServiceUnreachable

    try:
        yield
    except openai.APIStatusError as exc:
        raise ServiceAnswerRefused(
            f"the service answered HTTP {exc.status_code}: {_short(exc.message)}"
        ) from None
    except openai.APIConnectionError as exc:
        raise ServiceUnreachable(f"cannot reach the service: {_short(str(exc))}") from None


def _printable(text: str) -> str:
    """``text`` with control characters (terminal escapes) shown as escapes, not obeyed."""
    return "".join(
        c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" if ord(c) < 256 else "\ufffd"
        for c in text
    )


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------- verification


def verify_on_chain(
    ctx: CliContext, service_id: str, *, insecure_allow_simulated_tee: bool
) -> VerifiedService:
    """The attested CA (its evidence against the chain's allow-list), then every guard of
    ``verify_service`` on the endpoint the provider published. Sends nothing secret."""
    from enclava.ca_link.chain_ca import connect_chain_ca
    from enclava.chain.services import service_id_bytes
    from enclava.cli.service import ServiceNoEndpoint, services_of
    from enclava.client.serving import OnChainServiceView, verify_service

    service_id = "0x" + service_id_bytes(service_id).hex()
    services = services_of(ctx)
    services.terms(service_id)  # an unknown service is service_not_found, with its hint
    endpoint = services.endpoint(service_id)
    if not endpoint:
        raise ServiceNoEndpoint(f"service {service_id} has no published endpoint")
    ca = connect_chain_ca(
        ctx.service_url("ca"),
        services.contracts,
        insecure_allow_simulated_tee=insecure_allow_simulated_tee,
    )
    try:
        return verify_service(
            endpoint,
            service_id,
            OnChainServiceView(ctx.market),
            ca_certificate_pem=ca.identity.ca_certificate_pem,
            ca_signer=ca.signer_address,
            insecure_allow_simulated_tee=insecure_allow_simulated_tee,
        )
    finally:
        ca.close()


# ---------------------------------------------------------------- the command


def chat_command(
    service_id: str = typer.Argument(..., help="0x + 64 hex digits (see `enclava service list`)"),
    message: str | None = typer.Option(
        None, "--message", "-m", help="Ask this one question and exit (else: interactive)."
    ),
    system: str | None = typer.Option(None, "--system", help="A system message to start with."),
    max_tokens: int = typer.Option(128, "--max-tokens", min=1, help="Most tokens per answer."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for whole answers."),
    save_dir: Path | None = typer.Option(
        None, "--save-dir", file_okay=False, help="Save each exchange here (for service verify)."
    ),
    insecure_allow_simulated_tee: bool = typer.Option(
        False,
        "--insecure-allow-simulated-tee",
        help="Accept a simulated TEE (a development devnet only: it protects nothing).",
    ),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Chat with a confidential service: verified before anything is sent, every answer signed."""
    _chat(
        service_id,
        message=message,
        system=system,
        max_tokens=max_tokens,
        stream=not no_stream,
        save_dir=save_dir,
        insecure_allow_simulated_tee=insecure_allow_simulated_tee,
        wallet=wallet,
        devnet=devnet,
        manifest=manifest,
    )


@friendly_errors
def _chat(
    service_id: str,
    *,
    message: str | None,
    system: str | None,
    max_tokens: int,
    stream: bool,
    save_dir: Path | None,
    insecure_allow_simulated_tee: bool,
    wallet: str,
    devnet: str,
    manifest: Path | None,
) -> None:
    from enclava.cli.context import eth
    from enclava.cli.service import services_of

    ctx = network(devnet, manifest)
    try:
        verified = verify_on_chain(
            ctx, service_id, insecure_allow_simulated_tee=insecure_allow_simulated_tee
        )
        statement = verified.statement
        err_console.print(
            f"[green]service verified[/]: enclave {statement.enclave}, model "
            f"{statement.model_name} ({statement.model_hash}), TLS pinned inside the enclave"
        )
        account = unlock_wallet(wallet)
        balance = services_of(ctx).account(verified.service_id, account.address).balance
        err_console.print(f"your deposit for the service: {eth(balance)}")
        kept = voucher_file(verified.chain_id, verified.service_id, account.address)
        session = ChatSession(
            verified,
            account,
            last_voucher=load_voucher(
                kept, service_id=verified.service_id, customer=account.address
            ),
            stream=stream,
            max_tokens=max_tokens,
            system=system,
            save_dir=save_dir,
        )
        try:
            if message is not None:
                session.ask(message)
            else:
                _repl(session)
        except BaseException:
            # nothing more goes to a service that was refused (or left): keep what was vouched
            latest = session.transport.latest_voucher
            session.client.close()
            if latest is not None:
                store_voucher(kept, latest)
            raise
        try:
            session.finish()
        finally:
            latest = session.transport.latest_voucher
            if latest is not None:
                store_voucher(kept, latest)
    finally:
        ctx.close()
    if latest is not None:
        typer.echo(f"vouched_wei={latest.voucher.amount}")


def _repl(session: ChatSession) -> None:
    """Ask line by line until ``/quit`` or the end of input (the prompt goes to stderr, so that
    stdout holds only the answers)."""
    err_console.print("type a message; /quit (or end of input) leaves")
    while True:
        err_console.print("[bold]you>[/] ", end="")
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            line = ""
        if not line:
            err_console.print()
            return
        text = line.strip()
        if not text:
            continue
        if text in _QUIT:
            return
        session.ask(text)
