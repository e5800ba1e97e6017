"""The evaluation aspects beyond FID / IS / similarity, on outputs made here with known answers: the detector rate,
preservation in pixels (PSNR, SSIM) and features, the reference fills, and the weight change."""

import math

import pytest
import torch
from torch import nn

from iguln.metrics.catalogue import METRICS, Settings
from iguln.metrics.detector import OUTSIDE, detector_rate, hole_only
from iguln.metrics.pixels import PsnrInHole, SsimInHole
from iguln.metrics.reference_fills import FixedFill
from iguln.unlearn.change import weight_change

FORGET = (1, 8)


def centre() -> torch.Tensor:
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    return mask


def one_hot_logits(classes: torch.Tensor, k: int = 10) -> torch.Tensor:
    return torch.nn.functional.one_hot(classes, k).float() * 5


def test_a_perfect_generator_is_detected_as_its_class_and_a_wrong_one_is_not():
    forget_labels, retain_labels = torch.tensor([1, 1, 8, 8]), torch.tensor([0, 2, 3, 4])
    assert detector_rate(one_hot_logits(forget_labels), forget_labels, FORGET, "forget")["value"] == 1.0
    assert detector_rate(one_hot_logits(retain_labels), retain_labels, FORGET, "retain")["value"] == 1.0
    shown = torch.tensor([1, 0, 5, 8])  # two of four outputs still show a forget class
    entry = detector_rate(one_hot_logits(shown), forget_labels, FORGET, "forget")
    assert entry["value"] == 0.5 and entry["predicted"] == {0: 0.25, 1: 0.25, 5: 0.25, 8: 0.25}
    assert detector_rate(one_hot_logits(torch.tensor([0, 0, 3, 3])), retain_labels, FORGET, "retain")["value"] == 0.5


def test_the_detector_metric_reads_labels_from_its_settings():
    labels = torch.tensor([1, 8, 1])
    settings = Settings(1, 0, 0, labels, FORGET, "forget")
    fake = one_hot_logits(torch.tensor([3, 3, 1]))
    entry = METRICS.get("detect").compute(fake, fake, settings)
    assert entry["value"] == pytest.approx(1 / 3)


def test_hole_only_blanks_everything_outside_the_hole():
    x = torch.rand(2, 1, 16, 16)
    y = hole_only(x, centre())
    assert torch.equal(y[..., 4:12, 4:12], x[..., 4:12, 4:12])
    assert (y[..., :4, :] == OUTSIDE).all() and (y[..., 12:, :] == OUTSIDE).all()


def test_psnr_in_the_hole_has_its_known_value_and_ignores_the_outside():
    mask = centre()
    reference = torch.rand(3, 1, 16, 16) * 2 - 1
    reference = reference.clamp(-0.5, 0.5)
    outputs = reference + 0.2 * mask  # error 0.2 in every hole pixel: MSE 0.04, PSNR 10 log10(4 / 0.04) = 20 dB
    outputs[..., 0, 0] = 1.0  # outside the hole: not counted
    psnr = PsnrInHole(None, mask, torch.device("cpu"))
    psnr.update(reference, outputs)
    entry = psnr.entry()
    assert entry["value"] == pytest.approx(20.0, abs=1e-4) and entry["n_generated"] == 3
    same = PsnrInHole(None, mask, torch.device("cpu"))
    same.update(reference, reference.clone())
    assert same.entry()["value"] is None and same.entry()["identical"] is True  # infinite PSNR is not a number


def test_ssim_in_the_hole_is_one_for_identical_fills_and_lower_for_noise():
    mask = centre()
    reference = torch.rand(4, 1, 16, 16) * 2 - 1
    same, noisy = SsimInHole(None, mask, torch.device("cpu")), SsimInHole(None, mask, torch.device("cpu"))
    same.update(reference, reference.clone())
    noise = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    noisy.update(reference, torch.where(mask.bool(), noise, reference))
    assert same.entry()["value"] == pytest.approx(1.0, abs=1e-5)
    assert noisy.entry()["value"] < 0.5


