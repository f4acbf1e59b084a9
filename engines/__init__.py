"""Reference workloads (engines) that run inside the enclave."""
