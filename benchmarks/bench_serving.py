"""Serving benchmark: `mlpipe serve` over HTTP and gRPC vs calling the same SavedModel in process.

    .venv/bin/python benchmarks/bench_serving.py [--home runs] [--seconds 4] [--batch-only]

The server runs as a separate process on 127.0.0.1 with its REST and gRPC ports. REST: wrk
(Debian's HTTP load tool: C, so the client takes little of the CPU it shares with the server)
sends predict requests at concurrency 1, 8 and 32, with 1 and 100 rows per request, for
`--seconds` each. gRPC: `benchmarks/grpc_load.py` (grpcio's asyncio API, its own process) sends
TF Serving PredictRequests, one tensor per feature, at the same levels, and 100 rows as
serialized tf.Examples at concurrency 8; it reports its own CPU time, printed beside the
server's (both share the same 2 cores, so a client's CPU is CPU the server did not get). The
server's CPU time per request is read from /proc. Side by side: the in-process floor, i.e. the
same model's `serving_default` called directly on already serialized tf.Examples (one call per
request, sequentially; taken before and after the server's levels, their mean used), as ratios.
Issue 25's four targets are then measured in `--repeats` rounds in all (the full tables are the
first; each further round runs only the four target levels between two floors of its own), and
each verdict is on the median ratio, every round's ratio printed beside it: one round on these
noisy shared cores can land on either side of a target. The 1-row request also goes to
`benchmarks/grpc_empty_server.py` (a grpc.aio Predict that does nothing): gRPC's own cost,
beside the floor. Then batch
scoring of the taxi CSV repeated `--batch-copies` times
(150,020 rows by default), three ways, with ratios: `mlpipe predict`'s `score_csv` (streaming read,
checks, encoding, scoring, output CSV); "direct", the fastest hand-written path from the same CSV to
predictions (pyarrow read_csv typed by the schema, tfx_bsl's encoder, the model on chunks of the
same size; no checks, nothing written); and the floor, the model alone on pre-serialized chunks.

Without a pushed model under --home the script uses benchmarks/out/serving-home, first running
the pipeline on 2,000 taxi rows into it if it has none (about a minute and a half).
"""

import argparse
import functools
import io
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):  # run as a script: the repository root, for benchmarks.floors
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import mlpipe  # noqa: F401,E402  (process settings before TensorFlow)
from benchmarks import floors  # noqa: E402
from mlpipe.config import Bound, load_config  # noqa: E402
from mlpipe.core.run_home import RunHome  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
CONCURRENCY = (1, 8, 32)
ROWS_PER_REQUEST = (1, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default="runs", help="base folder of run homes")
    parser.add_argument("--seconds", type=float, default=4.0, help="per load level")
    parser.add_argument("--log-sample-rate", type=float, default=1.0,
                        help="request log sampling in the server (default 1: log everything)")
    parser.add_argument("--batch-copies", type=int, default=10,
                        help="batch scoring reads the taxi CSV repeated this many times")
    parser.add_argument("--batch-only", action="store_true",
                        help="only the batch scoring comparison (no HTTP server)")
    parser.add_argument("--grpc-only", action="store_true", help="no REST levels (no wrk)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds of the issue's four target levels, each with its own floor "
                             "(the verdict is on the median ratio)")
    args = parser.parse_args()
    if not args.batch_only and not args.grpc_only and shutil.which("wrk") is None:
        sys.exit("wrk not found: `make bench-serving` installs Debian's wrk (or use --batch-only)")
    import tensorflow  # noqa: F401  (loaded before anything is timed)

    config = load_config()
    base = args.home
    if not RunHome.for_pipeline(config.name, base).pushed_versions():
        base = str(HERE / "out" / "serving-home")
        if not RunHome.for_pipeline(config.name, base).pushed_versions():
            _train(config, base)
    home = RunHome.for_pipeline(config.name, base)
    with tempfile.TemporaryDirectory() as scratch:
        config_file = _config_file(config, pathlib.Path(scratch))
        rows = _taxi_rows(config)
        print(f"model: {home.pushed_versions()[-1]} ({_tensor_path(home)})")
        if not args.batch_only:
            before = _in_process_floor(config, home, rows, args.seconds)
            server = _start_server(config_file, base, args.log_sample_rate)
            try:
                http = {} if args.grpc_only else _http_levels(server, rows, args.seconds,
                                                              pathlib.Path(scratch))
                grpc_results = _grpc_levels(server, config.name, rows, args.seconds,
                                            pathlib.Path(scratch))
                empty = _empty_grpc_level(pathlib.Path(scratch), args.seconds)
                # The cores are shared: the floor is taken before and after the server's
                # levels, and the ratios use their mean, so a load that came or went in
                # between shows.
                after = _in_process_floor(config, home, rows, args.seconds)
                floor = _mean_floor(before, after)
                if http:
                    _print_serving(http, floor, args.log_sample_rate)
                _print_grpc(grpc_results, floor, args.log_sample_rate)
                _print_empty_grpc(empty, floor)
                rounds = [_target_ratios(http, grpc_results, floor)]
                for _ in range(args.repeats - 1):
                    rounds.append(_target_round(server, config, home, rows, args.seconds,
                                                pathlib.Path(scratch), bool(http)))
            finally:
                server["process"].terminate()
                server["process"].wait(60)
            _print_targets(rounds)
        _batch_scoring(config, home, pathlib.Path(scratch), args.batch_copies)


