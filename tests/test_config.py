"""Configuration defaults from YAML (factor 3)."""

import pytest

from twelve.core.config import config_hash, load_defaults


def test_sections_are_read_and_copies_are_independent(tmp_path):
    file = tmp_path / "base.yaml"
    file.write_text("split:\n  holdout_month: '2013-12'\n  train_months: ['2013-01']\n")
    split = load_defaults(file, "split")
    split["train_months"].append("mutated")
    assert load_defaults(file, "split") == {"holdout_month": "2013-12", "train_months": ["2013-01"]}


def test_a_missing_section_names_the_file_and_the_section(tmp_path):
    file = tmp_path / "base.yaml"
    file.write_text("split: {}\n")
    with pytest.raises(KeyError, match="training"):
        load_defaults(file, "training")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.yaml"):
        load_defaults(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"months": ["2013-01", "2013-02"]}, {"months": ["2013-02", "2013-01"]}, False),
    ],
)
def test_config_hash_ignores_key_order_only(left, right, same):
    assert (config_hash(left) == config_hash(right)) is same
