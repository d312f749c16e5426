"""Free TCP ports on 127.0.0.1 for servers and workers a test starts."""

import socket
from typing import List


def free_ports(count: int) -> List[int]:
    """`count` distinct ports nobody listens on now (all held open together while choosing)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
