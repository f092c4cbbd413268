#!/usr/bin/env python3
"""The GPU check's report (standard library only).

    report.py --record BASE --name NAME --rc RC --started T0 --ended T1 --limit S --command CMD
        records one step from BASE.out / BASE.err / BASE.mem into BASE.json;
    report.py --steps DIR --out OUT --here HERE --mode full|dry-run
        writes OUT/gpu-report.json and OUT/gpu-report.md from every step so far.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess

# The paper's training speed (TensorFlow, one K80): the book's specification §6.
PAPER_TUPLES_PER_SECOND = {"gru": 24917, "attentional-user-gru": 22822}
PAPER_EPOCHS = 10
QUALITY_TOLERANCE = 0.005
# The GPU speed targets on the ML-10M shape (hidden 1000, 1000 lanes).
TARGET_FP32_RATIO = 1.0
TARGET_TF32_RATIO = 1.5
TARGET_BF16_RATIO = 1.0
TARGET_TF32_TUPLES = {"gru": 500_000, "user-based": 400_000}
# Dense fp32 (CUDA-core) peaks, TFLOP/s, by the name nvidia-smi reports.
FP32_PEAK_TFLOPS = {"H200": 67.0, "H100": 67.0, "A100": 19.5, "L40S": 91.6, "RTX 4090": 82.6}


def read(path, limit=None):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    return text[-limit:] if limit else text


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def status_of(rc, err):
    if rc == 0:
        return "ok"
    if rc in (124, 137):
        return "timeout"
    if "is not compiled in" in err:
        return "not built"
    if "no Vulkan device" in err or "no CUDA device" in err or "is a software driver" in err:
        return "no device"
    return "failed"


def record(args):
    err = read(args.record + ".err")
    out = read(args.record + ".out")
    mem = [int(x) for x in read(args.record + ".mem").split() if x.strip().isdigit()]
    step = {
        "name": args.name,
        "status": status_of(args.rc, err),
        "rc": args.rc,
        "seconds": round(float(args.ended) - float(args.started), 2),
        "limit_seconds": args.limit,
        "command": args.command,
        "peak_gpu_mib": max(mem) if mem else None,
        "results": json_lines(out),
        "stdout_tail": out[-1500:],
        "stderr_tail": err[-2500:],
    }
    with open(args.record + ".json", "w", encoding="utf-8") as f:
        json.dump(step, f, indent=1)


def machine():
    info = {"host": platform.node(), "cpus": os.cpu_count()}
    try:
        gpus = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=False)
        info["gpus"] = [g.strip() for g in gpus.stdout.splitlines() if g.strip()]
    except (OSError, subprocess.SubprocessError):
        info["gpus"] = []
    return info


def throughput_rows(steps):
    rows = []
    for s in steps:
        if s["name"].startswith("profile-"):
            continue  # timed with cubecl's profiler on: not a speed
        for r in s.get("results", []):
            if "train_tuples_per_second" in r and "method" in r and "backend" in r:
                rows.append(dict(r, step=s["name"], peak_gpu_mib=s.get("peak_gpu_mib")))
    return rows


def torch_rows(steps, implementation="pytorch"):
    """PyTorch's rows: the cell-by-cell reference (`pytorch`), or cuDNN's
    `torch.nn.GRU` (`pytorch-cudnn`: another cell, shown for context and
    never compared)."""
    return [dict(r, step=s["name"]) for s in steps if s["name"].startswith("torch")
            for r in s.get("results", []) if r.get("implementation") == implementation]


def paper_estimate(rows):
    """Hours of the paper preset's GRU training and evaluation, from the
    fastest backend measured on each dataset (synthetic shapes)."""
    out = {}
    for dataset in sorted({r["dataset"] for r in rows if not r["step"].startswith(("smoke", "repeat"))}):
        measured = [r for r in rows if r["dataset"] == dataset and not r["step"].startswith(("smoke", "repeat"))]
        per_method = {}
        for r in measured:
            tps, eps = r["train_tuples_per_second"], r.get("eval_events_per_second") or 0
            seconds = PAPER_EPOCHS * r["epoch_tuples"] / max(tps, 1e-9)
            if eps > 0:
                seconds += (PAPER_EPOCHS * r["validation_events"] + r["test_events"]) / eps
            best = per_method.get(r["method"])
            if best is None or seconds < best["seconds"]:
                per_method[r["method"]] = {"seconds": seconds, "backend": r["backend"]}
        if not per_method:
            continue
        slowest = max(v["seconds"] for v in per_method.values())
        missing = [m for m in ("gru", "linear-user-gru", "rectified-user-gru", "attentional-user-gru")
                   if m not in per_method]
        total = sum(v["seconds"] for v in per_method.values()) + slowest * len(missing)
        out[dataset] = {"methods": per_method, "assumed_like_slowest": missing, "hours": total / 3600}
    return out


def quality(steps, here, work):
    step = next((s for s in steps if s["name"].startswith("quality-")), None)
    if step is None:
        return None
    dataset = step["name"][len("quality-"):]
    ours = os.path.join(work, "quality", "results.json")
    preset = "ci" if dataset.startswith("synthetic") else "quick"
    committed = os.path.join(here, "results", preset, "results.json")

    def mrr(path):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None, None
        for d in data.get("datasets", []):
            if d["dataset"]["name"] == dataset:
                for c in d["cells"]:
                    if c["method"] == "gru":
                        return c["metrics"].get("mrr@20"), data.get("backend")
        return None, None

    got, backend = mrr(ours)
    want, committed_backend = mrr(committed)
    result = {"dataset": dataset, "preset": preset, "status": step["status"], "gpu_backend": backend,
              "gpu_mrr20": got, "committed_mrr20": want, "committed_backend": committed_backend,
              "tolerance": QUALITY_TOLERANCE}
    if got is not None and want is not None:
        result["difference"] = got - want
        result["within_tolerance"] = abs(got - want) <= QUALITY_TOLERANCE
    return result


def reproducibility(rows):
    out = []
    for r in rows:
        if not r["step"].startswith("repeat-"):
            continue
        first = next((x for x in rows if x["step"] == "ml10m-" + r["backend"]
                      and x["method"] == r["method"]), None)
        if first is None:
            continue
        a, b = first.get("losses", []), r.get("losses", [])
        n = min(len(a), len(b))
        worst = max((abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a[:n], b[:n])), default=None)
        out.append({"backend": r["backend"], "method": r["method"], "windows": n,
                    "bit_identical": n > 0 and a[:n] == b[:n], "max_relative_difference": worst})
    return out


def standard_gru_flops_per_tuple(hidden, items):
    """Multiply-adds ×2 of one training tuple of the standard GRU: the
    output layer's forward and two backward products (6·n·|I|) and the
    cell's three n×n maps on h and on x, forward and backward (36·n²)."""
    return 6 * hidden * items + 36 * hidden * hidden


