"""ResourceRegistry: listing, updating and retiring resources, directly and by the owner's EIP-712
signature through a relayer (nonce and deadline replay protection)."""

import pytest
from support import DATASET, ENGINE, MODEL, new_key, reverts, sha256, sign

NONE_KIND = 0
DEADLINE_IN = 3600


def listing(kind=MODEL, content=b"weights", price=5, meta="bafy-meta"):
    return (kind, f"bafy-{content.hex()}", sha256(content), price, meta)


def update(content=b"weights-v2", price=9, meta="bafy-meta-2", active=True):
    return (f"bafy-{content.hex()}", sha256(content), price, meta, active)


@pytest.fixture
def resource(resources, model_owner):
    return resources.listResource(listing(), {"from": model_owner}).return_value


@pytest.fixture(scope="module")
def owner_key():
    """A model owner who only signs; the relayer sends every transaction."""
    return new_key("model-owner")


@pytest.fixture(scope="module")
def other_key():
    return new_key("someone-else")


@pytest.fixture
def signed_resource(resources, owner_key, relayer, chain):
    item = listing()
    deadline = chain.time() + DEADLINE_IN
    signature = sign(
        owner_key, "ListResource", resources, list_message(owner_key, item, 0, deadline)
    )
    return resources.listResourceBySig(
        owner_key.address, item, deadline, signature, {"from": relayer}
    ).return_value


def list_message(owner, item, nonce, deadline):
    kind, cid, content_hash, price, meta = item
    return {
        "owner": owner.address,
        "kind": kind,
        "cid": cid,
        "contentHash": content_hash,
        "price": price,
        "metadataCid": meta,
        "nonce": nonce,
        "deadline": deadline,
    }


def update_message(resource_id, item, nonce, deadline):
    cid, content_hash, price, meta, active = item
    return {
        "resourceId": resource_id,
        "cid": cid,
        "contentHash": content_hash,
        "price": price,
        "metadataCid": meta,
        "active": active,
        "nonce": nonce,
        "deadline": deadline,
    }


def test_list_resource_records_every_field(resources, model_owner):
    tx = resources.listResource(listing(kind=ENGINE, price=7), {"from": model_owner})
    resource_id = tx.return_value
    assert resource_id == 1 and resources.resourceCount() == 1
    event = tx.events["ResourceListed"]
    assert event["owner"] == model_owner and event["kind"] == ENGINE and event["price"] == 7
    r = resources.getResource(resource_id)
    assert r["owner"] == model_owner and r["kind"] == ENGINE and r["active"] and not r["retired"]
    assert r["cid"] == f"bafy-{b'weights'.hex()}" and bytes(r["contentHash"]) == sha256(b"weights")
    assert r["metadataCid"] == "bafy-meta" and r["price"] == 7


@pytest.mark.parametrize(
    "item, error",
    [
        (listing(kind=NONE_KIND), "ResourceInvalidKind"),
        ((MODEL, "", sha256(b"x"), 1, ""), "ResourceEmptyCid"),
        ((MODEL, "bafy", b"\0" * 32, 1, ""), "ResourceZeroContentHash"),
    ],
)
def test_list_invalid_resource_reverts(resources, model_owner, item, error):
    with reverts(error):
        resources.listResource(item, {"from": model_owner})


def test_update_resource_changes_content_price_and_flag(resources, resource, model_owner):
    tx = resources.updateResource(resource, update(price=11, active=False), {"from": model_owner})
    assert tx.events["ResourceUpdated"]["price"] == 11
    r = resources.getResource(resource)
    assert r["price"] == 11 and not r["active"] and bytes(r["contentHash"]) == sha256(b"weights-v2")


def test_update_resource_of_another_owner_reverts(resources, resource, stranger):
    with reverts("ResourceNotOwner"):
        resources.updateResource(resource, update(), {"from": stranger})


def test_update_unknown_resource_reverts(resources, model_owner):
    with reverts("ResourceUnknown"):
        resources.updateResource(77, update(), {"from": model_owner})


def test_update_resource_to_empty_cid_reverts(resources, resource, model_owner):
    with reverts("ResourceEmptyCid"):
        resources.updateResource(resource, ("", sha256(b"x"), 1, "", True), {"from": model_owner})


def test_retire_resource_is_final(resources, resource, model_owner):
    tx = resources.retireResource(resource, {"from": model_owner})
    assert tx.events["ResourceRetired"]["resourceId"] == resource
    r = resources.getResource(resource)
    assert r["retired"] and not r["active"]
    with reverts("ResourceAlreadyRetired"):
        resources.updateResource(resource, update(), {"from": model_owner})
    with reverts("ResourceAlreadyRetired"):
        resources.retireResource(resource, {"from": model_owner})


def test_get_unknown_resource_reverts(resources):
    with reverts("ResourceUnknown"):
        resources.getResource(5)


