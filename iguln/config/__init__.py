"""Configs: where the package's Hydra configs live, their groups and options, and the checks every job passes."""

from pathlib import Path

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")  # package data: iguln/conf/
