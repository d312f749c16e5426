"""A gRPC load generator for `make bench-serving`: one process, grpcio's asyncio API.

    .venv/bin/python -m benchmarks.grpc_load --target 127.0.0.1:8500 --request FILE \
        --method /tensorflow.serving.PredictionService/Predict --concurrency 8 --seconds 4

FILE holds one serialized request message (e.g. a PredictRequest), built once by the caller:
the client sends its bytes as they are and keeps the answer's bytes, so it spends its CPU on
gRPC alone (it imports neither TensorFlow nor the generated messages). `--concurrency`
coroutines each keep one call in flight on one channel (HTTP/2 multiplexes them), for
`--seconds` after a short warm-up. It prints one JSON line: requests, failures (non-OK status,
the first one's text), requests/s, p50/p99 latency in ms, and this process's own CPU seconds
(user + system) while measuring, so a figure taken on the cores the server uses can say what
the client took of them.
"""

import argparse
import asyncio
import json
import pathlib
import resource
import time

import grpc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port of the gRPC server")
    parser.add_argument("--request", required=True, help="file with one serialized request")
    parser.add_argument("--method", default="/tensorflow.serving.PredictionService/Predict")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    args = parser.parse_args()
    body = pathlib.Path(args.request).read_bytes()
    print(json.dumps(asyncio.run(_load(args.target, args.method, body, args.concurrency,
                                       args.seconds, args.warmup))), flush=True)


async def _load(target: str, method: str, body: bytes, concurrency: int, seconds: float,
                warmup: float) -> dict:
    options = [("grpc.max_receive_message_length", 64 * 2**20),
               ("grpc.max_send_message_length", 64 * 2**20)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        # Identity (de)serializers: bytes in, bytes out.
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        await _run(call, body, concurrency, time.monotonic() + warmup, [], [])
        latencies, failures = [], []
        cpu_before, started = _cpu_seconds(), time.monotonic()
        await _run(call, body, concurrency, started + seconds, latencies, failures)
        elapsed, cpu = time.monotonic() - started, _cpu_seconds() - cpu_before
    ordered = sorted(latencies)
    return {"requests": len(ordered), "failures": len(failures),
            "first_failure": failures[0] if failures else None,
            "requests_per_s": len(ordered) / elapsed,
            "p50_ms": 1000 * ordered[len(ordered) // 2] if ordered else None,
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
            if ordered else None,
            "client_cpu_s": cpu, "seconds": elapsed}


async def _run(call, body: bytes, concurrency: int, deadline: float, latencies: list,
               failures: list) -> None:
    async def worker():
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                await call(body, timeout=30)
            except grpc.aio.AioRpcError as error:
                failures.append(f"{error.code().name}: {error.details()}")
                continue
            latencies.append(time.perf_counter() - started)
    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
