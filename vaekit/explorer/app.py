"""``vaekit serve``: a local web app for a saved model, a JSON API under /api and one page of plain HTML and JavaScript.

The page (static/, read once at start-up) needs nothing from the network. Requests are validated by pydantic models
with bounds; a body over ``MAX_BODY`` bytes is refused with 413 before it is read in full, malformed input gets 400
or 422 with a message, and no part of a request is ever used as a path: uploads arrive as base64 in JSON and are
read in memory. The model and the test examples are loaded once; one lock serializes the model's calls.
"""
from __future__ import annotations

import base64
import inspect
import math
import threading
from importlib import resources
from typing import Annotated, Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.middleware.trustedhost import TrustedHostMiddleware

from vaekit.contract import Classifies, Conditional, Density, Latent, Sentences, WeightPosterior, given
from vaekit.data.dataset import Split
from vaekit.data.tokenizer import PAD_ID
from vaekit.devices import seeded
from vaekit.explorer import media
from vaekit.models import Model

MAX_BODY = 4 * 1024 * 1024  # bytes of one request
MAX_FILE = 2 * 1024 * 1024  # bytes of one uploaded file
MAX_SLIDERS = 32  # latent dimensions the page offers sliders for
MAP_POINTS = 500  # test examples on the 2-D latent map
K = 200  # importance samples of an upload's log-likelihood estimate
WEIGHT_DRAWS = 20  # a Bayesian network's predictions average over this many weight draws


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # "16" and true are not numbers


class Source(_Request):
    """One input: a test example by index, an uploaded file (base64) or, for text models, a sentence."""

    test: int | None = Field(None, ge=0)
    file: str | None = Field(None, max_length=MAX_FILE * 4 // 3 + 64)
    text: str | None = Field(None, max_length=media.MAX_TEXT)

    @model_validator(mode="after")
    def _one(self) -> "Source":
        if sum(v is not None for v in (self.test, self.file, self.text)) != 1:
            raise ValueError("give exactly one of test (an index), file (base64) or text")
        return self


Label = Annotated[int | None, Field(None, ge=0, le=9999)]


class SamplesRequest(_Request):
    n: int = Field(16, ge=1, le=64)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    label: Label = None


class DecodeRequest(_Request):
    z: list[Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]] = Field(max_length=4096)
    label: Label = None


class InputRequest(_Request):
    input: Source
    label: Label = None


class InterpolateRequest(_Request):
    a: Source
    b: Source
    steps: int = Field(8, ge=2, le=16)
    label_a: Label = None
    label_b: Label = None


def _static(name: str) -> str:
    return (resources.files("vaekit.explorer") / "static" / name).read_text(encoding="utf-8")


