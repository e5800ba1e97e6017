"""How an unlearning step is made (trainer.batches, masks, params, augment) and the recipe keys the reference code
needs (blr, no_decay_1d, schedule): each does what it says, and the reference protocols run end to end."""

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from iguln.cli import main
from iguln.config.checks import check_config
from iguln.core.errors import ConfigError
from iguln.data.augment import Augment
from iguln.data.batches import BalancedSets, BatchStream, Indexed
from iguln.models.families import build_generator, resolve_model_config
from iguln.models.vqgan.token_mask import decoding_states
from iguln.training.engine import param_groups, warmup_constant
from iguln.training.recipe import read_recipe
from iguln.unlearn.protocol import Protocol, read_protocol
from iguln.unlearn.unlearning import make_step
from tests.conftest import compose_config


def dataset(n: int, value: float):
    return torch.utils.data.TensorDataset(torch.full((n, 1, 8, 8), value), torch.zeros(n))


def test_a_mixed_batch_is_split_by_set_and_weighted_as_the_reference_weights_it():
    sets = BalancedSets(dataset(3, -1.0), dataset(6, 1.0))
    assert len(sets) == 12  # the forget set repeated to the retain set's 6
    assert [sets[i][1] for i in (0, 5, 6, 11)] == [0, 0, 1, 1] and torch.equal(sets[4][0], sets[1][0])
    stream = BatchStream(sets, 4, seed=0, labels=True)
    mask = torch.ones(1, 1, 8, 8)
    for _ in range(6):
        forget, retain, masks, step = make_step([stream], Protocol(batches="mixed"), mask, None, None, 2.0, "cpu")
        n_f, n_r = int((forget == -1).all(dim=(1, 2, 3)).sum()), int((retain == 1).all(dim=(1, 2, 3)).sum())
        w_f, w_r = step.weights
        if len(forget) == n_f and len(retain) == n_r:  # both sets in this batch
            assert (w_f, w_r) == (2.0 * n_f / 4, 2.0 * n_r / 4) and n_f + n_r == 4
            assert len(step.pairing) == n_f and int(step.pairing.max()) < n_r
        else:  # one set missing: its term weighs nothing, on a stand-in image of the other set
            assert 0.0 in (w_f, w_r)
        assert step.population.shape == (4, 1, 8, 8) and masks.forget is mask or torch.equal(masks.forget, mask)


def separate_streams() -> list[BatchStream]:
    return [BatchStream(dataset(8, -1.0), 4, 1), BatchStream(Indexed(dataset(8, 1.0)), 4, 2, labels=True)]


def test_separate_batches_are_as_before():
    forget, retain, masks, step = make_step(
        separate_streams(), Protocol(), torch.ones(1, 1, 8, 8), None, None, 2.0, "cpu"
    )
    assert (forget == -1).all() and (retain == 1).all() and len(forget) == len(retain) == 4
    assert step.weights == (1.0, 1.0) and step.pairing is None and step.population is None
    assert len(set(step.retain_index.tolist())) == 4 and all(0 <= i < 8 for i in step.retain_index.tolist())


@pytest.mark.parametrize("model", ["vqgan", "mae", "diffusion"])
def test_family_masks_are_each_image_s_own_draw(model):
    cfg = resolve_model_config(compose_config("train", [f"model={model}", "model.preset=micro"]).model, 1)
    generator = build_generator(cfg)
    draws = torch.Generator().manual_seed(0)
    _, _, masks, _ = make_step(separate_streams(), Protocol(masks="family"), None, generator, draws, 1.0, "cpu")
    assert len(masks.forget) == 4 and len(masks.retain) == 4


def test_decoding_masks_are_the_states_of_iterative_decoding():
    masked = torch.zeros(400, 64, dtype=torch.bool)
    masked[:, [18, 19, 20, 21, 26, 27, 28, 29, 34, 35, 36, 37, 42, 43, 44, 45]] = True  # the centre 4 x 4 tokens
    states = decoding_states(masked, 8, torch.Generator().manual_seed(0))
    assert not (states.masked & ~masked).any()  # only the task's tokens are ever hidden
    counts = set(states.masked.sum(1).tolist())  # what rounds 0..7 of decoding.py start with, for 16 tokens
    assert counts == {16, 15, 14, 13, 11, 8, 6, 3}
    again = decoding_states(masked, 8, torch.Generator().manual_seed(0))
    assert torch.equal(states.masked, again.masked)
    assert set(decoding_states(masked, 1, None).masked.sum(1).tolist()) == {16}  # one round: the task's mask


def test_decoding_masks_reach_the_step_and_are_refused_without_the_capability():
    cfg = resolve_model_config(compose_config("train", ["model.preset=micro"]).model, 1)
    generator = build_generator(cfg)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    draws = torch.Generator().manual_seed(0)
    _, _, masks, _ = make_step(separate_streams(), Protocol(masks="decoding"), mask, generator, draws, 1.0, "cpu")
    task = generator.token_mask(mask, 4)
    assert len(masks.forget) == 4 and not (masks.forget.masked & ~task).any()
    assert generator.encode(torch.rand(4, 1, 32, 32) * 2 - 1, masks.forget).shape[0] == 4
    with pytest.raises(ConfigError, match=r"trainer.masks='decoding' is not valid\. Allowed: task, family.*"
                       "decoding_masks"):  # fmt: skip
        check_config(compose_config("train", ["model=mae", "trainer.masks=decoding"]), "train")


