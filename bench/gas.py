"""Gas per contract function and for a full order lifecycle; prints a table, writes JSON.

    python3 bench/gas.py                     # re-runs itself through brownie on the test chain
    bash scripts/brownie.sh run "$PWD/bench/gas.py" --network anvil     # the same, by hand

Brownie runs scripts by absolute path outside scripts/, hence the re-exec. Writes
bench/results/gas.json (override with ENCLAVA_GAS_OUT). The lifecycle is what one order costs
everyone: create (engine + two customer inputs) + accept + complete + the engine owner's and the
provider's withdrawals, on accounts with no credit yet (the dearest case: every credit is a fresh
storage slot); the customer's unused compute comes back inside completeOrder. A repeat order
between the same parties (payees already credited) is measured too. Gas figures repeat to within a
few units of calldata gas (the signed report carries the run's timestamps, so a signature byte may
be zero in one run and not in the next); nothing here is timed or asserted.

Confidential serving (ServiceMarket) is measured too: pricing, start, enclave binding, a deposit,
the first voucher a customer settles (fresh credit slots), a later one worth a thousand requests
(the same gas as one request's: settlement is O(1)), close, reclaim and withdrawal.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

ROOT = Path(__file__).resolve().parents[1]
TARGET = 300_000
SIMULATED, ENGINE, MODEL, DATASET = 3, 1, 2, 3
MEASUREMENT = b"\xaa" * 32
DURATION = 600

#: brownie ships no type information: its contracts, accounts, chain and transaction receipts are
#: untyped objects at this script's boundary.
BrownieObject = Any


def main() -> dict[str, Any]:
    import warnings

    warnings.filterwarnings("ignore", r"rpc\.\w+ should not be called directly", FutureWarning)
    from brownie import accounts, chain
    from eth_account import Account
    from eth_utils.crypto import keccak

    from scripts.deploy import deploy

    gov, provider, owner, data_owner, customer, relayer, provider2 = (accounts[i] for i in range(7))
    os.environ["ENCLAVA_INSECURE_ALLOW_SIMULATED_TEE"] = "1"  # a throwaway chain, simulated enclave
    manifest = deploy(gov)
    c = _contracts(manifest)
    ca = Account.from_key(keccak(text="bench-ca"))
    enclave = Account.from_key(keccak(text="bench-enclave"))
    owner_key = Account.from_key(keccak(text="bench-owner"))
    gas: dict[str, int] = {}

    def record(name: str, tx: BrownieObject) -> BrownieObject:
        gas[name] = tx.gas_used
        return tx

    # --- governance and attestation
    record("AttestationRegistry.addCaSigner", c.attestation.addCaSigner(ca.address, {"from": gov}))
    record(
        "AttestationRegistry.allowMeasurement",
        c.attestation.allowMeasurement(SIMULATED, MEASUREMENT, {"from": gov}),
    )
    cert = {
        "enclave": enclave.address,
        "teeType": SIMULATED,
        "measurement": MEASUREMENT,
        "provider": provider.address,
        "expiresAt": chain.time() + 86400,
        "nonce": keccak(text="bench-ca-nonce"),
        # the offer below promises an H100, so only an enclave certified with one may complete it
        "gpuClass": b"H100".ljust(32, b"\0"),
        "gpuCount": 1,
    }
    consent = {"enclave": enclave.address, "provider": provider.address, "nonce": cert["nonce"]}
    record(
        "AttestationRegistry.registerEnclave",
        c.attestation.registerEnclave(
            tuple(cert.values()),
            _sign(ca, "EnclaveCertificate", c.attestation, cert),
            _sign(_wallet(provider), "EnclaveConsent", c.attestation, consent),
            {"from": relayer},
        ),
    )

    # --- providers and TEE offers
    record("ProviderRegistry.register", c.providers.register({"from": provider, "value": 10**18}))
    record("ProviderRegistry.addStake", c.providers.addStake({"from": provider, "value": 10**17}))
    offer = record(
        "ProviderRegistry.publishTeeOffer",
        c.providers.publishTeeOffer(
            SIMULATED, b"H100".ljust(32, b"\0"), 10**12, 4, {"from": provider}
        ),
    ).return_value
    record(
        "ProviderRegistry.updateTeeOffer",
        c.providers.updateTeeOffer(offer, 10**12, 4, True, {"from": provider}),
    )

    # --- resources, directly and through a relayer
    engine = record(
        "ResourceRegistry.listResource",
        c.resources.listResource(_listing(ENGINE, b"engine", 10**15), {"from": owner}),
    ).return_value
    model = c.resources.listResource(
        _listing(MODEL, b"model", 2 * 10**15), {"from": owner}
    ).return_value
    dataset = c.resources.listResource(
        _listing(DATASET, b"dataset", 3 * 10**15), {"from": data_owner}
    ).return_value
    record(
        "ResourceRegistry.updateResource",
        c.resources.updateResource(
            model, ("bafy-model-2", _sha(b"model"), 2 * 10**15, "bafy-meta", True), {"from": owner}
        ),
    )
    deadline = chain.time() + 3600
    item = _listing(DATASET, b"signed", 10**15)
    message = {
        "owner": owner_key.address,
        "kind": item[0],
        "cid": item[1],
        "contentHash": item[2],
        "price": item[3],
        "metadataCid": item[4],
        "nonce": 0,
        "deadline": deadline,
    }
    signed = record(
        "ResourceRegistry.listResourceBySig",
        c.resources.listResourceBySig(
            owner_key.address,
            item,
            deadline,
            _sign(owner_key, "ListResource", c.resources, message),
            {"from": relayer},
        ),
    ).return_value
    update = ("bafy-signed-2", _sha(b"signed-2"), 2 * 10**15, "bafy-meta", True)
    message = {
        "resourceId": signed,
        "cid": update[0],
        "contentHash": update[1],
        "price": update[2],
        "metadataCid": update[3],
        "active": True,
        "nonce": 1,
        "deadline": deadline,
    }
    record(
        "ResourceRegistry.updateResourceBySig",
        c.resources.updateResourceBySig(
            signed,
            update,
            deadline,
            _sign(owner_key, "UpdateResource", c.resources, message),
            {"from": relayer},
        ),
    )
    message = {"resourceId": signed, "nonce": 2, "deadline": deadline}
    record(
        "ResourceRegistry.retireResourceBySig",
        c.resources.retireResourceBySig(
            signed,
            deadline,
            _sign(owner_key, "RetireResource", c.resources, message),
            {"from": relayer},
        ),
    )
    spare = c.resources.listResource(_listing(MODEL, b"spare", 1), {"from": owner}).return_value
    record("ResourceRegistry.retireResource", c.resources.retireResource(spare, {"from": owner}))

    # --- the lifecycle, on accounts with no credit yet
    inputs = [("bafy-input-0", _sha(b"input-0")), ("bafy-input-1", _sha(b"input-1"))]
    create = _create(c, customer, engine, [], offer, inputs)
    accept = c.marketplace.acceptOrder(create.events["OrderCreated"]["orderId"], {"from": provider})
    complete = _complete(c, create, enclave, relayer, chain, used=DURATION // 2)
    # A second order between the same parties before anyone withdraws: the steady state of a busy
    # market, where the owner's and provider's credit slots are already in use.
    again = _create(c, customer, engine, [], offer, inputs)
    again_accept = c.marketplace.acceptOrder(
        again.events["OrderCreated"]["orderId"], {"from": provider}
    )
    again_complete = _complete(c, again, enclave, relayer, chain, used=DURATION // 2)
    owner_withdraw = c.marketplace.withdraw({"from": owner})
    provider_withdraw = c.marketplace.withdraw({"from": provider})
    steps: dict[str, int] = {
        "createOrder (engine + 2 inputs)": create.gas_used,
        "acceptOrder": accept.gas_used,
        "completeOrder": complete.gas_used,
        "withdraw (engine owner)": owner_withdraw.gas_used,
        "withdraw (provider)": provider_withdraw.gas_used,
    }
    repeat: dict[str, int] = {
        "createOrder": again.gas_used,
        "acceptOrder": again_accept.gas_used,
        "completeOrder (payees already credited)": again_complete.gas_used,
    }
    gas.update(
        {
            "Marketplace.createOrder (engine + 2 inputs)": create.gas_used,
            "Marketplace.acceptOrder": accept.gas_used,
            "Marketplace.completeOrder (2 fresh credits + refund sent)": complete.gas_used,
            "Marketplace.completeOrder (payees already credited)": again_complete.gas_used,
            "Marketplace.withdraw": owner_withdraw.gas_used,
        }
    )

    # --- a bigger order: engine + model + dataset, two inputs
    big = _create(c, customer, engine, [model, dataset], offer, inputs)
    record("Marketplace.createOrder (engine + model + dataset + 2 inputs)", big)
    c.marketplace.acceptOrder(big.events["OrderCreated"]["orderId"], {"from": provider})
    record(
        "Marketplace.completeOrder (engine + model + dataset)",
        _complete(c, big, enclave, relayer, chain, used=DURATION // 2),
    )

    # --- confidential serving, while the provider is bonded and its enclave valid (before the
    # slash and the revocation below)
    serving = _serving(c, manifest, owner, provider, customer, relayer, model, offer, enclave)
    gas.update(serving)

    # --- the other endings
    cancel = _create(c, customer, engine, [], offer, inputs)
    record("Marketplace.cancelOrder", c.marketplace.cancelOrder(_terms(cancel), {"from": customer}))
    failed = _create(c, customer, engine, [], offer, inputs)
    c.marketplace.acceptOrder(failed.events["OrderCreated"]["orderId"], {"from": provider})
    failure = {
        "orderId": bytes(failed.events["OrderCreated"]["orderId"]),
        "enclave": enclave.address,
        "reasonCode": 1,
        # a failure detail CID (CIDv1, raw leaves) of the usual length
        "detailCid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
    }
    record(
        "Marketplace.failOrder",
        c.marketplace.failOrder(
            _terms(failed),
            tuple(failure.values()),
            _sign(enclave, "OrderFailure", c.marketplace, failure),
            {"from": relayer},
        ),
    )
    late = _create(c, customer, engine, [], offer, inputs)
    c.marketplace.acceptOrder(late.events["OrderCreated"]["orderId"], {"from": provider})
    chain.sleep(DURATION + 3600 + 1)
    record(
        "Marketplace.timeoutOrder (with slash)",
        c.marketplace.timeoutOrder(_terms(late), {"from": relayer}),
    )

    # --- revocation and unbonding
    record(
        "AttestationRegistry.revokeEnclave",
        c.attestation.revokeEnclave(enclave.address, {"from": gov}),
    )
    record(
        "AttestationRegistry.revokeMeasurement",
        c.attestation.revokeMeasurement(SIMULATED, MEASUREMENT, {"from": gov}),
    )
    record("ProviderRegistry.retireTeeOffer", c.providers.retireTeeOffer(offer, {"from": provider}))
    c.providers.register({"from": provider2, "value": 10**18})
    record("ProviderRegistry.requestUnbonding", c.providers.requestUnbonding({"from": provider2}))
    chain.sleep(7 * 24 * 3600 + 1)
    record("ProviderRegistry.withdrawStake", c.providers.withdrawStake({"from": provider2}))

    total = sum(steps.values())
    result: dict[str, Any] = {
        "chain_id": chain.id,
        "functions": gas,
        "lifecycle": {
            "steps": steps,
            "total": total,
            "target": TARGET,
            "under_target": total < TARGET,
            "customer_refund": "sent with completeOrder (no withdrawal)",
        },
        "repeat_order": {"steps": repeat, "total": sum(repeat.values())},
        "serving": serving,
    }
    _print_table(gas, steps, total, repeat)
    out = Path(os.environ.get("ENCLAVA_GAS_OUT", ROOT / "bench" / "results" / "gas.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {out}")
    return result


@dataclass(frozen=True)
class _Contracts:
    """The deployed set, as brownie contract objects."""

    providers: BrownieObject
    resources: BrownieObject
    attestation: BrownieObject
    marketplace: BrownieObject
    service_market: BrownieObject


def _contracts(manifest: dict[str, Any]) -> _Contracts:
    from brownie import (
        AttestationRegistry,
        Marketplace,
        ProviderRegistry,
        ResourceRegistry,
        ServiceMarket,
    )

    return _Contracts(
        providers=ProviderRegistry.at(manifest["contracts"]["ProviderRegistry"]),
        resources=ResourceRegistry.at(manifest["contracts"]["ResourceRegistry"]),
        attestation=AttestationRegistry.at(manifest["contracts"]["AttestationRegistry"]),
        marketplace=Marketplace.at(manifest["contracts"]["Marketplace"]),
        service_market=ServiceMarket.at(manifest["contracts"]["ServiceMarket"]),
    )


def _serving(
    c: _Contracts,
    manifest: dict[str, Any],
    owner: BrownieObject,
    provider: BrownieObject,
    customer: BrownieObject,
    relayer: BrownieObject,
    model: int,
    offer: int,
    enclave: LocalAccount,
) -> dict[str, int]:
    """Gas of ServiceMarket's calls: a service of ``model`` on ``offer``, one customer."""
    from brownie import chain

    from enclava.protocol.service_terms import ServiceTerms, sign_voucher, voucher_for

    sm = c.service_market
    gas: dict[str, int] = {}
    prices = (3 * 10**9, 7 * 10**9)
    tx = sm.setTokenPrices(model, *prices, {"from": owner})
    gas["ServiceMarket.setTokenPrices"] = tx.gas_used
    tx = sm.setServingPrice(offer, False, 10**12, {"from": provider})
    gas["ServiceMarket.setServingPrice"] = tx.gas_used
    model_owner, _, _, _, content_hash = c.resources.resourceTerms(model)
    terms = ServiceTerms(
        nonce=0,
        provider=provider.address,
        tee_offer_id=offer,
        tee_type=SIMULATED,
        model_id=model,
        model_owner=str(model_owner),
        model_hash="0x" + bytes(content_hash).hex(),
        input_token_price=prices[0],
        output_token_price=prices[1],
        provider_per_token=False,
        provider_price=10**12,
        ends_at=chain.time() + 30 * 86400,
    )
    start = sm.startService(terms.to_abi(), {"from": provider})
    gas["ServiceMarket.startService"] = start.gas_used
    stored = ServiceTerms.from_abi(tuple(start.events["ServiceStarted"]["terms"]))
    tx = sm.bindEnclave(stored.to_abi(), enclave.address, {"from": provider})
    gas["ServiceMarket.bindEnclave"] = tx.gas_used
    tx = sm.setEndpoint(stored.to_abi(), "https://provider.example:8443", {"from": provider})
    gas["ServiceMarket.setEndpoint"] = tx.gas_used
    tx = sm.deposit(stored.service_id, {"from": customer, "value": 10**17})
    gas["ServiceMarket.deposit"] = tx.gas_used
    signer = _wallet(customer)

    def settle(counts: tuple[int, int, int]) -> int:
        voucher = voucher_for(stored, customer.address, *counts)
        signature = sign_voucher(signer, voucher, chain_id=chain.id, contract=sm.address)
        return int(
            sm.settle(stored.to_abi(), voucher.to_abi(), signature, {"from": relayer}).gas_used
        )

    prompt, completion, compute_ms = 180, 60, 450  # one request
    for label, requests in (
        ("first voucher, fresh credits", 1),
        ("later voucher, 2 requests in all", 2),
        ("later voucher, 1,000 requests in all", 1_000),
    ):
        counts = (requests * prompt, requests * completion, requests * compute_ms)
        gas[f"ServiceMarket.settle ({label})"] = settle(counts)
    gas["ServiceMarket.requestClose"] = sm.requestClose(
        stored.service_id, {"from": customer}
    ).gas_used
    chain.sleep(int(manifest["parameters"]["close_notice"]) + 1)
    gas["ServiceMarket.reclaim"] = sm.reclaim(stored.service_id, {"from": customer}).gas_used
    gas["ServiceMarket.withdraw"] = sm.withdraw({"from": owner}).gas_used
    return gas


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _listing(kind: int, content: bytes, price: int) -> tuple[int, str, bytes, int, str]:
    return (kind, f"bafy-{content.decode()}", _sha(content), price, "bafy-meta")


