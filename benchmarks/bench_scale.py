"""How does a local cold `mlpipe run` scale with the table size? The taxi problem on the bundled
CSV repeated 1, 4, 16 and 64 times, each run cold, side by side with two floors.

For each scale the table is the bundled taxi CSV (15,002 trips) repeated `scale` times with
distinct rows (copy k adds k seconds to trip_start_timestamp, which is no model feature; blank
cells stay blank), cached in `--out`/scale-data/. The default config (taxi.yaml) reads it, all
else unchanged, and `python -m mlpipe.cli run` runs cold in a fresh home, as a subprocess. Per
scale: wall seconds (start-up included), the peak memory of the whole process tree (the PSS of
the run and all its descendants summed, polled every 0.2 s: a page several processes share
counts once), and each component's seconds from
the run's progress lines. Rows/s: table rows / seconds for the ExampleGen, StatisticsGen and
Transform; eval rows (counted in the ExampleGen's Split-eval output) / seconds for the Evaluator.

After the runs (TensorFlow is imported only then), two floors on the 16x table (the largest
table run when 16 is not among the scales), best of 2:
- read floor: pyarrow reads the CSV, tfx_bsl's RecordBatchToExamplesEncoder encodes every row to
  a serialized tf.Example (all columns, typed by the schema; a blank cell has no value);
- model floor: the model the smallest scale's run pushed, called on that table's eval split (the
  ExampleGen's serialized examples) in chunks of 2,048.

Targets: 16x wall <= 2.5x the 1x wall; 64x wall <= 8x; peak memory at 64x < 4 GB; at 16x the
ExampleGen >= 0.25x the read floor and the Evaluator >= 0.01x the model floor. Everything goes to
`--out`/scale-<timestamp>/results.json as well; the run homes (with their logs) are kept there.
Absolute seconds drift with the machine's load: compare the ratios of one invocation.

    .venv/bin/python -m benchmarks.bench_scale [--out benchmarks/out] [--scales 1,4,16,64]
    (from the repository root, as `make bench-scale` does: it reuses benchmarks/floors.py)
"""

import argparse
import csv
import glob
import json
import os
import pathlib
import subprocess
import sys
import time

import psutil

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from benchmarks.bench_pipeline import PROGRESS_LINE
from mlpipe.config import load_config

