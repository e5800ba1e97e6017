"""iguln's console script: the first word picks the command, the rest goes to that command's Hydra app."""

from __future__ import annotations

import importlib
import os
import sys
import time

from iguln import __version__
from iguln.config.overrides import check_overrides
from iguln.core import cpu_isa, distributed
from iguln.core.errors import USER_ERROR_STATUS, ConfigError
from iguln.core.plugins import load_plugins

COMMANDS = {  # name -> (module with main(), what it does); the Hydra apps' config has the command's name
    "pretrain": ("iguln.commands.pretrain", "train the original generator and put it in the store"),
    "train": ("iguln.commands.train", "unlearn the forget classes, then score original and unlearned"),
    "eval": ("iguln.commands.evaluate", "score a generator (checkpoint=PATH, or the store's original)"),
    "robust": ("iguln.commands.robust", "mask sweep or relearning attack of an unlearned generator (checkpoint=PATH)"),
    "report": ("iguln.commands.report", "the paper's tables and figures from run or multirun dirs (PATH...)"),
    "reproduce": ("iguln.commands.reproduce", "run the paper's matrix (paper) or its CPU version (mini), then report"),
}
USAGE = f"""usage: iguln <command> [group=option ...] [key=value ...] [-m] [--help]

iguln {__version__}: machine unlearning for image-to-image generative models.

commands:
{chr(10).join(f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items())}

examples:
  iguln pretrain model=mae data=fashion_mnist
  iguln train model=mae data=fashion_mnist loss.alpha=0.25
  iguln train -m loss.alpha=0.05,0.1,0.25,0.5,1.0
  iguln eval checkpoint=outputs/train/<date>/<time>/unlearned
  iguln report outputs/train

environment:
  IGULN_CPU_ISA  the vector instructions of torch's CPU kernels: avx2 (default), avx512, default, native
                 (torch's own choice); pinned so that x86 CPUs train the same weights (README: Seeds)

`iguln <command> --help` lists the config groups and the composed config.
"""


DISTRIBUTED_COMMANDS = ("train", "eval")
RUN_STAMP = "IGULN_RUN_STAMP"  # conf/base.yaml: the run dir's date/time when set


def join_torchrun(rest: list[str]) -> list[str]:
    """Under torchrun: join the process group, agree on one run dir (process 0's date/time), and keep the other
    processes' Hydra files apart. Returns the overrides to run with."""
    distributed.init()
    os.environ[RUN_STAMP] = distributed.broadcast(time.strftime("%Y-%m-%d/%H-%M-%S"))
    if distributed.is_main():
        return rest
    return [  # first: Hydra's parser takes overrides in one run, and the user's may end with -m
        "hydra.output_subdir=null",  # process 0 writes .hydra/
        f"hydra.job_logging.handlers.file.filename=${{hydra.runtime.output_dir}}/"
        f"${{hydra.job.name}}.rank{distributed.rank()}.log",
        *rest,
    ]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    if args[0] in ("-V", "--version"):
        print(f"iguln {__version__}")
        return
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"iguln: error: unknown command {command!r}. Allowed: {', '.join(COMMANDS)}.\n\n{USAGE}", file=sys.stderr)
        sys.exit(USER_ERROR_STATUS)
    if distributed.launched() and command not in DISTRIBUTED_COMMANDS:
        print(
            f"iguln {command}: error: it runs in one process; torchrun is for "
            f"{' and '.join(DISTRIBUTED_COMMANDS)} (iguln pretrain first, then torchrun ... -m iguln train).",
            file=sys.stderr,
        )
        sys.exit(USER_ERROR_STATUS)
    try:
        cpu_isa.check()
        load_plugins()
    except ConfigError as err:
        print(f"iguln {command}: error: {err}", file=sys.stderr)
        sys.exit(USER_ERROR_STATUS)
    if command == "reproduce":  # a plain command that runs the others
        from iguln.commands.reproduce import main as reproduce

        status = reproduce(rest)
        if status:
            sys.exit(status)
        return
    if command == "report":
        paths = [a for a in rest if "=" not in a and not a.startswith("-")]
        rest = [a for a in rest if a not in paths] + ([f"inputs=[{','.join(paths)}]"] if paths else [])
    try:
        check_overrides(command, rest)
    except ConfigError as err:
        print(f"iguln {command}: error: {err}", file=sys.stderr)
        sys.exit(USER_ERROR_STATUS)
    if distributed.launched():
        rest = join_torchrun(rest)
    sys.argv = [f"iguln {command}", *rest]
    importlib.import_module(COMMANDS[command][0]).main()
