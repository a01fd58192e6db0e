"""The web explorer of a saved model (``vaekit serve``): :func:`create_app` builds it, :func:`serve` runs it."""
from __future__ import annotations

import asyncio
import ipaddress
import logging

from vaekit.data.dataset import Split
from vaekit.explorer.app import LOOPBACK, create_app
from vaekit.models import Model

__all__ = ["create_app", "serve", "serve_saved"]

log = logging.getLogger(__name__)


HEADER_SECONDS = 10.0  # a connection must deliver a request's headers within this long


def header_deadline_protocol() -> type:
    """uvicorn's h11 protocol with a deadline for each request's headers, from the connection or the last response:
    a client that trickles them a byte at a time (slowloris) is cut off; uvicorn itself has no such timeout."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadline(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def _arm(self) -> None:
            self.loop.call_later(HEADER_SECONDS, self._expire, self.cycle)

        def _expire(self, waiting_for: object) -> None:
            if self.cycle is waiting_for:  # no new request since: its headers never arrived
                self.transport.close()

    return HeaderDeadline


def serve(model: Model, test: Split, data_name: str, host: str = "127.0.0.1", port: int = 8000,
          model_ref: str = "", allowed_hosts: list[str] | None = None) -> None:
    """Serve the explorer with uvicorn until interrupted; on 127.0.0.1 (this machine only) unless told otherwise,
    answering requests addressed to the host it listens on (and its loopback names) or to ``allowed_hosts``."""
    import uvicorn

    try:
        public = not ipaddress.ip_address(host).is_loopback
    except ValueError:
        public = host != "localhost"
    if public:
        names = ", ".join([host, *(allowed_hosts or [])])
        log.warning("serving on %s: other machines on the network can reach the explorer; it answers requests "
                    "addressed to %s (add names with --allow-host)", host, names)
    print(f"vaekit explorer of {model.registered_name} on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    hosts = [host, *(LOOPBACK if not public else []), *(allowed_hosts or [])]
    uvicorn.run(create_app(model, test, data_name, model_ref, hosts), host=host, port=port, log_level="warning",
                timeout_keep_alive=5, limit_concurrency=64, http=header_deadline_protocol())


def serve_saved(path: str, data: str | None = None, host: str = "127.0.0.1", port: int = 8000,
                allowed_hosts: list[str] | None = None) -> None:
    """:func:`serve` the model saved at ``path`` with the test dataset of ``data`` (default: its training data)."""
    from vaekit.codec.files import model_reference
    from vaekit.explorer.media import kind_of
    from vaekit.modalities import test_data
    from vaekit.saving import load

    model = load(path)
    kind_of(model)  # refuses data the page cannot show before anything is loaded
    dataset = test_data(model, data)
    if dataset.data_shape != model.data_shape and dataset.kind != "tokens":
        raise ValueError(f"data '{dataset.name}' has shape {dataset.data_shape}, the model expects {model.data_shape}")
    serve(model, dataset.test, dataset.name, host, port, model_reference(path), allowed_hosts)