def _create(
    c: _Contracts,
    customer: BrownieObject,
    engine: int,
    resources: list[int],
    offer: int,
    inputs: list[tuple[str, bytes]],
) -> BrownieObject:
    price = c.providers.getTeeOffer(offer)["pricePerSecond"] * DURATION
    value = price + sum(c.resources.resourceTerms(r)[3] for r in [engine, *resources])
    return c.marketplace.createOrder(
        engine, resources, offer, inputs, b"\x02" * 33, DURATION, {"from": customer, "value": value}
    )


def _terms(create_tx: BrownieObject) -> tuple[Any, ...]:
    t = create_tx.events["OrderCreated"]["terms"]
    return (*t[:10], [tuple(p) for p in t[10]])


def _complete(
    c: _Contracts,
    create_tx: BrownieObject,
    enclave: LocalAccount,
    relayer: BrownieObject,
    chain: BrownieObject,
    used: int,
) -> BrownieObject:
    """Completes the order with a run of `used` seconds from its acceptance (time is moved on
    first)."""
    terms = _terms(create_tx)
    order_id = create_tx.events["OrderCreated"]["orderId"]
    started = c.marketplace.orderState(order_id)["acceptedAt"]
    chain.sleep(used)
    chain.mine()
    report = {
        "orderId": bytes(create_tx.events["OrderCreated"]["orderId"]),
        "engineHash": bytes(terms[7]),
        "inputsHash": bytes(terms[8]),
        "outputHash": _sha(b"result"),
        "outputCid": "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        "teeType": SIMULATED,
        "measurement": MEASUREMENT,
        "enclave": enclave.address,
        "startedAt": started,
        "finishedAt": started + used,
    }
    signature = _sign(enclave, "IntegrityReport", c.marketplace, report)
    return c.marketplace.completeOrder(terms, tuple(report.values()), signature, {"from": relayer})