def test_resource_terms_of_unknown_resource_are_zero(resources):
    owner, kind, active, price, content_hash = resources.resourceTerms(5)
    assert kind == NONE_KIND and not active and price == 0


def test_relayer_lists_with_the_owners_signature(resources, owner_key, relayer, chain):
    item = listing(kind=DATASET)
    deadline = chain.time() + DEADLINE_IN
    signature = sign(
        owner_key, "ListResource", resources, list_message(owner_key, item, 0, deadline)
    )
    tx = resources.listResourceBySig(
        owner_key.address, item, deadline, signature, {"from": relayer}
    )
    assert tx.events["ResourceListed"]["owner"] == owner_key.address
    assert tx.events["NonceUsed"]["nonce"] == 0
    assert resources.getResource(tx.return_value)["owner"] == owner_key.address
    assert resources.nonces(owner_key.address) == 1


def test_listing_signature_replay_reverts(resources, owner_key, relayer, chain):
    item = listing()
    deadline = chain.time() + DEADLINE_IN
    signature = sign(
        owner_key, "ListResource", resources, list_message(owner_key, item, 0, deadline)
    )
    resources.listResourceBySig(owner_key.address, item, deadline, signature, {"from": relayer})
    with reverts("ResourceInvalidSignature"):
        resources.listResourceBySig(owner_key.address, item, deadline, signature, {"from": relayer})


def test_listing_signature_after_deadline_reverts(resources, owner_key, relayer, chain):
    item = listing()
    deadline = chain.time() + 10
    signature = sign(
        owner_key, "ListResource", resources, list_message(owner_key, item, 0, deadline)
    )
    chain.sleep(60)
    chain.mine()
    with reverts("ResourceSignatureExpired"):
        resources.listResourceBySig(owner_key.address, item, deadline, signature, {"from": relayer})


def test_listing_signed_by_someone_else_reverts(resources, owner_key, other_key, relayer, chain):
    item = listing()
    deadline = chain.time() + DEADLINE_IN
    signature = sign(
        other_key, "ListResource", resources, list_message(owner_key, item, 0, deadline)
    )
    with reverts("ResourceInvalidSignature"):
        resources.listResourceBySig(owner_key.address, item, deadline, signature, {"from": relayer})


def test_listing_for_the_zero_owner_reverts(resources, relayer, chain):
    with reverts("ResourceZeroOwner"):
        resources.listResourceBySig(
            "0x" + "00" * 20, listing(), chain.time() + 60, b"", {"from": relayer}
        )


def test_relayer_updates_with_the_owners_signature(
    resources, signed_resource, owner_key, relayer, chain
):
    item = update(price=42, active=False)
    deadline = chain.time() + DEADLINE_IN
    signature = sign(
        owner_key, "UpdateResource", resources, update_message(signed_resource, item, 1, deadline)
    )
    resources.updateResourceBySig(signed_resource, item, deadline, signature, {"from": relayer})
    assert resources.getResource(signed_resource)["price"] == 42
    with reverts("ResourceInvalidSignature"):
        resources.updateResourceBySig(signed_resource, item, deadline, signature, {"from": relayer})


def test_update_signed_by_someone_else_reverts(
    resources, signed_resource, other_key, relayer, chain
):
    item = update()
    deadline = chain.time() + DEADLINE_IN
    signature = sign(
        other_key, "UpdateResource", resources, update_message(signed_resource, item, 1, deadline)
    )
    with reverts("ResourceInvalidSignature"):
        resources.updateResourceBySig(signed_resource, item, deadline, signature, {"from": relayer})


def test_update_signature_of_unknown_resource_reverts(resources, relayer, chain):
    with reverts("ResourceUnknown"):
        resources.updateResourceBySig(99, update(), chain.time() + 60, b"", {"from": relayer})


def test_relayer_retires_with_the_owners_signature(
    resources, signed_resource, owner_key, relayer, chain
):
    deadline = chain.time() + DEADLINE_IN
    message = {"resourceId": signed_resource, "nonce": 1, "deadline": deadline}
    signature = sign(owner_key, "RetireResource", resources, message)
    tx = resources.retireResourceBySig(signed_resource, deadline, signature, {"from": relayer})
    assert tx.events["ResourceRetired"]["resourceId"] == signed_resource
    with reverts("ResourceAlreadyRetired"):
        resources.retireResourceBySig(signed_resource, deadline, signature, {"from": relayer})


def test_retire_signature_after_deadline_reverts(
    resources, signed_resource, owner_key, relayer, chain
):
    deadline = chain.time() + 10
    message = {"resourceId": signed_resource, "nonce": 1, "deadline": deadline}
    signature = sign(owner_key, "RetireResource", resources, message)
    chain.sleep(60)
    chain.mine()
    with reverts("ResourceSignatureExpired"):
        resources.retireResourceBySig(signed_resource, deadline, signature, {"from": relayer})
