#!/usr/bin/env python3
"""Merges the benchmark figures into summary.json, draws worst_block.png and writes
table.md (the tables of docs/PERFORMANCE.md). Run by scripts/bench.sh:

    report.py OUT_DIR [--update-docs]

OUT_DIR holds record_path.json, worker_cost.json and instances.json, as the bench
binaries wrote them. Only the standard library is needed, plus matplotlib for the plot.
"""
import json
import os
import shutil
import subprocess
import sys

WAYS = ["memcpy", "fixed", "replace", "vec", "looper"]
LABEL = {
    "memcpy": "memcpy into preallocated memory (floor)",
    "fixed": "fixed preallocation (SooperLooper)",
    "replace": "periodic replacement, +1 s (Luppp)",
    "vec": "Vec growing on the audio thread",
    "looper": "this looper (Looper::process)",
}
COLOR = {"memcpy": "#777777", "fixed": "#1f77b4", "replace": "#d62728", "vec": "#ff7f0e", "looper": "#2ca02c"}
BLOCKS = [64, 256]


def load(out, name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        print(f"report: {path} missing", file=sys.stderr)
        return {}
    with open(path) as f:
        return json.load(f)


def machine():
    model, cpus = "?", os.cpu_count()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("Hypervisor vendor:"):
                model += f" ({line.split(':', 1)[1].strip()} guest)"
    except OSError:
        pass
    u = os.uname()
    return f"{model}, {cpus} cores, Linux {u.release}"


def checkpoints(s):
    ms = [1, 5, 10, 20, 30, 45, 60]
    return [m for m in ms if f"looper_worst_ns_64_at_{m}min" in s]


def us(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.0f} µs"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def mib(b):
    if b is None:
        return "n/a"
    if abs(b) >= 1 << 20:
        return f"{b / (1 << 20):.1f} MiB"
    return f"{b / 1024:.0f} KiB"


def plot(s, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib missing, no plot", file=sys.stderr)
        return None
    cps = checkpoints(s)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.8), sharey=True)
    for ax, bs in zip(axes, BLOCKS):
        for w in WAYS:
            det = [s.get(f"{w}_worst_ns_{bs}_at_{m}min") for m in cps]
            raw = [s.get(f"{w}_worst_raw_ns_{bs}_at_{m}min") for m in cps]
            ax.plot(cps, [v / 1e3 for v in det], "o-", color=COLOR[w], lw=2, label=LABEL[w])
            ax.plot(cps, [v / 1e3 for v in raw], ":", color=COLOR[w], lw=1, alpha=0.7)
        period = bs / 48000 * 1e6
        ax.axhline(period, color="black", lw=1, ls="--")
        ax.text(cps[0], period * 1.15, f"block period ({bs} frames): {period:.0f} µs", fontsize=8)
        gap = s.get("machine_gap_median_over_5us_ns")
        if gap:
            ax.axhline(gap / 1e3, color="#9467bd", lw=1, ls="-.")
            ax.text(cps[-1], gap / 1e3 * 1.15, "machine's typical interruption", fontsize=8, ha="right", color="#9467bd")
        ax.set_yscale("log")
        ax.set_xlabel("loop length (minutes of 48 kHz mono)")
        ax.set_title(f"{bs}-frame blocks")
        ax.set_xticks(cps)
        ax.grid(True, which="both", alpha=0.25)
    axes[0].set_ylabel("worst block time (µs, log)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, 0.03))
    runs = int(s.get("runs", 0))
    fig.suptitle(
        f"Worst recording block in the minute before each length. Solid: worst of the block-wise minimum over "
        f"{runs} runs (the code's own worst); dotted: worst of all runs (incl. the machine's interruptions)",
        fontsize=9,
    )
    fig.text(0.01, 0.005, machine(), fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    path = os.path.join(out, "worst_block.png")
    fig.savefig(path, dpi=110)
    return path


def tables(s):
    cps = checkpoints(s)
    last, first = cps[-1], cps[0]
    L = []
    L.append(f"Machine: {machine()}. Runs: {int(s.get('runs', 0))}; windows: the "
             f"{int(s.get('window_seconds', 60))} s of recording ending at each length.\n")
    for bs in BLOCKS:
        L.append(f"**{bs}-frame blocks** (period {bs / 48 * 1000:.0f} µs)\n")
        L.append("| way | median @1 min | median @%d min | batched mean, first min | batched mean, after %d min "
                 "| p99.9 @%d min | worst @1 min | worst @%d min | worst, raw @%d min | memory beyond samples @1 min | @%d min |"
                 % (last, last, last, last, last, last))
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for w in WAYS:
            g = lambda k: s.get(k)
            L.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                % (
                    w,
                    us(g(f"{w}_median_ns_{bs}_at_{first}min")),
                    us(g(f"{w}_median_ns_{bs}_at_{last}min")),
                    us(g(f"{w}_batched_ns_{bs}_first_min")),
                    us(g(f"{w}_batched_ns_{bs}_after_{last}min")),
                    us(g(f"{w}_p999_ns_{bs}_at_{last}min")),
                    us(g(f"{w}_worst_ns_{bs}_at_{first}min")),
                    us(g(f"{w}_worst_ns_{bs}_at_{last}min")),
                    us(g(f"{w}_worst_raw_ns_{bs}_at_{last}min")),
                    mib(g(f"{w}_mem_beyond_bytes_{bs}_at_{first}min")),
                    mib(g(f"{w}_mem_beyond_bytes_{bs}_at_{last}min")),
                )
            )
        L.append("")
    L.append("**Worst block by loop length** (block-wise minimum over runs, then the window's worst; "
             "in brackets: the worst of all runs, nothing excluded)\n")
    L.append("| frames | way | " + " | ".join(f"{m} min" for m in cps) + " |")
    L.append("|---|---|" + "---:|" * len(cps))
    for bs in BLOCKS:
        for w in WAYS:
            cells = [f"{us(s.get(f'{w}_worst_ns_{bs}_at_{m}min'))} ({us(s.get(f'{w}_worst_raw_ns_{bs}_at_{m}min'))})" for m in cps]
            L.append(f"| {bs} | {w} | " + " | ".join(cells) + " |")
    L.append("")
    return "\n".join(L)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/bench"
    summary = {}
    for name in ["record_path.json", "worker_cost.json", "instances.json"]:
        summary.update(load(out, name))
    summary["machine_cpus"] = os.cpu_count()
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.join(out, 'summary.json')} ({len(summary)} figures)")
    if "looper_worst_ns_64_at_1min" in summary:
        path = plot(summary, out)
        if path:
            print(f"wrote {path}")
            if "--update-docs" in sys.argv:
                root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                shutil.copy(path, os.path.join(root, "docs", "worst_block.png"))
                print("copied the plot to docs/worst_block.png")
        t = tables(summary)
        with open(os.path.join(out, "table.md"), "w") as f:
            f.write(t)
        print(t)
    g = summary.get
    print("targets:")
    print(f"  median within 1.2x of memcpy (timer-free batches): max ratio {g('target_median_ratio_batched_max')}"
          f" -> {'met' if g('target_median_met') else 'NOT met'}")
    print(f"  worst at the longest length within 1.5x of worst at 1 min: 64: {g('target_looper_worst_growth_64')},"
          f" 256: {g('target_looper_worst_growth_256')} -> {'met' if g('target_worst_growth_met') else 'NOT met'};"
          f" replacement grows x{g('target_replace_worst_growth_64')} (64), x{g('target_replace_worst_growth_256')} (256)")
    print(f"  memory beyond the samples <= {g('target_mem_bound_bytes')} B: {g('target_looper_mem_beyond_max_bytes')} B"
          f" -> {'met' if g('target_mem_met') else 'NOT met'}; without the index {g('target_looper_mem_beyond_noindex_max_bytes')} B"
          f" -> {'met' if g('target_mem_met_without_index') else 'NOT met'}")
    print(f"  160 mono loopers, 64 frames: median {g('instances160_share_median_pct')} %, p99.9 {g('instances160_share_p999_pct')} %,"
          f" worst {g('instances160_share_worst_pct')} % of the block period")


if __name__ == "__main__":
    main()
