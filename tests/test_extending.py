"""The README's "Extending iguln" examples, taken from the README itself: a loss, a metric and a model family, each
registered by a plug-in module (IGULN_PLUGINS) and run end to end through the command line at smoke sizes."""

import json
import re
import sys
from pathlib import Path

import pytest

from iguln.cli import main
from iguln.core import plugins
from iguln.metrics.catalogue import METRICS
from iguln.models.families import FAMILIES
from iguln.unlearn.losses import LOSSES

README = Path(__file__).parents[1] / "README.md"
EXAMPLE = re.compile(r"```python\n# mylab/(\w+)\.py\n(.*?)```", re.S)
MODULES = {"l1_noise": LOSSES, "embed_distance": METRICS, "convfill": FAMILIES}  # module -> what it registers


def readme_examples() -> dict[str, str]:
    return {name: code for name, code in EXAMPLE.findall(README.read_text())}


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    """The README's examples saved as the package mylab, named in IGULN_PLUGINS; unregistered afterwards."""
    examples = readme_examples()
    assert set(examples) == set(MODULES), "the README's Extending section lost an example"
    root = tmp_path_factory.mktemp("plugins")
    (root / "mylab").mkdir()
    (root / "mylab" / "__init__.py").write_text("")
    for name, code in examples.items():
        (root / "mylab" / f"{name}.py").write_text(code)
    sys.path.insert(0, str(root))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(plugins.ENV, ",".join(f"mylab.{name}" for name in MODULES))
        yield root
    sys.path.remove(str(root))
    for name, registry in MODULES.items():
        registry.unregister(name)
    for module in [m for m in sys.modules if m == "mylab" or m.startswith("mylab.")]:
        del sys.modules[module]
        plugins._loaded.discard(module)


@pytest.fixture(scope="module")
def outputs(plugin_dir, tmp_path_factory):
    return tmp_path_factory.mktemp("outputs")


def iguln(outputs: Path, command: str, run: str, *args: str) -> Path:
    run_dir = outputs / "runs" / run
    main([command, "experiment=smoke", f"paths.outputs={outputs}", f"hydra.run.dir={run_dir}", *args])
    return run_dir


def record(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def l1_run(outputs) -> Path:
    iguln(outputs, "pretrain", "pretrain")
    return iguln(outputs, "train", "l1", "loss=l1_noise")


def test_a_registered_loss_is_a_config_option_and_a_row(l1_run, outputs, capsys):
    rec = record(l1_run)
    assert rec["status"] == "complete"
    assert rec["method"] == {"loss": "l1_noise", "alpha": 0.25, "scope": "encoder", "retain_source": "retain"}
    assert rec["config"]["loss"] == {"name": "l1_noise", "alpha": 0.25, "noise": "gaussian"}
    assert rec["unlearning"]["final"]["forget"] > 0 and rec["unlearning"]["trainable_parameters"] > 0
    main(["report", str(l1_run), f"paths.outputs={outputs}", f"out={outputs / 'report'}", "tsne=false"])
    assert "| L1 NOISE |" in capsys.readouterr().out


def test_a_registered_metric_is_in_every_record_and_a_column(l1_run, outputs):
    rec = record(l1_run)
    for model in ("original", "unlearned"):
        for subset in ("forget", "retain"):
            entry = rec["metrics"][model][subset]["embed_distance"]
            assert isinstance(entry["value"], float) and entry["value"] > 0
            assert entry["backbone"] == "domain-judge" and entry["unit"].startswith("mean L2 distance")
    table = (outputs / "report" / "tables.md").read_text()
    assert "forget Embedding distance ↑" in table and "retain Embedding distance ↓" in table


def test_a_registered_family_trains_unlearns_and_is_scored(outputs, capsys):
    rec = record(iguln(outputs, "train", "convfill", "model=convfill", "pretrain_if_missing=true"))
    assert rec["status"] == "complete" and rec["config"]["model"]["arch"] == {
        "image_size": 32,
        "width": 8,
        "num_channels": 1,
    }
    assert all(isinstance(rec["metrics"]["unlearned"][s]["fid"]["value"], float) for s in ("forget", "retain"))
    unlearned = rec["models"]["unlearned"]["path"]
    evaluated = record(iguln(outputs, "eval", "convfill-eval", "model=convfill", f"checkpoint={unlearned}"))
    assert evaluated["models"]["unlearned"]["sha256"] == rec["models"]["unlearned"]["sha256"]
    with pytest.raises(SystemExit) as exit_info:
        iguln(outputs, "train", "convfill-retain-label", "model=convfill", "loss=retain_label")
    assert exit_info.value.code == 2
    assert "loss='retain_label' is not valid. Allowed: max_loss, random_encoder, l2_noise, retrain, l1_noise." in (
        capsys.readouterr().err
    )


def test_a_plugin_that_cannot_be_imported_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv(plugins.ENV, "mylab.no_such_module")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--cfg", "job"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("iguln train: error: IGULN_PLUGINS='mylab.no_such_module' is not valid.")
