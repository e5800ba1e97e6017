"""One registry per kind: unknown names are refused with every registered one, a config brought with an entry
becomes a group option, and every YAML option of a registry-backed group has its entry (and the other way round)."""

import pytest
from hydra.core.config_store import ConfigStore

from iguln.config.groups import options
from iguln.core.errors import ConfigError
from iguln.core.loggers import LOGGERS
from iguln.core.registry import Registry
from iguln.data.masks import TASKS
from iguln.data.sources import SOURCES
from iguln.data.split import SPLITS
from iguln.metrics.catalogue import METRICS, table_metrics
from iguln.metrics.choice import BACKBONES
from iguln.models.families import FAMILIES
from iguln.report.paper import row_order
from iguln.unlearn.losses import LOSSES
from tests.conftest import compose_config


def test_an_unknown_name_lists_what_is_registered():
    registry = Registry("widget", "widget.name", group="widget")
    registry.register("b", 2)
    registry.register("a", 1)
    assert registry.names() == ["b", "a"] and registry.get("a") == 1 and "a" in registry and len(registry) == 2
    with pytest.raises(ConfigError, match=r"widget.name='c' is not valid\. Allowed: a, b\. Pick one with widget=NAME"):
        registry.get("c")
    with pytest.raises(ValueError, match="registered already"):
        registry.register("a", 3)


def test_a_config_brought_with_an_entry_is_a_group_option_until_unregistered():
    registry = Registry("widget", "widget.name", group="loss")
    registry.register("tiny_widget", object(), config={"alpha": 0.5})
    try:
        assert "tiny_widget" in options("loss")
        assert ConfigStore.instance().repo["loss"]["tiny_widget.yaml"].node == {"name": "tiny_widget", "alpha": 0.5}
        assert compose_config("train", ["loss=tiny_widget"]).loss.alpha == 0.5
    finally:
        registry.unregister("tiny_widget")
    assert "tiny_widget" not in options("loss") and "tiny_widget" not in registry


@pytest.mark.parametrize(
    ("group", "registry"),
    [("loss", LOSSES), ("model", FAMILIES), ("task", TASKS), ("logger", LOGGERS), ("split", SPLITS)],
)
def test_every_option_of_a_registry_backed_group_has_its_entry(group, registry):
    assert set(options(group)) == set(registry.names())
    for option in options(group):
        assert compose_config("train", [f"{group}={option}"])[group].name == option


def test_every_data_set_names_a_registered_source():
    for option in options("data"):
        data = compose_config("train", [f"data={option}"]).data
        assert data.source in SOURCES


def test_the_paper_rows_and_columns_come_from_the_registries():
    assert row_order() == [
        "Original",
        "MAX LOSS",
        "MAX LOSS (proxy retain)",
        "NOISY LABEL",
        "NOISY LABEL (proxy retain)",
        "RETAIN LABEL",
        "RETAIN LABEL (proxy retain)",
        "RANDOM ENCODER",
        "RANDOM ENCODER (proxy retain)",
        "Ours",
        "Ours (proxy retain)",
        "Retrain",
        "Retrain (proxy retain)",
    ]
    assert [m.name for m in table_metrics()] == ["fid", "is", "clip"] and "lpips" in METRICS
    assert [(m.arrow("forget"), m.arrow("retain")) for m in table_metrics()] == [("↑", "↓"), ("↓", "↑"), ("↓", "↑")]
    assert BACKBONES.names() == ["domain", "inception", "clip", "places365"]
