"""Does the demo need all its unlearning steps, and all the images of each? Pairs the runs of two files of
benchmarks/matrix.py, the demo as it is (--base) and the same runs made cheaper (--shorter: fewer steps, e.g.
`matrix.py ... trainer.steps=100`, or fewer images per step, `trainer.batch_size=8`), by family, split, seed and
original, and says for each pair whether the cheaper run keeps the quality of the base run.

    python benchmarks/steps.py --base FILE --shorter FILE [--name steps]

A cheaper run keeps the quality when its forget FID ratio is at least the base run's lower 95 % bound and its
retain FID ratio at most the base run's upper bound (the paired bootstrap intervals of matrix.py). The rule, fixed
before the cheaper runs were made: a family's demo may take the cheaper setting when all its pairs but at most one
keep the quality and no fewer of its runs meet both targets than at the base setting. Writes
benchmarks/results/<name>.md and .json; exit status 1 when a family's pairs do not meet the rule.
"""

from __future__ import annotations

import argparse
import sys

import provenance
from matrix import TARGETS
from provenance import invocation, load, result_name, write

ALLOWED_LOSSES = 1  # pairs per family that may lose the quality under the rule


def key(run: dict) -> tuple:
    """What makes two runs a pair: family, split, seed and the original's sha256 (its first 8 digits)."""
    return run["family"], run["split"], run["seed"], (run.get("original") or "?")[:8]


def keeps(short: dict, base: dict) -> bool:
    """Whether the cheaper run keeps the base run's quality (within or better than its intervals)."""
    return short["forget"] >= base["forget_ci95"][0] and short["retain"] <= base["retain_ci95"][1]


def complete(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r.get("status") == "complete"]


def pairs(base: list[dict], shorter: list[dict]) -> list[dict]:
    """The complete runs of both files that pair up, in the cheaper file's order."""
    done = {key(r): r for r in complete(base)}
    out = []
    for run in complete(shorter):
        family, split, seed, original = key(run)
        if (match := done.get((family, split, seed, original))) is not None:
            out.append({"family": family, "split": split, "seed": seed, "original": original, "base": _figures(match),
                        "shorter": _figures(run), "keeps": keeps(run, match)})  # fmt: skip
    return out


def _figures(run: dict) -> dict:
    return {k: run.get(k) for k in ("method", "forget", "forget_ci95", "retain", "retain_ci95", "passes")}


def verdicts(found: list[dict]) -> dict[str, dict]:
    """Per family: pairs, pairs keeping the quality, runs meeting both targets at each setting, and the rule's
    verdict."""
    out = {}
    for family in dict.fromkeys(p["family"] for p in found):
        mine = [p for p in found if p["family"] == family]
        kept = sum(p["keeps"] for p in mine)
        met = {length: sum(bool(p[length]["passes"]) for p in mine) for length in ("base", "shorter")}
        ok = kept >= len(mine) - ALLOWED_LOSSES and met["shorter"] >= met["base"]
        out[family] = {"pairs": len(mine), "keep": kept, "meet_both": met, "rule_met": ok}
    return out


def markdown(found: list[dict], verdict: dict[str, dict], unpaired: int = 0) -> str:
    def ratio(entry: dict, which: str, digits: int) -> str:
        low, high = entry[f"{which}_ci95"]
        return f"{entry[which]:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    lines = [f"Targets: forget FID ratio >= {TARGETS['forget']:g}, retain FID ratio <= {TARGETS['retain']:.2f}. "
             "Each pair: the same family, split, seed and original at the base setting and the cheaper one. "
             "Keeps: the cheaper run's forget ratio is at least the base run's lower 95 % bound and its retain "
             "ratio at most the base run's upper bound. Rule (fixed before the cheaper runs): all pairs but at most "
             f"{ALLOWED_LOSSES} keep the quality, and no fewer runs meet both targets.", "",
             "| family | split | seed | original | base | forget ratio | retain ratio | cheaper | forget ratio | "
             "retain ratio | keeps |", "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for p in found:
        b, s = p["base"], p["shorter"]
        lines.append(f"| {p['family']} | {p['split']} | {p['seed']} | {p['original']} | {b['method']} | "
                     f"{ratio(b, 'forget', 2)} | {ratio(b, 'retain', 3)} | {s['method']} | {ratio(s, 'forget', 2)} | "
                     f"{ratio(s, 'retain', 3)} | {'yes' if p['keeps'] else 'no'} |")  # fmt: skip
    lines.append("")
    for family, v in verdict.items():
        lines.append(f"- {family}: {v['keep']} of {v['pairs']} cheaper runs keep the quality; meet both targets: "
                     f"{v['meet_both']['base']} at the base setting, {v['meet_both']['shorter']} cheaper; rule "
                     f"{'met' if v['rule_met'] else 'NOT met'}.")  # fmt: skip
    if unpaired:
        lines.append(f"- Runs of the base file without a cheaper run: {unpaired} (not run, or not complete).")
    lines.append("\nTime is not compared here (see unlearn_cost.py): these jobs may have shared the machine.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, type=result_name, help="matrix.py's file of the demo as it is")
    parser.add_argument("--shorter", required=True, type=result_name, help="matrix.py's file of the cheaper runs")
    parser.add_argument("--name", default="steps", type=result_name, help="benchmarks/results/<name>.md and .json")
    args = parser.parse_args()
    for option, name in (("--base", args.base), ("--shorter", args.shorter)):
        if not (provenance.RESULTS / f"{name}.json").is_file():
            parser.error(f"{option} {name}: no benchmarks/results/{name}.json; allowed: a file benchmarks/matrix.py "
                         "wrote (its --name)")  # fmt: skip
    base = complete(load(args.base)["runs"])
    found = pairs(base, load(args.shorter)["runs"])
    if not found:
        print(f"no run of {args.shorter} pairs with one of {args.base} (family, split, seed, original)")
        return 1
    verdict = verdicts(found)
    how = f"{invocation('steps.py', parser, args, 'name')} --base {args.base} --shorter {args.shorter}"
    data = {"base": args.base, "shorter": args.shorter, "allowed_losses": ALLOWED_LOSSES, "pairs": found,
            "verdicts": verdict}  # fmt: skip
    table = markdown(found, verdict, len(base) - len(found))
    print(write(args.name, "A cheaper unlearning against the demo's", how, table, data))
    return 0 if all(v["rule_met"] for v in verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
