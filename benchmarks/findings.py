"""The figures behind the README's findings, computed from the generated files that hold the runs: for every series of
runs (a matrix*.md or dev_*.md file of benchmarks/matrix.py), each split's verdicts, ratio ranges and detector
rates, and its splits ordered by the original's forget FID; for vqgan's one noise image, the runs grouped by the
image they drew; for every ceiling file, each split's range; for every originals file, how far the model seeds'
originals differ; for every steps file (of benchmarks/steps.py), how many cheaper runs kept the quality. The README
states what these tables show and links them; it types none of their figures.

    python benchmarks/findings.py

Reads benchmarks/results/*.json; writes benchmarks/results/findings.md and .json. Run it again after any of those
files is written anew (`make bench` does).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

from matrix import ROLE, TARGETS
from provenance import RESULTS, write

NOISE_SEED = re.compile(r"noise seed (\d+)")
MIN_SPLITS = 3  # the fewest splits a series' ordering by the original's forget FID is given for


def noise_seed_of(run: dict) -> int | None:
    """loss.noise_seed of a run where it set the noise image apart from the job's seed: the row's field, or, in files
    written before matrix.py recorded it, the "noise seed N" its method names."""
    if "noise_seed" in run:
        return run["noise_seed"]
    named = NOISE_SEED.search(run.get("method") or "")
    return int(named.group(1)) if named else None


def series(results: Path) -> dict[str, list[dict]]:
    """{file name: its runs} of every results file matrix.py wrote (runs judged by both targets)."""
    found = {}
    for path in sorted(results.glob("*.json")):
        runs = json.loads(path.read_text()).get("runs")
        if runs and all("passes" in r for r in runs):
            found[path.stem] = runs
    return found


def ceilings(results: Path) -> dict[str, list[dict]]:
    """{file name: its rows} of every results file ceiling.py wrote."""
    return {p.stem: json.loads(p.read_text())["rows"] for p in sorted(results.glob("ceiling_*.json"))}


def original_files(results: Path) -> dict[str, list[dict]]:
    """{file name: its spreads} of every results file originals.py wrote."""
    return {p.stem: json.loads(p.read_text())["spreads"] for p in sorted(results.glob("originals_*.json"))}


def step_files(results: Path) -> dict[str, dict]:
    """{file name: its contents (base, shorter, pairs, verdicts)} of every results file steps.py wrote."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("steps_*.json"))}


