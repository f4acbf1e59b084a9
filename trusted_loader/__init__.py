"""The trusted loader: runs inside the provider's confidential VM and executes one order."""
