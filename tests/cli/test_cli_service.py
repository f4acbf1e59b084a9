"""`enclava service verify` and the conversation of `enclava chat`, without a chain: a saved
response from the client's test-only fake enclave (tests/client/test_serving_fake_enclave.py,
real TLS and real signatures) verifies offline, a tampered one is refused with its code and hint;
a chat session keeps its history, prints a receipt line per answer, saves each exchange, sends its
last voucher before it ends, and the next session continues from the kept voucher."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner, Result

from enclava.cli.chat import ChatSession, _repl, load_voucher, store_voucher, voucher_file
from enclava.cli.main import app
from enclava.client.serving import VerifiedService, verify_service
from enclava.protocol.serving import Cumulative
from tests.client.test_serving_fake_enclave import Served, make_ca, serve

CUSTOMER = Account.from_key("0x" + "c7" * 32)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = serve(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def service(served: Served) -> VerifiedService:
    return verify_service(
        served.enclave.url,
        served.enclave.terms.service_id,
        served.chain,
        ca_certificate_pem=served.ca.pem,
        timeout=10,
    )


def _run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def _saved(service: VerifiedService, folder: Path, *, stream: bool = False) -> Path:
    session = ChatSession(service, CUSTOMER, stream=stream, save_dir=folder)
    session.ask("What is a list?")
    session.finish()
    (path,) = session.saved
    return path


@pytest.mark.parametrize("stream", [False, True])
def test_a_saved_response_verifies_and_says_what_verified(
    served: Served, service: VerifiedService, tmp_path: Path, stream: bool
) -> None:
    path = _saved(service, tmp_path / "saved", stream=stream)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(served.ca.pem)
    result = _run("service", "verify", path, "--ca-certificate", ca_file)
    assert result.exit_code == 0, result.output
    assert "verified=true" in result.stdout and "sequence=1" in result.stdout
    for value in (service.service_id, service.enclave, service.statement.model_hash, "4 prompt"):
        assert value in result.stdout
    assert "chains to the CA given" in result.stdout
    assert ("(stream)" in result.stdout) is stream


def test_a_tampered_saved_response_is_refused_with_its_code_and_hint(
    service: VerifiedService, tmp_path: Path
) -> None:
    path = _saved(service, tmp_path / "saved")
    document = json.loads(path.read_text())
    raw = bytearray(base64.b64decode(document["response_b64"]))
    raw[len(raw) // 2] ^= 0x20
    document["response_b64"] = base64.b64encode(bytes(raw)).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    result = _run("service", "verify", tampered)
    assert result.exit_code == 1
    assert "verified=false" in result.stdout and "verified=true" not in result.stdout
    assert "receipt_response_mismatch" in result.output and "hint" in result.output
    assert "Traceback" not in result.output


def test_a_response_from_an_enclave_another_ca_certified_is_refused(
    service: VerifiedService, tmp_path: Path
) -> None:
    path = _saved(service, tmp_path / "saved")
    rogue = tmp_path / "rogue.pem"
    rogue.write_text(make_ca("Rogue CA").pem)
    result = _run("service", "verify", path, "--ca-certificate", rogue)
    assert result.exit_code == 1 and "enclave_certificate_refused" in result.output
    other = Account.create().address
    result = _run("service", "verify", path, "--customer", other)
    assert result.exit_code == 1 and "receipt_customer_mismatch" in result.output


def test_what_is_not_a_saved_response_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    result = _run("service", "verify", junk)
    assert result.exit_code == 1 and "saved_response_invalid" in result.output
    result = _run("service", "verify", junk, "--ca-certificate", tmp_path / "none.pem")
    assert result.exit_code == 1 and "ca_certificate_missing" in result.output


def test_a_chat_keeps_its_history_and_sends_its_last_voucher(
    served: Served, service: VerifiedService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = ChatSession(service, CUSTOMER, stream=True, system="Be brief.", save_dir=tmp_path)
    assert session.ask("What is a list?") == "hello there"
    assert session.ask("And a tuple?") == "hello there"
    out = capsys.readouterr()
    assert out.out.count("hello there") == 2  # streamed as it arrived
    assert "receipt #1 verified" in out.err and "receipt #2 verified" in out.err
    terms = service.terms
    first_cost = 4 * terms.input_token_price + 2 * terms.output_token_price + 6 * 2
    assert f"cost {first_cost} wei" in out.err
    second = json.loads(served.enclave.bodies[1])
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][2]["content"] == "hello there"
    assert len(session.saved) == 2 and all(p.is_file() for p in session.saved)

    latest = session.finish()
    assert latest is not None
    # the voucher for both answers reached the enclave with the closing /v1/models request
    assert served.enclave.vouchers[-1].voucher.input_tokens == 8
    assert served.enclave.bodies[-1] == b""
    assert Cumulative.of_voucher(latest.voucher) == served.enclave.receipts[-1].cumulative


def test_the_next_session_continues_from_the_kept_voucher(
    served: Served, service: VerifiedService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENCLAVA_HOME", str(tmp_path / "home"))
    kept = voucher_file(service.chain_id, service.service_id, CUSTOMER.address)
    assert load_voucher(kept, service_id=service.service_id, customer=CUSTOMER.address) is None
    first = ChatSession(service, CUSTOMER, stream=False)
    first.ask("one")
    latest = first.finish()
    assert latest is not None
    store_voucher(kept, latest)
    loaded = load_voucher(kept, service_id=service.service_id, customer=CUSTOMER.address)
    assert loaded == latest
    other = Account.create().address
    assert load_voucher(kept, service_id=service.service_id, customer=other) is None

    second = ChatSession(service, CUSTOMER, stream=False, last_voucher=loaded)
    second.ask("two")
    # its first request carried the kept voucher, and its vouchers continue the counts
    assert served.enclave.vouchers[-1] == latest
    resumed = second.finish()
    assert resumed is not None
    assert Cumulative.of_voucher(resumed.voucher) == served.enclave.receipts[-1].cumulative


def test_the_interactive_loop_asks_until_quit(
    served: Served, service: VerifiedService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("What is a list?\n\n/quit\nnever sent\n"))
    session = ChatSession(service, CUSTOMER, stream=False)
    _repl(session)
    assert [m["content"] for m in session.messages] == ["What is a list?", "hello there"]
    session.finish()


def test_an_answer_cannot_drive_the_terminal() -> None:
    from enclava.cli.chat import _printable

    assert _printable("ok\x1b[2J\n\tdone\x07") == "ok\\x1b[2J\n\tdone\\x07"
