"""Released MAE checkpoints (model.pretrained): a folder written by transformers' save_pretrained, or a hub id such as
facebook/vit-mae-large. Where their files are, what their config fixes (architecture, resolution, pixel scale), and
their weights, read through transformers without unpickling anything but tensors.

Pixel convention. iguln's images are [-1, 1]. The released facebook/vit-mae-* were converted from facebook/mae's
"visualize" checkpoints: trained on ImageNet-normalised pixels ((x - mean) / std of [0, 1] pixels, ImageNet's mean
and std, as in their preprocessor_config.json) with norm_pix_loss false, so their decoder predicts pixels on that same
normalised scale. The generator therefore maps [-1, 1] into the checkpoint's scale before the network and back after
it (MAE.pixel_norm). A checkpoint trained with norm_pix_loss true predicts each patch normalised by its own mean and
variance, which cannot be turned back into an image: it is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import snapshot_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError
from transformers import ViTMAEConfig, ViTMAEForPreTraining

from iguln.core.errors import ConfigError, MissingArtefactError
from iguln.core.io import UNREADABLE

KEY = "model.pretrained"
HOW = (
    "Give model.pretrained a folder written by transformers' save_pretrained (config.json and model.safetensors), "
    "or a hub id such as facebook/vit-mae-large (fetched when the hub is reachable; with HF_HUB_OFFLINE=1 only the "
    "local Hugging Face cache is read). To make such a folder where the hub is reachable: python -c "
    '"from transformers import ViTMAEForPreTraining as M; '
    "M.from_pretrained('facebook/vit-mae-large').save_pretrained('DIR')\""
)
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
CONFIG_FILES = ["config.json", "preprocessor_config.json"]
SAFE_FILES = ["model.safetensors", "model.safetensors.index.json", "model-*.safetensors"]
PICKLED_FILES = ["pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*.bin"]
# (mean, std) per channel of [0, 1] pixels: facebook/mae's training normalisation, for a checkpoint without a
# preprocessor_config.json (save_pretrained of the model alone writes none).
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
# The preset keys, the channels, and the settings a preset leaves at transformers' defaults but a checkpoint may not.
ARCH_KEYS = (
    "image_size",
    "patch_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "decoder_hidden_size",
    "decoder_num_hidden_layers",
    "decoder_num_attention_heads",
    "decoder_intermediate_size",
    "num_channels",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "layer_norm_eps",
    "qkv_bias",
)
# Fixed sin-cos tables: a checkpoint without them keeps the generator's own (transformers would leave them at zero).
POSITION_TABLES = {"vit.embeddings.position_embeddings", "decoder.decoder_pos_embed"}


@dataclass(frozen=True)
class Checkpoint:
    """A released MAE on this machine: `folder` holds its config.json; `hub_id` and `revision` (the commit) are set
    when it came from the hub, whose files are fetched into the Hugging Face cache as they are needed."""

    source: str
    folder: Path
    hub_id: str | None = None
    revision: str | None = None


def locate(source: str) -> Checkpoint:
    """The checkpoint named by model.pretrained=source, its config files on disk (no weights fetched yet)."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MissingArtefactError(f"{KEY}={source}: the folder has no config.json. {HOW}")
        return Checkpoint(source, path)
    if path.exists():
        raise MissingArtefactError(f"{KEY}={source} is a file, not a folder. {HOW}")
    if not HUB_ID.match(source):
        raise MissingArtefactError(f"{KEY}={source}: no such folder. {HOW}")
    folder = _fetch(source, None, CONFIG_FILES)
    if not (folder / "config.json").is_file():
        raise MissingArtefactError(f"{KEY}={source}: the hub repository has no config.json. {HOW}")
    return Checkpoint(source, folder, source, folder.name)  # the cache names a snapshot folder by its commit


def on_this_machine(source: str) -> bool:
    """Whether model.pretrained=source can be read without the network: a folder with config.json, or a hub id
    whose config is in the local Hugging Face cache."""
    path = Path(source).expanduser()
    if path.is_dir():
        return (path / "config.json").is_file()
    return bool(HUB_ID.match(source)) and isinstance(try_to_load_from_cache(source, "config.json"), str)


def _fetch(hub_id: str, revision: str | None, patterns: list[str]) -> Path:
    """The snapshot folder of `hub_id` with the files matching `patterns` (fetched, or found in the cache)."""
    try:
        return Path(snapshot_download(hub_id, revision=revision, allow_patterns=patterns))
    except (OSError, ValueError, EntryNotFoundError) as err:  # offline, unknown repo, no network: one message
        raise MissingArtefactError(
            f"{KEY}={hub_id}: no such folder, and the hub could not provide it ({type(err).__name__}: {err}). {HOW}"
        ) from err


def read_config(checkpoint: Checkpoint) -> ViTMAEConfig:
    """The checkpoint's ViTMAEConfig; a ConfigError for another model type or for per-patch normalised targets."""
    raw = json.loads((checkpoint.folder / "config.json").read_text())
    if raw.get("model_type") != "vit_mae":
        raise ConfigError(
            KEY,
            checkpoint.source,
            "a ViTMAEForPreTraining checkpoint (config.json model_type vit_mae, e.g. facebook/vit-mae-large)",
            f"Its config.json says model_type={raw.get('model_type')!r}.",
        )
    config = ViTMAEConfig.from_pretrained(checkpoint.folder, local_files_only=True)
    if config.norm_pix_loss:
        raise ConfigError(
            KEY,
            checkpoint.source,
            "a checkpoint trained on plain pixels (config.json norm_pix_loss false, as facebook/vit-mae-* are)",
            "Its decoder predicts each patch normalised by its own mean and variance, which cannot be turned back "
            "into an image.",
        )
    return config