def _wallet(account: BrownieObject) -> LocalAccount:
    """The eth-account signer of one of brownie's anvil accounts (anvil's default mnemonic)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    for i in range(20):
        wallet: LocalAccount = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}")
        if wallet.address == account.address:
            return wallet
    raise LookupError(f"{account.address} is not one of anvil's default accounts")


def _sign(
    signer: LocalAccount, primary: str, contract: BrownieObject, message: dict[str, Any]
) -> bytes:
    from brownie import chain
    from eth_account.messages import encode_typed_data

    from enclava.protocol.eip712 import typed_data

    full = typed_data(primary, message, chain_id=chain.id, contract=contract.address)
    return bytes(signer.sign_message(encode_typed_data(full_message=full)).signature)


def _print_table(
    gas: dict[str, int], steps: dict[str, int], total: int, repeat: dict[str, int]
) -> None:
    width = max(len(k) for k in [*gas, *steps, *repeat]) + 2
    print(f"\n{'function':<{width}}{'gas':>10}")
    print("-" * (width + 10))
    for name, used in gas.items():
        print(f"{name:<{width}}{used:>10,}")
    print(f"\n{'lifecycle step':<{width}}{'gas':>10}")
    print("-" * (width + 10))
    for name, used in steps.items():
        print(f"{name:<{width}}{used:>10,}")
    print("-" * (width + 10))
    verdict = "under" if total < TARGET else "OVER"
    print(f"{'lifecycle total':<{width}}{total:>10,}   ({verdict} the {TARGET:,} target)")
    print(f"\n{'repeat order, same parties':<{width}}{'gas':>10}")
    print("-" * (width + 10))
    for name, used in repeat.items():
        print(f"{name:<{width}}{used:>10,}")
    print(f"{'create + accept + complete':<{width}}{sum(repeat.values()):>10,}")


if __name__ == "__main__":
    command = [
        "bash",
        str(ROOT / "scripts" / "brownie.sh"),
        "run",
        str(Path(__file__).resolve()),
        "--network",
        "anvil",
    ]
    sys.exit(subprocess.call(command + sys.argv[1:], cwd=ROOT))
