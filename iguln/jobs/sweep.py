"""A sweep's summary: during `iguln ... -m`, <sweep dir>/sweep.json is rewritten after every job (its overrides,
status, error, forget / retain FID); when the sweep ends it is printed. Hydra ends a sweep with a failed job by
raising that job's error after every job has run, so the file is the place to look then."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from iguln.core import distributed
from iguln.core.io import atomic_write_json
from iguln.data.split import SETS
from iguln.metrics.catalogue import table_metrics
from iguln.store.records import RECORD, read_record

log = logging.getLogger("iguln")


def _value(record: dict, model: str, subset: str, metric: str) -> float | None:
    return record.get("metrics", {}).get(model, {}).get(subset, {}).get(metric, {}).get("value")


def sweep_summary(sweep_dir: str | Path) -> dict:
    """{"jobs": [{job, overrides, status, error, "<model>/<set>/<metric>": value for each table metric}],
    "complete": n, "failed": n} for a sweep dir."""
    jobs = []
    paths = sorted(Path(sweep_dir).glob(f"*/{RECORD}"), key=lambda p: (len(p.parent.name), p.parent.name))
    for path in paths:
        try:
            record = read_record(path)
        except ValueError as err:  # a job's record being written by another process, or cut short
            record = {"status": "unreadable", "error": str(err)}
        overrides = path.parent / ".hydra" / "overrides.yaml"
        job: dict[str, Any] = {
            "job": path.parent.name,
            "overrides": overrides.read_text().strip().replace("\n", " ") if overrides.is_file() else "",
            "status": record.get("status"),
        }
        if record.get("error"):
            job["error"] = record["error"]
        for model in ("original", "unlearned"):
            for subset in SETS:
                for metric in table_metrics():
                    job[f"{model}/{subset}/{metric.name}"] = _value(record, model, subset, metric.name)
        jobs.append(job)
    count = {s: sum(j["status"] == s for j in jobs) for s in ("complete", "failed")}
    return {"sweep_dir": str(sweep_dir), "jobs": jobs, **count}


class SweepSummary(Callback):
    """Hydra callback: keep <sweep dir>/sweep.json up to date after each job, print it when the sweep ends."""

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN or not distributed.is_main():
            return
        # Jobs that run at once (hydra/launcher=slurm or local) write this file too, each atomically; one that read
        # the sweep dir earlier may write last. So after writing, read the dir again and write until it is unchanged:
        # the last writer then leaves a summary of every record written before its last read.
        summary, written = sweep_summary(config.hydra.sweep.dir), None
        while summary != written:
            atomic_write_json(Path(config.hydra.sweep.dir) / "sweep.json", summary)
            summary, written = sweep_summary(config.hydra.sweep.dir), summary
        if summary["failed"]:
            log.warning("sweep: %d failed job(s) so far; see %s/sweep.json", summary["failed"], config.hydra.sweep.dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        summary = sweep_summary(config.hydra.sweep.dir)
        if not summary["jobs"] or not distributed.is_main():
            return
        atomic_write_json(Path(config.hydra.sweep.dir) / "sweep.json", summary)
        lines = [f"sweep {summary['sweep_dir']}: {summary['complete']} complete, {summary['failed']} failed"]
        metric = table_metrics()[0]
        for job in summary["jobs"]:
            values = {s: job.get(f"unlearned/{s}/{metric.name}") for s in SETS}
            shown = ", ".join(f"{s} {metric.header} {v:.3f}" for s, v in values.items() if v is not None)
            shown = f"  {shown}" if shown else ""
            lines.append(f"  job {job['job']} [{job['overrides']}]: {job['status']}{shown} {job.get('error', '')}")
        log.info("\n".join(lines))
