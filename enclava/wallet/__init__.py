"""The person's wallet: an encrypted eth-account keystore on disk, the one secret they keep.

Their result-decryption identity is derived from it (:mod:`enclava.crypto.wallet_identity`).
"""

from enclava.wallet.errors import (
    EmptyPassword,
    InvalidKeystore,
    InvalidPrivateKey,
    InvalidWalletName,
    WalletError,
    WalletExists,
    WalletNotFound,
    WrongPassword,
)
from enclava.wallet.keystore import (
    DEFAULT_WALLET,
    WalletInfo,
    create_wallet,
    import_keystore,
    import_private_key,
    list_wallets,
    unlock,
    wallet_info,
    wallet_path,
    wallets_dir,
)

__all__ = [
    "WalletError",
    "WalletNotFound",
    "WalletExists",
    "WrongPassword",
    "InvalidWalletName",
    "InvalidPrivateKey",
    "InvalidKeystore",
    "EmptyPassword",
    "WalletInfo",
    "DEFAULT_WALLET",
    "wallets_dir",
    "wallet_path",
    "list_wallets",
    "create_wallet",
    "import_private_key",
    "import_keystore",
    "unlock",
    "wallet_info",
]
