"""Inverse document frequency of tokens of interest (appendix A, Eq. 7), Table 10 and Figure 4 data.

A document is one training caption; word forms are lowercased.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from taco.atomic import write_json
from taco.text.pos import Word, is_token_of_interest, is_word


def document_frequencies(tagged: list[list[Word]]) -> Counter:
    """df(w): the number of captions containing the lowercased word w (punctuation excluded)."""
    frequencies: Counter = Counter()
    for words in tagged:
        frequencies.update({w.lower for w in words if is_word(w)})
    return frequencies


def idf_table(tagged: list[list[Word]], token_type: str) -> dict[str, float]:
    """Eq. 7, idf(w) = log(|D| / (1 + df(w))), clamped at 0, for every word seen as a token of interest.

    D is the list of tagged training captions. A word qualifies when at least one of its
    occurrences is tagged with the token type; its df counts every caption containing the word
    form, whatever its tag there. Without the clamp a word present in every caption would get
    log(|D| / (|D| + 1)) < 0.
    """
    if not tagged:
        raise ValueError("cannot compute idf over an empty caption corpus")
    frequencies = document_frequencies(tagged)
    vocabulary = {w.lower for words in tagged for w in words if is_token_of_interest(w, token_type)}
    return {word: max(0.0, math.log(len(tagged) / (1 + frequencies[word]))) for word in sorted(vocabulary)}


def token_statistics(tagged: list[list[Word]]) -> dict[str, int]:
    """Table 10: distinct lowercased NOUN words, VERB words, and words of any tag (punctuation excluded)."""
    words = [w for caption in tagged for w in caption if is_word(w)]
    return {
        "noun": len({w.lower for w in words if is_token_of_interest(w, "noun")}),
        "verb": len({w.lower for w in words if is_token_of_interest(w, "verb")}),
        "all": len({w.lower for w in words}),
    }


def idf_curve(idf: dict[str, float], pos_words: set[str], n_samples: int) -> list[tuple[str, float]]:
    """Figure 4: the words of ``pos_words`` from rare to frequent (idf descending, ties by word),
    evenly sampled down to ``n_samples`` entries (first and last always kept)."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    ranked = sorted(((w, idf[w]) for w in pos_words if w in idf), key=lambda item: (-item[1], item[0]))
    if len(ranked) <= n_samples:
        return ranked
    if n_samples == 1:
        return ranked[:1]
    step = (len(ranked) - 1) / (n_samples - 1)
    return [ranked[round(i * step)] for i in range(n_samples)]


def save_idf(path: str | Path, table: dict[str, float]) -> None:
    """Write an idf table as JSON atomically (a temporary file in the same folder, then a rename)."""
    write_json(path, table, indent=0, sort_keys=True)


def load_idf(path: str | Path) -> dict[str, float]:
    """Read an idf table written by ``save_idf``; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"idf table '{path}' does not exist")
    try:
        with open(path) as fh:
            table = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"idf table '{path}' is not valid JSON: {err}") from err
    if not isinstance(table, dict):
        raise ValueError(f"idf table '{path}' must be a JSON object of word -> idf, got {type(table).__name__}")
    for word, value in table.items():
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (is_number and math.isfinite(value) and value >= 0):
            raise ValueError(f"idf table '{path}': value of '{word}' must be a finite number >= 0, got {value!r}")
    return {word: float(value) for word, value in table.items()}
