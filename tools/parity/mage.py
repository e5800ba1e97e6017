"""Parity facts of MAGE's unlearning (jpmorganchase/i2i_mage, branch i2i) on a small MAGE (a 1-block ViT over a
2-level VQ-GAN at 32 px, 16 x 16 tokens, MaskGIT's 1,024 codes) with weights from fixture.filled, run by hand beside
a checkout of the reference code:

    python tools/parity/mage.py --reference PATH [--out tests/fixtures/parity/mage.safetensors]

with an interpreter that has what the reference imports: torch, timm==0.3.2, omegaconf, einops, scipy,
pytorch_lightning (and safetensors). The reference is imported from PATH, never copied; two shims let it run on a
current torch and a CPU: a `torch._six` module for timm 0.3.2 and util/misc.py, and Tensor.cuda() as a no-op.

Facts: the VQ-GAN's token ids of [0, 1] images and its decoded images, the teacher's encoder features and full
logits under one of MAGE's random masks (tokens dropped), the loss of Ours and of each baseline on that mixed
batch (noise drawn from fixture.normals), and one AdamW step of Ours. MAGE trains with the token embedding's
dropout on; here the student runs in eval mode so that the facts are deterministic.
"""

from __future__ import annotations

import argparse
import collections.abc
import copy
import math
import os
import sys
import types
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.parity.fixture import filled, images, normals, perturbed, sampled, write  # noqa: E402

TOKENIZER = {
    "embed_dim": 32,
    "n_embed": 1024,
    "ddconfig": {
        "double_z": False,
        "z_channels": 32,
        "resolution": 32,
        "in_channels": 3,
        "out_ch": 3,
        "ch": 32,
        "ch_mult": [1, 1],
        "num_res_blocks": 1,
        "attn_resolutions": [],
        "dropout": 0.0,
    },
}
VIT = {"img_size": 256, "patch_size": 16, "embed_dim": 32, "depth": 1, "num_heads": 2, "decoder_embed_dim": 32,
       "decoder_depth": 1, "decoder_num_heads": 2, "mlp_ratio": 4}  # fmt: skip
LABELS = [100.0, -100.0, -100.0, 100.0]  # the reference's convention: < 100 forget, otherwise retain
ALPHA = 0.2  # the README's --forget_alpha
LR, WEIGHT_DECAY, CLIP = 1e-3, 0.05, 3.0
SALTS = {"noise": 6000, "noisy_label": 7000, "random_encoder": 8000}


def shims() -> None:
    six = types.ModuleType("torch._six")
    six.container_abcs, six.inf, six.string_classes, six.int_classes = collections.abc, math.inf, (str, bytes), int
    sys.modules["torch._six"] = six
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.cuda.synchronize = lambda *args, **kwargs: None