class Explorer:
    """The model, its test examples and what the handlers do with them (the routes are in :func:`create_app`)."""

    def __init__(self, model: Model, test: Split, data_name: str, model_ref: str = "") -> None:
        self.model, self.test, self.data_name = model.eval(), test, data_name
        self.source = {"model": model_ref} if model_ref else {}  # a downloaded file finds the model alone
        self.kind = media.kind_of(model)
        self.lock = threading.Lock()
        self.generative = isinstance(model, Latent) or not isinstance(model, Classifies)  # not p(y|x) alone
        self.has_latent_map = isinstance(model, Latent) and model.latent_size == 2

    # --- validation -------------------------------------------------------------------------
    def _label(self, label: int | None) -> torch.Tensor | None:
        if not isinstance(self.model, Conditional):
            if label is not None:
                raise ValueError(f"{self.model.registered_name} is not conditioned on a label")
            return None
        classes = self.model.num_classes
        if label is None or not 0 <= label < classes:
            raise ValueError(f"{self.model.registered_name} needs a label between 0 and {classes - 1}")
        return torch.tensor([label])

    def _generative(self) -> None:
        if not self.generative:
            raise ValueError(f"{self.model.registered_name} is a classifier, p(y|x): it has no latent space; "
                             "use /api/classify")

    def read(self, source: Source) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(one datum (1, ...), its test label or None)."""
        if source.test is not None:
            if source.test >= len(self.test):
                raise ValueError(f"test index {source.test} is out of range: the test set has {len(self.test)}")
            y = None if self.test.y is None else self.test.y[source.test:source.test + 1]
            return self.test.x[source.test:source.test + 1], y
        if source.text is not None:
            return media.read_sentence(self.model, source.text), None
        assert source.file is not None
        return media.read_upload(self.model, media.decode_base64(source.file)), None

    def _given(self, label: int | None, test_label: torch.Tensor | None) -> torch.Tensor | None:
        """A conditional model's label: the request's, else the test example's."""
        if label is None and test_label is not None and isinstance(self.model, Conditional):
            return test_label
        return self._label(label)

    # --- handlers ---------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        m = self.model
        latent = m.latent_size if isinstance(m, Latent) else 0
        return {"model": m.registered_name, "kind": self.kind, "data": self.data_name, "generative": self.generative,
                "latent_size": latent, "sliders": min(latent, MAX_SLIDERS), "conditional": isinstance(m, Conditional),
                "classes": getattr(m, "num_classes", None), "classifies": isinstance(m, Classifies),
                "bayesian": isinstance(m, WeightPosterior),
                "latent_map": self.has_latent_map, "test_count": len(self.test),
                "codec": self.generative and isinstance(m, Density), "max_file_bytes": MAX_FILE}

    @torch.no_grad()
    def samples(self, r: SamplesRequest) -> dict[str, Any]:
        self._generative()
        y = self._label(r.label)
        x = self.model.sample(r.n, seed=r.seed, y=None if y is None else y.expand(r.n))
        return {"items": media.items(self.model, x)}

    @torch.no_grad()
    def decode(self, r: DecodeRequest) -> dict[str, Any]:
        self._generative()
        if len(r.z) != self.model.latent_size:
            raise ValueError(f"z needs {self.model.latent_size} numbers, got {len(r.z)}")
        z = torch.tensor([r.z], dtype=torch.float32)
        return {"item": media.items(self.model, given(self.model, self._label(r.label)).decode(z).mean)[0]}

    @torch.no_grad()
    def encode(self, r: InputRequest) -> dict[str, Any]:
        self._generative()
        x, test_label = self.read(r.input)
        y = self._given(r.label, test_label)
        z = given(self.model, y).encode(self.model.check_input(x)).mean[0]
        return {"z": [round(v, 4) for v in z.tolist()], "item": media.items(self.model, x)[0]}

    @torch.no_grad()
    def interpolate(self, r: InterpolateRequest) -> dict[str, Any]:
        from vaekit.generate import interpolate

        self._generative()
        (xa, ya), (xb, yb) = self.read(r.a), self.read(r.b)
        first, last = self._given(r.label_a, ya), self._given(r.label_b, yb)
        y = None if first is None or last is None else torch.cat([first, last])
        if isinstance(self.model, Sentences):
            from vaekit.sentences import homotopy, to_text

            lines = homotopy(self.model, to_text(self.model, xa)[0], to_text(self.model, xb)[0], r.steps)
            return {"items": [{"text": line} for line in lines]}
        return {"items": media.items(self.model, interpolate(self.model, xa, xb, r.steps, y=y))}

    @torch.no_grad()
    def analyze(self, r: InputRequest) -> dict[str, Any]:
        """An input's reconstruction, its log-likelihood estimate and its compressed size (the file itself too)."""
        self._generative()
        x, test_label = self.read(r.input)
        y = self._given(r.label, test_label)
        m = self.model
        out: dict[str, Any] = {"input": media.items(m, x)[0]}
        if isinstance(m, Latent):
            out["reconstruction"] = media.items(m, m.reconstruct(x, y=y))[0]
        if isinstance(m, Density):
            with seeded(0, m.device):  # the same figure on every request, the server's random state untouched
                nats = float(m.log_likelihood(x, k=K, y=y)[0])
            dims = int((x != PAD_ID).sum()) if isinstance(m, Sentences) else math.prod(m.data_shape)  # tokens
            out |= {"log_likelihood": round(nats, 3), "k": K, "bits_per_dim": round(-nats / dims / math.log(2), 4),
                    **self._compressed(x, y, r.input.text)}
        return out

    def _compressed(self, x: torch.Tensor, y: torch.Tensor | None, text: str | None) -> dict[str, Any]:
        """The input coded losslessly (a sentence exactly as typed, unknown words spelled out)."""
        from vaekit.codec import CodecError, compress

        if self.kind == "audio":
            return {"compressed_error": "the lossless codec takes images (values in [0, 1]) and text; a standardized "
                                        "spectrogram is neither"}
        try:
            if isinstance(self.model, Sentences):
                from vaekit.codec.text import compress_text
                from vaekit.sentences import to_text

                line = text.strip() if text is not None else to_text(self.model, x)[0]
                coded = compress_text(self.model, line + "\n", source=self.source)
            else:
                coded = compress(self.model, x, labels=y, source=self.source)
        except (CodecError, ValueError) as error:
            return {"compressed_error": str(error)}
        return {"compressed_bytes": len(coded), "compressed": base64.b64encode(coded).decode(),
                "compressed_name": "input.vkz"}

    def classify(self, r: InputRequest) -> dict[str, Any]:
        from vaekit.uncertainty import predict

        m = self.model
        if not isinstance(m, Classifies):
            raise ValueError(f"{m.registered_name} has no classifier; classifiers (classifier, bnn) and "
                             "semi-supervised models (m1, m2, m1-m2, semi-supervised-aae) do")
        x, _ = self.read(r.input)
        with seeded(0, m.device):
            p = predict(m, x, WEIGHT_DRAWS)
        probs = p.probabilities[0]
        bayesian = isinstance(m, WeightPosterior) and p.mutual_information is not None
        information = float(p.mutual_information[0]) if bayesian else None
        return {"probabilities": [round(v, 5) for v in probs.tolist()], "predicted": int(probs.argmax()),
                "item": media.items(m, x)[0], "entropy": float(p.entropy[0]), "mutual_information": information,
                "draws": p.draws}

    @torch.no_grad()
    def latent_map(self) -> dict[str, Any]:
        if not self.has_latent_map:
            raise ValueError("the latent map needs a model with a 2-D latent space")
        x = self.test.x[:MAP_POINTS]
        y = self.test.y[:MAP_POINTS] if self.test.y is not None else None
        z = given(self.model, y if isinstance(self.model, Conditional) else None).encode(self.model.check_input(x)).mean
        return {"points": [[round(a, 4), round(b, 4)] for a, b in z.tolist()],
                "labels": None if y is None else y.tolist()}


