"""The training text: CPython's pydoc topics, split into training and held-out documents.

``pydoc_data.topics.topics`` maps a topic name (``"for"``, ``"formatstrings"``, ...) to the plain
text of that section of the Python Language Reference, as ``help()`` prints it. It ships with every
CPython, so the model needs no download; its exact text depends on the Python version, which is why
``training.json`` records the version and the SHA-256 of the text.

The split is by topic, fixed by position in the sorted topic names: every tenth topic (positions 5,
15, 25, ...) is held out, about 8 % of the characters. The topics overlap (``compound`` contains
the whole of ``for``, ``specialnames`` the whole of ``customization``), so every paragraph of a
held-out topic is also cut out of the training topics: the model never sees held-out text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pydoc_data.topics import topics as _TOPICS

__all__ = ["Corpus", "load_corpus", "words_of"]

HELD_OUT_EVERY = 10
HELD_OUT_OFFSET = 5
PARAGRAPH = "\n\n"
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Corpus:
    """Topic documents in sorted-name order, split into training and held-out lists."""

    train: tuple[str, ...]
    held_out: tuple[str, ...]
    train_names: tuple[str, ...]
    held_out_names: tuple[str, ...]
    #: SHA-256 (hex) of every topic's text concatenated in sorted-name order
    sha256: str


def load_corpus() -> Corpus:
    """The running interpreter's pydoc topics, split deterministically."""
    names = sorted(_TOPICS)
    held = [n for i, n in enumerate(names) if i % HELD_OUT_EVERY == HELD_OUT_OFFSET]
    kept = [n for n in names if n not in held]
    unseen = {p.strip() for n in held for p in _TOPICS[n].split(PARAGRAPH)}
    unseen.discard("")
    digest = hashlib.sha256("".join(_TOPICS[n] for n in names).encode("utf-8")).hexdigest()
    return Corpus(
        train=tuple(_without(_TOPICS[n], unseen) for n in kept),
        held_out=tuple(_TOPICS[n] for n in held),
        train_names=tuple(kept),
        held_out_names=tuple(held),
        sha256=digest,
    )


def _without(text: str, paragraphs: set[str]) -> str:
    return PARAGRAPH.join(p for p in text.split(PARAGRAPH) if p.strip() not in paragraphs)


def words_of(text: str) -> list[str]:
    """The alphabetic words of ``text``, lower-cased (for the "text, not noise" check)."""
    return [w.lower() for w in _WORD.findall(text)]
