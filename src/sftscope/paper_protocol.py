"""The study's protocol table: the authors' values (docs/paper-protocol.data.yaml) against sftscope's configs.

``python -m sftscope.paper_protocol`` writes docs/paper-protocol.md; ``--write-configs`` regenerates
configs/paper/<experiment>.yaml (one per authors' training script) from the same data; ``--check`` exits 1
when a config differs from the authors without a written reason. The document has one table per half:
training (this module's ``training_rows``) and, later, evaluation (add an ``evaluation_rows`` and a section
to ``SECTIONS``, dropping the placeholder at the end of ``render``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = ROOT / "docs" / "paper-protocol.data.yaml"
DOC_FILE = ROOT / "docs" / "paper-protocol.md"
CONFIG_DIR = Path(__file__).resolve().parent / "configs" / "paper"
ROWS = 20_480  # rows of every released 20k dataset

# Authors' dataset name -> (HF id, variant, in-domain domains). The 2.5k file is unreleased: its config takes the
# first 2,560 rows of Math-CoT-20k (train.subset_rule: first).
DATASETS = {"Math-CoT-20k": ("jasonrqh/Math-CoT-20k", "cot", ["math"]),
            "Math-NoCoT-20k": ("jasonrqh/Math-NoCoT-20k", "nocot", ["math"]),
            "Numina-Math-20k": ("jasonrqh/NuminaMath-20k", "cot", ["math"]),
            "Countdown-CoT-20k": ("jasonrqh/Countdown-CoT-20k", "cot", ["puzzle"]),
            "DeepSeek-R1-20k": ("jasonrqh/DeepSeek-R1-20k", "cot", ["math"]),
            "Math-CoT-2.5k": ("jasonrqh/Math-CoT-20k", "cot", ["math"])}
BENCHMARKS = ["math500", "aime24", "aime25", "gpqa_diamond", "livecodebench_v2", "mmlu_pro_1k", "ifeval", "alpacaeval",
              "halueval", "truthfulqa", "hexphi", "strongreject", "xstest", "countdown"]

# Written reasons for every field where sftscope's value differs from the authors' (any experiment).
REASONS = {
    "model": "the authors' Qwen2.5 `-no-sys-prompt` checkpoints are not public: sftscope trains the hub base with "
             "`chat_template: chatml`, the Qwen2.5 template without its default system prompt",
    "data": "the authors' Math-CoT-2.5k file is unreleased: the first 2,560 rows of Math-CoT-20k "
            "(`subset_rule: first`); the authors' selection is unknown",
    "checkpoints": "the released checkpoints are these steps; the authors' every-10-steps saving is "
                   "`train.save_every: 10` (64 full checkpoints of a 14B model for a 640-step run)",
    "trust_remote_code": "transformers ships Qwen2.5/Qwen3 code; only InternLM2.5 needs its repository's own code "
                         "(and sftscope does not hash how the code is loaded)",
    "grad_reduce_dtype": "accelerate (1.16) builds FSDP2's MixedPrecisionPolicy with reduce_dtype equal to the "
                         "compute dtype (accelerate/state.py set_mixed_precision) and its launch config cannot change "
                         "it, so 8-GPU runs all-reduce gradients in bf16; one process has nothing to reduce. Matching "
                         "it needs the trainer to pass its own policy (open)",
    "truncation": "sftscope also cuts at the end, but drops a row whose prompt alone fills max_length (no loss "
                  "token would be left; the authors keep it with an all-zero loss mask); none of the datasets' "
                  "prompts comes near 10,000 tokens",
    "warmup_steps": "sftscope rounds up, verl down; equal for every experiment here (warmup = 10% of a multiple of 10)",
    "teacher_logprobs": "logging only (the student/teacher ratio; the loss is plain NLL): the released 20k sets' "
                        "log-prob column is not documented, so the configs leave it off; set "
                        "`train.teacher_logprobs_column: logprob` with the authors' raw data",
}


def load_data(path: Path = DATA_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _model_id(path: str) -> str:
    return path.replace("-no-sys-prompt", "")


def _steps(exp: dict) -> int:
    rows = 2560 if exp["train_data"].endswith("2.5k") else ROWS
    return int(math.ceil(exp["epochs"] * rows / exp["batch_size"]))


def build_config(name: str, exp: dict) -> dict:
    """The run config of one authors' script: `recipe: paper` plus the experiment's own values, all explicit."""
    from .core.schema import TrainConfig
    from .train.recipes import RECIPES, apply_recipe, study_save_steps

    hub, variant, domains = DATASETS[exp["train_data"]]
    model = _model_id(exp["model_path"])
    qwen25, internlm = model.startswith("Qwen/Qwen2.5"), model.startswith("internlm/")
    own = dict(model=model, trust_remote_code=internlm, data=hub,
               columns={"question": "message", "response": "response"},
               chat_template="chatml" if qwen25 else "model", lr=exp["lr"], epochs=float(exp["epochs"]),
               batch_size=exp["batch_size"], micro_batch_size=exp["micro_batch_size"], max_length=exp["max_length"],
               scheduler="constant_with_warmup" if exp["lr_scheduler"] == "constant" else "cosine",
               save_steps=study_save_steps(_steps(exp)))
    if exp["train_data"].endswith("2.5k"):
        own.update(unique_samples=2560, subset_rule="first")
    train = apply_recipe(TrainConfig(recipe="paper", **own)).model_dump(mode="json", exclude_unset=False)
    defaults = TrainConfig(model="m").model_dump(mode="json")
    written = set(own) | set(RECIPES["paper"])
    train = {"recipe": "paper", **{k: v for k, v in train.items() if k not in ("recipe", "lora_options")
                                   and (k in written or v != defaults.get(k))}}
    # the authors' per-benchmark decoding and n come from the `paper` protocol (core/protocols.py): no global override
    ev = {"protocol": "paper", "backend": "vllm", "benchmarks": list(BENCHMARKS)}
    if internlm:
        ev["backend_kwargs"] = {"trust_remote_code": True}
    if qwen25:
        ev["chat_template"] = "chatml"  # the base (step 0) without Qwen2.5's default system prompt, like every step
    return {"name": name, "description": f"The authors' {exp['script']}",
            "variant": variant, "in_domain": domains, "stages": ["train", "evaluate", "analyze", "report"],
            "data": {"source": "hf", "variants": [variant],
                     "hf": {"path": hub, "question": "message", "response": "response", "answer": "answer"}},
            "train": train, "eval": ev}


def header(name: str, exp: dict, data: dict) -> str:
    lines = [f"# {name}", f"# The authors' {exp['script']}",
             f"# ({data['repo']} at {data['commit'][:8]}), as sftscope runs it; `recipe: paper` fills the same values",
             "# for every field not written per experiment (tested). Differences and reasons: docs/paper-protocol.md.",
             "# Generated by `python -m sftscope.paper_protocol --write-configs` from docs/paper-protocol.data.yaml."]
    if "no-sys-prompt" in exp["model_path"]:
        lines.append(f"# The authors trained {exp['model_path']}, which is not public: sftscope uses the hub base")
        lines.append("# with `chatml` (no default system prompt) for training and for every evaluated checkpoint,")
        lines.append("# the base included (eval.chat_template).")
    if exp["train_data"].endswith("2.5k"):
        lines.append("# The authors' 2,560-row file is unreleased: the first 2,560 rows of Math-CoT-20k")
        lines.append("# (subset_rule: first); their selection is unknown.")
    return "\n".join(lines) + "\n"


def write_configs(data: dict | None = None, out: Path = CONFIG_DIR) -> list[Path]:
    data = data or load_data()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, exp in data["experiments"].items():
        p = out / f"{name}.yaml"
        text = header(name, exp, data) + yaml.safe_dump(build_config(name, exp), sort_keys=False, width=110)
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    return paths


def _src(data: dict, exp: dict, key: str, arg: bool = False) -> str:
    lines = data["script_lines"]
    n = (lines["args"][key] + exp["args_offset"]) if arg else (lines[key] + exp["vars_offset"])
    return f"{exp['script']}:{n}"


def _common(data: dict, exp: dict, key: str) -> tuple:
    c = data["common"][key]
    if c["source"] == "script":
        return c["value"], _src(data, exp, c["arg"], arg=True)
    where = f"{c['source']}:{c['line']}" if c.get("line") else f"{c['source']} (`{c['anchor']}`)"
    return c["value"], where


def training_rows(name: str, exp: dict, data: dict, train) -> list[dict]:
    """One row per training field: authors' value and source, sftscope's resolved value, equal or why not."""
    from .train.recipes import resolve_schedule

    rows_n = (train.unique_samples or ROWS)
    sched = resolve_schedule(train, rows_n, train.num_processes)
    authors_warmup = int(sched.max_steps * 0.1)
    hub = DATASETS[exp["train_data"]][0]
    sched_name = exp["lr_scheduler"] + (" (verl: get_constant_schedule_with_warmup)"
                                        if exp["lr_scheduler"] == "constant" else "")
    # Scripts with their own `lr_scheduler=` variable (their arguments shifted by 2) set the value there.
    sched_src = (_src(data, exp, "lr_scheduler_var") if exp["args_offset"] > exp["vars_offset"]
                 else _src(data, exp, "optim.lr_scheduler", arg=True))
    r = [
        ("model", exp["model_path"], _src(data, exp, "model_path"), train.model,
         exp["model_path"] == train.model),
        ("data", exp["train_data"], _src(data, exp, "train_data"),
         f"{train.data}" + (f" (first {train.unique_samples})" if train.unique_samples else ""),
         hub.endswith(exp["train_data"].replace("Numina-Math", "NuminaMath")) and not train.unique_samples),
        ("epochs", exp["epochs"], _src(data, exp, "epochs"), train.epochs, train.epochs == exp["epochs"]),
        ("batch_size", exp["batch_size"], _src(data, exp, "batch_size"), train.batch_size,
         train.batch_size == exp["batch_size"]),
        ("micro_batch_size", exp["micro_batch_size"], _src(data, exp, "micro_batch_size"), train.micro_batch_size,
         train.micro_batch_size == exp["micro_batch_size"]),
        ("processes", 8, "README.md (`We trained all models on 8 H200 GPUs`)", train.num_processes,
         train.num_processes == 8),
        ("lr", exp["lr"], _src(data, exp, "lr"), train.lr, train.lr == exp["lr"]),
        ("scheduler", sched_name, sched_src, train.scheduler,
         {"cosine": "cosine", "constant": "constant_with_warmup"}[exp["lr_scheduler"]] == train.scheduler),
        ("warmup_steps", authors_warmup, _common(data, exp, "warmup_steps")[1], sched.warmup_steps,
         authors_warmup == sched.warmup_steps),
        ("max_length", exp["max_length"], _src(data, exp, "max_length", arg=True), train.max_length,
         train.max_length == exp["max_length"]),
    ]
    for key, field, value in [("weight_decay", "weight_decay", train.weight_decay),
                              ("max_grad_norm", "max_grad_norm", train.max_grad_norm),
                              ("betas", "betas", [train.adam_beta1, train.adam_beta2]),
                              ("model_dtype", "param_dtype", train.param_dtype),
                              ("gradient_checkpointing", "gradient_checkpointing", train.gradient_checkpointing),
                              ("weight_decay_all", "weight_decay_all", train.weight_decay_all),
                              ("skip_nonfinite_grad", "skip_nonfinite_grad", train.skip_nonfinite_grad),
                              ("seed", "seed", train.seed)]:
        v, src = _common(data, exp, key)
        r.append((field, v, src, value, v == value))
    for key, field, value, ok in [
        ("data_order", "data_order", train.data_order, train.data_order == "fixed"),
        ("composition", "strided_ranks", train.strided_ranks, train.strided_ranks == 8),
        ("loss", "loss_reduction", train.loss_reduction, train.loss_reduction == "paper"),
        ("compute_dtype", "precision", train.precision, train.precision == "bf16"),
        ("grad_reduce_dtype", "grad_reduce_dtype", "bf16 (accelerate FSDP2 with mixed_precision bf16)", False),
        ("chat_format", "append_eos + chat_template", f"{train.append_eos} + {train.chat_template}",
         train.append_eos and train.chat_template in ("model", "chatml")),
        ("truncation", "truncation", "end (right); rows whose prompt fills max_length dropped", False),
        ("checkpoints", "checkpoints", train.save_steps, False)]:
        v, src = _common(data, exp, key)
        r.append((field, v, src, value, ok))
    r.append(("trust_remote_code", True, _src(data, exp, "trust_remote_code", arg=True), train.trust_remote_code,
              train.trust_remote_code is True))
    r.append(("teacher_logprobs", f"ref_log_prob.enable={exp['ref_log_prob']} (column logprob)",
              _src(data, exp, "ref_log_prob"), train.teacher_logprobs_column,
              not exp["ref_log_prob"]))
    out = []
    for field, a, src, s, equal in r:
        reason = "" if equal else REASONS.get(field.split(" ")[0], "")
        if field == "chat_format" and equal and train.chat_template == "chatml":
            reason = REASONS["model"]
        out.append({"field": field, "authors": a, "source": src, "sftscope": s, "equal": bool(equal), "reason": reason})
    return out


def training_tables(data: dict) -> dict[str, list[dict]]:
    """Experiment -> its training rows, against the shipped config resolved through its recipe."""
    from .core.config import load_config
    from .train.recipes import apply_recipe

    return {name: training_rows(name, exp, data, apply_recipe(load_config(CONFIG_DIR / f"{name}.yaml").train))
            for name, exp in data["experiments"].items()}


TRAINING_INTRO = (
    "### What sftscope cannot express exactly\n\n"
    "- The authors' Qwen2.5 `-no-sys-prompt` models and their Math-CoT-2.5k file are not public (rows `model`, "
    "`data`).\n"
    "- Gradient all-reduce in fp32 under FSDP2 (row `grad_reduce_dtype`).\n"
    "- verl's own FSDP2 wrapping and the sampler's `drop_last=True` (no effect here: every row count is a multiple "
    "of the batch) are not modelled; sftscope's `fsdp2` accelerate config shards per decoder layer.\n"
    "- Teacher log-probs are read (`teacher_logprobs_column`) but only logged, as the authors do with "
    "`importance_sampling_mode=vanilla`; the `advantage` column their reader requires is unused by that loss.\n"
    "")

# One section per half of the protocol: (title, introduction, data -> {experiment: rows}). The evaluation issue
# appends ("Evaluation", ..., evaluation_tables) with rows of the same shape.
SECTIONS = [("Training", TRAINING_INTRO, training_tables)]


def unexplained(data: dict | None = None) -> list[str]:
    """`section: experiment: field` for every difference without a written reason (the drift test wants none)."""
    data = data or load_data()
    return [f"{title}: {name}: {row['field']} (authors {row['authors']!r}, sftscope {row['sftscope']!r})"
            for title, _intro, tables in SECTIONS for name, rows in tables(data).items()
            for row in rows if not row["equal"] and not row["reason"]]


def _cell(v) -> str:
    return str(v).replace("|", "\\|")


def render(data: dict | None = None) -> str:
    """The whole document: a header, then each section's introduction and one table per experiment."""
    data = data or load_data()
    parts = [
        "# The study's protocol, field by field\n",
        f"Generated by `python -m sftscope.paper_protocol` from `docs/paper-protocol.data.yaml` (the authors' values, "
        f"read from [{data['repo']}](https://github.com/{data['repo']}) at commit `{data['commit'][:8]}`) and "
        "`configs/paper/*.yaml`. `tests/test_paper_protocol.py` fails when a config differs from the authors "
        "without a reason written here. Source lines are `file:line` at that commit; where no line was recorded "
        "the quoted code locates it.\n",
    ]
    for title, intro, tables in SECTIONS:
        parts.append(f"## {title}\n\n{intro}")
        for name, rows in tables(data).items():
            parts.append(f"\n### `paper/{name}`\n\n| field | authors | source | sftscope | equal | why not |\n"
                         "|---|---|---|---|---|---|")
            parts += [f"| {r['field']} | {_cell(r['authors'])} | {_cell(r['source'])} | {_cell(r['sftscope'])} "
                      f"| {'yes' if r['equal'] else 'no'} | {_cell(r['reason'])} |" for r in rows]
    parts.append(render_evaluation())
    return "\n".join(parts)


