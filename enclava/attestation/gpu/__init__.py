"""NVIDIA confidential GPU attestation, verified offline by the CA.

``evidence`` (the wire format), ``spdm`` (the signed measurement report), ``certs`` / ``rim`` /
``ocsp`` (collateral), ``verifier`` (:class:`GpuVerifier`, the one entry point) and ``claims``
(what a verified GPU tells the CA). Imports stay in submodules so importing the package is cheap.
"""
