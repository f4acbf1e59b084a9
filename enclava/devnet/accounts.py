"""The devnet's deterministic funded accounts.

anvil derives them from a public, well-known development mnemonic: they are for the local devnet
only and hold no value anywhere else. Roles get fixed indexes so every tool agrees on who is who.

Index 10 is the faucet: `enclava devnet fund ADDRESS` sends from it and nothing else does. Indexes
11-19 are left to tests (each test folder funds its own wallets from its own index).
"""

from __future__ import annotations

from functools import lru_cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

__all__ = ["DEV_MNEMONIC", "ACCOUNT_COUNT", "ROLES", "dev_account"]

DEV_MNEMONIC = "test test test test test test test test test test test junk"
ACCOUNT_COUNT = 20
ROLES = {
    "deployer": 0,
    "ca": 1,
    "provider": 2,
    "model_owner": 3,
    "customer": 4,
    "hospital_a": 5,
    "hospital_b": 6,
    "hospital_c": 7,
    "relayer": 8,
    "provider_b": 9,
    "faucet": 10,  # `enclava devnet fund`; no service or test signs with it
}


@lru_cache(maxsize=None)
def dev_account(index_or_role: int | str) -> LocalAccount:
    """The devnet account at an index, or by role name (see ``ROLES``)."""
    index = ROLES[index_or_role] if isinstance(index_or_role, str) else index_or_role
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(
        DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"
    )
    return account
