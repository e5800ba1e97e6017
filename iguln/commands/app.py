"""Hydra apps: one per command, with user errors printed as one line and exit status 2 (no traceback).

Whatever stops a job, its run dir ends with a result record that says so (status "failed", the error). In a
sweep (-m), a failed job is left to Hydra, which goes on with the next job and reports the failures at the end.
A run dir that already holds a finished run (a complete record, or an unlearned generator) is refused before any
work: what a user made is never overwritten.
"""

from __future__ import annotations

import functools
import logging
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from iguln.config import CONF_DIR
from iguln.core import distributed
from iguln.core.errors import USER_ERROR_STATUS, USER_ERRORS, ConfigError, StorageError
from iguln.core.plugins import load_plugins
from iguln.store.records import RECORD, failure_record, read_record, write_record

log = logging.getLogger("iguln")


def _finished_record(path: Path) -> bool:
    try:
        return path.is_file() and read_record(path).get("status") == "complete"
    except ValueError:  # unreadable: not a finished run
        return False


def refuse_finished_run(run_dir: Path) -> None:
    """A ConfigError when run_dir already holds a finished run (a complete record or an unlearned generator),
    which this job would otherwise overwrite."""
    if (run_dir / "unlearned").exists() or _finished_record(run_dir / RECORD):
        raise ConfigError(
            "hydra.run.dir", str(run_dir), "a run dir that holds no finished run",
            "Its record and models are never overwritten: give another hydra.run.dir (or hydra.sweep.dir), or "
            "remove that run dir first.",
        )  # fmt: skip


def _record_failure(command: str, cfg: DictConfig, err: BaseException) -> None:
    """Write a failure record into the run dir unless the command already wrote one (or this is not torchrun's
    process 0)."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if (run_dir / RECORD).is_file() or not distributed.is_main():
        return
    try:
        config = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException:  # an unresolvable config is itself the error
        config = OmegaConf.to_container(cfg, resolve=False)
    record = {"command": command, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": config}
    write_failure_record(run_dir, failure_record(record, err))


def write_failure_record(run_dir: Path, record: dict) -> None:
    """Write a failure record, unless that fails too (the disk that stopped the job is still full): then the
    error the user sees is the job's own, and the log says why no record was written."""
    try:
        write_record(run_dir, record)
    except StorageError as err:
        log.warning("no failure record was written: %s", err)


class JobError(Exception):
    """A sweep job's error as text, standing in for an error that cannot be pickled."""


def sendable_error(err: BaseException) -> BaseException:
    """`err`, or a JobError with its message when `err` does not survive pickling. The submitit launchers
    (hydra/launcher=slurm, local) pickle each job's error back to the process that runs the sweep; an error that
    fails to unpickle there (ConfigError needs its key, value and allowed) would crash the sweep's end."""
    try:
        pickle.loads(pickle.dumps(err))
    except (pickle.PickleError, TypeError, AttributeError):  # what (un)pickling raises on such an error
        return JobError(f"{type(err).__name__}: {err}")
    return err


def hydra_app(config_name: str, run: Callable[[DictConfig], object]) -> Callable[[], None]:
    """The Hydra entry point for `run` over conf/<config_name>.yaml."""

    @functools.wraps(run)
    def task(cfg: DictConfig) -> None:
        try:
            refuse_finished_run(Path(HydraConfig.get().runtime.output_dir))
            load_plugins()  # a launcher's job process imports them itself
            run(cfg)
        except BaseException as err:
            if not isinstance(err, SystemExit):
                _record_failure(config_name, cfg, err)
            user_error = isinstance(err, USER_ERRORS)
            if user_error:
                print(f"iguln {config_name}: error: {err}", file=sys.stderr)
            if HydraConfig.get().mode == RunMode.MULTIRUN:
                sendable = sendable_error(err)  # Hydra records the job as failed and goes on with the sweep
                if sendable is err:
                    raise
                raise sendable from (None if user_error else err)  # a user error's message says it all
            if not user_error:
                raise
            sys.exit(USER_ERROR_STATUS)

    return hydra.main(config_path=CONF_DIR, config_name=config_name, version_base="1.3")(task)
