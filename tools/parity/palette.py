"""Parity facts of Palette's diffusion unlearning (jpmorganchase/i2i_Palette-Image-to-Image-Diffusion-Models, branch
i2i) on a small UNet with weights from fixture.filled, run by hand beside a checkout of the reference code:

    python tools/parity/palette.py --reference PATH [--out tests/fixtures/parity/palette.safetensors]

with an interpreter that has torch and numpy (the reference's models/ and core/ import nothing else). Nothing of
the reference is copied: it is imported from PATH. Facts: the UNet's noise prediction and encoder features, the
loss of "Ours" and of each baseline on one mixed batch (given noise levels and noise), and one Adam step of Ours.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.parity.fixture import filled, images, normals, perturbed, sampled, write  # noqa: E402

UNET = {
    "in_channel": 6,
    "out_channel": 3,
    "inner_channel": 32,
    "channel_mults": [1, 1],
    "attn_res": [2],
    "num_head_channels": 32,
    "res_blocks": 1,
    "dropout": 0.0,
    "image_size": 16,
}
SCHEDULE = {"schedule": "linear", "n_timestep": 2000, "linear_start": 1e-6, "linear_end": 0.01}
LABELS = [1.0, -1.0, -1.0, 1.0]  # the reference's convention: 1 retain, -1 forget
ALPHA = 0.1  # unlearn.py's --forget_alpha default
LR = 5e-5  # the unlearning config's Adam lr
SEED = 0
# name -> (fix_decoder, max_loss, learn_noise, learn_others), as README's flags select each row
ROWS = {
    "l2_noise": (True, 0, 0, 0),
    "max_loss": (False, 1, 0, 0),
    "noisy_label": (False, 0, 1, 0),
    "random_encoder": (True, 0, 1, 0),
    "retain_label": (False, 0, 0, 1),
}
MODULES = ("cond_embed", "input_blocks", "middle_block", "output_blocks", "out")
NORMALS = 5000  # the salt of the first map's random-feature normals


def masks(batch: int, size: int) -> torch.Tensor:
    """A box per image, of several sizes and places: [batch, 1, size, size], 1 = hole."""
    out = torch.zeros(batch, 1, size, size)
    for b in range(batch):
        top, left, h, w = (2 + b) % 6, (5 - b) % 7, 6 + b % 3, 8 - b % 2
        out[b, :, top : top + h, left : left + w] = 1
    return out


def build(reference: str):
    sys.path.insert(0, reference)
    from models.network import Network

    net = Network(unet=UNET, beta_schedule={"train": SCHEDULE}, module_name="guided_diffusion", init_type="kaiming")
    net.set_new_noise_schedule(device=torch.device("cpu"), phase="train")
    with torch.no_grad():
        for name, p in net.denoise_fn.named_parameters():
            p.copy_(filled(f"denoise_fn.{name}", tuple(p.shape)))
    return net


def forward_draws(net, batch: int) -> torch.Tensor:
    """The noise levels Network.forward draws after torch.manual_seed(SEED): [batch]."""
    torch.manual_seed(SEED)
    t = torch.randint(1, net.num_timesteps, (batch,)).long()
    r = torch.rand((batch, 1))
    low, high = net.gammas[t - 1].view(-1, 1), net.gammas[t].view(-1, 1)
    return ((high - low) * r + low).view(batch)


class FixedNormals:
    """Stands in for torch.randn_like while RANDOM ENCODER's loss is computed: the k-th call gets
    fixture.normals(shape, NORMALS + k), which the test makes too."""

    def __init__(self):
        self.calls, self.real = 0, torch.randn_like

    def __call__(self, tensor, *args, **kwargs):
        self.calls += 1
        return normals(tuple(tensor.shape), NORMALS + self.calls - 1).to(tensor)


def module_norms(before: dict, after: dict) -> dict[str, float]:
    """Squared norm of the change of each top-level part of the UNet."""
    return {
        m: float(sum(((after[k] - before[k]) ** 2).sum() for k in before if k.startswith(m + "."))) for m in MODULES
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="a checkout of the reference code (branch i2i)")
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[2] / "tests/fixtures/parity/palette.safetensors")
    )
    args = parser.parse_args(argv)
    net = build(args.reference)
    shapes = {name: list(p.shape) for name, p in net.denoise_fn.named_parameters()}
    teacher = copy.deepcopy(net.denoise_fn)
    with torch.no_grad():
        for name, p in net.denoise_fn.named_parameters():
            p.copy_(perturbed(f"denoise_fn.{name}", p))
    net.teacher_denoise_fn, net.forget_alpha = teacher, ALPHA
    net.eval()
    batch, size = len(LABELS), UNET["image_size"]
    y0 = images(batch, 3, size) * 2 - 1
    mask = masks(batch, size)
    draw = torch.Generator().manual_seed(1)
    hole, noise = torch.randn(y0.shape, generator=draw), torch.randn(y0.shape, generator=draw)
    y_cond = y0 * (1 - mask) + mask * hole
    labels = torch.tensor(LABELS)
    gammas = forward_draws(net, batch)
    g = gammas.view(-1, 1, 1, 1)
    noisy = g.sqrt() * y0 + (1 - g).sqrt() * noise
    student_input = torch.cat([y_cond, noisy * mask + (1 - mask) * y0], 1)
    tensors = {"gamma": gammas, "noise": noise, "hole": hole, "mask": mask, "labels": labels}
    with torch.no_grad():
        features = teacher(student_input, gammas.view(-1, 1), return_feat=True)
        tensors["teacher/eps"] = sampled(teacher(student_input, gammas.view(-1, 1)))
    tensors |= {f"teacher/features/{i}": sampled(f) for i, f in enumerate(features)}
    facts = {
        "unet": UNET,
        "schedule": SCHEDULE,
        "alpha": ALPHA,
        "lr": LR,
        "parameters": shapes,
        "feature_shapes": [list(f.shape) for f in features],
        "losses": {},
    }
    for row, (fix_decoder, max_loss, learn_noise, learn_others) in ROWS.items():
        net.max_loss, net.learn_noise, net.learn_others = max_loss, learn_noise, learn_others
        torch.manual_seed(SEED)
        fixed = FixedNormals()
        torch.randn_like = fixed  # only RANDOM ENCODER's loss draws with it (noise is given)
        try:
            with torch.no_grad():
                loss = net(y0, y_cond, mask, noise=noise, labels=labels, fix_decoder=fix_decoder)
        finally:
            torch.randn_like = fixed.real
        facts["losses"][row] = float(loss)
        facts.setdefault("randn_like_calls", {})[row] = fixed.calls
    # one Adam step of Ours, as model.py sets it up: every parameter of the network, constant lr, no clipping
    net.max_loss, net.learn_noise, net.learn_others = ROWS["l2_noise"][1:]
    optimizer = torch.optim.Adam([p for p in net.denoise_fn.parameters() if p.requires_grad], lr=LR, weight_decay=0)
    before = {k: v.clone() for k, v in net.denoise_fn.state_dict().items()}
    torch.manual_seed(SEED)
    loss = net(y0, y_cond, mask, noise=noise, labels=labels, fix_decoder=True)
    optimizer.zero_grad()
    loss.backward()
    facts["gradient_norms"] = {
        m: float(
            sum(
                (p.grad**2).sum()
                for n, p in net.denoise_fn.named_parameters()
                if n.startswith(m + ".") and p.grad is not None
            )
        )
        for m in MODULES
    }
    optimizer.step()
    after = net.denoise_fn.state_dict()
    facts["step_norms"] = module_norms(before, after)
    torch.manual_seed(SEED)
    with torch.no_grad():
        facts["loss_after_step"] = float(net(y0, y_cond, mask, noise=noise, labels=labels, fix_decoder=True))
    write(args.out, tensors, facts)
    print(f"wrote {args.out}: losses {facts['losses']}, after one step {facts['loss_after_step']:.6g}")


if __name__ == "__main__":
    main()
