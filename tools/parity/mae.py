"""Parity facts of facebookresearch/mae's MaskedAutoencoderViT (models_mae.py; the MAE the hub's facebook/vit-mae-*
weights come from) on a small MAE with weights from fixture.filled, run by hand beside a checkout of it:

    python tools/parity/mae.py --reference PATH [--out tests/fixtures/parity/mae.safetensors]

with an interpreter that has torch, numpy and timm. The reference is imported from PATH, never copied; two shims
let it run on current packages: np.float (gone from numpy 2) and a timm Block that takes qk_scale=None.

Facts, for ImageNet-normalised images (as MAE trains) and a centre mask given as MAE's noise (the order iguln's
masking makes): the encoder's output, the decoder's pixel predictions and the loss.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.parity.fixture import filled, images, sampled, write  # noqa: E402

MAE = {"img_size": 32, "patch_size": 4, "in_chans": 3, "embed_dim": 32, "depth": 2, "num_heads": 2,
       "decoder_embed_dim": 24, "decoder_depth": 2, "decoder_num_heads": 2, "mlp_ratio": 4.0}  # fmt: skip
EPS = 1e-6  # models_mae's factory functions' LayerNorm
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
BATCH = 4


def shims() -> None:
    if not hasattr(np, "float"):
        np.float = float  # util/pos_embed.py's np.float was float64
    import timm.models.vision_transformer as vit

    class Block(vit.Block):
        def __init__(self, *args, qk_scale=None, **kwargs):
            assert qk_scale is None
            super().__init__(*args, **kwargs)

    vit.Block = Block


def centre_patches(grid: int, batch: int) -> torch.Tensor:
    """The centre half of the side masked: [batch, grid * grid] bool (True = removed)."""
    cells = torch.zeros(grid, grid, dtype=torch.bool)
    cells[grid // 4 : grid - grid // 4, grid // 4 : grid - grid // 4] = True
    return cells.flatten().expand(batch, -1).clone()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a checkout of facebookresearch/mae")
    default_out = Path(__file__).resolve().parents[2] / "tests/fixtures/parity/mae.safetensors"
    parser.add_argument("--out", default=str(default_out))
    args = parser.parse_args(argv)
    shims()
    sys.path.insert(0, args.reference)
    import models_mae

    model = models_mae.MaskedAutoencoderViT(**MAE, norm_layer=partial(nn.LayerNorm, eps=EPS), norm_pix_loss=False)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in names:
                p.copy_(filled(name, tuple(p.shape)))
    model.eval()
    grid = MAE["img_size"] // MAE["patch_size"]
    patches = centre_patches(grid, BATCH)
    length, count = grid * grid, int(patches[0].sum())
    noise = patches.float() * 2 + torch.arange(length) / length  # masked patches last, the rest in order
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in IMAGENET)
    x = (images(BATCH, 3, MAE["img_size"]) - mean) / std
    real_rand = torch.rand
    torch.rand = lambda *shape, **kwargs: noise.clone()  # random_masking's one draw
    try:
        with torch.no_grad():
            latent, mask, ids_restore = model.forward_encoder(x, (count - 0.5) / length)
            pred = model.forward_decoder(latent, ids_restore)
            loss = model.forward_loss(x, pred, mask)
    finally:
        torch.rand = real_rand
    assert torch.equal(mask.bool(), patches)
    tensors = {"latent": latent, "pred": sampled(pred), "mask": mask, "pos_embed": model.pos_embed,
               "decoder_pos_embed": model.decoder_pos_embed}  # fmt: skip
    facts = {"mae": MAE, "eps": EPS, "imagenet": IMAGENET, "parameters": {n: list(p.shape) for n, p in
             model.named_parameters() if n in names}, "pred_shape": list(pred.shape), "loss": float(loss)}  # fmt: skip
    write(args.out, tensors, facts)
    print(f"wrote {args.out}: loss {float(loss):.6g}, latent {tuple(latent.shape)}")


if __name__ == "__main__":
    main()
