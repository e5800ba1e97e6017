"""The README's findings: their figures are computed by benchmarks/findings.py from the generated results, the
committed findings.md is what the committed results give, and the README's findings type no measured figure."""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import findings  # noqa: E402
import provenance  # noqa: E402


def run(split: str, seed: int, forget: float, retain: float, method: str = "alpha 0.5", **extra) -> dict:
    return {"family": "vqgan", "split": split, "seed": seed, "forget": forget, "retain": retain, "method": method,
            "original": "abcd (2 threads)", "passes": forget >= 3.0 and retain <= 1.10, **extra}  # fmt: skip


def test_each_split_s_verdicts_and_ranges_come_from_its_runs(tmp_path):
    runs = [run("a+b", 0, 3.5, 1.02, forget_detect=0.5), run("a+b", 1, 4.25, 1.08, forget_detect=0.75),
            run("c+d", 0, 3.5, 1.2), run("c+d", 1, 1.5, 1.0), run("e+f", 0, 2.0, 1.0)]  # fmt: skip
    (tmp_path / "matrix_x.json").write_text(json.dumps({"provenance": {}, "runs": runs}))
    (tmp_path / "checks_y.json").write_text(json.dumps({"provenance": {}, "runs": [{"checks": []}]}))  # not judged
    found = findings.series(tmp_path)
    assert list(found) == ["matrix_x"]
    rows = findings.verdict_rows(found["matrix_x"])
    assert rows[0]["meet_both"] == 2 and rows[0]["forget"] == "3.50-4.25" and rows[0]["detect"] == "50-75"
    assert rows[1]["meet_both"] == 0 and rows[1]["retain"] == "1.000-1.200" and rows[1]["detect"] == "—"
    verdicts = findings.split_verdicts(found["matrix_x"])["vqgan"]
    assert verdicts == {"every run": ["a+b"], "some runs": [], "no run": ["c+d", "e+f"], "met": [2, 5]}


def test_the_splits_are_ordered_by_the_original_s_forget_fid_and_the_separation_is_said():
    runs = [
        run("a+b", 0, 3.5, 1.0, forget_fid_original=9.0),
        run("a+b", 1, 1.5, 1.0, forget_fid_original=9.5),
        run("c+d", 0, 3.5, 1.0, forget_fid_original=2.0),
        run("e+f", 0, 1.0, 1.0, forget_fid_original=5.0),
    ]
    [ordered] = findings.by_original(runs)
    assert [(e["split"], e["original"], e["met"]) for e in ordered["splits"]] == [
        ("c+d", 2.0, 1), ("e+f", 5.0, 0), ("a+b", 9.25, 1)]  # fmt: skip
    assert ordered["separated"] is True
    runs[2]["forget_fid_original"] = 6.0  # the split met on every run now fills worse than one met on none
    assert findings.by_original(runs)[0]["separated"] is False
    text, _ = findings.markdown({"matrix_x": runs}, {})
    assert "e+f 5.00 (0 of 1), c+d 6.00 (1 of 1), a+b 9.25 (1 of 2)" in text and "on none: no." in text
    mixed = [*runs, run("c+d", 1, 3.5, 1.0, method="alpha 0.1", forget_fid_original=2.0)]
    assert [e["method"] for e in findings.by_original(mixed)] == ["alpha 0.5"]  # one split of alpha 0.1: no order
    runs[3] = run("e+f", 0, 3.5, 1.0, forget_fid_original=5.0)
    assert findings.by_original(runs)[0]["separated"] is None  # no split met on none
    assert findings.by_original([run(s, 0, 3.5, 1.0) for s in ("a+b", "c+d", "e+f")]) == []  # no original FID


def test_vqgan_runs_are_grouped_by_the_noise_image_they_drew():
    runs = [run("a+b", 1, 1.5, 1.0), run("a+b", 1, 4.0, 1.05, method="alpha 0.5, noise seed 0")]
    images = findings.noise_image_rows(runs)
    assert [(r["noise_image"], r["seed"], r["set_apart"]) for r in images] == [(0, 1, True), (1, 1, False)]
    recorded = [run("a+b", 1, 1.5, 1.0, noise_seed=None), run("a+b", 1, 4.0, 1.05, method="alpha 0.5", noise_seed=0)]
    assert findings.noise_image_rows(recorded) == images  # the field, where matrix.py wrote it, says the same
    text, _ = findings.markdown({"dev_x": runs}, {})
    assert "| a+b | 0 | 1 | 4.00 | 1.050 | yes | yes |" in text and "| a+b | 1 | 1 | 1.50 | 1.000 | no | no |" in text


def test_a_ceiling_row_gives_its_lowest_and_highest_ratio():
    rows = [{"split": "a+b", "fid": {"original": 10.0, "t1": 25.0, "t2": 40.0}}]
    assert findings.ceiling_rows(rows) == [{"split": "a+b", "original": 10.0, "low": 2.5, "high": 4.0,
                                            "at_least_3x": 1, "targets": 2}]  # fmt: skip


def test_the_originals_section_gives_each_split_s_spread_over_the_model_seeds():
    spreads = [{"steps": 800, "split": "a+b", "n": 3, "forget_min": 8.0, "forget_max": 17.0, "forget_spread": 2.125,
                "retain_min": 3.0, "retain_max": 3.0, "retain_spread": 1.0}]  # fmt: skip
    text, data = findings.markdown({}, {}, {"originals_x": spreads})
    assert "## originals_x" in text and "| 800 | a+b | 3 | 8.00-17.00 | 2.12 | 3.00 | 1.00 |" in text
    assert data["originals"]["originals_x"] == spreads


def test_the_steps_section_gives_each_family_s_pairs_and_the_rule(tmp_path):
    verdicts = {"vqgan": {"pairs": 12, "keep": 11, "meet_both": {"base": 3, "shorter": 4}, "rule_met": True}}
    (tmp_path / "steps_x.json").write_text(json.dumps({"base": "m400", "shorter": "m100", "verdicts": verdicts}))
    text, data = findings.markdown({}, {}, {}, findings.step_files(tmp_path))
    assert "## steps_x" in text and "`m100` paired with those of `m400`" in text
    assert "| vqgan | 12 | 11 | 3 | 4 | met |" in text and data["steps"]["steps_x"] == verdicts


def test_the_committed_findings_are_what_the_committed_results_give():
    results = provenance.RESULTS
    text, _ = findings.markdown(findings.series(results), findings.ceilings(results), findings.original_files(results),
                                findings.step_files(results))  # fmt: skip
    committed = (provenance.RESULTS / "findings.md").read_text()
    assert text.rstrip() in committed, "run `python benchmarks/findings.py` after writing results anew"


def test_the_readme_s_findings_type_no_measured_figure():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### The targets, and what holds", 1)[1].split("\n## ", 1)[0]
    # alphas tried and the retain target: settings, not measurements
    settings = {"0.02", "0.03", "0.05", "0.1", "0.25", "0.5", "1.10"}
    decimals = set(re.findall(r"\d+\.\d+", section)) - settings
    assert not decimals, f"measured figures typed into the README's findings: {sorted(decimals)}"
    assert not re.search(r"\d+ ?%|\d+ of \d+ (runs|seeds)", section), "a measured share typed into the findings"
