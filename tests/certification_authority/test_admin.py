"""AdminGate: only a configured admin's fresh, unused signature authorises a revocation; every
refusal is in the audit log, and a used request stays used after a restart."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account

from certification_authority.admin import AdminGate, build_revocation_request, parse_admin_addresses
from certification_authority.audit import AuditLog
from certification_authority.broker import SignatureInvalid, SignatureStale, WrongCa
from certification_authority.db import open_database
from certification_authority.errors import (
    AdminNotAuthorized,
    AdminRequestInvalid,
    AdminRequestReplayed,
)
from enclava.errors import ConfigError

NOW = 1_800_000_000
CA_ID = "enclava-ca-test"
ADMIN, OTHER = (Account.from_key(hashlib.sha256(seed).digest()) for seed in (b"admin", b"other"))
ENCLAVE = "0x" + "ab" * 20


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'ca.sqlite'}"


def _gate(db_url, admins=(ADMIN.address,), now=NOW) -> tuple[AdminGate, AuditLog]:
    sessions = open_database(db_url)
    audit = AuditLog(sessions, clock=lambda: now)
    return AdminGate(sessions, audit, admins=admins, ca_id=CA_ID, clock=lambda: now), audit


def _request(account=ADMIN, **changes):
    fields = {
        "kind": "enclave",
        "subject": ENCLAVE,
        "reason": "compromised",
        "issued_at": NOW,
    } | changes
    return build_revocation_request(
        account,
        CA_ID,
        fields["kind"],
        fields["subject"],
        fields["reason"],
        issued_at=fields["issued_at"],
    )


def test_an_admin_request_is_accepted_once_even_across_a_restart(db_url):
    gate, _ = _gate(db_url)
    request = _request()
    assert gate.authorize_revocation(request) == ADMIN.address.lower()
    with pytest.raises(AdminRequestReplayed):
        gate.authorize_revocation(request)
    restarted, audit = _gate(db_url)
    with pytest.raises(AdminRequestReplayed) as caught:
        restarted.authorize_revocation(request)
    assert caught.value.http_status == 401
    assert [e.reason for e in audit.entries()] == ["admin_request_replayed"] * 2
    assert restarted.authorize_revocation(_request(issued_at=NOW + 1)) == ADMIN.address.lower()


@pytest.mark.parametrize(("admins", "signer"), [((ADMIN.address,), OTHER), ((), ADMIN)])
def test_a_signer_who_is_not_an_admin_is_forbidden(db_url, admins, signer):
    gate, audit = _gate(db_url, admins=admins)
    with pytest.raises(AdminNotAuthorized) as caught:
        gate.authorize_revocation(_request(signer))
    assert caught.value.http_status == 403
    (entry,) = audit.entries()
    assert (entry.event, entry.decision, entry.reason) == (
        "revocation",
        "refused",
        "admin_not_authorized",
    )
    assert (
        entry.details["claimed_admin"] == signer.address.lower()
        and entry.details["subject"] == ENCLAVE
    )


def test_stale_wrong_ca_and_forged_requests_are_unauthenticated(db_url):
    gate, audit = _gate(db_url)
    stale = _request(issued_at=NOW - 301)
    wrong_ca = build_revocation_request(ADMIN, "another-ca", "enclave", ENCLAVE, "x", issued_at=NOW)
    forged = _request().model_copy(update={"reason": "edited after signing"})
    claimed = _request(OTHER).model_copy(update={"admin": ADMIN.address.lower()})
    for request, error in (
        (stale, SignatureStale),
        (wrong_ca, WrongCa),
        (forged, SignatureInvalid),
        (claimed, SignatureInvalid),
    ):
        with pytest.raises(error) as caught:
            gate.authorize_revocation(request)
        assert caught.value.http_status == 401
    assert [e.reason for e in audit.entries()] == [
        "signature_stale",
        "wrong_ca",
        "signature_invalid",
        "signature_invalid",
    ]
    assert audit.verify().seq == 4


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"kind": "enclave"}',
        b'{"ca_id": "c", "kind": "everything", "subject": "x", "reason": "r", '
        b'"admin": "0x' + b"11" * 20 + b'", "issued_at": 1, "signature": "0x00"}',
    ],
)
def test_a_malformed_body_is_unauthenticated_and_logged(db_url, body):
    gate, audit = _gate(db_url)
    with pytest.raises(AdminRequestInvalid) as caught:
        gate.parse(body)
    assert (
        caught.value.http_status == 401
        and caught.value.to_dict()["type"] == "admin_request_invalid"
    )
    assert [e.reason for e in audit.entries()] == ["admin_request_invalid"]


def test_a_malformed_subject_cannot_be_signed():
    with pytest.raises(AdminRequestInvalid):
        _request(subject="0x1234")


def test_admin_addresses_are_parsed_and_normalized():
    assert parse_admin_addresses(f" {ADMIN.address}, ,{OTHER.address.lower()} ") == {
        ADMIN.address.lower(),
        OTHER.address.lower(),
    }
    assert parse_admin_addresses("") == frozenset()
    with pytest.raises(ConfigError):
        parse_admin_addresses("0xnot-an-address")