def render_evaluation() -> str:
    """The evaluation half: per benchmark, the authors' value of each protocol field (prompt, decoding, n,
    extraction, scorer or judge) with its source, the `paper` protocol's value in sftscope, and the difference
    (from ``core.protocols.protocol_table``; `sftscope ls benchmarks --protocol paper` prints the same rows)."""
    from .core.protocols import protocol_table

    rows = protocol_table("paper")
    parts = ["\n## Evaluation\n\nPer benchmark and protocol field. `authors` is the study's value (source: the "
             "authors' evaluation code), which the `paper` protocol runs exactly (`eval.protocol: paper`, set in every "
             "config under `paper/`; `tests/test_paper_protocol.py` checks that those configs resolve to it); "
             "`sftscope` is sftscope's strict `default` protocol, and `differs` marks where the default departs "
             "from the authors (the note says what sftscope cannot reproduce exactly, if anything).\n"]
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        parts.append(f"\n### `{bench}`\n\n| field | authors | source | sftscope | differs | note |\n|---|---|---|---|---|---|")
        parts += [f"| {r['field']} | {_cell(r['authors'])} | {_cell(r['source'])} | {_cell(r['sftscope'])} | "
                  f"{'yes' if r['differs'] else 'no'} | {_cell(r['note'])} |" for r in rows if r["benchmark"] == bench]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--write-configs" in argv:
        for p in write_configs() + write_comparisons():
            print(p)
    if "--check" in argv:
        bad = unexplained()
        for b in bad:
            print("unexplained difference:", b)
        return 1 if bad else 0
    DOC_FILE.write_text(render(), encoding="utf-8")
    print(DOC_FILE)
    return 0



