"""Report figures (matplotlib, Agg backend: no display needed). Each function draws one PNG from the
analysis JSON and returns its path, or None when there is nothing to draw (the report then says so)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: never try to open a window
import matplotlib.pyplot as plt

from ..core.io import atomic_open

DPI = 110


def _colors(runs: list[str]) -> dict[str, str]:
    cmap = plt.get_cmap("tab10")
    return {r: matplotlib.colors.to_hex(cmap(i % 10)) for i, r in enumerate(runs)}


def _grid(n: int, cols: int = 3, w: float = 4.2, h: float = 3.0):
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:  # a crash never leaves a half-written PNG under its final name
        fig.savefig(fh, dpi=DPI, format="png")
    plt.close(fig)
    return path


def trajectories(domain_rows: list[dict], domain_patterns: list[dict], out: Path) -> Path | None:
    """Score vs step per domain: one line per run with its CI band, the run's base as a dotted line, and the
    minimum marked (triangle + depth label) where the pattern is a dip."""
    if not domain_rows:
        return None
    domains = sorted({r["domain"] for r in domain_rows})
    runs = sorted({r["run"] for r in domain_rows})
    col = _colors(runs)
    pats = {(p["run"], p["benchmark"]): p for p in domain_patterns}
    fig, axes = _grid(len(domains))
    for ax, dom in zip(axes, domains):
        for run in runs:
            rs = sorted((r for r in domain_rows if r["run"] == run and r["domain"] == dom), key=lambda r: r["step"])
            if not rs:
                continue
            x = [r["step"] for r in rs]
            y = [100 * r["score"] for r in rs]
            ax.plot(x, y, "-o", ms=3, color=col[run], label=run)
            lo, hi = [r.get("ci_low") for r in rs], [r.get("ci_high") for r in rs]
            if all(v is not None for v in lo + hi):
                ax.fill_between(x, [100 * v for v in lo], [100 * v for v in hi], color=col[run], alpha=0.12, lw=0)
            ax.axhline(y[0], color=col[run], ls=":", lw=1)
            p = pats.get((run, dom), {})
            if str(p.get("pattern", "")).startswith("dip_"):
                ax.plot([p["min_step"]], [100 * p["min"]], "v", ms=9, color=col[run], mec="black")
                ax.annotate(f"-{100 * p['dip_depth']:.1f}", (p["min_step"], 100 * p["min"]), textcoords="offset points",
                            xytext=(4, -12), fontsize=7, color=col[run])
        ax.set_title(dom)
        ax.set_xlabel("step")
        ax.set_ylabel("score (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("Scores over training (dotted: base; triangle: dip minimum)", fontsize=10)
    return _save(fig, out)


def lengths(rows: list[dict], out: Path) -> Path | None:
    """Per run: mean response tokens per domain vs step (top) and truncation rate (bottom)."""
    if not rows:
        return None
    runs = sorted({r["run"] for r in rows})
    domains = sorted({r["domain"] for r in rows})
    col = _colors(domains)
    fig, axes = plt.subplots(2, len(runs), figsize=(4.2 * len(runs), 5.6), squeeze=False)
    for j, run in enumerate(runs):
        for dom in domains:
            rs = sorted((r for r in rows if r["run"] == run and r["domain"] == dom), key=lambda r: r["step"])
            x = [r["step"] for r in rs]
            axes[0][j].plot(x, [r["mean_tokens"] or 0 for r in rs], "-o", ms=3, color=col[dom], label=dom)
            axes[1][j].plot(x, [100 * (r["truncation_rate"] or 0) for r in rs], "-o", ms=3, color=col[dom], label=dom)
        axes[0][j].set_title(run)
        axes[0][j].set_ylabel("mean response tokens")
        axes[1][j].set_ylabel("truncated (%)")
        axes[1][j].set_xlabel("step")
        for ax in (axes[0][j], axes[1][j]):
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _save(fig, out)


def behaviors(rows: list[dict], names: list[str], in_domain: dict[str, list[str]], out: Path) -> Path | None:
    """Rate per 1k tokens vs step per behavior: solid = in-domain, dashed = out-of-domain (token-weighted)."""
    if not rows:
        return None
    runs = sorted({r["run"] for r in rows})
    col = _colors(runs)
    fig, axes = _grid(len(names), cols=len(names) if len(names) <= 4 else 3)
    for ax, b in zip(axes, names):
        for run in runs:
            ids = set(in_domain.get(run, []))
            for side, ls in ((True, "-"), (False, "--")):
                rs = [r for r in rows if r["run"] == run and (r["domain"] in ids) == side and r["domain"] != "safety"]
                steps = sorted({r["step"] for r in rs})
                ys = []
                for s in steps:
                    g = [r for r in rs if r["step"] == s and r["tokens"]]
                    tok = sum(r["tokens"] for r in g)
                    ys.append(sum((r[f"{b}_per_1k"] or 0) * r["tokens"] for r in g) / tok if tok else float("nan"))
                if steps:
                    ax.plot(steps, ys, ls, marker="o", ms=3, color=col[run], label=f"{run} ({'ID' if side else 'OOD'})")
        ax.set_title(b.replace("_", " "))
        ax.set_xlabel("step")
        ax.set_ylabel("per 1k tokens")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    return _save(fig, out)


def probes(summary: list[dict], out: Path) -> Path | None:
    """Mean NLL vs step per reference set (solid), think (dashed) and answer (dotted)."""
    rows = [r for r in summary if r.get("step") is not None]
    if not rows:
        return None
    # One line per (run, reference set): checkpoint ids are "<run>/step<N>" (or a single run's plain names),
    # and steps of different runs must never be joined into one line. With several runs only the mean NLL is
    # drawn (one style per reference set); a single run also gets its think and answer NLL.
    def run_of(r):
        return str(r.get("checkpoint", "")).split("/", 1)[0] if "/" in str(r.get("checkpoint", "")) else ""

    runs = sorted({run_of(r) for r in rows})
    sets = sorted({r["ref_set"] for r in rows})
    col = _colors(runs if len(runs) > 1 else sets)
    keys = (("mean_nll", "-"), ("think_nll", "--"), ("answer_nll", ":")) if len(runs) == 1 else (("mean_nll", None),)
    set_styles = dict(zip(sets, ("-", "--", ":", "-.")))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for run in runs:
        for s in sets:
            rs = sorted((r for r in rows if r["ref_set"] == s and run_of(r) == run), key=lambda r: r["step"])
            if not rs:
                continue
            x = [r["step"] for r in rs]
            for key, ls in keys:
                ys = [r.get(key) if r.get(key) is not None else float("nan") for r in rs]
                label = f"{s} {key.split('_')[0]}" if len(runs) == 1 else f"{run} {s}"
                ax.plot(x, ys, ls or set_styles.get(s, "-"), marker="o", ms=3,
                        color=col[run if len(runs) > 1 else s], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("NLL (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out)


def safety(rows: list[dict], out: Path) -> Path | None:
    """Trade-off: reasoning gain (x) vs refusal change (y), one path per run through its checkpoints."""
    rows = [r for r in rows if r.get("reasoning_gain") is not None and r.get("refusal_change") is not None]
    if not rows:
        return None
    runs = sorted({r["run"] for r in rows})
    col = _colors(runs)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for run in runs:
        rs = sorted((r for r in rows if r["run"] == run), key=lambda r: r["step"])
        x = [100 * r["reasoning_gain"] for r in rs]
        y = [100 * r["refusal_change"] for r in rs]
        ax.plot(x, y, "-o", ms=4, color=col[run], label=run)
        ax.annotate(f"step {rs[-1]['step']}", (x[-1], y[-1]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("reasoning gain vs base (points)")
    ax.set_ylabel("refusal change vs base (points)")
    ax.set_title("Safety vs reasoning (lower right: reasoning up, refusal down)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out)


def heatmap(matrix: dict, out: Path) -> Path | None:
    """Runs x domains final delta (points), annotated; in-domain cells outlined."""
    runs, domains = matrix.get("runs") or [], matrix.get("domains") or []
    if not runs or not domains:
        return None
    vals = [[(100 * v if v is not None else float("nan")) for v in row] for row in matrix["delta"]]
    finite = [abs(v) for row in vals for v in row if not math.isnan(v)]
    lim = max(finite) if finite else 1.0
    fig, ax = plt.subplots(figsize=(1.3 * len(domains) + 2.5, 0.6 * len(runs) + 1.8))
    im = ax.imshow(vals, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(domains)), domains, rotation=30, ha="right")
    ax.set_yticks(range(len(runs)), runs)
    for i, row in enumerate(vals):
        for j, v in enumerate(row):
            ax.text(j, i, "-" if math.isnan(v) else f"{v:+.1f}", ha="center", va="center", fontsize=8)
            if matrix["in_domain"][i][j]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ec="black"))
    fig.colorbar(im, ax=ax, label="final - base (points)")
    ax.set_title("Final delta vs base (outlined: in-domain)")
    return _save(fig, out)