TIMESTAMP_COLUMN = "trip_start_timestamp"
FLOOR_SCALE = 16
CHUNK = 2048
POLL_SECONDS = 0.2
GB = 1e9
# Run exit codes that mean the pipeline ran to its end (mlpipe.errors: 0 pushed, 3 not blessed).
COMPLETED = (0, 3)
# Components whose rows/s is reported, and which rows they see.
THROUGHPUT = {"StatisticsGen": "table", "Transform": "table", "Evaluator": "eval"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/out")
    parser.add_argument("--scales", default="1,4,16,64",
                        help="comma-separated copies of the taxi CSV (default 1,4,16,64)")
    parser.add_argument("--print", dest="printed", metavar="RESULTS_JSON",
                        help="print the tables of an earlier invocation's results.json; "
                             "run nothing")
    args = parser.parse_args()
    if args.printed:
        results = json.loads(pathlib.Path(args.printed).read_text())
        for entry in results["scales"].values():  # written before PSS was measured: RSS sums
            entry.setdefault("peak_memory_gb", entry.get("peak_rss_gb"))
        results.setdefault("memory", "RSS sum")
        done = [int(s) for s, entry in results["scales"].items() if entry["completed"]]
        results["time_split"] = _time_split(results, done)
        return _print(results, sorted(int(s) for s in results["scales"]))
    scales = sorted({int(s) for s in args.scales.split(",") if s.strip()})
    if not scales or min(scales) < 1:
        sys.exit("--scales: positive integers, e.g. 1,4")
    base_out = pathlib.Path(args.out).resolve()
    out = base_out / f"scale-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    config = load_config()
    print(f"Benchmark folder: {out}", flush=True)

    results = {"memory": "PSS", "scales": {}, "base_scale": scales[0], "floor_scale": None,
               "floors": {}}
    for scale in scales:
        data = _table(pathlib.Path(config.data.path), base_out / "scale-data", scale)
        results["scales"][str(scale)] = _run_scale(config, data, out / f"x{scale}", scale)
        _write(out, results)

    done = [s for s in scales if results["scales"][str(s)]["completed"]]
    if done:
        _import_tensorflow()
        for scale in done:
            entry = results["scales"][str(scale)]
            entry["example_gen"] = _example_gen(entry["components"])
            entry["eval_rows"], entry["train_rows"] = _split_rows(entry)
        floor_scale = FLOOR_SCALE if FLOOR_SCALE in done else max(done)
        results["floor_scale"] = floor_scale
        results["floors"] = _floors(config, results, floor_scale, done)
        _derive(results, done)
        _write(out, results)
    _print(results, scales)
    print(f"\nResults: {out / 'results.json'}")


def _table(source: pathlib.Path, folder: pathlib.Path, scale: int) -> dict:
    """The taxi CSV repeated `scale` times, copy k's trip_start_timestamp + k (kept when there)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"taxi-x{scale}.csv"
    with source.open(newline="") as reader:
        rows = list(csv.reader(reader))
    header, body = rows[0], rows[1:]
    if not path.exists():
        column = header.index(TIMESTAMP_COLUMN)
        partial = path.with_suffix(".partial")
        with partial.open("w", newline="") as sink:
            writer = csv.writer(sink, lineterminator="\n")
            writer.writerow(header)
            for copy in range(scale):
                for row in body:
                    if copy and row[column]:
                        row = row[:column] + [str(int(row[column]) + copy)] + row[column + 1:]
                    writer.writerow(row)
        partial.rename(path)
    return {"path": str(path), "rows": len(body) * scale}


def _run_scale(config, data: dict, folder: pathlib.Path, scale: int) -> dict:
    """One cold `mlpipe run` on `data` in a fresh home under `folder`, timed and watched."""
    folder.mkdir(parents=True)
    config_file = _config_file(config, data["path"], folder)
    base = folder / "home"
    command = [sys.executable, "-m", "mlpipe.cli", "run", "--home", str(base),
               "--config", str(config_file)]
    print(f"\n{scale}x: {data['rows']:,} rows, running cold in {base} ...", flush=True)
    stdout_path, stderr_path = folder / "stdout.txt", folder / "stderr.txt"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        peak, processes = _watch(process)
        seconds = time.monotonic() - started
    text = stdout_path.read_text()
    home = base / config.name
    entry = {"rows": data["rows"], "data": data["path"], "config": str(config_file),
             "home": str(home), "returncode": process.returncode,
             "completed": process.returncode in COMPLETED, "wall_s": seconds,
             "peak_memory_gb": peak / GB, "max_processes": processes,
             "components": _components(text),
             "log": _log_file(text, home), "stdout": str(stdout_path)}
    print(f"{scale}x: {seconds:.1f}s wall, peak {peak / GB:.2f} GB over at most {processes} "
          f"process(es), exit {process.returncode}; log: {entry['log']}", flush=True)
    for name, component in entry["components"].items():
        print(f"  {name:<22}{component['state']:<10}{component['seconds']:>7.1f}s")
    if not entry["completed"]:
        print(f"{scale}x: the run FAILED (exit {process.returncode}); last output:\n"
              f"{text[-2000:]}\n{stderr_path.read_text()[-2000:]}", flush=True)
    return entry


def _config_file(config, data_path: str, folder: pathlib.Path) -> pathlib.Path:
    """The default config with data.path = `data_path` (the schema path is absolute already)."""
    import yaml
    changed = config.model_copy(update={"data": config.data.model_copy(update={"path": data_path})})
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(changed.model_dump(by_alias=True, mode="json",
                                                      exclude={"source"})))
    return path


def _watch(process: subprocess.Popen):
    """Waits for `process`: the largest memory of it and all its descendants seen (the sum of
    their PSS: a page shared by several processes, such as TensorFlow's libraries in Beam's
    worker processes, counts once in all; their RSS sum would count it in each), and the most
    processes seen in that tree at once."""
    peak, processes = 0, 0
    try:
        root = psutil.Process(process.pid)
    except psutil.NoSuchProcess:
        root = None
    while process.poll() is None:
        total = 0
        try:
            tree = [root] + root.children(recursive=True) if root else []
        except psutil.NoSuchProcess:
            tree = []
        for member in tree:
            try:
                total += member.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        peak, processes = max(peak, total), max(processes, len(tree))
        time.sleep(POLL_SECONDS)
    return peak, processes


def _components(stdout: str) -> dict:
    return {m.group(1): {"state": m.group(2), "seconds": float(m.group(3))}
            for m in map(PROGRESS_LINE.match, stdout.splitlines()) if m}


def _log_file(stdout: str, home: pathlib.Path) -> str:
    for line in stdout.splitlines():
        if line.startswith("Log:"):
            return line.split(":", 1)[1].strip()
    logs = sorted(glob.glob(str(home / "logs" / "*.log")), key=os.path.getmtime)
    return logs[-1] if logs else "(none found)"


def _example_gen(components) -> str:
    """The node that read the table: the (first) component named *ExampleGen."""
    return next((name for name in components if name.endswith("ExampleGen")
                 and not name.startswith("Unlabelled")), None)


def _split_folders(entry: dict, split: str):
    """The ExampleGen's output folders of `split` (a cold run has one), oldest first."""
    node = entry.get("example_gen") or "*ExampleGen"
    return sorted(glob.glob(f"{entry['home']}/pipeline_root/{node}/examples/*/Split-{split}"),
                  key=lambda folder: int(pathlib.Path(folder).parent.name))


def _split_rows(entry: dict):
    """Records the ExampleGen wrote to the eval and train splits (exact counts)."""
    import tensorflow as tf

    def count(split):
        folders = _split_folders(entry, split)
        if not folders:
            return None
        files = glob.glob(f"{folders[-1]}/*")
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(8192)
        return int(dataset.reduce(tf.constant(0, tf.int64),
                                  lambda total, batch: total + tf.size(batch, tf.int64)))
    return count("eval"), count("train")


def _import_tensorflow() -> None:
    import tensorflow  # noqa: F401


def _floors(config, results, floor_scale: int, done) -> dict:
    from benchmarks import floors
    from mlpipe.core.run_home import RunHome
    from mlpipe.serving.model import LoadedModel, resolve_version
    entry = results["scales"][str(floor_scale)]
    print(f"\nFloors on the {floor_scale}x table ({entry['rows']:,} rows), best of 2 ...",
          flush=True)
    read = floors.read_floor(entry["data"], config.schema_path, batch=CHUNK)
    read.update(scale=floor_scale)
    found = {"read": read}
    model_scale = next((s for s in done
                        if RunHome(pathlib.Path(results["scales"][str(s)]["home"]))
                        .pushed_versions()), None)
    if model_scale is None:
        print("  model floor: no run pushed a model, not measured")
        return found
    home = RunHome(pathlib.Path(results["scales"][str(model_scale)]["home"]))
    model = LoadedModel.load(*resolve_version(home))
    folder = _split_folders(entry, "eval")[-1]
    model_floor = floors.model_floor(model, floors.record_chunks(folder, CHUNK))
    model_floor.update(scale=floor_scale, model_from_scale=model_scale, model=str(model.path),
                       examples=folder)
    found["model"] = model_floor
    return found


def _derive(results, done) -> None:
    """Rows/s per component, ratios to the base scale, ratios to the floors."""
    base = results["scales"][str(results["base_scale"])]
    read = results["floors"].get("read", {}).get("rows_per_s")
    model = results["floors"].get("model", {}).get("rows_per_s")
    for scale in done:
        entry = results["scales"][str(scale)]
        components = entry["components"]
        example_gen = entry["example_gen"]
        rows = {"table": entry["rows"], "eval": entry["eval_rows"]}
        throughput = dict.fromkeys([example_gen] if example_gen else [], "table")
        throughput.update(THROUGHPUT)
        entry["rows_per_s"] = {
            name: rows[kind] / components[name]["seconds"]
            for name, kind in throughput.items()
            if name in components and rows[kind] and components[name]["seconds"] > 0}
        entry["wall_ratio"] = entry["wall_s"] / base["wall_s"] if base["completed"] else None
        entry["outside_components_s"] = entry["wall_s"] - sum(
            c["seconds"] for c in components.values())
        entry["seconds_ratio"] = {
            name: c["seconds"] / base["components"][name]["seconds"]
            for name, c in components.items()
            if name in base["components"] and base["components"][name]["seconds"] > 0}
        rates = entry["rows_per_s"]
        entry["example_gen_over_read_floor"] = (
            rates[example_gen] / read if read and example_gen in rates else None)
        entry["evaluator_over_model_floor"] = (
            rates["Evaluator"] / model if model and "Evaluator" in rates else None)
    results["targets"] = _verdicts(results)
    results["time_split"] = _time_split(results, done)


def _time_split(results, done) -> dict:
    """Per component (and outside the components: start-up, imports, the input check, the
    pipeline's compilation): seconds = fixed + per-row cost, the line through the base run and
    the 16x run (or the largest one). Fixed is set-up (imports of the executor's modules, Beam
    pipeline construction, model loads); the per-row part is the real work."""
    base = results["scales"][str(results["base_scale"])]
    top = FLOOR_SCALE if FLOOR_SCALE in done else max(done)
    if top == results["base_scale"] or "outside_components_s" not in base:
        return {}  # one scale, or an invocation that stopped before its figures were derived
    large = results["scales"][str(top)]
    seconds = {name: (base["components"][name]["seconds"], c["seconds"])
               for name, c in large["components"].items() if name in base["components"]}
    seconds["outside components"] = (base["outside_components_s"], large["outside_components_s"])
    split = {"scales": [results["base_scale"], top]}
    for name, (small, big) in seconds.items():
        per_row = (big - small) / (large["rows"] - base["rows"])
        split[name] = {"fixed_s": small - per_row * base["rows"],
                       "per_100k_rows_s": per_row * 100_000}
    return split


def _verdicts(results) -> list:
    scales, base = results["scales"], results["base_scale"]

    def value(scale, key):
        entry = scales.get(str(scale))
        return entry.get(key) if entry and entry["completed"] else None

    checks = [(f"16x wall <= 2.5x the {base}x wall", value(16, "wall_ratio"), "<=", 2.5),
              (f"64x wall <= 8x the {base}x wall", value(64, "wall_ratio"), "<=", 8.0),
              ("peak memory at 64x < 4 GB", value(64, "peak_memory_gb"), "<", 4.0),
              ("16x ExampleGen >= 0.25x read floor",
               value(16, "example_gen_over_read_floor"), ">=", 0.25),
              ("16x Evaluator >= 0.01x model floor",
               value(16, "evaluator_over_model_floor"), ">=", 0.01)]
    verdicts = []
    for label, measured, sign, limit in checks:
        if measured is None:
            verdict = "not measured"
        else:
            ok = {"<=": measured <= limit, "<": measured < limit, ">=": measured >= limit}[sign]
            verdict = "ok" if ok else "MISSED"
        verdicts.append({"target": label, "measured": measured, "limit": limit, "op": sign,
                         "verdict": verdict})
    return verdicts


def _print(results, scales) -> None:
    entries = {s: results["scales"][str(s)] for s in scales}
    done = [s for s in scales if entries[s]["completed"]]
    base = results["base_scale"]
    width = 14
    head = "".join(f"{str(s) + 'x':>{width}}" for s in scales)

    def row(label, values, fmt):
        cells = "".join(f"{(fmt.format(v) if v is not None else '-'):>{width}}" for v in values)
        print(f"  {label:<34}{cells}")

    print(f"\nScaling of a cold `mlpipe run` (ratios to the {base}x run)")
    print(f"  {'':<34}{head}")
    row("rows", [entries[s]["rows"] for s in scales], "{:,}")
    row("eval rows (ExampleGen's Split-eval)", [entries[s].get("eval_rows") for s in scales],
        "{:,}")
    row("wall s", [entries[s]["wall_s"] for s in scales], "{:.1f}")
    row("wall / base wall", [entries[s].get("wall_ratio") for s in scales], "{:.2f}")
    row(f"peak memory GB (tree {results['memory']})",
        [entries[s]["peak_memory_gb"] for s in scales], "{:.2f}")
    row("processes in the tree (max)", [entries[s].get("max_processes") for s in scales], "{}")
    row("outside components s", [entries[s].get("outside_components_s") for s in scales],
        "{:.1f}")
    failed = [s for s in scales if not entries[s]["completed"]]
    if failed:
        shown = ", ".join(f"{s}x (exit {entries[s]['returncode']})" for s in failed)
        print(f"  FAILED runs: {shown}")

    names = []
    for s in scales:
        names += [n for n in entries[s]["components"] if n not in names]
    print(f"\nComponent seconds (and ratio to the {base}x seconds)")
    print(f"  {'':<34}{head}")
    for name in names:
        cells = []
        for s in scales:
            component = entries[s]["components"].get(name)
            ratio = entries[s].get("seconds_ratio", {}).get(name)
            cells.append(None if component is None else
                         f"{component['seconds']:.1f}" + (f" ({ratio:.2f})" if s != base
                                                          and ratio else ""))
        row(name, cells, "{}")

    print("\nRows/s (ExampleGen, StatisticsGen, Transform: table rows; Evaluator: eval rows)")
    print(f"  {'':<34}{head}")
    rated = []
    for s in done:
        rated += [n for n in entries[s].get("rows_per_s", {}) if n not in rated]
    for name in rated:
        row(name, [entries[s].get("rows_per_s", {}).get(name) for s in scales], "{:,.0f}")

    floors = results["floors"]
    print(f"\nFloors (on the {results['floor_scale']}x table, best of 2)")
    read, model = floors.get("read"), floors.get("model")
    if read:
        print(f"  read floor: pyarrow read_csv + tfx_bsl encode, {read['rows']:,} rows: "
              f"{read['rows_per_s']:,.0f} rows/s")
    if model:
        print(f"  model floor: the {model['model_from_scale']}x run's pushed model on "
              f"{model['rows']:,} serialized eval examples, chunks of {CHUNK}: "
              f"{model['rows_per_s']:,.0f} rows/s")
    if not (read or model):
        print("  not measured (no run completed)")
    print(f"  {'':<34}{head}")
    row("ExampleGen rows/s / read floor",
        [entries[s].get("example_gen_over_read_floor") for s in scales], "{:.3f}")
    row("Evaluator rows/s / model floor",
        [entries[s].get("evaluator_over_model_floor") for s in scales], "{:.4f}")

    split = results.get("time_split")
    if split:
        low, high = split["scales"]
        print(f"\nWhere the time goes (the line through the {low}x and {high}x runs: fixed set-up "
              "seconds + seconds per 100,000 rows)")
        for name, part in split.items():
            if name != "scales" and (part["fixed_s"] > 0.5 or part["per_100k_rows_s"] > 0.5):
                print(f"  {name:<34}{part['fixed_s']:>8.1f} s + {part['per_100k_rows_s']:>6.1f} s"
                      " / 100k rows")

    print("\nTargets")
    for check in results.get("targets", _verdicts(results)):
        measured = check["measured"]
        shown = "-" if measured is None else f"{measured:.3g}"
        print(f"  {check['target']:<40}{shown:>8}  {check['op']:>2} {check['limit']:<6}"
              f"{check['verdict']}")

    print("\nLogs")
    for s in scales:
        print(f"  {str(s) + 'x':>5}  {entries[s]['log']}")


def _write(out: pathlib.Path, results) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
