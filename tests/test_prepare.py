"""Text preparation: POS tags are computed once per caption set and read back identically."""
import pytest

from taco.text import prepare
from taco.text.pos import tag_captions


def test_tags_are_cached_and_equal_fresh_tags(tmp_path, monkeypatch):
    captions = ["add the chopped tomatoes to the pan and stir", "a man is riding a bike"]
    first = prepare.cached_tags(captions, tmp_path)
    assert first == dict(zip(captions, tag_captions(captions)))

    def refuse(*args, **kwargs):
        raise AssertionError("tags should come from the cache")

    monkeypatch.setattr(prepare, "tag_captions", refuse)
    assert prepare.cached_tags(captions, tmp_path) == first
    with pytest.raises(AssertionError, match="from the cache"):
        prepare.cached_tags(captions + ["slice an onion"], tmp_path)
