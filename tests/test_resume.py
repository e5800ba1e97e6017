"""Kill-and-resume: a pretraining or unlearning run stopped part-way ends, when run again, with the numbers of an
uninterrupted run; a corrupt or foreign checkpoint is refused with its path."""

import json
from pathlib import Path

import pytest
import torch

import iguln.jobs.pretraining as pretraining_module
import iguln.unlearn.unlearning as unlearning_module
from iguln.cli import main
from iguln.data.batches import BatchStream
from iguln.store.partial import CheckpointError
from iguln.training.checkpoints import Checkpoints

SMOKE = ["experiment=smoke", "trainer.checkpoint_every=2"]


class Killed(RuntimeError):
    """Stands for the process being killed."""


def killing_fit(monkeypatch, module, after: int):
    """Make `module.fit` raise Killed when its step function is called for the (after + 1)-th time overall."""
    real_fit, calls = module.fit, {"n": 0}

    def fit(params, step_fn, *args, **kwargs):
        def step():
            calls["n"] += 1
            if calls["n"] > after:
                raise Killed(f"killed at call {calls['n']}")
            return step_fn()

        return real_fit(params, step, *args, **kwargs)

    monkeypatch.setattr(module, "fit", fit)


def iguln(outputs: Path, command: str, run: str, *args: str) -> dict:
    run_dir = outputs / "runs" / run
    main([command, *SMOKE, f"paths.outputs={outputs}", f"hydra.run.dir={run_dir}", *args])
    return json.loads((run_dir / "results.json").read_text())


def partial_files(outputs: Path) -> list[Path]:
    return sorted((outputs / "store" / "partial").glob("*/checkpoint.pt"))


def test_a_stream_that_seeks_gives_the_batches_it_would_have_given():
    data = torch.utils.data.TensorDataset(torch.arange(10.0).view(10, 1), torch.zeros(10))
    full = BatchStream(data, 3, seed=4)
    expected = [next(full) for _ in range(9)]  # three epochs of three batches (one image dropped each)
    resumed = BatchStream(data, 3, seed=4)
    resumed.seek(5)
    assert all(torch.equal(next(resumed), e) for e in expected[5:])


def test_a_stream_draws_from_the_global_generator_as_a_plain_loader_loop_does():
    """Dropout shares torch's global generator with the loaders' per-epoch seeds: the stream must draw at the
    same epoch boundaries as `for epoch: for batch in DataLoader(...)`, or every unlearned model shifts."""
    data = torch.utils.data.TensorDataset(torch.arange(10.0).view(10, 1), torch.zeros(10))
    torch.manual_seed(0)
    stream = BatchStream(data, 3, seed=4)
    mine = [(next(stream), torch.rand(1)) for _ in range(7)]
    torch.manual_seed(0)
    sampler = torch.utils.data.RandomSampler(data, generator=torch.Generator().manual_seed(4))
    loader = torch.utils.data.DataLoader(data, batch_size=3, sampler=sampler, drop_last=True)
    plain = [(images, torch.rand(1)) for _ in range(3) for images, _ in loader][:7]
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(mine, plain, strict=True))


def test_pretraining_killed_in_its_second_stage_resumes_to_the_same_weights(tmp_path, monkeypatch):
    whole = iguln(tmp_path / "a", "pretrain", "whole")["models"]["original"]
    killing_fit(monkeypatch, pretraining_module, after=9)  # 6 tokenizer steps, then 3 transformer steps
    with pytest.raises(SystemExit):  # Hydra reports the error and exits
        iguln(tmp_path / "b", "pretrain", "killed")
    assert len(partial_files(tmp_path / "b")) == 1
    monkeypatch.undo()
    resumed = iguln(tmp_path / "b", "pretrain", "resumed")["models"]["original"]
    assert resumed["sha256"] == whole["sha256"]
    assert resumed["training"]["transformer"]["resumed_from_step"] == 2
    assert resumed["training"]["tokenizer"] == whole["training"]["tokenizer"] | {
        "wall_s": resumed["training"]["tokenizer"]["wall_s"],
        "steps_per_s": resumed["training"]["tokenizer"]["steps_per_s"],
    }
    assert partial_files(tmp_path / "b") == []


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    outputs = tmp_path_factory.mktemp("resume")
    main(["pretrain", *SMOKE, f"paths.outputs={outputs}", f"hydra.run.dir={outputs}/runs/pretrain"])
    return outputs


def test_unlearning_killed_part_way_resumes_to_the_same_metrics(store, monkeypatch):
    whole = iguln(store, "train", "whole", "resume=false")
    killing_fit(monkeypatch, unlearning_module, after=3)
    with pytest.raises(SystemExit):  # Hydra reports the error and exits
        iguln(store, "train", "killed")
    killed = json.loads((store / "runs" / "killed" / "results.json").read_text())
    assert killed["status"] == "failed" and "Killed" in killed["error"]
    assert len(partial_files(store)) == 1
    monkeypatch.undo()
    resumed = iguln(store, "train", "resumed")
    assert resumed["unlearning"]["resumed_from_step"] == 2
    assert resumed["models"]["unlearned"]["sha256"] == whole["models"]["unlearned"]["sha256"]
    assert resumed["metrics"] == whole["metrics"]
    assert partial_files(store) == []


def test_a_corrupt_or_foreign_checkpoint_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    module = torch.nn.Linear(2, 2)
    Checkpoints(path, {"seed": 0}, 1, {"m": module}).save(1, {}, {}, {}, 0.0)
    with pytest.raises(CheckpointError, match="different config"):
        Checkpoints(path, {"seed": 1}, 1, {"m": module}).read()
    assert Checkpoints(path, {"seed": 0}, 1, {"m": module}).read()["step"] == 1
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=f"{path}.*cannot be read"):
        Checkpoints(path, {"seed": 0}, 1, {"m": module}).read()


def test_a_corrupt_checkpoint_stops_the_command_and_resume_false_starts_over(store, monkeypatch, capsys):
    args = ("trainer.steps=3", "save_model=false")
    killing_fit(monkeypatch, unlearning_module, after=2)
    with pytest.raises(SystemExit):  # Hydra reports the error and exits
        iguln(store, "train", "to-corrupt", *args)
    monkeypatch.undo()
    [path] = partial_files(store)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as exit_info:
        iguln(store, "train", "refused", *args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err and "cannot be read" in err and "resume=false" in err
    assert iguln(store, "train", "over", *args, "resume=false")["unlearning"]["resumed_from_step"] == 0
    assert partial_files(store) == []