def _train(config, base: str) -> None:
    from mlpipe.local.local_runner import run_local
    data = HERE / "out" / "serving-data.csv"
    data.parent.mkdir(parents=True, exist_ok=True)
    with open(config.data.path) as source, data.open("w") as target:
        for _, line in zip(range(2001), source):
            target.write(line)
    trained = config.model_copy(update={
        "data": config.data.model_copy(update={"path": str(data)}),
        "evaluation": config.evaluation.model_copy(update={"kpi": {"auc": Bound(min=0.8)}})})
    print(f"no pushed model: training one on 2,000 rows into {base} ...", flush=True)
    result = run_local(trained, RunHome.for_pipeline(config.name, base), out=io.StringIO())
    if not result.pushed_version:
        sys.exit("the benchmark model was not pushed")


def _config_file(config, folder: pathlib.Path) -> pathlib.Path:
    import yaml
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(by_alias=True, mode="json",
                                                     exclude={"source"})))
    return path


def _taxi_rows(config):
    """Request rows (SERVING features only, typed) from the taxi CSV."""
    import csv
    from mlpipe.serving.examples import encoder_for_schema
    encoder = encoder_for_schema(config.schema_path)
    rows = []
    with open(config.data.path, newline="") as source:
        for row in csv.DictReader(source):
            checked = encoder.check_csv_row(row, "")
            rows.append({name: (values[0].decode() if isinstance(values[0], bytes)
                                else values[0]) for name, values in checked.items()})
            if len(rows) == 1000:
                break
    return rows


def _in_process_floor(config, home, rows, seconds):
    """One direct `serving_default` call per request, on already serialized examples."""
    from mlpipe.serving.examples import encoder_for_schema
    encoder = encoder_for_schema(config.schema_path)
    model = _loaded(home)
    results = {}
    for size in ROWS_PER_REQUEST:
        batches = [encoder.serialize_all(encoder.rows_from_request(
            {"instances": rows[i:i + size]})[0]) for i in range(0, 500, size)]
        latencies, deadline, i = [], time.monotonic() + seconds / 2, 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            model.predict(batches[i % len(batches)])
            latencies.append(time.perf_counter() - started)
            i += 1
        results[size] = _summary(latencies, seconds / 2, size)
    return results


