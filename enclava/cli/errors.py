"""The command line's own errors: a command's arguments or the state it meets, refused with a hint.

EnclavaError
├── ConfigError                  (``enclava.errors``) a path or an option is wrong
│   ├── FileMissing              no file at the path given (--input, --weights, the dataset)
│   ├── FileInvalid              the file is there but is not what the command reads
│   ├── EngineFolderMissing      no engine folder at the path given
│   ├── EngineFolderInvalid      the folder is not a valid engine (engine.toml, archive)
│   ├── TeeInvalid               a TEE family name the chain does not know
│   ├── EnginesMissing           a dataset listed without the engines that may read it
│   ├── ResourceNotFound         no resource with this id on this chain
│   ├── ResultMissing            the result ciphertext is not in the folder given
│   ├── ArchiveUnwritable        the measured archive cannot be written
│   ├── FheModeUnknown           an FHE decryption mode other than enclave / customer
│   ├── FheHeadUnknown           the FHE manifest names no head weights for the split
│   ├── FheOrderUnknown          this key session placed no such FHE order
│   └── CommandUnavailable       a subcommand's module cannot be imported (a broken install)
├── PriceInvalid                 not a price in wei, gwei or ETH, or above 2^96 wei
├── PolicyInvalid                the key-policy options or file are refused
├── NotAnEngine                  the resource id names something other than an engine
├── TeeOfferUnavailable          the TEE offer is withdrawn or unknown
├── InsufficientFunds            the wallet holds less than the escrow
├── OrderDeclined                the user did not confirm the payment (nothing was paid)
├── NotYourOrder                 the order belongs to another wallet
├── OrderRunning                 an accepted order cannot be cancelled before its deadline
├── OrderFinished                the order already ended: nothing to cancel
├── NothingToWithdraw            the marketplace holds no credit for this wallet
├── NotADevnet                   `devnet fund` on a network that is not a local devnet
├── AddressInvalid               not an account address (0x and 40 hex digits) nor a wallet name
├── FaucetEmpty                  the devnet's faucet account holds less than the amount asked
└── GasUnaffordable              the wallet cannot pay the gas of the transaction it would send
"""

from __future__ import annotations

from enclava.errors import ConfigError, EnclavaError

__all__ = [
    "FileMissing",
    "FileInvalid",
    "EngineFolderMissing",
    "EngineFolderInvalid",
    "TeeInvalid",
    "EnginesMissing",
    "ResourceNotFound",
    "ResultMissing",
    "ArchiveUnwritable",
    "FheModeUnknown",
    "FheHeadUnknown",
    "FheOrderUnknown",
    "CommandUnavailable",
    "PriceInvalid",
    "PolicyInvalid",
    "NotAnEngine",
    "TeeOfferUnavailable",
    "InsufficientFunds",
    "OrderDeclined",
    "NotYourOrder",
    "OrderRunning",
    "OrderFinished",
    "NothingToWithdraw",
    "NotADevnet",
    "AddressInvalid",
    "FaucetEmpty",
    "GasUnaffordable",
]


class FileMissing(ConfigError):
    code = "file_missing"
    hint = "Check the path."


class FileInvalid(ConfigError):
    code = "file_invalid"
    hint = "Save the images with numpy.save (one [N, 28, 28] array, values in [0, 1])."


class EngineFolderMissing(ConfigError):
    code = "engine_dir_missing"
    hint = "Give the folder that holds engine.toml (e.g. engines/digits_classifier)."


class EngineFolderInvalid(ConfigError):
    code = "engine_invalid"
    hint = "The folder must hold a valid engine.toml and the files it names."


class TeeInvalid(ConfigError):
    code = "tee_invalid"
    hint = "Use a TEE family the chain knows."


class EnginesMissing(ConfigError):
    code = "engines_missing"
    hint = "Pass --engine ID (repeat), or a --policy file with allowed_engine_hashes."


class ResourceNotFound(ConfigError):
    code = "resource_not_found"
    hint = "Check the id in the catalogue (`enclava model publish` prints it)."


class ResultMissing(ConfigError):
    code = "result_missing"
    hint = "Download it first with `enclava order result ORDER --out DIR`."


class ArchiveUnwritable(ConfigError):
    code = "archive_unwritable"
    hint = "Name a file in a folder you can write to."


class FheModeUnknown(ConfigError):
    code = "fhe_mode_unknown"
    hint = "Use --mode enclave or --mode customer."


class FheHeadUnknown(ConfigError):
    code = "fhe_head_unknown"
    hint = "Pass --head with the head weights' resource id."


class FheOrderUnknown(ConfigError):
    code = "fhe_order_unknown"
    hint = "Use the key session (--session) whose `fhe order` placed it."


class PriceInvalid(EnclavaError):
    code = "price_invalid"
    hint = (
        "Give a price in wei (e.g. 3000000000000000), gwei (e.g. 3000000gwei) or ETH (e.g. "
        "0.003eth)."
    )


class PolicyInvalid(EnclavaError):
    code = "policy_invalid"
    hint = (
        "Give --policy FILE with a JSON key policy (allowed_engine_hashes, allowed_customers, ...) "
        "or --allow-any-customer."
    )


class NotAnEngine(EnclavaError):
    code = "not_an_engine"
    hint = "Pass the resource id `enclava model publish` printed for the engine."


class TeeOfferUnavailable(EnclavaError):
    code = "tee_offer_unavailable"
    hint = "Pick an active TEE offer (the marketplace lists them: GET /v1/tee-offers)."


class InsufficientFunds(EnclavaError):
    code = "insufficient_funds"
    hint = "Fund the wallet, or lower --max-duration."


class OrderDeclined(EnclavaError):
    code = "order_declined"
    hint = "Nothing was paid. Run the command again and answer yes, or pass --yes."


class NotYourOrder(EnclavaError):
    code = "not_your_order"
    hint = "Use the wallet that placed the order (--wallet NAME)."


class OrderRunning(EnclavaError):
    code = "order_running"
    hint = "Wait for it, or cancel after its deadline for a refund."


class OrderFinished(EnclavaError):
    code = "order_finished"
    hint = "Nothing to cancel; its refund went to your wallet (or see `enclava balance show`)."


class NothingToWithdraw(EnclavaError):
    code = "nothing_to_withdraw"
    hint = (
        "Credits come from payouts to model/data owners and providers; a customer's refunds go "
        "straight to the wallet. See `enclava balance show`."
    )


class NotADevnet(EnclavaError):
    code = "not_a_devnet"
    hint = (
        "`enclava devnet fund` only hands out the local devnet's test ETH (chain id 31337, "
        "started by `enclava devnet up`); on another network send ETH to the address from a "
        "funded wallet."
    )


class AddressInvalid(EnclavaError):
    code = "address_invalid"
    hint = "Give an address (0x and 40 hex digits) or the name of one of your wallets."


class FaucetEmpty(EnclavaError):
    code = "faucet_empty"
    hint = "Ask for less, or restart the devnet (`enclava devnet down`, then `enclava devnet up`)."


class GasUnaffordable(EnclavaError):
    code = "gas_unaffordable"
    hint = (
        "Send the wallet some ETH for gas: on the devnet `enclava devnet fund ADDRESS`; elsewhere "
        "a transfer from a funded wallet."
    )


class CommandUnavailable(ConfigError):
    code = "command_unavailable"
    hint = "Reinstall Enclava with its dependencies (`pip install -e .`)."