def test_feature_distance_is_zero_for_the_same_outputs_and_one_for_orthogonal_ones():
    metric = METRICS.get("feature_distance")
    a = torch.eye(4)
    assert metric.compute(a, a.clone(), Settings(1, 0))["value"] == pytest.approx(0.0, abs=1e-6)
    assert metric.compute(a, a.roll(1, dims=1), Settings(1, 0))["value"] == pytest.approx(1.0, abs=1e-6)


def test_the_fixed_fills_change_the_hole_only():
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    mask = centre()
    zero = FixedFill("zero").generate(x, mask)
    assert (zero[..., 4:12, 4:12] == 0).all() and torch.equal(zero * (1 - mask), x * (1 - mask))
    noise = FixedFill("noise").generate(x, mask, torch.Generator().manual_seed(0))
    hole = noise[..., 4:12, 4:12]
    assert hole.min() >= -1 and hole.max() <= 1 and hole.std() > 0.3
    with pytest.raises(ValueError):
        FixedFill("black")


def test_weight_change_counts_the_changed_elements_and_the_norm_of_the_change():
    original = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    result = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    result.load_state_dict(original.state_dict())
    with torch.no_grad():
        result[0].weight[0, :2] += torch.tensor([3.0, 4.0])  # two of 30 elements; the change has norm 5
    change = weight_change(original, result, encoder={"0.weight", "0.bias"})
    assert change["parameters"] == 30 and change["changed"] == 2 and change["changed_share"] == pytest.approx(2 / 30)
    assert change["change_norm"] == pytest.approx(5.0)
    norm = math.sqrt(sum(float(p.detach().pow(2).sum()) for p in original.parameters()))
    assert change["relative_change_norm"] == pytest.approx(5.0 / norm)
    assert change["encoder"]["parameters"] == 20 and change["encoder"]["changed"] == 2
    assert weight_change(original, original)["changed"] == 0


def test_detector_rates_through_scoring_with_a_perfect_and_a_filling_generator():
    """A backbone that reads the class from the centre pixel (class c is the value 2c/10 - 1 + 0.1): a generator
    that copies the ground truth is detected as its class everywhere; the zero fill (class 5) never is."""
    from torch.utils.data import TensorDataset

    from iguln.metrics.backbones import Backbone
    from iguln.metrics.evaluate import extract_features, metric_entries

    def extract(x):
        code = ((x[:, 0, 8, 8] + 1) / 2 * 10).floor().clamp(0, 9).long()
        return {"pool": x.flatten(1), "logits": one_hot_logits(code)}

    backbone = Backbone("centre-reader", "none", extract, ("pool", "logits"), classifies_data=True)
    labels = torch.tensor([1, 8, 1, 8, 0, 2, 3, 4])
    images = (2 * labels.float() / 10 - 1 + 0.1).view(-1, 1, 1, 1).expand(-1, 1, 16, 16).clone()
    mask = centre()
    sets = {"forget": slice(0, 4), "retain": slice(4, 8)}

    class Copy(nn.Module):
        def generate(self, x, mask, generator=None):
            return x  # the ground truth was given as input: a perfect generator

    for generator, expected in ((Copy(), {"forget": 1.0, "retain": 1.0}), (FixedFill("zero"), {"forget": 0.0,
                                "retain": 0.0})):  # fmt: skip
        for s, rows in sets.items():
            data = TensorDataset(images[rows], labels[rows])
            real = extract_features(backbone, data, 4, torch.device("cpu"), "fp32", hole=mask)
            fake = extract_features(backbone, data, 4, torch.device("cpu"), "fp32", generator, mask, hole=mask)
            entries = metric_entries(real, fake, backbone, 1, 0, 0, labels[rows], FORGET, s)
            assert entries["detect"]["value"] == expected[s], (generator, s)
            assert entries["detect_hole"]["value"] == expected[s]  # the centre pixel is inside the hole
    plain = Backbone("no-classes", "none", extract, ("pool", "logits"))  # logits, but not over the data's classes
    data = TensorDataset(images[:4], labels[:4])
    real = extract_features(plain, data, 4, torch.device("cpu"), "fp32", hole=mask)
    entries = metric_entries(real, real, plain, 1, 0, 0, labels[:4], FORGET, "forget")
    assert (
        entries["detect"]["value"] is None
        and "does not classify this data set's classes" in entries["detect"]["missing"]
    )
