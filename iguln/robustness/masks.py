"""The mask sweep: every metric of the original, the unlearned model and Retrain, on the forget and retain sets,
at several masks: centred squares of growing side (inpainting) and borders of r/32 of the side, r = 1..13
(outpainting, the I2I paper's robustness curves). A model that forgot only for the mask it was unlearned with shows
it here."""

from __future__ import annotations

import copy
import dataclasses

from omegaconf import DictConfig, OmegaConf, open_dict

from iguln.data.masks import task_mask
from iguln.jobs.job import Job
from iguln.jobs.scoring import score_models

OUTPAINT_PARTS = 32  # outpaint r removes r/32 of the side from every border (the paper's int(256 r / 32) px at 256)


def mask_points(cfg: DictConfig) -> list[dict]:
    """The sweep's tasks from robust.inpaint (side fractions) and robust.outpaint (r): [{"name", "fraction",
    "label"}]."""
    points = [{"name": "inpaint_center", "fraction": float(f), "label": f"inpaint {f:g}"} for f in cfg.inpaint]
    points += [{"name": "outpaint", "fraction": r / OUTPAINT_PARTS, "label": f"outpaint r={r}"} for r in cfg.outpaint]
    return points


def check_masks(cfg: DictConfig, size: int) -> None:
    """ConfigError naming robust.inpaint / robust.outpaint for a value that gives no mask at `size` px."""
    from iguln.core.errors import ConfigError

    for key, values, upper in (("robust.inpaint", cfg.inpaint, "a side fraction in (0, 1)"),
                               ("robust.outpaint", cfg.outpaint, f"an r in 1..{OUTPAINT_PARTS // 2 - 1}")):  # fmt: skip
        if not OmegaConf.is_list(values) or not values:
            raise ConfigError(key, values, "a non-empty list")
        for value in values:
            fraction = value / OUTPAINT_PARTS if key.endswith("outpaint") else value
            point = {"name": "outpaint" if key.endswith("outpaint") else "inpaint_center", "fraction": fraction}
            try:
                task_mask(OmegaConf.create(point), size)
            except (ConfigError, TypeError) as err:
                raise ConfigError(key, value, upper) from err


def at_task(job: Job, point: dict, size: int) -> Job:
    """The job with its task (config and mask) replaced by one point of the sweep."""
    cfg = copy.deepcopy(job.cfg)
    with open_dict(cfg):
        cfg.task = OmegaConf.create({"name": point["name"], "fraction": point["fraction"]})
    return dataclasses.replace(job, cfg=cfg, mask=task_mask(cfg.task, size), timings={})


def sweep(job: Job, backbone, models: dict, size: int) -> list[dict]:
    """[{"task": point, "metrics": {model: {set: entries}}}] for every point of robust's masks."""
    out = []
    for point in mask_points(job.cfg.robust):
        metrics, _ = score_models(at_task(job, point, size), backbone, models)
        out.append({"task": point, "metrics": metrics})
    return out