def _tensor_path(home) -> str:
    """Which way gRPC tensor requests of 4 rows or more take into this model."""
    if _loaded(home).features_function is not None:
        return "gRPC tensors of 4+ rows go to its serving_features signature"
    return ("exported before serving_features: gRPC tensors are encoded to tf.Examples; delete "
            "benchmarks/out/serving-home to train one with it")


@functools.lru_cache(maxsize=1)
def _loaded(home):
    """The newest pushed model, loaded once for every floor of the run."""
    from mlpipe.serving.model import LoadedModel, resolve_version
    return LoadedModel.load(*resolve_version(home))


def _mean_floor(before, after, quiet: bool = False):
    floor = {}
    for size in before:
        floor[size] = {key: (before[size][key] + after[size][key]) / 2 for key in before[size]}
        if not quiet:
            print(f"floor, {size} row(s): p50 {before[size]['p50_ms']:.2f} ms before the "
                  f"server, {after[size]['p50_ms']:.2f} ms after; "
                  f"{before[size]['rows_per_s']:,.0f} and {after[size]['rows_per_s']:,.0f} "
                  "rows/s (ratios use the mean)")
    return floor


def _start_server(config_file, base, sample_rate):
    process = subprocess.Popen(
        [sys.executable, "-m", "mlpipe.cli", "serve", "--config", str(config_file),
         "--home", base, "--port", "0", "--grpc-port", "0", "--log-sample-rate",
         str(sample_rate)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    grpc_address = None
    for line in process.stdout:
        if line.startswith("  grpc:"):
            grpc_address = line.split()[1]
        if line.startswith("READY "):
            return {"process": process, "url": line.split()[1], "grpc": grpc_address}
    sys.exit("the server did not start")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _http_levels(server, rows, seconds, scratch: pathlib.Path,
                 levels=tuple((c, s) for s in ROWS_PER_REQUEST for c in CONCURRENCY)):
    """wrk (C, one thread, keep-alive connections = concurrency) posting one fixed body per
    (concurrency, rows) level; the server's CPU time per request is read from /proc around
    each level."""
    import orjson
    url, pid = server["url"], server["process"].pid
    results = {}
    for size in ROWS_PER_REQUEST:
        body = orjson.dumps({"instances": rows[:size]}).decode()
        script = scratch / f"post-{size}.lua"
        script.write_text('wrk.method = "POST"\n'
                          'wrk.headers["Content-Type"] = "application/json"\n'
                          f"wrk.body = [==[{body}]==]\n")
        _wrk(url, script, 1, 1)   # warm-up
        for concurrency in (c for c, level_size in levels if level_size == size):
            cpu_before = _cpu_seconds(pid)
            level = _wrk(url, script, concurrency, seconds)
            cpu = _cpu_seconds(pid) - cpu_before
            results[(concurrency, size)] = {
                **level, "rows_per_s": level["requests_per_s"] * size,
                "server_cpu_ms": 1000 * cpu / max(1, level["requests"])}
    return results


def _wrk(url: str, script: pathlib.Path, concurrency: int, seconds: float) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency",
         "-s", str(script), f"{url}:predict"], capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.M))
    requests = int(re.search(r"(\d+) requests in", out)[1])
    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return {"requests": requests,
            "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "p50_ms": _milliseconds(percentiles["50"]), "p99_ms": _milliseconds(percentiles["99"]),
            "failures": (int(failures[1]) if failures else 0)
                        + (sum(map(int, errors.groups())) if errors else 0)}


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def _summary(latencies, elapsed, size):
    ordered = sorted(latencies)
    return {"requests_per_s": len(ordered) / elapsed, "rows_per_s": len(ordered) * size / elapsed,
            "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}


def _print_serving(http, floor, sample_rate):
    print(f"\nHTTP serving (127.0.0.1, request log sampling {sample_rate}) vs in-process floor")
    print(f"{'rows/req':>8} {'conc':>5} {'req/s':>8} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'srv cpu ms':>10} | {'floor p50':>9} {'floor req/s':>11} | {'p50 x':>6}"
          f" {'req/s x':>7} {'fail':>5}")
    for (concurrency, size), result in sorted(http.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        base = floor[size]
        print(f"{size:>8} {concurrency:>5} {result['requests_per_s']:>8.0f} "
              f"{result['rows_per_s']:>9.0f} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f}"
              f" {result['server_cpu_ms']:>10.2f} | {base['p50_ms']:>9.2f} "
              f"{base['requests_per_s']:>11.0f} | "
              f"{result['p50_ms'] / base['p50_ms']:>6.1f} "
              f"{result['requests_per_s'] / base['requests_per_s']:>7.2f} "
              f"{result['failures']:>5}")


GRPC_LEVELS = [(1, 1, "tensors"), (1, 8, "tensors"), (1, 32, "tensors"), (100, 1, "tensors"),
               (100, 8, "tensors"), (100, 32, "tensors"), (100, 8, "examples")]


def _grpc_levels(server, model_name, rows, seconds, scratch: pathlib.Path, levels=GRPC_LEVELS):
    """benchmarks/grpc_load.py per (rows, concurrency, input) level."""
    results = {}
    for size, concurrency, layout in levels:
        request = scratch / f"predict-{size}-{layout}.bin"
        if not request.exists():
            request.write_bytes(_predict_request(model_name, rows[:size], layout))
            _check_grpc_answer(server["grpc"], request, size)
        level = _grpc_load(server["grpc"], server["process"].pid, request, concurrency, seconds)
        results[(size, concurrency, layout)] = {**level,
                                                "rows_per_s": level["requests_per_s"] * size}
    return results


def _empty_grpc_level(scratch: pathlib.Path, seconds: float) -> dict:
    """The 1-row, concurrency-1 level against benchmarks/grpc_empty_server.py (its own
    process), with the request the server's level sent."""
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.grpc_empty_server"],
                              stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    try:
        address = server.stdout.readline().split()[1]
        return _grpc_load(address, server.pid, scratch / "predict-1-tensors.bin", 1, seconds)
    finally:
        server.terminate()
        server.wait(30)


def _grpc_load(address: str, pid: int, request: pathlib.Path, concurrency: int,
               seconds: float) -> dict:
    """One level of benchmarks/grpc_load.py (its own process) against the server at
    `address`, process `pid`, whose CPU per request is read from /proc around it."""
    import json
    command = [sys.executable, "-m", "benchmarks.grpc_load", "--target", address,
               "--request", str(request), "--concurrency", str(concurrency),
               "--seconds", str(seconds)]
    cpu_before = _cpu_seconds(pid)
    level = json.loads(subprocess.run(command, capture_output=True, text=True, check=True,
                                      cwd=HERE.parent).stdout)
    requests = max(1, level["requests"])
    return {**level, "server_cpu_ms": 1000 * (_cpu_seconds(pid) - cpu_before) / requests,
            "client_cpu_ms": 1000 * level["client_cpu_s"] / requests}


def _print_empty_grpc(level: dict, floor) -> None:
    print(f"  gRPC's own cost (benchmarks/grpc_empty_server.py: a grpc.aio Predict that does "
          f"nothing), 1 row, concurrency 1:\n    p50 {level['p50_ms']:.2f} ms = "
          f"{level['p50_ms'] / floor[1]['p50_ms']:.1f}x the floor's p50, "
          f"{level['server_cpu_ms']:.2f} ms of server CPU per call")


def _predict_request(model_name, rows, layout: str) -> bytes:
    """A serialized PredictRequest: one tensor per feature (a feature missing from any of the
    rows is left out: a tensor has no missing values), or the rows as serialized tf.Examples."""
    import numpy as np
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    from mlpipe.serving.grpc_server import tensor_proto
    from tests.support.examples import example_of
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    if layout == "examples":
        examples = [example_of(row).SerializeToString() for row in rows]
        request.inputs["examples"].CopyFrom(tf.make_tensor_proto(examples, dtype=tf.string))
        return request.SerializeToString()
    for name in rows[0]:
        values = [row.get(name) for row in rows]
        if any(value is None for value in values):
            continue
        dtype = (object if isinstance(values[0], str) else
                 np.float32 if isinstance(values[0], float) else np.int64)
        array = np.array([v.encode() for v in values] if dtype is object else values, dtype)
        request.inputs[name].CopyFrom(tensor_proto(array))
    return request.SerializeToString()


def _check_grpc_answer(address: str, request: pathlib.Path, size: int) -> None:
    """One call with TF Serving's stubs: the answer has a probability per row."""
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    with grpc.insecure_channel(address) as channel:
        answer = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            predict_pb2.PredictRequest.FromString(request.read_bytes()), timeout=60)
    rows = answer.outputs["probability"].tensor_shape.dim[0].size
    if rows != size:
        sys.exit(f"gRPC answered {rows} rows for {size}")


def _print_grpc(results, floor, sample_rate):
    print(f"\ngRPC Predict (127.0.0.1, request log sampling {sample_rate}; client: "
          "benchmarks/grpc_load.py, its own process) vs in-process floor")
    print(f"{'rows/req':>8} {'conc':>5} {'input':>8} {'req/s':>8} {'rows/s':>9} {'p50 ms':>8}"
          f" {'p99 ms':>8} {'srv cpu ms':>10} {'cli cpu ms':>10} | {'p50 x':>6} {'rows/s x':>8}"
          f" {'fail':>5}")
    for (size, concurrency, layout), result in results.items():
        base = floor[size]
        print(f"{size:>8} {concurrency:>5} {layout:>8} {result['requests_per_s']:>8.0f} "
              f"{result['rows_per_s']:>9.0f} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f}"
              f" {result['server_cpu_ms']:>10.2f} {result['client_cpu_ms']:>10.2f} | "
              f"{result['p50_ms'] / base['p50_ms']:>6.1f} "
              f"{result['rows_per_s'] / base['rows_per_s']:>8.2f} {result['failures']:>5}")


# Issue 25's targets: (what, level, "<=" or ">=", bound); the level is read from a round's
# results as (api, key, measure).
TARGETS = [("gRPC Predict 1 row, concurrency 1: p50 / floor p50", ("grpc", (1, 1, "tensors"),
                                                                  "p50_ms"), "<=", 2.0),
           ("gRPC Predict 100 rows as tensors, concurrency 8: rows/s / floor rows/s",
            ("grpc", (100, 8, "tensors"), "rows_per_s"), ">=", 0.6),
           ("REST 100 rows, concurrency 8: rows/s / floor rows/s", ("http", (8, 100),
                                                                     "rows_per_s"), ">=", 0.35),
           ("REST 1 row, concurrency 1: p50 / floor p50", ("http", (1, 1), "p50_ms"), "<=", 3.0)]


def _target_round(server, config, home, rows, seconds, scratch: pathlib.Path, with_http: bool):
    """One more round of only the target levels, between two floors of its own."""
    before = _in_process_floor(config, home, rows, seconds)
    def levels(of_api):
        return [level for _, (api, level, _), _, _ in TARGETS if api == of_api]
    grpc_results = _grpc_levels(server, config.name, rows, seconds, scratch, levels("grpc"))
    http = (_http_levels(server, rows, seconds, scratch, levels("http")) if with_http else {})
    after = _in_process_floor(config, home, rows, seconds)
    return _target_ratios(http, grpc_results, _mean_floor(before, after, quiet=True))


def _target_ratios(http, grpc_results, floor):
    """Each target's ratio against the floor of the same round (REST ones: only with http)."""
    results = {"grpc": grpc_results, "http": http}
    ratios = {}
    for text, (api, level, measure), _, _ in TARGETS:
        if results[api]:
            size = level[0] if api == "grpc" else level[1]
            ratios[text] = results[api][level][measure] / floor[size][measure]
    return ratios


def _print_targets(rounds):
    """The verdict on the median over the rounds; every round's ratio beside it."""
    print(f"\nTargets (issue 25), over {len(rounds)} round(s) (the first is the tables' above; "
          "each round against its own floor; verdict on the median):")
    for text, _, side, bound in TARGETS:
        values = [ratios[text] for ratios in rounds if text in ratios]
        if not values:
            continue
        median = statistics.median(values)
        met = median <= bound if side == "<=" else median >= bound
        each = " ".join(f"{value:.2f}" for value in values)
        print(f"  {text:<72} median {median:>5.2f} (target {side} {bound}) "
              f"{'met' if met else 'NOT met'}; rounds: {each}")


def _batch_scoring(config, home, scratch: pathlib.Path, copies: int, repeats: int = 2):
    """`mlpipe predict` vs the fastest hand-written path from the same CSV to predictions (read
    with pyarrow, typed by the schema, encoded with tfx_bsl, the model called on chunks of the
    same size: no checks, no output), and vs the model-call floor (already serialized
    examples). Each is timed `repeats` times; the best time counts."""
    from mlpipe.serving.examples import encoder_for_schema
    from mlpipe.serving.model import LoadedModel, resolve_version
    from mlpipe.serving.predict import score_csv
    encoder = encoder_for_schema(config.schema_path)
    model = LoadedModel.load(*resolve_version(home))
    batch = 2048
    data = _repeated_csv(pathlib.Path(config.data.path), scratch / "batch.csv", copies)

    def timed(run):
        best = None
        for _ in range(repeats):
            started = time.perf_counter()
            rows = run()
            elapsed = time.perf_counter() - started
            best = elapsed if best is None else min(best, elapsed)
        return rows / best

    predict = timed(lambda: score_csv(model, encoder, data, scratch / "scored.csv",
                                      batch_size=batch).rows)
    direct = timed(lambda: _direct_scoring(model, encoder, data, batch)[0])
    chunks = _direct_scoring(model, encoder, data, batch, keep_serialized=True)[1]
    floor = timed(lambda: sum(len(model.predict(chunk)["probability"]) for chunk in chunks))
    rows = sum(len(chunk) for chunk in chunks)
    print(f"\nBatch scoring of the taxi CSV x{copies} ({rows:,} rows, chunks of {batch}, best of "
          f"{repeats}):")
    for label, rate in [("mlpipe predict: stream CSV, check, encode, score, write CSV", predict),
                        ("direct: pyarrow read_csv, tfx_bsl encode, model (no checks)", direct),
                        ("floor: the model on pre-serialized examples only", floor)]:
        print(f"  {label:<62} {rate:>9,.0f} rows/s")
    print(f"  ratio predict / direct: {predict / direct:.2f}   predict / floor: "
          f"{predict / floor:.2f}   direct / floor: {direct / floor:.2f}")


def _repeated_csv(source: pathlib.Path, target: pathlib.Path, copies: int) -> pathlib.Path:
    with source.open() as reader:
        header, body = reader.readline(), reader.read()
    with target.open("w") as sink:
        sink.write(header)
        for _ in range(copies):
            sink.write(body if body.endswith("\n") else body + "\n")
    return target


def _direct_scoring(model, encoder, path, batch, keep_serialized=False):
    """The hand-written path: whole CSV read by pyarrow with the schema's types, each chunk's
    columns as one-value lists (empty value: null list), tfx_bsl's encoder, one model call."""
    types = floors.arrow_types({name: info.type for name, info in encoder.features.items()})
    rows, kept = 0, []
    for serialized in floors.serialized_chunks(floors.read_typed_csv(path, types), batch):
        if keep_serialized:
            kept.append(serialized)
        else:
            rows += len(model.predict(serialized)["probability"])
    return rows, kept


if __name__ == "__main__":
    main()