def build(reference: str):
    shims()
    sys.path.insert(0, reference)
    os.chdir(reference)
    import models_mage
    from omegaconf import OmegaConf

    real_load = OmegaConf.load
    OmegaConf.load = lambda path: OmegaConf.create({"model": {"params": TOKENIZER}})
    try:
        model = models_mage.MaskedGenerativeEncoderViT(
            **VIT, norm_layer=partial(nn.LayerNorm, eps=1e-6), vqgan_ckpt_path=None
        )
    finally:
        OmegaConf.load = real_load
    filled_names = [n for n, p in model.named_parameters() if p.requires_grad or n.startswith("vqgan.")]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in filled_names:
                p.copy_(filled(name, tuple(p.shape)))
    return model, filled_names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a checkout of the reference code (branch i2i)")
    default_out = Path(__file__).resolve().parents[2] / "tests/fixtures/parity/mage.safetensors"
    parser.add_argument("--out", default=str(default_out))
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    teacher, names = build(args.reference)
    import engine_baseline
    import engine_unlearn
    import timm.optim.optim_factory as optim_factory

    student = copy.deepcopy(teacher)
    with torch.no_grad():
        for name, p in student.named_parameters():
            if p.requires_grad:
                p.copy_(perturbed(name, p))
    teacher.eval()
    student.eval()
    x = images(len(LABELS), 3, TOKENIZER["ddconfig"]["resolution"])  # 16 x 16 tokens: MAGE's 257 positions
    labels = torch.tensor(LABELS)
    torch.manual_seed(0)
    student.mask_ratio_generator.random_state = np.random.RandomState(0)  # MAGE draws its masking rate with scipy
    with torch.no_grad():
        _, _, _, _, _, drop, keep_all = student(x, train_encoder=True)
    masks = {"token_drop_mask_raw": drop, "token_all_mask_raw": keep_all}
    tensors = {"dropped": drop.bool(), "masked": keep_all.bool(), "labels": labels}
    with torch.no_grad():
        z_q, _, (_, _, ids) = teacher.vqgan.encode(x)
        tensors["token_ids"] = ids.reshape(len(x), -1)
        tensors["decoded"] = sampled(teacher.vqgan.decode(z_q))
        guide = teacher(x, train_encoder=True, **masks)[0]
        tensors["teacher/features"] = sampled(guide)
        tensors["teacher/logits"] = sampled(teacher(x, return_logits=True, **masks)[0])
    facts = {"tokenizer": TOKENIZER, "vit": VIT, "alpha": ALPHA, "lr": LR, "weight_decay": WEIGHT_DECAY,
             "grad_clip": CLIP, "parameters": {n: list(p.shape) for n, p in teacher.named_parameters() if n in names},
             "feature_shape": list(guide.shape), "salts": SALTS, "losses": {}}  # fmt: skip
    sign = torch.where(labels < 100, -1.0, 1.0)

    def fixed_terms(s, t, target):
        """The reference's compute_loss with its forget term weighted by (1 - label), the defect fixed."""
        return (((s - t) ** 2).mean(dim=(1, 2)) * (1 + sign)).mean(), (
            ((s - target) ** 2).mean(dim=(1, 2)) * (1 - sign)
        ).mean()

    def noise_image() -> torch.Tensor:
        z = normals(tuple(x.shape), SALTS["noise"])
        return torch.clamp(z * torch.std(x) + torch.mean(x), 0.0, 1.0)  # engine_unlearn's "normal" noise

    def ours(model):
        latent = model(x, train_encoder=True, **masks)[0]
        with torch.no_grad():
            mis_guide = teacher(noise_image(), train_encoder=True, **masks)[0]
        retain, forget = engine_unlearn.compute_loss(latent, guide, mis_guide, labels)
        return retain + ALPHA * forget

    with torch.no_grad():
        facts["losses"]["l2_noise"] = float(ours(student))
        facts["losses"]["max_loss"] = float(student(x, labels=labels, forget_alpha=ALPHA, **masks)[0])
        real_randn = torch.randn
        torch.randn = lambda *shape, **kw: normals(tuple(shape), SALTS["noisy_label"])  # its one draw: the ids
        try:
            facts["losses"]["noisy_label"] = float(
                student(x, labels=labels, forget_alpha=ALPHA, use_noise=True, **masks)[0]
            )
        finally:
            torch.randn = real_randn
        latent = student(x, train_encoder=True, **masks)[0]
        random = normals(tuple(guide.shape), SALTS["random_encoder"]) * torch.std(guide) + torch.mean(guide)
        retain, forget = fixed_terms(latent, guide, random)
        facts["losses"]["random_encoder"] = float(retain + ALPHA * forget)
        buggy = engine_baseline.compute_loss(latent, guide, random, labels)
        facts["losses_as_released"] = {"random_encoder": float(buggy[0] + ALPHA * buggy[1])}
        logits = student(x, return_logits=True, **masks)[0]
        teacher_logits = teacher(x, return_logits=True, **masks)[0]
        retain_rows = torch.nonzero(labels > 0).flatten()
        tiled = torch.tile(teacher_logits[retain_rows], (math.ceil(len(x) / len(retain_rows)), 1, 1))[: len(x)]
        retain, forget = fixed_terms(logits, teacher_logits, tiled)
        facts["losses"]["retain_label"] = float(retain + ALPHA * forget)
        buggy = engine_baseline.compute_loss(logits, teacher_logits, tiled, labels)
        facts["losses_as_released"]["retain_label"] = float(buggy[0] + ALPHA * buggy[1])
    # one AdamW step of Ours as main_unlearn.py sets it up (fixed lr instead of the warm-up's first, zero, one)
    groups = optim_factory.add_weight_decay(student, WEIGHT_DECAY)
    optimizer = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.95))
    before = {n: p.detach().clone() for n, p in student.named_parameters()}
    loss = ours(student)
    optimizer.zero_grad()
    loss.backward()
    facts["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(student.parameters(), CLIP))
    grads = {n: p.grad.detach().clone() for n, p in student.named_parameters() if p.grad is not None}
    optimizer.step()
    for name, p in student.named_parameters():
        if not torch.equal(p, before[name]):
            tensors[f"step/{name}"] = sampled(p.detach() - before[name])
            tensors[f"grad/{name}"] = sampled(grads[name])
    facts["moved"] = sorted(n for n, p in student.named_parameters() if not torch.equal(p, before[n]))
    with torch.no_grad():
        facts["loss_after_step"] = float(ours(student))
    write(out, tensors, facts)
    print(f"wrote {out}: losses {facts['losses']}, after one step {facts['loss_after_step']:.6g}")


if __name__ == "__main__":
    main()
