"""moto's server on 127.0.0.1, with Step Functions execution on and Lambda run in-process.

`EmbeddedAws.start()`:

1. patches moto (`devstack.patches`): Lambda invocations run the real handlers in this
   process, Step Functions' retry and wait sleeps are scaled by `time_scale`;
2. starts `ThreadedMotoServer` on a free port (or the one asked for);
3. turns Step Functions execution on through moto's own `/moto-api/config` endpoint
   (`{"stepfunctions": {"execute_state_machine": true}}`) - without it moto only records
   executions and never runs a state;
4. routes what functions print to their CloudWatch Logs streams, as Lambda does;
5. points every client at the server: `MOTO_PORT` (moto's own Step Functions tasks build their
   clients from it), and, through `devstack.runtime`, `AWS_ENDPOINT_URL` for the functions.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import urllib.request
from collections.abc import Mapping
from typing import Final

from moto.server import ThreadedMotoServer

from devstack import patches, runtime

HOST: Final = "127.0.0.1"
SFN_EXECUTION_CONFIG: Final = {"stepfunctions": {"execute_state_machine": True}}
DEMO_TIME_SCALE: Final = 0.05  # a 2-second retry interval becomes 0.1 s


class PortInUse(RuntimeError):
    pass


def check_port_free(host: str, port: int, what: str) -> None:
    """Fail with a clear message now rather than have a server thread die silently later."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(f"{what} port {host}:{port} is already in use (another `custody local up`?)") from None
            raise


class EmbeddedAws:
    """A moto server in this process, configured as the local stack needs it."""

    def __init__(self, port: int = 0, time_scale: float = DEMO_TIME_SCALE, host: str = HOST) -> None:
        self.host = host
        self.requested_port = port
        self.time_scale = time_scale
        self._server: ThreadedMotoServer | None = None
        self.port = 0

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("The embedded AWS is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        check_port_free(self.host, self.requested_port, "AWS endpoint")
        patches.install(self.time_scale)
        runtime.capture_output()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        server = ThreadedMotoServer(ip_address=self.host, port=self.requested_port, verbose=False)
        server.start()
        self._server = server
        self.port = server.get_host_and_port()[1]
        os.environ["MOTO_PORT"] = str(self.port)
        self._post_config(SFN_EXECUTION_CONFIG)
        runtime.set_aws_endpoint(self.endpoint_url)
        return self.endpoint_url

    def _post_config(self, config: Mapping[str, object]) -> None:
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            f"{self.endpoint_url}/moto-api/config",
            data=json.dumps(config).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            if response.status not in (200, 201):
                raise RuntimeError(f"moto refused its configuration: HTTP {response.status}")

    def stop(self) -> None:
        if self._server is None:
            return
        runtime.set_aws_endpoint(None)
        self._server.stop()
        self._server = None
        patches.uninstall()
        runtime.release_output()