def span(values: list, fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    """'low-high' of the values present ('—' when none; one figure when they agree to the format)."""
    present = [v * scale for v in values if v is not None]
    if not present:
        return "—"
    low, high = fmt.format(min(present)), fmt.format(max(present))
    return low if low == high else f"{low}-{high}"


def groups(runs: list[dict]) -> dict[tuple, list[dict]]:
    """The runs of one (family, split, method, original), in the order first seen."""
    out: dict[tuple, list[dict]] = {}
    for r in runs:
        out.setdefault((r["family"], r["split"], r.get("method") or "—", r.get("original") or "—"), []).append(r)
    return out


def verdict_rows(runs: list[dict]) -> list[dict]:
    rows = []
    for (family, split, method, original), members in groups(runs).items():
        rows.append({
            "family": family, "split": split, "role": ROLE.get(split, "held out"), "method": method,
            "original": original, "runs": len(members), "meet_both": sum(bool(r["passes"]) for r in members),
            "seeds": sorted(r["seed"] for r in members),
            "forget": span([r["forget"] for r in members]),
            "retain": span([r["retain"] for r in members], "{:.3f}"),
            "forget_fid_original": span([r.get("forget_fid_original") for r in members]),
            "detect": span([r.get("forget_detect") for r in members], "{:.0f}", 100),
            "detect_original": span([r.get("forget_detect_original") for r in members], "{:.0f}", 100),
            "detect_hole": span([r.get("forget_detect_hole") for r in members], "{:.0f}", 100),
            "detect_hole_original": span([r.get("forget_detect_hole_original") for r in members], "{:.0f}", 100),
        })  # fmt: skip
    return rows


def split_verdicts(runs: list[dict]) -> dict[str, list[str]]:
    """Per family: the splits where every run meets both targets, where some do, where none does."""
    out: dict[str, dict[str, list[str]]] = {}
    for family in dict.fromkeys(r["family"] for r in runs):
        by_split: dict[str, list[bool]] = {}
        for r in runs:
            if r["family"] == family:
                by_split.setdefault(r["split"], []).append(bool(r["passes"]))
        out[family] = {
            "every run": [s for s, v in by_split.items() if all(v)],
            "some runs": [s for s, v in by_split.items() if any(v) and not all(v)],
            "no run": [s for s, v in by_split.items() if not any(v)],
            "met": [sum(sum(v) for v in by_split.values()), sum(len(v) for v in by_split.values())],
        }
    return out


def by_original(runs: list[dict]) -> list[dict]:
    """Per family, method and original of the series: its splits ordered by the original's forget FID (the median
    over the split's runs, lowest first), each with the runs meeting both targets, and whether every split met on
    every run has a lower original forget FID than every split met on none (None unless both kinds of split are
    there). Runs without an original forget FID are left out, and groups of fewer than MIN_SPLITS splits."""
    found: dict[tuple, dict] = {}
    for (family, split, method, original), members in groups(runs).items():
        members = [r for r in members if r.get("forget_fid_original") is not None]
        if not members:
            continue
        entry = found.setdefault((family, method, original),
                                 {"family": family, "method": method, "original": original, "splits": []})  # fmt: skip
        median = statistics.median(r["forget_fid_original"] for r in members)
        entry["splits"].append({"split": split, "original": median, "met": sum(bool(r["passes"]) for r in members),
                                "runs": len(members)})  # fmt: skip
    out = [entry for entry in found.values() if len(entry["splits"]) >= MIN_SPLITS]
    for entry in out:
        entry["splits"].sort(key=lambda e: e["original"])
        every = [e["original"] for e in entry["splits"] if e["met"] == e["runs"]]
        none = [e["original"] for e in entry["splits"] if e["met"] == 0]
        entry["separated"] = max(every) < min(none) if every and none else None
    return out


def noise_image_rows(runs: list[dict]) -> list[dict]:
    """vqgan runs grouped by the one noise image they drew: loss.noise_seed where the method names it, else the
    job's seed (the demo draws its image with the job's seed)."""
    rows = []
    for r in runs:
        if r["family"] != "vqgan":
            continue
        noise_seed = noise_seed_of(r)
        image = r["seed"] if noise_seed is None else noise_seed
        rows.append({"split": r["split"], "noise_image": image, "seed": r["seed"], "forget": r["forget"],
                     "retain": r["retain"], "passes": bool(r["passes"]),
                     "set_apart": noise_seed is not None})  # fmt: skip
    return sorted(rows, key=lambda r: (r["split"], r["noise_image"], r["seed"], r["set_apart"]))


def ceiling_rows(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        base = row["fid"]["original"]
        ratios = {k: v / base for k, v in row["fid"].items() if k != "original"}
        out.append({"split": row["split"], "original": base, "low": min(ratios.values()),
                    "high": max(ratios.values()), "at_least_3x": sum(v >= TARGETS["forget"] for v in ratios.values()),
                    "targets": len(ratios)})  # fmt: skip
    return out


def markdown(
    found: dict[str, list[dict]],
    ceiling_files: dict[str, list[dict]],
    originals: dict[str, list[dict]] | None = None,
    step_results: dict[str, dict] | None = None,
) -> tuple[str, dict]:
    lines = [f"Targets: forget FID ratio >= {TARGETS['forget']:g}, retain FID ratio <= {TARGETS['retain']:.2f} "
             "(unlearned / original FID on the same test images, domain judge). A range is the lowest and the "
             "highest over the runs of a row; detector: the share of forget fills the judge classifies as a forget "
             "class, on the whole image (region: on the filled region alone), in %. Each section is one generated "
             "file; its runs and intervals are there.", ""]  # fmt: skip
    data: dict = {"series": {}, "noise_image": [], "ceilings": {}}
    for name, runs in found.items():
        rows, verdicts, ordered = verdict_rows(runs), split_verdicts(runs), by_original(runs)
        data["series"][name] = {"rows": rows, "verdicts": verdicts, "by_original": ordered}
        lines += [f"## {name}", "", f"From [`{name}.md`]({name}.md).", "",
                  "| family | split | role | method | original | seeds | meets both | forget ratio | retain ratio | "
                  "original forget FID | detector: unlearned | original | region: unlearned | original |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in rows:
            lines.append(f"| {r['family']} | {r['split']} | {r['role']} | {r['method']} | {r['original']} | "
                         f"{','.join(map(str, r['seeds']))} | {r['meet_both']} of {r['runs']} | {r['forget']} | "
                         f"{r['retain']} | {r['forget_fid_original']} | {r['detect']} | {r['detect_original']} | "
                         f"{r['detect_hole']} | {r['detect_hole_original']} |")  # fmt: skip
        lines.append("")
        for family, v in verdicts.items():
            listed = {k: ", ".join(v[k]) or "none" for k in ("every run", "some runs", "no run")}
            lines.append(f"- {family}: {v['met'][0]} of {v['met'][1]} runs meet both. Every run on: "
                         f"{listed['every run']}; some runs on: {listed['some runs']}; no run on: "
                         f"{listed['no run']}.")  # fmt: skip
        for v in ordered:
            order = ", ".join(f"{e['split']} {e['original']:.2f} ({e['met']} of {e['runs']})" for e in v["splits"])
            answer = {True: "yes", False: "no", None: "not both kinds of split here"}[v["separated"]]
            lines.append(f"- {v['family']} ({v['original'].split()[0]}; {v['method']}), the splits by the original's "
                         f"forget FID (the median over their runs, lowest first; runs meeting both): {order}. Every "
                         f"split met on every run has a lower original forget FID than every split met on none: "
                         f"{answer}.")  # fmt: skip
        lines.append("")
    images = [row for runs in found.values() if _is_noise_series(runs) for row in noise_image_rows(runs)]
    if images:
        data["noise_image"] = images
        lines += ["## vqgan by its one noise image", "",
                  "The series that set `loss.noise_seed` apart from the job's seed, each run by the noise image it "
                  "drew (the noise seed; for the demo as it is, the job's seed).", "",
                  "| split | noise image | seed | forget ratio | retain ratio | meets both | image set apart |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in images:
            lines.append(f"| {r['split']} | {r['noise_image']} | {r['seed']} | {r['forget']:.2f} | "
                         f"{r['retain']:.3f} | {'yes' if r['passes'] else 'no'} | "
                         f"{'yes' if r['set_apart'] else 'no'} |")  # fmt: skip
        lines.append("")
    for name, rows in ceiling_files.items():
        summary = ceiling_rows(rows)
        data["ceilings"][name] = summary
        lines += [f"## {name}", "", f"From [`{name}.md`]({name}.md): each split's lowest and highest ceiling of the "
                  "forget ratio over the targets scored there, and how many of them reach the forget target.", "",
                  "| split | original forget FID | ceiling: lowest | highest | targets reaching 3x |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for r in summary:
            lines.append(f"| {r['split']} | {r['original']:.2f} | {r['low']:.2f}x | {r['high']:.2f}x | "
                         f"{r['at_least_3x']} of {r['targets']} |")  # fmt: skip
        lines.append("")
    for name, spreads in (originals or {}).items():
        data.setdefault("originals", {})[name] = spreads
        lines += [f"## {name}", "", f"From [`{name}.md`]({name}.md): per pretraining length and split, the original "
                  "forget and retain FID of the model seeds' originals (no unlearning): smallest-largest, and "
                  "largest / smallest.", "",
                  "| model.pretrain.steps | split | model seeds | forget FID | largest / smallest | retain FID | "
                  "largest / smallest |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for e in spreads:
            lines.append(f"| {e['steps']} | {e['split']} | {e['n']} | {span([e['forget_min'], e['forget_max']])} | "
                         f"{e['forget_spread']:.2f} | {span([e['retain_min'], e['retain_max']])} | "
                         f"{e['retain_spread']:.2f} |")  # fmt: skip
        lines.append("")
    for name, file in (step_results or {}).items():
        data.setdefault("steps", {})[name] = file["verdicts"]
        lines += [f"## {name}", "", f"From [`{name}.md`]({name}.md): the runs of `{file['shorter']}` paired with "
                  f"those of `{file['base']}` (same split, seed and original); a cheaper run keeps the quality when "
                  "its forget ratio is at least the base run's lower 95 % bound and its retain ratio at most its "
                  "upper bound.", "",
                  "| family | pairs | cheaper runs keeping the quality | meet both: base | cheaper | rule |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for family, v in file["verdicts"].items():
            lines.append(f"| {family} | {v['pairs']} | {v['keep']} | {v['meet_both']['base']} | "
                         f"{v['meet_both']['shorter']} | {'met' if v['rule_met'] else 'not met'} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines), data


def _is_noise_series(runs: list[dict]) -> bool:
    return any(noise_seed_of(r) is not None for r in runs)


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    text, data = markdown(series(RESULTS), ceilings(RESULTS), original_files(RESULTS), step_files(RESULTS))
    print(write("findings", "The figures behind the README's findings", "python benchmarks/findings.py", text, data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
