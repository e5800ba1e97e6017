"""Frozen work once (iguln/unlearn/targets.py, models/frozen_passes.py): what is reused is what would have been
recomputed, and a run with reuse takes the steps of a run without it."""

import copy

import pytest
import torch

from iguln.core.errors import ConfigError
from iguln.data.masks import center_square
from iguln.models.capabilities import shared_frozen_passes
from iguln.models.frozen_passes import FrozenPasses
from iguln.training.recipe import Recipe
from iguln.unlearn.l2_noise import L2Noise
from iguln.unlearn.losses import build_loss
from iguln.unlearn.protocol import Protocol
from iguln.unlearn.targets import Reuse, TargetCache, read_reuse
from iguln.unlearn.unlearning import unlearn
from tests.conftest import compose_config, micro

MASK = center_square(32, 0.5)


def test_a_pass_is_reused_for_the_same_tensor_only():
    passes, calls = FrozenPasses(), []

    def compute(x):
        calls.append(1)
        return x * 2

    x = torch.ones(3)
    assert torch.equal(passes.get(x, compute), passes.get(x, compute)) and len(calls) == 1
    passes.get(torch.ones(3), compute)  # equal values, another tensor: computed
    x.add_(1)  # changed in place: computed again
    assert torch.equal(passes.get(x, compute), torch.full((3,), 4.0)) and len(calls) == 3
    assert passes.record() == {"hits": 1, "misses": 3}


def test_student_and_teacher_tokenize_a_batch_once():
    teacher = micro("vqgan")
    student = copy.deepcopy(teacher)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    alone = teacher.encode(x, MASK)
    with shared_frozen_passes(student, teacher) as passes:
        assert passes is not None
        a, b = student.encode(x, MASK), teacher.encode(x, MASK)
        assert passes.record() == {"hits": 1, "misses": 1}
    assert torch.equal(a, alone) and torch.equal(b, alone)
    assert student.tokenizer.passes is None and teacher.tokenizer.passes is None


def test_tokenizers_that_differ_share_nothing():
    teacher = micro("vqgan")
    student = copy.deepcopy(teacher)
    with torch.no_grad():
        next(student.tokenizer.parameters()).add_(1.0)
    with shared_frozen_passes(student, teacher) as passes:
        assert passes is None and student.tokenizer.passes is None


def test_a_family_without_a_frozen_front_end_shares_nothing():
    teacher = micro("mae")
    with shared_frozen_passes(copy.deepcopy(teacher), teacher) as passes:
        assert passes is None


def test_kept_retain_targets_are_the_computed_ones():
    cache, calls = TargetCache(retain_ok=True, constant_ok=True, max_bytes=10**6), []
    images = torch.randn(6, 3)

    def compute(x):
        calls.append(len(x))
        return x * 3

    first = cache.retain(torch.tensor([0, 1, 2]), images[:3], compute)
    again = cache.retain(torch.tensor([2, 0, 1]), images[[2, 0, 1]], compute)
    mixed = cache.retain(torch.tensor([1, 4]), images[[1, 4]], compute)
    assert torch.equal(first, images[:3] * 3) and torch.equal(again, images[[2, 0, 1]] * 3)
    assert torch.equal(mixed, images[[1, 4]] * 3) and calls == [3, 1]  # only image 4 computed the last time
    assert cache.record()["retain_hits"] == 4 and cache.record()["retain_misses"] == 4


def test_the_budget_bounds_what_is_kept():
    cache = TargetCache(retain_ok=True, constant_ok=True, max_bytes=2 * 3 * 4)  # two rows of 3 floats
    cache.retain(torch.arange(4), torch.randn(4, 3), lambda x: x)
    assert len(cache.rows) == 2 and cache.bytes == 24


@pytest.mark.parametrize(
    ("protocol", "retain_ok"),
    [(Protocol(), True), (Protocol(batches="mixed"), False), (Protocol(masks="family"), None)],
)
def test_targets_are_kept_only_where_they_are_deterministic(protocol, retain_ok):
    cache = TargetCache.for_run(Reuse(), protocol)
    assert (cache is None) if retain_ok is None else cache.retain_ok is retain_ok
    assert TargetCache.for_run(Reuse(enabled=False), Protocol()) is None
    assert not TargetCache.for_run(Reuse(), Protocol(), repeats=False).retain_ok  # no image comes round again


@pytest.mark.parametrize(("key", "value"), [("reuse_frozen", "yes"), ("target_cache_mb", -1), ("target_cache_mb", "a")])
def test_bad_reuse_settings_are_refused(key, value):
    cfg = compose_config("train", [])
    cfg.trainer[key] = value
    with pytest.raises(ConfigError, match=f"trainer.{key}"):
        read_reuse(cfg.trainer)


def run(original, reuse: bool, noise_draw: str = "once"):
    student = copy.deepcopy(original)
    x = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    data = torch.utils.data.TensorDataset(x, torch.zeros(8))
    recipe = Recipe(6, batch_size=4, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0, warmup_steps=0, grad_clip=None)
    loss = L2Noise(1.0, "uniform", noise_draw=noise_draw)
    torch.manual_seed(1)
    history = unlearn(student, original, loss, data, data, MASK, recipe, torch.device("cpu"), 0, reuse=Reuse(reuse))
    return student, history


@pytest.mark.parametrize("family", ["vqgan", "mae", "diffusion"])
def test_unlearning_with_reuse_takes_the_steps_of_recomputing(family):
    original = micro(family)
    (a, history), (b, plain) = run(original, True), run(original, False)

    def distance(p, q):
        return max((p[k] - q[k]).abs().max().item() for k in p)

    apart, moved = distance(a.state_dict(), b.state_dict()), distance(a.state_dict(), original.state_dict())
    assert moved > 1e-3 and apart < 1e-4, (moved, apart)
    reuse, targets = history["reuse"], history["reuse"]["targets"]
    assert plain["reuse"] == {"enabled": False, "shared_frozen_passes": None, "targets": None}
    if family == "diffusion":  # a random noise level in every encoding: nothing deterministic to keep
        assert targets["retain_hits"] == 0 and not targets["constant_forget_target"]
    else:  # 8 retain images, 6 steps of 4: from the third step on every retain target is kept
        assert targets["retain_hits"] == 16 and targets["retain_misses"] == 8 and targets["constant_forget_target"]
    assert (reuse["shared_frozen_passes"] is not None) == (family == "vqgan")


def test_the_noise_seed_fixes_the_one_noise_image_whatever_the_job_seed():
    original = micro("mae")
    x = torch.rand(8, 1, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    data = torch.utils.data.TensorDataset(x, torch.zeros(8))
    recipe = Recipe(1, batch_size=4, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.0, warmup_steps=0, grad_clip=None)

    def drawn(seed: int, noise_seed: int | None) -> torch.Tensor:
        loss = L2Noise(1.0, "uniform", noise_draw="once", noise_seed=noise_seed)
        unlearn(copy.deepcopy(original), original, loss, data, data, MASK, recipe, torch.device("cpu"), seed)
        return loss.fixed_noise

    assert torch.equal(drawn(0, 5), drawn(3, 5))
    assert not torch.equal(drawn(0, None), drawn(3, None))
    assert torch.equal(drawn(5, None), drawn(0, 5))  # null: the job's seed
    with pytest.raises(ConfigError, match=r"loss.noise_seed=-1 is not valid. Allowed: null \(the job's seed\)"):
        build_loss(compose_config("train", ["loss.noise_seed=-1"]).loss)
