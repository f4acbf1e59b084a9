"""The EIP-712 table matches the contracts: every type hash string and domain name in
contracts/*.sol is the table's, and the builder's message hashes with eth-account. (The contract
tests sign through the same builder and check the contracts recover it.)"""

from __future__ import annotations

import re
from pathlib import Path

from eth_account.messages import _hash_eip191_message, encode_typed_data

from enclava.protocol import eip712

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
TYPEHASH = re.compile(r'keccak256\(\s*"(\w+)\(([^)]*)\)"\s*\)')
DOMAIN = re.compile(r'EIP712\(\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\)')


def _contract_messages() -> dict[str, tuple[str, str, str]]:
    """primary type -> (domain name, version, member list) as each contract declares them."""
    found: dict[str, tuple[str, str, str]] = {}
    for sol in sorted(CONTRACTS.glob("*.sol")):
        text = sol.read_text()
        domains = DOMAIN.findall(text)
        for primary, members in TYPEHASH.findall(text):
            assert len(domains) == 1, f"{sol.name} hashes {primary} but declares {domains}"
            found[primary] = (*domains[0], members)
    return found


def test_the_table_is_every_message_the_contracts_hash():
    declared = _contract_messages()
    assert set(declared) == set(eip712.MESSAGES)
    for primary, (name, version, members) in declared.items():
        entry = eip712.MESSAGES[primary]
        assert (entry.domain, eip712.VERSION) == (name, version), primary
        assert ",".join(f"{t} {n}" for n, t in entry.fields) == members, primary


def test_typed_data_is_the_contract_domain_and_hashes():
    contract = "0x" + "ab" * 20
    message = {
        "orderId": b"\x01" * 32,
        "enclave": "0x" + "cd" * 20,
        "reasonCode": 7,
        "detailCid": "bafy-detail",
    }
    typed = eip712.typed_data("OrderFailure", message, chain_id=31337, contract=contract)
    assert typed["primaryType"] == "OrderFailure"
    assert typed["domain"] == {
        "name": "Enclava Marketplace",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB",
    }
    assert typed["types"]["EIP712Domain"] == [
        {"name": n, "type": t} for n, t in eip712.DOMAIN_FIELDS
    ]
    assert typed["message"] is message
    assert eip712.field_names("OrderFailure") == ("orderId", "enclave", "reasonCode", "detailCid")
    assert len(_hash_eip191_message(encode_typed_data(full_message=typed))) == 32
