"""The web explorer of a saved model (``vaekit serve``): :func:`create_app` builds it, :func:`serve` runs it."""
from __future__ import annotations

import ipaddress
import logging

from vaekit.data.dataset import Split
from vaekit.explorer.app import create_app
from vaekit.models import LatentVariableModel

__all__ = ["create_app", "serve"]

log = logging.getLogger(__name__)


def serve(model: LatentVariableModel, test: Split, data_name: str, host: str = "127.0.0.1", port: int = 8000,
          model_ref: str = "") -> None:
    """Serve the explorer with uvicorn until interrupted; on 127.0.0.1 (this machine only) unless told otherwise."""
    import uvicorn

    try:
        public = not ipaddress.ip_address(host).is_loopback
    except ValueError:
        public = host != "localhost"
    if public:
        log.warning("serving on %s: other machines on the network can reach the explorer", host)
    print(f"vaekit explorer of {model.registered_name} on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    uvicorn.run(create_app(model, test, data_name, model_ref), host=host, port=port, log_level="warning")