def fp32_peak(gpus):
    for gpu in gpus:
        for name, peak in FP32_PEAK_TFLOPS.items():
            if name in gpu:
                return name, peak
    return None, None


def against_pytorch(r, torch, shape, torch_prefix):
    """One seqrec row beside the PyTorch row of the same shape, method and
    precision, with their ratio (None without a reference)."""
    precision = r.get("precision") or "unknown"
    reference = next((t for t in torch if t["step"].startswith(torch_prefix)
                      and t.get("method") == r["method"] and t.get("precision") == precision), None)
    theirs = reference and reference.get("train_tuples_per_second")
    return {"shape": shape, "method": r["method"], "precision": precision,
            "tuples_per_second": r["train_tuples_per_second"],
            "pytorch_tuples_per_second": theirs,
            "ratio": r["train_tuples_per_second"] / theirs if theirs else None}


def targets(rows, torch, gpus):
    """seqrec cuda against PyTorch CUDA at the same precision, with the
    speed goals: the ML-10M shape, and LastFM's with the same chunked
    output layer."""
    out = []
    peak_name, peak = fp32_peak(gpus)
    for r in rows:
        if not (r["step"].startswith("ml10m-cuda") and r["backend"] == "cuda"):
            continue
        row = against_pytorch(r, torch, "ML-10M", "torch-ml10m")
        ratio = row["ratio"]
        if row["precision"] == "fp32":
            row["goal"] = f"≥ {TARGET_FP32_RATIO}× PyTorch fp32"
            row["met"] = ratio is not None and ratio >= TARGET_FP32_RATIO
            if r["method"] == "gru" and peak:
                tflops = r["train_tuples_per_second"] * standard_gru_flops_per_tuple(
                    r["hidden"], r["items"]) / 1e12
                row["tflops"] = tflops
                row["share_of_fp32_peak"] = tflops / peak
                row["peak"] = f"{peak_name} fp32 {peak} TFLOP/s"
        elif row["precision"] == "bf16":
            row["goal"] = f"≥ {TARGET_BF16_RATIO}× PyTorch bf16 autocast"
            row["met"] = ratio is not None and ratio >= TARGET_BF16_RATIO
        elif row["precision"] == "tf32":
            floor = TARGET_TF32_TUPLES["gru" if r["method"] == "gru" else "user-based"]
            if r["method"] in ("gru", "attentional-user-gru"):
                row["goal"] = f"≥ {floor:,} tuples/s and ≥ {TARGET_TF32_RATIO}× PyTorch tf32"
                row["met"] = (r["train_tuples_per_second"] >= floor and ratio is not None
                              and ratio >= TARGET_TF32_RATIO)
            else:
                row["goal"] = f"≥ {floor:,} tuples/s"
                row["met"] = r["train_tuples_per_second"] >= floor
        out.append(row)
    for r in rows:
        if r["step"] == "lastfm-cuda" and r["backend"] == "cuda":
            row = against_pytorch(r, torch, "LastFM", "torch-lastfm")
            row["chunk_rows"] = r.get("chunk_rows")
            row["goal"] = "≥ 1.0× PyTorch with the same chunked output layer"
            row["met"] = row["ratio"] is not None and row["ratio"] >= 1.0
            out.append(row)
    return out


