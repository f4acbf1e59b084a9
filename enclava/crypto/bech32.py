"""Bech32 (BIP-173) encoding, which age uses for its keys (``age1...``, ``AGE-SECRET-KEY-1...``).

Only encoding is needed here: keys derived in Python are handed to pyrage as strings, and pyrage
parses (and checksums) them itself.
"""

from __future__ import annotations

__all__ = ["bech32_encode"]

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _expand_hrp(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _to_five_bits(data: bytes) -> list[int]:
    acc, bits, out = 0, 0, []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    """``hrp`` + ``1`` + the data in 5-bit groups + a 6-character checksum, all lowercase."""
    hrp = hrp.lower()
    words = _to_five_bits(data)
    polymod = _polymod(_expand_hrp(hrp) + words + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words + checksum)