def released_arch(config: ViTMAEConfig, source: str) -> dict:
    """iguln's MAE architecture from a checkpoint's config; its image size decides the resolution of the run."""
    arch = {key: getattr(config, key) for key in ARCH_KEYS}
    for key in ("image_size", "patch_size"):
        value = arch[key]
        if isinstance(value, (list, tuple)):
            if len(set(value)) != 1:
                raise ConfigError(
                    KEY, source, f"a checkpoint with a square {key}", f"Its config.json has {key}={value}."
                )
            arch[key] = int(value[0])
    if arch["image_size"] % arch["patch_size"]:
        raise ConfigError(
            KEY,
            source,
            "a checkpoint whose image_size is a multiple of its patch_size",
            f"Its config.json has image_size={arch['image_size']}, patch_size={arch['patch_size']}.",
        )
    return arch


def pixel_norm(checkpoint: Checkpoint, channels: int) -> dict | None:
    """The per-channel {"mean", "std"} of [0, 1] pixels the checkpoint was trained on: its preprocessor_config.json's,
    else ImageNet's for 3 channels (facebook/mae's), else None ([-1, 1] images as they are)."""
    path = checkpoint.folder / "preprocessor_config.json"
    if not path.is_file():
        return {"mean": IMAGENET[0], "std": IMAGENET[1]} if channels == 3 else None
    processor = json.loads(path.read_text())
    if not processor.get("do_normalize", True):
        return {"mean": [0.0] * channels, "std": [1.0] * channels}
    mean, std = processor.get("image_mean", IMAGENET[0]), processor.get("image_std", IMAGENET[1])
    return {"mean": _per_channel(mean, channels), "std": _per_channel(std, channels)}


def _per_channel(value: float | list[float], channels: int) -> list[float]:
    values = [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]
    return values * channels if len(values) == 1 else values


def weight_files(checkpoint: Checkpoint) -> tuple[Path, list[Path], bool]:
    """(folder, weights files, whether they are safetensors): safetensors when the checkpoint has them, else PyTorch's
    pickled files (facebook/vit-mae-large's main branch holds only pytorch_model.bin); fetched for a hub id."""
    folder = checkpoint.folder
    if checkpoint.hub_id is not None:
        folder = _fetch(checkpoint.hub_id, checkpoint.revision, CONFIG_FILES + SAFE_FILES)
        if not _listed(folder, "model.safetensors"):
            folder = _fetch(checkpoint.hub_id, checkpoint.revision, CONFIG_FILES + PICKLED_FILES)
    for name, safe in (("model.safetensors", True), ("pytorch_model.bin", False)):
        files = _listed(folder, name)
        if files:
            return folder, files, safe
    raise MissingArtefactError(
        f"{KEY}={checkpoint.source}: {folder} holds no model.safetensors (nor pytorch_model.bin). {HOW}"
    )


def _listed(folder: Path, name: str) -> list[Path]:
    """The weights file `name` in `folder`, or the shards its index (`name`.index.json) lists; [] when absent."""
    if (folder / name).is_file():
        return [folder / name]
    index = folder / f"{name}.index.json"
    if not index.is_file():
        return []
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    return [folder / shard for shard in shards]


def load_state(checkpoint: Checkpoint, expected: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """The checkpoint's ViTMAEForPreTraining weights, read by transformers, as a state dict of `expected`'s keys and
    shapes (the fixed position tables may be absent: the caller keeps its own); and the files read.

    Safetensors are read with use_safetensors=True; a pytorch_model.bin goes through transformers' torch.load with
    weights_only=True, which unpickles tensors and plain containers only (never arbitrary objects).
    """
    folder, files, safe = weight_files(checkpoint)
    try:
        net, info = ViTMAEForPreTraining.from_pretrained(
            folder, use_safetensors=safe, weights_only=True, local_files_only=True, output_loading_info=True
        )
    except UNREADABLE as err:
        raise MissingArtefactError(
            f"{KEY}={checkpoint.source}: transformers could not read {', '.join(f.name for f in files)} "
            f"({type(err).__name__}: {err}). {HOW}"
        ) from err
    missing = set(info["missing_keys"]) - POSITION_TABLES
    if missing:
        raise MissingArtefactError(
            f"{KEY}={checkpoint.source} holds no weights for {len(missing)} tensors of ViTMAEForPreTraining, e.g. "
            f"{', '.join(sorted(missing)[:5])}: an encoder alone cannot fill images; it needs the MAE decoder too."
        )
    state = {k: v for k, v in net.state_dict().items() if k not in info["missing_keys"]}
    wrong = sorted(set(state) ^ (set(expected) - set(info["missing_keys"])))
    wrong += [k for k in state if k in expected and state[k].shape != expected[k].shape]
    if wrong:
        raise MissingArtefactError(f"{KEY}={checkpoint.source}: tensors differ from its config: {', '.join(wrong[:5])}")
    return state, files