DURATION_UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_duration(text):
    """Seconds of a Rust `Duration` as `{:?}` prints it (`1.5ms`, `250µs`)."""
    for unit in ("ns", "µs", "us", "ms", "s"):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * DURATION_UNITS[unit]
            except ValueError:
                return None
    return None


def kernel_profile(path, top=20):
    """cubecl's profiler log at level `basic` (a line per kernel launch:
    `| duration | kernel name`, the name itself `|`-separated), summed by
    kernel; the kernels taking most time."""
    totals = {}
    for line in read(path).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        seconds = parse_duration(cells[0])
        if seconds is None:
            continue
        parts = [c for c in cells[1:] if c]
        # The first and last parts say what it is (`MatmulEntry …
        # RowMajorGlobalPartitionMatmul_66366270`); the middle is its generics.
        name = parts[0] if len(parts) == 1 else f"{parts[0]} … {parts[-1]}"
        entry = totals.setdefault(name, {"kernel": name, "seconds": 0.0, "launches": 0})
        entry["seconds"] += seconds
        entry["launches"] += 1
    if not totals:
        return None
    total = sum(e["seconds"] for e in totals.values())
    kernels = sorted(totals.values(), key=lambda e: -e["seconds"])
    families = {}
    for e in kernels:
        e["share"] = e["seconds"] / total if total > 0 else 0.0
        # `MatmulEntry`, `KernelBinop`, `SliceAssignKernel` (hash dropped).
        family = e["kernel"].split(" … ")[0].rsplit("_", 1)[0]
        families[family] = families.get(family, 0.0) + e["share"]
    return {"total_seconds": total, "kernels_seen": len(kernels), "launches": sum(e["launches"] for e in kernels),
            "families": dict(sorted(families.items(), key=lambda kv: -kv[1])), "kernels": kernels[:top]}


