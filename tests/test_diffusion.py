"""The diffusion family: sampling keeps unmasked pixels, determinism, encoder-only training, the forget target,
hybrid masks, and Palette's key map."""

import copy

import pytest
import torch

from iguln.core.errors import MissingArtefactError
from iguln.data.masks import border, brush_strokes, center_square, hybrid_masks
from iguln.models.diffusion import Diffusion
from iguln.models.diffusion.family import diffusion_micro, diffusion_palette
from iguln.models.diffusion.reference import module_map, palette_names, palette_unet_state
from iguln.models.storage import load_generator, save_generator
from tests.conftest import unlearn_a_copy

SCHEDULE = {"steps": 100, "beta_start": 1e-4, "beta_end": 0.05}


def make_diffusion(seed=0, steps=3):
    torch.manual_seed(seed)
    model = Diffusion({**diffusion_micro(), "num_channels": 1}, SCHEDULE).eval()
    model.configure_generation(sample_steps=steps)
    return model


def images(n=4, seed=1):
    return torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("mask", [center_square(32, 0.5), border(32, 0.1)])
def test_sampling_keeps_the_unmasked_pixels_exactly(mask):
    x = images()
    with torch.no_grad():
        y = make_diffusion().generate(x, mask, torch.Generator().manual_seed(0))
    assert torch.equal(y[..., mask[0, 0] == 0], x[..., mask[0, 0] == 0])
    assert not torch.allclose(y[..., mask[0, 0] == 1], x[..., mask[0, 0] == 1])
    assert y.min() >= -1 and y.max() <= 1


