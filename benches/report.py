#!/usr/bin/env python3
"""Merges the benchmark figures into summary.json, draws worst_block.png and writes
table.md (the tables of docs/PERFORMANCE.md). Run by scripts/bench.sh:

    report.py OUT_DIR [--update-docs]

OUT_DIR holds record_path.json, worker_cost.json, instances.json, layers.json, display.json and
state.json, as the bench binaries wrote them. Only the standard library is needed, plus matplotlib for the plot.
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


def pct(ns, bs=64):
    if ns is None:
        return "n/a"
    return f"{ns / (bs / 48000 * 1e9) * 100:.1f} %"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def layer_tables(s):
    """The play and overdub paths, copy-on-write, undo/redo, layer memory, 80 stereo
    instances overdubbing (benches/layers.rs and the second part of instances.rs)."""
    g = s.get
    L = []
    long_m = int(g("layers_long_minutes", 60))
    lt = f"{long_m}min"
    if g(f"looper_play_1ch_64_1min_median_ns") is not None:
        L.append(f"**Play and overdub, per block** (runs: {int(g('layers_runs', 0))} of "
                 f"{int(g('layers_window_seconds', 0))} s from the loop's start; fades off)\n")
        L.append(f"| path | frames | ch | timer-free mean @1 min | @{long_m} min | memcpy floor @{long_m} min "
                 f"| vs floor @{long_m} min | median @1 min | @{long_m} min | worst @1 min | worst @{long_m} min "
                 f"| growth | floor's worst @{long_m} min |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for path in ["play", "overdub"]:
            for bs in BLOCKS:
                for ch in [1, 2]:
                    k1 = f"{path}_{ch}ch_{bs}_1min"
                    k2 = f"{path}_{ch}ch_{bs}_{lt}"
                    L.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        path, bs, ch,
                        us(g(f"looper_{k1}_batched_ns")), us(g(f"looper_{k2}_batched_ns")),
                        us(g(f"memcpy_{k2}_batched_ns")),
                        ratio(g(f"looper_{k2}_batched_ns"), g(f"memcpy_{k2}_batched_ns")),
                        us(g(f"looper_{k1}_median_ns")), us(g(f"looper_{k2}_median_ns")),
                        us(g(f"looper_{k1}_worst_ns")), us(g(f"looper_{k2}_worst_ns")),
                        ratio(g(f"looper_{k2}_worst_ns"), g(f"looper_{k1}_worst_ns")),
                        us(g(f"memcpy_{k2}_worst_ns"))))
        L.append("")
        L.append("**Copy-on-write: the overdub block that first writes into a chunk** (warm: the "
                 "block's least time over the runs; cold: median of 15 tries, "
                 f"{int(g('layers_cold_mib', 0))} MiB written just before the block)\n")
        L.append("| frames | ch | loop | first block (path + chunk) | chunk block, median | other blocks, median "
                 "| floor block | cold: first | cold: chunk | cold: other | cold: floor "
                 "| chunks copied ahead / whole, per layer |")
        L.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for bs in BLOCKS:
            for ch in [1, 2]:
                for m in ["1min", lt]:
                    k = f"overdub_{ch}ch_{bs}_{m}"
                    nl = g(f"cow_{k}_layers")
                    ca, cw = g(f"cow_{k}_chunks_copied_ahead"), g(f"cow_{k}_chunks_copied_whole")
                    copies = "n/a" if not nl or ca is None or cw is None else f"{ca / nl:.1f} / {cw / nl:.1f}"
                    L.append("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        bs, ch, m.replace("min", " min"),
                        us(g(f"cow_{k}_first_block_ns")), us(g(f"cow_{k}_chunk_block_median_ns")),
                        us(g(f"cow_{k}_other_block_median_ns")), us(g(f"cow_{k}_memcpy_block_median_ns")),
                        us(g(f"cold_{k}_first_block_median_ns")), us(g(f"cold_{k}_chunk_block_median_ns")),
                        us(g(f"cold_{k}_plain_block_median_ns")), us(g(f"cold_{k}_memcpy_block_median_ns")),
                        copies))
        L.append("")
    if g("undo_2ch_1h_undo_median_ns") is not None:
        L.append(f"**Undo and redo, {long_m}-minute loop, {int(g('undo_2ch_layers', 0)) - 1} layers, 64 frames** "
                 "(median and worst over the steps of each step's least time over the runs)\n")
        L.append("| ch | fade | undo block, median | worst | redo block, median | worst | playing block, median "
                 "| first block after a step |")
        L.append("|---:|---|---:|---:|---:|---:|---:|---:|")
        for ch in [1, 2]:
            for ftag, fname in [("", "0 ms"), ("_fade5", "5 ms")]:
                k = f"undo_{ch}ch_1h{ftag}"
                L.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
                    ch, fname, us(g(f"{k}_undo_median_ns")), us(g(f"{k}_undo_worst_ns")),
                    us(g(f"{k}_redo_median_ns")), us(g(f"{k}_redo_worst_ns")),
                    us(g(f"{k}_play_median_ns")), us(g(f"{k}_after_step_median_ns"))))
        L.append("")
        L.append(f"**Memory after 1 s of overdub into a {long_m}-minute loop**\n")
        L.append("| ch | bytes held grew by | expected: chunks + index path | chunks | nodes | ratio |")
        L.append("|---:|---:|---:|---:|---:|---:|")
        for ch in [1, 2]:
            k = f"layer_mem_{ch}ch_{lt}"
            gr = g(f"{k}_held_growth_bytes")
            ex = g(f"{k}_expected_bytes")
            L.append("| %d | %s B | %s B | %s | %s | %s |" % (
                ch, f"{gr:,.0f}" if gr is not None else "n/a", f"{ex:,.0f}" if ex is not None else "n/a",
                int(g(f"{k}_expected_chunks", 0)), int(g(f"{k}_expected_nodes", 0)), ratio(gr, ex)))
        L.append("")
    if g("overdub80_warm_looper_median_ns") is not None:
        L.append(f"**80 stereo instances overdubbing, 64 frames** ({int(g('overdub80_seconds', 0))} s loops; "
                 f"cold: {g('overdub80_cool_bytes', 0) / 1048576:.0f} MiB written between periods)\n")
        L.append("| pacing | way | median | p99.9 | worst (code's own) | worst, raw | first period "
                 "| worst after the first period | periods where all enter a new chunk |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for pace in ["warm", "cold"]:
            for way in ["looper", "memcpy"]:
                k = f"overdub80_{pace}_{way}"
                L.append("| %s | %s | %s (%s) | %s (%s) | %s (%s) | %s (%s) | %s (%s) | %s (%s) | %s (%s) |" % (
                    pace, way,
                    us(g(f"{k}_median_ns")), pct(g(f"{k}_median_ns")),
                    us(g(f"{k}_p999_ns")), pct(g(f"{k}_p999_ns")),
                    us(g(f"{k}_worst_ns")), pct(g(f"{k}_worst_ns")),
                    us(g(f"{k}_worst_raw_ns")), pct(g(f"{k}_worst_raw_ns")),
                    us(g(f"{k}_first_period_ns")), pct(g(f"{k}_first_period_ns")),
                    us(g(f"{k}_worst_after_first_ns")), pct(g(f"{k}_worst_after_first_ns")),
                    us(g(f"{k}_chunk_period_median_ns")), pct(g(f"{k}_chunk_period_median_ns"))))
        L.append("")
    return "\n".join(L)


def display_tables(s):
    """The inline display: render of a long stereo loop, the peak summary's cost per
    block (benches/display.rs)."""
    g = s.get
    L = []
    if g("render_us_1h_small") is None:
        return ""
    L.append("**Inline display: `render` of a stereo loop** (mean of a call, least of 7 batches)\n")
    L.append("| loop | 200 x 66 | 800 x 266 |")
    L.append("|---|---:|---:|")
    L.append("| 1 s | %s | %s |" % (us(g("render_us_1s_small") * 1e3), us(g("render_us_1s_large") * 1e3)))
    lm = g("display_long_minutes", 60)
    L.append("| %s | %s | %s |" % ("1 h" if lm == 60 else f"{lm:g} min",
                                   us(g("render_us_1h_small") * 1e3), us(g("render_us_1h_large") * 1e3)))
    L.append("")
    L.append(f"**Peak summary per block and channel, {g('display_long_minutes', 60):g}-minute loop** (timer-free means)\n")
    L.append("| frames | record | overdub | memcpy of the block | record / memcpy | overdub / memcpy |")
    L.append("|---:|---:|---:|---:|---:|---:|")
    for bs in BLOCKS:
        r, d, c = g(f"peaks_record_ns_{bs}"), g(f"peaks_overdub_ns_{bs}"), g(f"peaks_memcpy_ns_{bs}")
        L.append("| %d | %s | %s | %s | %s | %s |" % (bs, us(r), us(d), us(c), ratio(r, c), ratio(d, c)))
    L.append("")
    return "\n".join(L)


def state_tables(s):
    """The save and restore tables of docs/PERFORMANCE.md (benches/state.rs)."""
    g = s.get
    lens = [m for m in [1, int(g("state_long_minutes", 60))] if g(f"state_{m}min_bytes") is not None]
    if not lens:
        return ""
    gb = lambda v: "n/a" if v is None else f"{v:.2f} GB/s"
    ratio = lambda v: "n/a" if v is None else f"{v:.2f}x"
    L = ["**Save and restore** (stereo, 48 kHz; best of each way's runs, medians in summary.json)\n"]
    L.append("| loop | MB | save | plain write | ratio | memcpy | restore warm | plain read warm | ratio "
             "| restore cold | plain read cold | ratio | chunks alone | save, fsync | plain write, fsync |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in lens:
        k = f"state_{m}min"
        L.append("| %d min | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            m, g(f"{k}_bytes", 0) / 1e6, gb(g(f"{k}_save_gbps")), gb(g(f"{k}_plain_write_gbps")),
            ratio(g(f"{k}_save_vs_plain_write")), gb(g(f"{k}_memcpy_gbps")),
            gb(g(f"{k}_restore_warm_gbps")), gb(g(f"{k}_plain_read_warm_gbps")),
            ratio(g(f"{k}_restore_vs_plain_read_warm")), gb(g(f"{k}_restore_cold_gbps")),
            gb(g(f"{k}_plain_read_cold_gbps")), ratio(g(f"{k}_restore_vs_plain_read_cold")),
            gb(g(f"{k}_restore_chunk_making_gbps")), gb(g(f"{k}_save_fsync_gbps")),
            gb(g(f"{k}_plain_write_fsync_gbps"))))
    L.append("")
    L.append("**64-frame blocks at realtime pace, with and without a save of the loop in progress** "
             "(code's own worst, raw worst, p99.9, median)\n")
    L.append("| loop | path | blocks (during the save) | worst with / without | raw worst with / without "
             "| p99.9 with / without | median with / without | during the save: worst with / without | p99.9 with / without |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for m in lens:
        for p in ["overdub", "record"]:
            k = f"state_{m}min_{p}"
            pair = lambda a: f"{us(g(f'{k}_save_{a}'))} / {us(g(f'{k}_nosave_{a}'))}"
            L.append("| %d min | %s | %d (%d) | %s | %s | %s | %s | %s | %s |" % (
                m, p, g(f"state_{m}min_window_blocks", 0), g(f"{k}_save_blocks", 0),
                pair("worst_ns"), pair("worst_raw_ns"), pair("p999_ns"), pair("median_ns"),
                pair("during_worst_ns"), pair("during_p999_ns")))
    L.append("")
    return "\n".join(L)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/bench"
    summary = {}
    for name in ["record_path.json", "worker_cost.json", "instances.json", "layers.json", "display.json", "state.json", "sync.json"]:
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
        t = tables(summary) + "\n" + layer_tables(summary) + "\n" + display_tables(summary) + "\n" + state_tables(summary)
        with open(os.path.join(out, "table.md"), "w") as f:
            f.write(t)
        print(t)
    g = summary.get
    if "looper_worst_ns_64_at_1min" not in summary:
        t = layer_tables(summary) + "\n" + display_tables(summary)
        with open(os.path.join(out, "table.md"), "w") as f:
            f.write(t)
        print(t)
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
    print(f"  play/overdub worst block at the long loop within 1.5x of 1 min: max {g('target_layers_worst_growth_max')}"
          f" -> {'met' if g('target_layers_worst_growth_met') else 'NOT met'}")
    print(f"  80 stereo overdubbing, 64 frames: warm median {g('overdub80_warm_looper_share_median_pct')} %,"
          f" worst {g('overdub80_warm_looper_share_worst_pct')} %; paced-cold median {g('overdub80_cold_looper_share_median_pct')} %,"
          f" worst {g('overdub80_cold_looper_share_worst_pct')} % (memcpy paced-cold: median"
          f" {g('overdub80_cold_memcpy_share_median_pct')} %, worst {g('overdub80_cold_memcpy_share_worst_pct')} %);"
          f" worst after the first period: warm {g('overdub80_warm_looper_share_worst_after_first_pct')} %,"
          f" paced-cold {g('overdub80_cold_looper_share_worst_after_first_pct')} %")
    print(f"  inline display, {g('display_long_minutes', 60)}-minute stereo loop: render {g('render_us_1h_small')} us (200 x 66),"
          f" {g('render_us_1h_large')} us (800 x 266); peak summary per 64-frame block and channel:"
          f" record {g('peaks_record_ns_64')} ns, overdub {g('peaks_overdub_ns_64')} ns, memcpy {g('peaks_memcpy_ns_64')} ns")


if __name__ == "__main__":
    main()
