"""Enclava's wire protocol: what every party must agree on, byte for byte.

This layer imports nothing above it (no service, no HTTP; only ``enclava.errors``), so the
enclave, the CA, the provider, the client and any auditor build and check the very same bytes
with the very same functions. The package itself imports nothing: callers import the module they
need, so an engine archive can carry one module (``canonical``) without the rest.

- :mod:`.canonical`    ``canonical_json``: what is hashed or signed is serialized by it first
- :mod:`.eip191`       ``personal_sign`` over canonical bytes, and its recovery
- :mod:`.ids`          typed ids: ``ResourceId``, ``TeeOfferId``, ``OrderId``
- :mod:`.tee`          the one ``TeeType`` and its names
- :mod:`.eip712`       the table of every EIP-712 message the contracts hash, and its builder
- :mod:`.order`        order terms and id, inputs, ``IntegrityReport`` / ``OrderFailure`` and their
                       EIP-712 signing, ``OrderStatus``
- :mod:`.consent`      the provider's EIP-712 consent to an enclave
- :mod:`.csr`          the enclave's certificate request and its on-chain address
- :mod:`.broker`       key deposits and audit reads: requests, signed messages, builders
- :mod:`.audit`        the CA's hash-chained audit log as owners see and verify it
- :mod:`.key_release`  the enclave's signed, single-use key-release request, the CA's signed
                       answer, and the one check that the answer's keys are the order's
- :mod:`.loader_api`   the narrow interface between a provider's machine and its trusted loader
- :mod:`.failure_detail`  a failed order's detail (reason, message, engine stderr), for the
                       customer only
- :mod:`.engine`       the engine runtime contract: manifest, canonical archive, reasons, seed
"""