def test_mage_s_masks_drop_tokens_from_the_encoder_input():
    cfg = compose_config("train", ["model.preset=micro", "model.token_drop=true", "model.block_masks=0"]).model
    generator = build_generator(resolve_model_config(cfg, 1)).eval()
    mask = generator.training_masks(3, torch.Generator().manual_seed(0))
    length = generator.grid**2
    assert bool((mask.dropped <= mask.masked).all())  # dropped tokens are masked ones
    assert int(mask.dropped.sum(1)[0]) == -(-length * cfg.mask_ratio.min // 1)  # ceil(L * min)
    features = generator.encode(torch.rand(3, 1, 32, 32) * 2 - 1, mask)
    assert features.shape[1] == 1 + length - int(mask.dropped.sum(1)[0])
    assert generator.output(torch.rand(3, 1, 32, 32) * 2 - 1, mask, full=True).shape[1] == 1 + length


def test_crops_and_flips_are_seeded_and_keep_the_size_and_range():
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    augment = Augment((0.2, 1.0), True)
    a, b = augment(x, torch.Generator().manual_seed(3)), augment(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape and a.min() >= -1 and a.max() <= 1
    assert not torch.equal(a, augment(x, torch.Generator().manual_seed(4)))
    whole = Augment((1.0, 1.0), False)(x, torch.Generator().manual_seed(0))  # the full image at an aspect ratio of 1
    assert whole.shape == x.shape


def test_blr_sets_lr_from_the_batch_and_refuses_both():
    trainer = compose_config("train", ["trainer.lr=null", "trainer.blr=1e-4", "trainer.batch_size=128"]).trainer
    assert read_recipe(trainer, "trainer").lr == pytest.approx(5e-5)
    with pytest.raises(ConfigError, match=r"trainer.lr=0.0005 is not valid\. Allowed: null while trainer.blr is set"):
        read_recipe(compose_config("train", ["trainer.blr=1e-4"]).trainer, "trainer")
    with pytest.raises(ConfigError, match="trainer.batches='joined' is not valid. Allowed: separate, mixed"):
        read_protocol(compose_config("train", ["trainer.batches=joined"]).trainer)
    with pytest.raises(ConfigError, match="trainer.augment"):
        read_protocol(compose_config("train", ["trainer.augment={crop_scale: [0.5, 0.2]}"]).trainer)


def test_no_decay_1d_keeps_weight_decay_off_biases_and_norms():
    layer, norm, bias3d = torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.Parameter(torch.zeros(1, 1, 4))
    params = [layer.weight, layer.bias, norm.weight, bias3d]
    names = {id(bias3d): "mlm_layer.bias"}
    decay, no_decay = param_groups(params, 0.05, True, names)
    assert decay["params"] == [layer.weight] and decay["weight_decay"] == 0.05
    assert no_decay["params"] == [layer.bias, norm.weight, bias3d] and no_decay["weight_decay"] == 0.0
    assert len(param_groups(params, 0.05, False)) == 1
    assert [warmup_constant(s, 2, 10) for s in (0, 1, 2, 9)] == [0.5, 1.0, 1.0, 1.0]


def test_a_protocol_is_in_the_checkpoint_key_and_the_record():
    assert Protocol().record() == {"batches": "separate", "masks": "task", "params": "scope", "augment": None}
    cfg = compose_config("train", ["+reference=mage"])
    protocol = read_protocol(cfg.trainer)
    assert protocol.record()["augment"] == {"crop_scale": [0.2, 1.0], "flip": True}
    assert OmegaConf.select(cfg, "model.token_drop") is True and cfg.loss.noise == "gaussian_scalar"


@pytest.mark.parametrize(("model", "reference"), [("vqgan", "mage"), ("diffusion", "palette")])
def test_the_reference_protocol_runs_end_to_end(model, reference, tmp_path):
    run = tmp_path / "run"
    args = ["train", "experiment=smoke", f"model={model}", f"+reference={reference}", "pretrain_if_missing=true",
            f"paths.outputs={tmp_path}", f"hydra.run.dir={run}", "trainer.batch_size=8",
            "trainer.warmup_steps=1"]  # fmt: skip
    if reference == "mage":
        args.append("trainer.blr=0.05")  # lr 1.6e-3 at 8 images a step
    main(args)
    record = json.loads((Path(run) / "results.json").read_text())
    assert record["status"] == "complete"
    assert (
        record["unlearning"]["protocol"]["batches"] == "mixed" and record["unlearning"]["protocol"]["params"] == "all"
    )
    assert record["unlearning"]["recipe"]["schedule"] == ("constant" if reference == "palette" else "warmup_cosine")
    if reference == "mage":
        assert record["unlearning"]["recipe"]["lr"] == pytest.approx(0.05 * 8 / 256)
        assert record["unlearning"]["recipe"]["no_decay_1d"] is True
    assert record["models"]["original"]["pixels"] == {"range": [-1.0, 1.0]}  # trained here: iguln's own range
