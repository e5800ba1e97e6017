"""Extending iguln: everything a new loss, metric, model family or data source needs, in one import.

    from iguln.extend import Objective, register_loss       # a loss: README, "Extending iguln"
    from iguln.extend import Metric, register_metric        # a metric
    from iguln.extend import Generator, register_family     # a model family
    from iguln.extend import DataSource, register_source    # a data source

A module that registers something is a plug-in: name it in IGULN_PLUGINS (comma-separated) or as an entry point of
the group `iguln.plugins`, and every command imports it first (iguln/core/plugins.py). Registering with `config=`
makes the entry a config group option (`loss=NAME`, `model=NAME`) without a YAML file.
"""

from iguln.data.masks import random_rectangles
from iguln.data.source import ImageSource, InMemorySource
from iguln.data.sources import DataSource, register_source
from iguln.metrics.catalogue import Metric, MetricMissing, Settings, register_metric
from iguln.models.capabilities import draw_probe, forget_features
from iguln.models.families import register_family
from iguln.models.generator import Generator, Stage
from iguln.unlearn.losses import register_loss
from iguln.unlearn.noise import make_noise
from iguln.unlearn.objective import Objective, feature_mse

__all__ = [
    "DataSource",
    "Generator",
    "ImageSource",
    "InMemorySource",
    "Metric",
    "MetricMissing",
    "Objective",
    "Settings",
    "Stage",
    "draw_probe",
    "feature_mse",
    "forget_features",
    "make_noise",
    "random_rectangles",
    "register_family",
    "register_loss",
    "register_metric",
    "register_source",
]
