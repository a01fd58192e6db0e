"""Response times of the explorer's API (vaekit serve) for the demo's model: the VAE of configs/vae-mnist.yaml
(784-400-20, binarized MNIST), trained here for 2 epochs if runs/explorer-vae is missing. Each endpoint is called
30 times after one warm-up call, in process (FastAPI's TestClient: the HTTP parsing of a real server is left out);
the median and the slowest call are reported. A slider's move is one /api/decode call.
"""
from __future__ import annotations

import time

from common import ROOT, save_result, use_shared_data

use_shared_data()

from fastapi.testclient import TestClient  # noqa: E402

from vaekit.config import load_config  # noqa: E402
from vaekit.data import load_data  # noqa: E402
from vaekit.explorer import create_app  # noqa: E402
from vaekit.run import run  # noqa: E402
from vaekit.saving import load  # noqa: E402

RUN = ROOT / "benchmarks" / "runs" / "explorer-vae"
CALLS = {"decode": {"z": [0.3] * 20}, "samples": {"n": 16}, "interpolate": {"a": {"test": 0}, "b": {"test": 1}},
         "analyze": {"input": {"test": 5}}}


def main() -> None:
    if not (RUN / "model").exists():
        run(load_config(ROOT / "configs" / "vae-mnist.yaml", ["train.epochs=2", "train.progress=false",
                                                              "evaluate.k=10", "evaluate.limit=100",
                                                              f"out_dir={RUN.parent}", f"name={RUN.name}"]))
    data = load_data(name="binarized-mnist", validation=0)
    client = TestClient(create_app(load(RUN / "model"), data.test, "binarized-mnist"))
    rows = []
    for name, body in CALLS.items():
        client.post(f"/api/{name}", json=body).raise_for_status()
        times = []
        for _ in range(30):
            start = time.perf_counter()
            client.post(f"/api/{name}", json=body)
            times.append(1000 * (time.perf_counter() - start))
        times.sort()
        rows.append({"endpoint": f"/api/{name}", "median_ms": round(times[15], 1), "slowest_ms": round(times[-1], 1)})
        print(rows[-1])
    save_result("explorer", {"rows": rows})


if __name__ == "__main__":
    main()