def fmt(x, digits=0):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def markdown(report):
    m = report["machine"]
    lines = [f"# seqrec GPU check ({report['mode']})", "",
             f"Written {report['generated']} on `{m['host']}` ({m['cpus']} CPUs); "
             f"GPU: {', '.join(m['gpus']) or 'none reported by nvidia-smi'}.", ""]
    build = report.get("build") or {}
    if build:
        lines += [f"Binary: commit `{build.get('commit')}`, features {build.get('features')}, "
                  f"CUDA API {build.get('cuda_api')}, packed {build.get('packed')}.", ""]
    lines += ["Precision: float32 tensors throughout. seqrec's `--precision tf32` (the default) sends "
              "products to cubek-matmul's default strategy, which stages float32 operands as TF32 on tensor "
              "cores wherever the device has them (NVIDIA Ampere and newer under `cuda`); `--precision fp32` "
              "runs cubek's unit routine with float32 throughout. The precision column is what the products "
              "were (`seqrec devices` shows whether a device has TF32). PyTorch rows: `allow_tf32` off for "
              "fp32, on for tf32.", ""]
    lines += ["## Devices", ""]
    for backend, d in (report.get("devices") or {}).items():
        if "devices" in d:
            for dev in d["devices"]:
                extra = ", ".join(x for x in [dev.get("kind"), dev.get("runtime"), dev.get("libdevice"),
                                              dev.get("cuda_api") and f"CUDA API {dev['cuda_api']}",
                                              dev.get("tf32") and "TF32 tensor cores"] if x)
                lines.append(f"- {backend} {dev['index']}: {dev['name']}" + (f" ({extra})" if extra else ""))
        else:
            lines.append(f"- {backend}: {d.get('error')}")
    lines += ["", "## Training and evaluation speed", "",
              "| step | dataset (items) | method | backend | precision | train tuples/s | eval events/s | first window s | peak GPU MiB |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in report["throughput"]:
        lines.append(f"| {r['step']} | {r['dataset']} ({fmt(r['items'])}) | {r['method']} | {r['backend']} | "
                     f"{r.get('precision') or '–'} | {fmt(r['train_tuples_per_second'])} | {fmt(r.get('eval_events_per_second'))} | "
                     f"{fmt(r.get('first_window_seconds'), 1)} | {fmt(r.get('peak_gpu_mib'))} |")
    for r in report["pytorch"] + report.get("pytorch_cudnn", []):
        shape = "LastFM shape" if r["step"].startswith("torch-lastfm") else "ML-10M shape"
        who = "PyTorch nn.GRU (cuDNN; reset after the product: another cell, context only)" \
            if r.get("implementation") == "pytorch-cudnn" else "PyTorch"
        lines.append(f"| {r['step']} | {shape} ({fmt(r['items'])}) | {r['method']} | {who} {r['torch']} | "
                     f"{r['precision']} | {fmt(r['train_tuples_per_second'])} | {fmt(r.get('eval_events_per_second'))} "
                     f"| – | {fmt((r.get('peak_memory_bytes') or 0) / 2**20) if r.get('peak_memory_bytes') else '–'} |")
    for method, tps in PAPER_TUPLES_PER_SECOND.items():
        lines.append(f"| the paper (TensorFlow, K80) | ML-10M | {method} | – | fp32 | {fmt(tps)} | – | – | – |")
    lines += ["", "## Against PyTorch CUDA and the goals (cuda)", ""]
    if report["targets"]:
        lines += ["| shape | method | precision | seqrec tuples/s | PyTorch tuples/s | ratio | goal | met | fp32 peak share |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t in report["targets"]:
            share = (f"{t['tflops']:.1f} TFLOP/s, {100 * t['share_of_fp32_peak']:.0f}% of {t['peak']}"
                     if "share_of_fp32_peak" in t else "–")
            lines.append(f"| {t['shape']} | {t['method']} | {t['precision']} | {fmt(t['tuples_per_second'])} | "
                         f"{fmt(t['pytorch_tuples_per_second'])} | {fmt(t['ratio'], 2)} | {t.get('goal', '–')} | "
                         f"{'yes' if t.get('met') else 'no'} | {share} |")
    else:
        lines.append("- no cuda row on the ML-10M or LastFM shape finished")
    lines += ["", "## The full `paper` preset, estimated", ""]
    if report["paper_estimate"]:
        for dataset, e in report["paper_estimate"].items():
            parts = ", ".join(f"{k} {v['seconds'] / 3600:.2f} h on {v['backend']}" for k, v in e["methods"].items())
            extra = f"; {', '.join(e['assumed_like_slowest'])} taken as the slowest" if e["assumed_like_slowest"] else ""
            lines.append(f"- {dataset}: {e['hours']:.2f} h for the four GRUs ({PAPER_EPOCHS} epochs and their "
                         f"validations, the test) — {parts}{extra}")
        lines.append("- From synthetic data of the paper's shapes; the CPU baselines are not included.")
    else:
        lines.append("- no GRU at the paper's setting finished")
    lines += ["", "## Quality on the GPU", ""]
    q = report.get("quality")
    if q and q.get("gpu_mrr20") is not None:
        verdict = "within" if q.get("within_tolerance") else "NOT within"
        lines.append(f"- {q['dataset']}, standard GRU ({q['preset']} preset): test MRR@20 {q['gpu_mrr20']:.5f} on "
                     f"{q['gpu_backend']} against the committed {q['committed_mrr20']} ({q['committed_backend']}): "
                     f"difference {q.get('difference', float('nan')):+.5f}, {verdict} {q['tolerance']}")
    else:
        lines.append(f"- not measured ({(q or {}).get('status', 'step not run')})")
    lines += ["", "## Reproducibility", ""]
    if report["reproducible"]:
        for r in report["reproducible"]:
            lines.append(f"- {r['backend']} {r['method']}, {r['windows']} windows run twice: "
                         f"{'bit-identical losses' if r['bit_identical'] else 'losses differ'} "
                         f"(largest relative difference {r['max_relative_difference']})")
    else:
        lines.append("- not measured")
    lines += ["", "## Profile", ""]
    p = report.get("profile")
    if p:
        by_family = ", ".join(f"{name} {100 * share:.0f}%" for name, share in list(p["families"].items())[:8])
        lines += [f"cubecl's kernel timings of the standard GRU (the ml10m step's setting, a few windows "
                  f"with the profiler on, so slower than above): {fmt(p['total_seconds'], 3)} s of kernels, "
                  f"{fmt(p['launches'])} launches of {p['kernels_seen']} kernels. By kind: {by_family}. "
                  "The top kernels:", "",
                  "| kernel | seconds | launches | share |", "|---|---|---|---|"]
        for k in p["kernels"]:
            name = k["kernel"] if len(k["kernel"]) <= 90 else k["kernel"][:87] + "..."
            lines.append(f"| `{name}` | {fmt(k['seconds'], 4)} | {fmt(k['launches'])} | {100 * k['share']:.1f}% |")
    else:
        lines.append("- not measured")
    lines += ["", "## Steps", "", "| step | status | seconds | limit |", "|---|---|---|---|"]
    for s in report["steps"]:
        lines.append(f"| {s['name']} | {s['status']} | {s.get('seconds') or '–'} | {s.get('limit_seconds') or '–'} |")
    errors = report["errors"]
    lines += ["", "## Errors", ""]
    if not errors:
        lines.append("- none")
    for e in errors:
        lines += [f"### {e['name']} ({e['status']})", "", "```", e["message"].strip()[-1500:], "```", ""]
    return "\n".join(lines) + "\n"


def write(args):
    steps = []
    for path in sorted(glob.glob(os.path.join(args.steps, "*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                steps.append(json.load(f))
        except (OSError, ValueError):
            continue
    work = os.path.dirname(os.path.abspath(args.steps))
    devices = next((s["results"][0] for s in steps if s["name"] == "devices" and s.get("results")), None)
    build = None
    try:
        with open(os.path.join(args.here, "build.json"), encoding="utf-8") as f:  # prepared folders only
            build = json.load(f)
    except (OSError, ValueError):
        pass
    rows = throughput_rows(steps)
    torch = torch_rows(steps)
    cudnn = torch_rows(steps, "pytorch-cudnn")
    host = machine()
    report = {
        "mode": args.mode,
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": host,
        "build": build,
        "precision": {"seqrec": "per row (what the products were): tf32 = cubek-matmul's default strategy, "
                                "TF32 tensor cores where the device has them; fp32 = cubek's unit routine, "
                                "float32 throughout (`--precision fp32`)",
                      "pytorch": "per row: fp32 (allow_tf32=False), tf32 (allow_tf32=True) or bf16 "
                                 "(bf16 autocast of the forward pass and loss)"},
        "devices": devices,
        "throughput": [{k: v for k, v in r.items() if k != "losses"} | {"losses": r.get("losses")} for r in rows],
        "pytorch": torch,
        "pytorch_cudnn": cudnn,
        # The GPU's name: nvidia-smi's, else what PyTorch saw.
        "targets": targets(rows, torch, host.get("gpus") or [t["gpu"] for t in torch if t.get("gpu")]),
        "paper_tuples_per_second": PAPER_TUPLES_PER_SECOND,
        "paper_estimate": paper_estimate(rows),
        "quality": quality(steps, args.here, work),
        "reproducible": reproducibility(rows),
        "profile": kernel_profile(os.path.join(work, "profile", "cubecl-profile.log")),
        "steps": [{k: s.get(k) for k in ("name", "status", "rc", "seconds", "limit_seconds", "peak_gpu_mib", "command", "reason")}
                  for s in steps],
        "errors": [{"name": s["name"], "status": s["status"],
                    "message": s.get("stderr_tail") or s.get("reason") or ""}
                   for s in steps if s.get("status") not in ("ok",)],
    }
    os.makedirs(args.out, exist_ok=True)
    for name, text in (("gpu-report.json", json.dumps(report, indent=1)), ("gpu-report.md", markdown(report))):
        tmp = os.path.join(args.out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(args.out, name))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--record")
    p.add_argument("--name")
    p.add_argument("--rc", type=int)
    p.add_argument("--started")
    p.add_argument("--ended")
    p.add_argument("--limit", type=int)
    p.add_argument("--command")
    p.add_argument("--steps")
    p.add_argument("--out")
    p.add_argument("--here")
    p.add_argument("--mode", default="full")
    args = p.parse_args()
    if args.record:
        record(args)
    else:
        write(args)


if __name__ == "__main__":
    main()
