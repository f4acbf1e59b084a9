"""Revert data decoded into the contract's custom error: name, arguments by name, a hint; and web3's
revert exceptions translated into :class:`TransactionReverted` at the chain boundary."""

from __future__ import annotations

import json

import pytest
from eth_abi.abi import encode
from eth_utils.abi import function_abi_to_4byte_selector
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from enclava.chain.errors import ChainRefused, TransactionFailed, TransactionReverted
from enclava.chain.revert import HINTS, decode_revert, known_errors, revert_error
from enclava.chain.rpc import translated
from enclava.paths import project_root


def _data(signature: str, types: list[str], values: list[object]) -> str:
    return "0x" + (keccak(text=signature)[:4] + encode(types, values)).hex()


KIND_MISMATCH = _data("MarketplaceResourceKindMismatch(uint256)", ["uint256"], [3])


def test_every_compiled_error_is_known_by_its_selector():
    table = known_errors()
    for artifact in (project_root() / "build" / "contracts").glob("*.json"):
        for entry in json.loads(artifact.read_text()).get("abi", []):
            if entry.get("type") == "error":
                assert table[function_abi_to_4byte_selector(entry)].name == entry["name"]


def test_custom_error_decodes_with_argument_names():
    decoded = decode_revert(KIND_MISMATCH)
    assert decoded is not None
    assert (decoded.name, decoded.args) == ("MarketplaceResourceKindMismatch", {"resourceId": 3})
    assert str(decoded) == "MarketplaceResourceKindMismatch(resourceId=3)"
    assert decoded.selector == KIND_MISMATCH[:10]


def test_several_arguments_of_other_types_decode_in_order():
    order_id = bytes(range(32))
    data = _data("MarketplaceOrderNotOpen(bytes32,uint8)", ["bytes32", "uint8"], [order_id, 2])
    decoded = decode_revert(bytes.fromhex(data[2:]))  # bytes work as well as hex
    assert decoded is not None and decoded.args == {"orderId": order_id, "status": 2}
    assert str(decoded) == f"MarketplaceOrderNotOpen(orderId=0x{order_id.hex()}, status=2)"
    signer, enclave = "0x" + "ab" * 20, "0x" + "cd" * 20
    signature = "MarketplaceReportSignerMismatch(address,address)"
    mismatch = _data(signature, ["address", "address"], [signer, enclave])
    decoded = decode_revert(mismatch)
    assert decoded is not None and decoded.args == {"signer": signer, "enclave": enclave}


def test_solidity_builtin_reasons_decode():
    text = decode_revert(_data("Error(string)", ["string"], ["not allowed"]))
    assert text is not None and str(text) == "Error(reason='not allowed')"
    panic = decode_revert(_data("Panic(uint256)", ["uint256"], [0x11]))
    assert panic is not None and panic.args == {"code": 0x11} and panic.hint == HINTS["Panic"]


def test_unknown_selector_and_bad_arguments_still_say_what_came_back():
    unknown = decode_revert("0x12345678")
    assert unknown is not None and unknown.name == "unknown error 0x12345678"
    truncated = decode_revert(KIND_MISMATCH[:20])
    assert truncated is not None
    assert truncated.name == "MarketplaceResourceKindMismatch (undecodable arguments)"
    assert decode_revert(None) is None and decode_revert("0x") is None
    assert decode_revert("not hex") is None


def test_without_build_artifacts_only_builtins_are_known(tmp_path):
    assert {e.name for e in known_errors(str(tmp_path)).values()} == {"Error", "Panic"}
    decoded = decode_revert(KIND_MISMATCH, str(tmp_path))
    assert decoded is not None and decoded.name.startswith("unknown error 0x")


def test_revert_error_carries_name_arguments_and_the_errors_hint():
    error = revert_error("createOrder", KIND_MISMATCH)
    assert type(error) is TransactionReverted and isinstance(error, ChainRefused)
    assert error.message == "createOrder reverted: MarketplaceResourceKindMismatch(resourceId=3)"
    assert error.error_name == "MarketplaceResourceKindMismatch"
    assert error.error_args == {"resourceId": 3}
    assert error.hint == HINTS["MarketplaceResourceKindMismatch"]
    mined = revert_error("tx", KIND_MISMATCH, mined=True)
    assert type(mined) is TransactionFailed and mined.error_name == error.error_name


def test_an_error_without_a_hint_of_its_own_gets_the_generic_one():
    data = _data("MarketplaceReportTimesInvalid(uint256,uint256)", ["uint256", "uint256"], [5, 4])
    error = revert_error("completeOrder", data)
    assert error.error_args == {"startedAt": 5, "finishedAt": 4}
    assert "contract rule" in error.hint


def test_no_revert_data_keeps_web3s_words():
    error = revert_error("transaction", None, fallback="execution reverted")
    assert error.message == "transaction reverted: execution reverted"
    assert error.error_name is None and error.error_args == {}


@pytest.mark.parametrize(
    "raised",
    [
        ContractCustomError(KIND_MISMATCH, data=KIND_MISMATCH),
        ContractLogicError("execution reverted", data={"data": KIND_MISMATCH}),
    ],
)
def test_web3_reverts_are_translated_at_the_boundary(raised):
    with pytest.raises(TransactionReverted) as caught:
        with translated("transaction"):
            raise raised
    assert caught.value.error_name == "MarketplaceResourceKindMismatch"
    assert caught.value.error_args == {"resourceId": 3}
    assert caught.value.__cause__ is raised


def test_web3_panic_and_bare_reverts_are_translated():
    panic = _data("Panic(uint256)", ["uint256"], [1])
    with pytest.raises(TransactionReverted) as caught:
        with translated("call"):
            raise ContractPanicError("Panic error 0x01", data=panic)
    assert caught.value.error_name == "Panic" and caught.value.error_args == {"code": 1}
    with pytest.raises(TransactionReverted) as bare:
        with translated("call"):
            raise ContractLogicError("execution reverted", data=None)
    assert bare.value.error_name is None and "execution reverted" in bare.value.message