# Each comparison the study draws, as one matrix config: (name, base experiment, matrix, note).
_DATA5 = ["Math-CoT-20k", "Math-NoCoT-20k", "Numina-Math-20k", "Countdown-CoT-20k", "DeepSeek-R1-20k"]
COMPARISONS = {
    "compare-data-Qwen3-14B": ("Qwen3-14B_Math-CoT-20k_lr5e-5_ep8_bs256", "data"),
    "compare-data-Qwen3-8B": ("Qwen3-8B_Math-CoT-20k_lr5e-5_ep8_bs256", "data"),
    "compare-data-InternLM2.5-20B": ("InternLM2.5-20B_Math-CoT-20k_lr5e-5_ep8_bs256", "data"),
    "compare-size-Qwen3": ("Qwen3-14B_Math-CoT-20k_lr5e-5_ep8_bs256",
                           [f"Qwen3-{s}_Math-CoT-20k_lr5e-5_ep8_bs256" for s in ("1.7B", "4B", "8B", "14B")]),
    "compare-size-Qwen2.5": ("Qwen2.5-14B_Math-CoT-20k_lr5e-5_ep8_bs256",
                             [f"Qwen2.5-{s}_Math-CoT-20k_lr5e-5_ep8_bs256" for s in ("1.5B", "3B", "7B", "14B")]),
    # lr x epochs x scheduler jointly: each condition is a named train section (its experiment's name).
    "compare-schedule-Qwen3-14B": ("Qwen3-14B_Math-CoT-20k_lr5e-5_ep8_bs256",
                                   [f"Qwen3-14B_Math-CoT-20k_{r}_bs256" + s for r, s in (
                                       ("lr5e-5_ep8", ""), ("lr5e-5_ep1", ""), ("lr5e-5_ep16", ""),
                                       ("lr5e-5_ep16", "_ConstLR"), ("lr1e-4_ep16", "_ConstLR"),
                                       ("lr1e-5_ep1", ""), ("lr1e-5_ep2", ""))]),
    "compare-exposure-Qwen3-14B": ("Qwen3-14B_Math-CoT-2.5k_lr5e-5_ep8_bs32",
                                   ["Qwen3-14B_Math-CoT-2.5k_lr5e-5_ep8_bs32",
                                    "Qwen3-14B_Math-CoT-20k_lr5e-5_ep1_bs32"]),
}


