"""The certification authority: attestation verification, enclave certificates, key broker."""
