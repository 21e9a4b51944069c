"""Per-wordpiece weights of the token-level contrastive loss (paper section 3.3, Eq. 4; appendix A).

Each token of interest of a caption gets its idf (Eq. 7); the idfs of a caption are normalised
to sum to 1, and every BERT wordpiece of a word shares that word's weight. Words are aligned to
wordpieces by character offsets, so the two tokenisations never have to agree.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from taco.text.pos import Word, is_token_of_interest, tag_captions

logger = logging.getLogger("taco.text")


@dataclass(frozen=True)
class TokenizedCaption:
    """A caption as the text encoder sees it, with one token-level loss weight per wordpiece."""

    input_ids: list[int]
    attention_mask: list[int]
    weights: list[float]   # aligned with input_ids; 0 for special tokens and non-interest words
    truncated: bool        # the caption had more than max_length wordpieces (special tokens included)


def word_weights(words: list[Word], idf: dict[str, float], token_type: str) -> list[float]:
    """Normalised idf weight of every word of one caption (appendix A).

    A token of interest gets its idf; a token of interest missing from the table (a word never
    seen as a token of interest in training) gets the table's largest idf, i.e. it is treated as
    rare; every other word gets 0. The weights are then divided by their sum, so they sum to 1,
    unless the sum is 0 (no token of interest, or only idf-0 words): then all weights are 0.
    """
    unseen_idf = max(idf.values(), default=0.0)
    raw = [idf.get(w.lower, unseen_idf) if is_token_of_interest(w, token_type) else 0.0 for w in words]
    total = sum(raw)
    if total <= 0:
        return [0.0] * len(words)
    return [value / total for value in raw]


def wordpiece_weights(
    caption: str, words: list[Word], weights: list[float], tokenizer, max_length: int
) -> TokenizedCaption:
    """Tokenise ``caption`` ([CLS] ... [SEP], truncated to ``max_length``) and give each wordpiece the
    weight of the word whose character span it overlaps (all pieces of a word share it).

    ``words`` are the caption's tagged words (character offsets into ``caption``) and ``weights``
    their weights. A piece overlapping several words (e.g. "can" in "can't", which spaCy splits
    as "ca" + "n't") takes the largest of their weights. Special tokens get 0.
    """
    if len(words) != len(weights):
        raise ValueError(f"{len(words)} words but {len(weights)} weights for caption {caption!r}")
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(f"{type(tokenizer).__name__} gives no character offsets: a fast (Rust) tokenizer is needed")
    encoding = tokenizer(
        caption,
        add_special_tokens=True,
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    full_length = len(tokenizer(caption, add_special_tokens=True)["input_ids"])
    piece_weights = []
    first_word = 0  # pieces and words both run left to right: skip words that end before the piece
    for (start, end), special in zip(encoding["offset_mapping"], encoding["special_tokens_mask"]):
        if special:
            piece_weights.append(0.0)
            continue
        while first_word < len(words) and words[first_word].end <= start:
            first_word += 1
        overlapping = []
        for index in range(first_word, len(words)):
            if words[index].start >= end:
                break
            overlapping.append(weights[index])
        piece_weights.append(max(overlapping, default=0.0))
    return TokenizedCaption(
        input_ids=list(encoding["input_ids"]),
        attention_mask=list(encoding["attention_mask"]),
        weights=piece_weights,
        truncated=full_length > max_length,
    )


def build_token_weights(
    captions: list[str],
    idf: dict[str, float],
    token_type: str,
    tokenizer,
    max_length: int,
    tagged: list[list[Word]] | None = None,
) -> list[TokenizedCaption]:
    """Tokenised captions with per-wordpiece weights for a whole dataset.

    ``tagged`` (from ``tag_captions``) is computed when not given. Weights are normalised over the
    whole caption before truncation, so the kept words of a truncated caption sum to less than 1.
    One warning on logger ``taco.text`` reports how many captions were truncated.
    """
    for index, caption in enumerate(captions):
        if not isinstance(caption, str):
            raise TypeError(f"caption {index} must be a string, got {type(caption).__name__}")
        if not caption.strip():
            raise ValueError(f"caption {index} is empty (got {caption!r}): every caption needs text")
    if tagged is None:
        tagged = tag_captions(captions)
    if len(tagged) != len(captions):
        raise ValueError(f"{len(tagged)} tagged captions for {len(captions)} captions")
    result = [
        wordpiece_weights(caption, words, word_weights(words, idf, token_type), tokenizer, max_length)
        for caption, words in zip(captions, tagged)
    ]
    truncated = sum(item.truncated for item in result)
    if truncated:
        logger.warning(
            "%d of %d captions were truncated to max_length=%d wordpieces; their cut words get no weight",
            truncated, len(result), max_length,
        )
    return result