def build_comparison(name: str, data: dict) -> dict:
    """A matrix config: one condition per compared experiment, each with that experiment's full train section
    (a `train` matrix value replaces the whole section, so every condition trains exactly as its own config)."""
    base_name, members = COMPARISONS[name]
    exps = data["experiments"]
    if members == "data":
        prefix = base_name.split("_")[0]
        members = [f"{prefix}_{d}_lr5e-5_ep8_bs256" for d in _DATA5]
    cfg = build_config(base_name, exps[base_name])
    cfg.update(name=name, description=f"The study's comparison of {', '.join(members)}",
               in_domain=["math", "puzzle"] if any("Countdown" in m for m in members) else ["math"])
    # Each condition is named after its experiment (the `name` of a mapping matrix value labels the condition).
    cfg["matrix"] = {"train": [{"name": m, **build_config(m, exps[m])["train"]} for m in members]}
    return cfg


def write_comparisons(data: dict | None = None, out: Path = CONFIG_DIR) -> list[Path]:
    data = data or load_data()
    paths = []
    for name in COMPARISONS:
        p = out / f"{name}.yaml"
        text = (f"# {name}: one matrix config trains, evaluates and compares the study's conditions in one report.\n"
                "# Each condition's train section is its experiment's config (paper/<experiment>); generated by\n"
                "# `python -m sftscope.paper_protocol --write-configs`.\n")
        p.write_text(text + yaml.safe_dump(build_comparison(name, data), sort_keys=False, width=110), encoding="utf-8")
        paths.append(p)
    return paths


if __name__ == "__main__":
    raise SystemExit(main())