def test_sampling_is_deterministic_under_a_seed():
    model, x, mask = make_diffusion(), images(), center_square(32, 0.5)
    with torch.no_grad():
        a = model.generate(x, mask, torch.Generator().manual_seed(3))
        b = model.generate(x, mask, torch.Generator().manual_seed(3))
        c = model.generate(x, mask, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_encoder_only_unlearning_leaves_the_up_path_bit_identical():
    original = make_diffusion()
    before = {k: v.clone() for k, v in original.state_dict().items()}
    _, history, changed = unlearn_a_copy(original)
    encoder = ("unet.conv_in.", "unet.down_blocks.", "unet.mid_block.")
    assert changed and all(k.startswith(encoder) for k in changed)
    assert {k.split(".")[1] for k in changed} >= {"down_blocks", "mid_block"}
    assert all(torch.equal(before[k], v) for k, v in original.state_dict().items())
    assert history["trainable_parameters"] < history["total_parameters"]


def test_the_forget_target_keeps_the_context_and_puts_pure_noise_in_the_mask():
    model, x, mask = make_diffusion(), images(), center_square(32, 0.5)
    probe = model.encode_probe(x, torch.Generator().manual_seed(0))
    seen = {}
    hook = model.unet.conv_in.register_forward_hook(lambda m, inputs, out: seen.update(sample=inputs[0]))
    with torch.no_grad():
        target = model.forget_target(x, torch.zeros_like(x), mask, probe)
    hook.remove()
    condition, noisy = seen["sample"][:, :1], seen["sample"][:, 1:]
    outside, inside = mask[0, 0] == 0, mask[0, 0] == 1
    assert torch.equal(noisy[..., outside], x[..., outside]) and torch.equal(condition[..., outside], x[..., outside])
    assert torch.equal(noisy[..., inside], probe["noise"][..., inside])  # no trace of the forget image inside
    assert torch.equal(condition[..., inside], probe["hole"][..., inside])
    assert len(target) == sum(len(block.resnets) for block in model.unet.up_blocks) + 1  # every skip + middle
    with torch.no_grad():  # the student sees the forget image noised at the same level, with the same draw
        student = model.encode(x, mask, probe)
    assert not torch.allclose(student[0], target[0])


def test_the_features_are_everything_the_up_path_reads():
    """The loss must constrain every skip tensor: one left out carries the hole's content past the encoder."""
    model, x, mask = make_diffusion(), images(), center_square(32, 0.5)
    probe = model.encode_probe(x, torch.Generator().manual_seed(0))
    read = []
    hooks = [
        block.register_forward_hook(lambda m, args, out: read.extend(args[1]))  # args: (h, skips, emb)
        for block in model.unet.up_blocks
    ]
    with torch.no_grad():
        features = model.encode(x, mask, probe)
        model.output(x, mask, probe)
    for hook in hooks:
        hook.remove()
    assert len(read) == len(features) - 1  # and the middle block's output, last
    for tensor in read:
        assert any(f.shape == tensor.shape and torch.equal(f, tensor) for f in features)


def test_a_probe_makes_student_and_teacher_inputs_equal():
    model, x, mask = make_diffusion(), images(), center_square(32, 0.5)
    probe = model.encode_probe(x, torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model.encode(x, mask, probe), copy.deepcopy(model).encode(x, mask, probe)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_native_loss_uses_hybrid_masks_and_trains_everything():
    model = make_diffusion().train()
    loss = model.native_loss(images(8), None, torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.item() > 0
    assert model.unet.up_blocks[0].resnets[0].conv1.weight.grad.abs().sum() > 0
    masks = hybrid_masks(64, 32, torch.Generator().manual_seed(0))
    assert masks.shape == (64, 1, 32, 32) and set(masks.unique().tolist()) == {0.0, 1.0}
    assert 0.05 < masks.mean() < 0.6
    assert brush_strokes(2, 32, torch.Generator().manual_seed(1)).sum() > 0


def test_checkpoint_round_trip(tmp_path):
    model = make_diffusion(steps=2)
    save_generator(model, tmp_path / "model", role="test")
    loaded, _ = load_generator(tmp_path / "model")
    loaded.configure_generation(sample_steps=2)
    x, mask = images(), center_square(32, 0.5)
    with torch.no_grad():
        a = model.generate(x, mask, torch.Generator().manual_seed(0))
        b = loaded.generate(x, mask, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


# -- Palette's layout ----------------------------------------------------------------------------------------------


def palette_state(arch, seed=0):
    """A state dict in Palette's layout (its names, its shapes, random values), as a released checkpoint holds it."""
    generator = torch.Generator().manual_seed(seed)
    inner, mults, blocks = arch["inner_channel"], arch["channel_mults"], arch["res_blocks"]
    width = [inner * m for m in mults]
    emb, c = 4 * inner, arch["num_channels"]
    shapes = {"cond_embed.0.weight": (emb, inner), "cond_embed.0.bias": (emb,), "cond_embed.2.weight": (emb, emb)}
    shapes |= {"cond_embed.2.bias": (emb,), "input_blocks.0.0.weight": (inner, 2 * c, 3, 3)}
    shapes |= {"input_blocks.0.0.bias": (inner,), "out.0.weight": (inner,), "out.0.bias": (inner,)}
    shapes |= {"out.2.weight": (c, inner, 3, 3), "out.2.bias": (c,)}

    def resblock(prefix, cin, cout):
        shapes.update({f"{prefix}.in_layers.0.weight": (cin,), f"{prefix}.in_layers.0.bias": (cin,)})
        shapes.update({f"{prefix}.in_layers.2.weight": (cout, cin, 3, 3), f"{prefix}.in_layers.2.bias": (cout,)})
        shapes.update({f"{prefix}.emb_layers.1.weight": (2 * cout, emb), f"{prefix}.emb_layers.1.bias": (2 * cout,)})
        shapes.update({f"{prefix}.out_layers.0.weight": (cout,), f"{prefix}.out_layers.0.bias": (cout,)})
        shapes.update({f"{prefix}.out_layers.3.weight": (cout, cout, 3, 3), f"{prefix}.out_layers.3.bias": (cout,)})
        if cin != cout:
            shapes.update({f"{prefix}.skip_connection.weight": (cout, cin, 1, 1)})
            shapes.update({f"{prefix}.skip_connection.bias": (cout,)})

    def attention(prefix, ch):
        shapes.update({f"{prefix}.norm.weight": (ch,), f"{prefix}.norm.bias": (ch,)})
        shapes.update({f"{prefix}.qkv.weight": (3 * ch, ch, 1), f"{prefix}.qkv.bias": (3 * ch,)})
        shapes.update({f"{prefix}.proj_out.weight": (ch, ch, 1), f"{prefix}.proj_out.bias": (ch,)})

    k, ch, skips = 1, inner, [inner]
    for level, w in enumerate(width):
        for _ in range(blocks):
            resblock(f"input_blocks.{k}.0", ch, w)
            ch = w
            if 2**level in arch["attn_res"]:
                attention(f"input_blocks.{k}.1", ch)
            skips.append(ch)
            k += 1
        if level < len(width) - 1:
            resblock(f"input_blocks.{k}.0", ch, ch)
            skips.append(ch)
            k += 1
    resblock("middle_block.0", ch, ch)
    attention("middle_block.1", ch)
    resblock("middle_block.2", ch, ch)
    k = 0
    for level in reversed(range(len(width))):
        for j in range(blocks + 1):
            resblock(f"output_blocks.{k}.0", ch + skips.pop(), width[level])
            ch, index = width[level], 1
            if 2**level in arch["attn_res"]:
                attention(f"output_blocks.{k}.1", ch)
                index = 2
            if level and j == blocks:
                resblock(f"output_blocks.{k}.{index}", ch, ch)
            k += 1
    state = {f"denoise_fn.{n}": torch.randn(s, generator=generator) for n, s in shapes.items()}
    state |= {"gammas": torch.rand(2000), "posterior_mean_coef1": torch.rand(2000)}  # schedule buffers: not weights
    return state


ARCH = {**diffusion_micro(), "num_channels": 1}


def test_palette_layout_loads_through_the_key_map():
    reference = palette_state(ARCH)
    state = palette_unet_state(reference, ARCH, "model.pretrained")
    model = make_diffusion()
    model.unet.load_state_dict(state)  # strict: every tensor placed, nothing left over
    qkv = reference["denoise_fn.middle_block.1.qkv.weight"][..., 0]  # [3C, C], head by head: q, k, v per head
    heads, d = qkv.shape[1] // ARCH["num_head_channels"], ARCH["num_head_channels"]
    for head in range(heads):
        rows, first = slice(head * d, (head + 1) * d), head * 3 * d
        assert torch.equal(state["mid_block.attentions.0.to_q.weight"][rows], qkv[first : first + d])
        assert torch.equal(state["mid_block.attentions.0.to_v.weight"][rows], qkv[first + 2 * d : first + 3 * d])
    ref = {n.removeprefix("denoise_fn."): t for n, t in reference.items() if n.startswith("denoise_fn.")}
    assert torch.equal(state["conv_in.weight"], ref["input_blocks.0.0.weight"])
    assert torch.equal(state["down_blocks.0.downsamplers.0.conv1.weight"], ref["input_blocks.2.0.in_layers.2.weight"])
    assert torch.equal(state["up_blocks.0.upsamplers.0.norm2.weight"], ref["output_blocks.1.2.out_layers.0.weight"])
    assert set(ref) == palette_names(ARCH)


def test_palette_map_of_the_paper_preset_has_the_reference_size():
    arch = {**diffusion_palette(), "num_channels": 3}
    names = palette_names(arch)
    assert len(names) == 326 and "middle_block.1.qkv.weight" in names
    assert "output_blocks.11.0.skip_connection.weight" in names
    assert "input_blocks.11.0.in_layers.2.weight" in names and "input_blocks.12.0.in_layers.2.weight" not in names
    assert not any(".1.qkv" in n for n in names if n.startswith(("input_blocks", "output_blocks")))
    assert module_map(arch)["output_blocks.2.1"] == ("up_blocks.0.upsamplers.0", "resnet")


def test_palette_mismatch_lists_the_keys():
    reference = palette_state(ARCH)
    del reference["denoise_fn.out.2.bias"]
    reference["denoise_fn.extra.weight"] = torch.zeros(1)
    listed = r"missing keys \(1\): out.2.bias(.|\n)*unknown keys \(1\): extra.weight"
    with pytest.raises(MissingArtefactError, match=listed):
        palette_unet_state(reference, ARCH, "model.pretrained")
    reference = palette_state(ARCH)
    reference["denoise_fn.out.2.weight"] = torch.zeros(2, 8, 3, 3)
    with pytest.raises(MissingArtefactError, match=r"out.2.weight|conv_out.weight"):
        palette_unet_state(reference, ARCH, "model.pretrained")


def test_palette_weights_import_from_a_saved_file(tmp_path):
    path = tmp_path / "16_Network.pth"
    torch.save(palette_state(ARCH, seed=5), path)
    model = make_diffusion()

    class Cfg(dict):
        __getattr__ = dict.get

    info = model.load_pretrained(Cfg(pretrained=str(path)))
    assert info == {"unet": str(path)}
    assert torch.equal(model.unet.conv_out.bias, palette_state(ARCH, seed=5)["denoise_fn.out.2.bias"])


def test_the_command_line_imports_palette_weights_into_the_store(tmp_path):
    """`iguln pretrain model=diffusion model.pretrained=FILE`: the original comes from the file, not training."""
    import json

    from iguln.cli import main

    path = tmp_path / "16_Network.pth"
    torch.save(palette_state(ARCH, seed=2), path)
    outputs = tmp_path / "outputs"
    common = ["experiment=smoke", "model=diffusion", f"paths.outputs={outputs}", f"model.pretrained={path}"]
    main(["pretrain", *common, f"hydra.run.dir={tmp_path / 'p'}"])
    entry = next((outputs / "store" / "original").iterdir())
    manifest = json.loads((entry / "manifest.json").read_text())
    assert entry.name.startswith("diffusion-") and manifest["source"] == "released weights"
    assert "training" not in manifest
    loaded, _ = load_generator(entry)
    expected = palette_state(ARCH, seed=2)["denoise_fn.middle_block.2.out_layers.3.weight"]
    assert torch.equal(loaded.unet.mid_block.resnets[1].conv2.weight, expected)
