import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.data.split import choose_classes, make_split, pretrain_indices, resolve_classes, select_images
from tests.conftest import compose_config

NAMES = ["tshirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"]
TRAIN = torch.arange(10).repeat_interleave(30)  # 30 train images per class
TEST = torch.arange(10).repeat_interleave(12)


def split_cfg(*overrides):
    return compose_config("train", list(overrides)).split


def test_names_and_indices_resolve_ignoring_case_and_punctuation():
    assert resolve_classes(["Trouser", "ANKLE BOOT", 2], NAMES, "split.forget") == [1, 9, 2]
    assert resolve_classes(["T-shirt/top"], NAMES, "split.forget") == [0]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["scarf"], "'scarf'.*Allowed: tshirt_top"),
        ([10], "class indices 0..9"),
        ([], "at least one class"),
        (["bag", "Bag"], "each class once"),
        (None, "a list of class names"),
    ],
)
def test_bad_class_lists_name_key_value_and_allowed(values, message):
    with pytest.raises(ConfigError, match=message) as err:
        resolve_classes(values, NAMES, "split.forget")
    assert str(err.value).startswith("split.forget=")


def test_overlapping_forget_and_retain_is_refused():
    cfg = split_cfg("split.forget=[bag,coat]", "split.retain=[coat,dress]")
    with pytest.raises(ConfigError, match=r"split.retain=\['coat'\].*not in split.forget"):
        choose_classes(cfg, NAMES)


def test_default_split_of_fashion_mnist():
    classes = choose_classes(split_cfg(), NAMES)
    assert [NAMES[c] for c in classes["forget"]] == ["trouser", "bag"]
    assert len(classes["retain"]) == 8 and not set(classes["forget"]) & set(classes["retain"])


def test_random_split_is_seeded_disjoint_and_sized():
    a = choose_classes(split_cfg("split=random", "split.k=3", "seed=1"), NAMES)
    b = choose_classes(split_cfg("split=random", "split.k=3", "seed=1"), NAMES)
    c = choose_classes(split_cfg("split=random", "split.k=3", "seed=2"), NAMES)
    assert a == b and a != c
    assert len(a["forget"]) == len(a["retain"]) == 3 and not set(a["forget"]) & set(a["retain"])


def test_random_split_k_too_large():
    with pytest.raises(ConfigError, match="split.k=6.*1 to 5"):
        choose_classes(split_cfg("split=random", "split.k=6"), NAMES)


def test_image_choice_is_per_class_seeded_and_within_the_class():
    chosen = select_images(TRAIN, [1, 8], 5, seed=0, key="k", names=NAMES)
    assert len(chosen) == 10 and set(TRAIN[chosen].tolist()) == {1, 8}
    assert chosen == select_images(TRAIN, [1, 8], 5, seed=0, key="k", names=NAMES)
    assert chosen != select_images(TRAIN, [1, 8], 5, seed=1, key="k", names=NAMES)


def test_more_images_per_class_than_exist():
    cfg = split_cfg("split.unlearn_per_class=30", "split.eval_per_class=13")
    with pytest.raises(ConfigError, match="split.eval_per_class=13.*at most 12"):
        make_split(cfg, NAMES, TRAIN, TEST)


@pytest.mark.parametrize("value", [0, -3, "many"])
def test_bad_per_class_counts(value):
    with pytest.raises(ConfigError, match="split.unlearn_per_class"):
        make_split(split_cfg(f"split.unlearn_per_class={value}"), NAMES, TRAIN, TEST)


def test_split_record_names_classes_and_indices():
    split = make_split(split_cfg("split.unlearn_per_class=4", "split.eval_per_class=3"), NAMES, TRAIN, TEST)
    record = split.record(NAMES)
    assert record["forget"]["classes"] == ["trouser", "bag"]
    assert len(record["forget"]["unlearn_indices"]) == 8 and len(record["retain"]["eval_indices"]) == 24
    assert set(TEST[record["forget"]["eval_indices"]].tolist()) == {1, 8}
    assert len(pretrain_indices(TRAIN, [1, 8])) == 60
