"""Agreement of sftscope's IFEval scorer with the reference implementation, on real model responses.

Response set: IFEval's published GPT-4 responses (google-research ``instruction_following_eval/data/
input_response_data_gpt4_20231107_145030.jsonl``), the rows shipped in ``tests/cases/ifeval_reference/`` with
the reference implementation's per-instruction verdicts (how they were made: that folder's README.md).
Prints per-instruction and per-prompt agreement, strict and loose, then every disagreement, and IFEval's four
metrics as each side computes them.

Usage: python benchmarks/ifeval_agreement.py [--cases tests/cases/ifeval_reference] [--set gpt4_20231107]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=Path, default=ROOT / "tests" / "cases" / "ifeval_reference")
    ap.add_argument("--set", default="gpt4_20231107", help="response set name (file prefix in --cases)")
    args = ap.parse_args()

    from sftscope.scoring.ifeval import IFEvalScorer, ifeval_summary
    from sftscope.scoring.ifeval.agreement import agreement

    rows = _read(args.cases / f"{args.set}_responses.jsonl")
    ref = _read(args.cases / f"{args.set}_reference_verdicts.jsonl")
    t0 = time.perf_counter()
    res = agreement(rows, ref)
    seconds = time.perf_counter() - t0
    print(f"response set: {args.set} ({res['prompts']} prompts, {res['instructions']} instructions; "
          f"scored in {seconds:.1f} s)")
    for name in ("instruction_strict", "instruction_loose", "prompt_strict", "prompt_loose"):
        print(f"  agreement {name:<19} {res[name]:.4f}")
    for d in res["disagreements"]:
        print(f"  disagree key={d['key']} {d['reading']} {d['instruction_id']}: "
              f"sftscope={d['sftscope']} reference={d['reference']}")

    scorer = IFEvalScorer()
    ours = ifeval_summary([scorer(r["response"], r) for r in rows])
    for reading in ("strict", "loose"):
        flags = [v for r in ref for v in r[reading]]
        theirs_prompt = sum(all(r[reading]) for r in ref) / len(ref)
        print(f"  {reading:<6} prompt-level: sftscope {ours[f'prompt_level_{reading}']:.4f} "
              f"reference {theirs_prompt:.4f} | instruction-level: sftscope "
              f"{ours[f'instruction_level_{reading}']:.4f} reference {sum(flags) / len(flags):.4f}")
    print(f"  lenient (sftscope only) prompt-level {ours['prompt_level_lenient']:.4f} "
          f"instruction-level {ours['instruction_level_lenient']:.4f}")


if __name__ == "__main__":
    main()
