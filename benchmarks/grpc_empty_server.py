"""gRPC's own floor for `make bench-serving`: a grpc.aio server whose Predict does nothing.

    .venv/bin/python -m benchmarks.grpc_empty_server

It binds 127.0.0.1 on a free port, prints `LISTENING host:port` and serves until killed. Predict
answers an empty PredictResponse without reading the request (the generic handler hands it over
as bytes, nothing is parsed), so what a client measures against it is what grpcio's Python
server costs a call on these cores before any work of `mlpipe serve`.
"""

import asyncio

import grpc

METHOD = "Predict"
SERVICE = "tensorflow.serving.PredictionService"


async def _serve() -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])

    async def predict(_request: bytes, _context) -> bytes:
        return b""

    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(predict)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"LISTENING 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(_serve())