class _BodyLimit:
    """ASGI middleware: 413 for a body over ``limit`` bytes, by its Content-Length or as it streams in."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        too_big = JSONResponse({"detail": f"the request is larger than {self.limit // (1024 * 1024)} MiB"}, 413)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await too_big(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await too_big(scope, receive, send)
            more = message.get("more_body", False)
        body = b"".join(chunks)

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


LOOPBACK = ["127.0.0.1", "localhost", "::1"]


def create_app(model: Model, test: Split, data_name: str = "", model_ref: str = "",
               hosts: list[str] | None = None) -> FastAPI:
    """The explorer for ``model``, with ``test`` as the test examples it offers, answering requests whose Host header
    names one of ``hosts`` (default: this machine's loopback names), so that a page elsewhere cannot reach it by
    rebinding a DNS name to 127.0.0.1."""
    explorer = Explorer(model, test, data_name, model_ref)
    app = FastAPI(title="vaekit explorer", docs_url=None, redoc_url=None, openapi_url=None)
    pages = {"/": ("index.html", "text/html"), "/explorer.js": ("explorer.js", "text/javascript"),
             "/explorer.css": ("explorer.css", "text/css")}
    files = {path: (_static(name), mime) for path, (name, mime) in pages.items()}

    @app.exception_handler(ValueError)
    async def bad_input(_: Request, error: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        """Each field and what was wrong with it, never the input itself (NaN cannot even be written as JSON)."""
        parts = [f"{'.'.join(str(p) for p in e['loc'] if p not in ('body', 'r')) or 'body'}: {e['msg']}"
                 for e in error.errors()]
        return JSONResponse({"detail": "; ".join(parts)[:1000]}, status_code=422)

    def page(path: str) -> Any:
        text, mime = files[path]
        return lambda: Response(text, media_type=mime, headers={"Cache-Control": "no-store"})

    for path in files:
        app.get(path, include_in_schema=False)(page(path))

    def endpoint(handler: Any, body: Any) -> Any:
        """``handler`` under the model's lock, with ``body`` (validated by FastAPI) as its one argument."""
        def call(**body: Any) -> dict[str, Any]:
            with explorer.lock:
                return handler(*body.values())
        parameters = [] if body is None else [inspect.Parameter("r", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                                annotation=body)]
        call.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        return call

    app.get("/api/info")(endpoint(explorer.info, None))
    app.get("/api/latent-map")(endpoint(explorer.latent_map, None))
    posts = {"samples": (explorer.samples, SamplesRequest), "decode": (explorer.decode, DecodeRequest),
             "encode": (explorer.encode, InputRequest), "interpolate": (explorer.interpolate, InterpolateRequest),
             "analyze": (explorer.analyze, InputRequest), "classify": (explorer.classify, InputRequest)}
    for name, (handler, body) in posts.items():
        app.post(f"/api/{name}")(endpoint(handler, body))
    app.add_middleware(_BodyLimit, limit=MAX_BODY)  # type: ignore[arg-type]
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts or LOOPBACK)  # type: ignore[arg-type]
    return app
