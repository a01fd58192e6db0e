"""The ``vaekit`` command: parses arguments, loads, calls the library. Nothing else lives here."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from vaekit.config import ConfigError, load_config, named_after_data
from vaekit.contract import Conditional

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the problem, exit status 2 (argparse prints the whole usage otherwise)."""
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _positive(text: str) -> int:
    try:
        value = int(text) if len(text) <= 20 else -1
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text[:40]!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text[:40]}")
    return value


def _at_most(most: int) -> Callable[[str], int]:
    """A positive integer no larger than ``most``: a count whose memory would otherwise be allocated unchecked."""
    def parse(text: str) -> int:
        value = _positive(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"expected at most {most:,}, got {value:,}")
        return value
    return parse


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The saved model ``args.model`` on ``--device``."""
    from vaekit.devices import resolve_device
    from vaekit.saving import load

    return load(args.model).to(resolve_device(args.device))


def cmd_train(args: argparse.Namespace) -> None:
    from vaekit.run import run
    from vaekit.train import distributed

    if args.device is not None:  # the same as the override train.device=...
        args.overrides = [*args.overrides, f"train.device={args.device}"]
    config = named_after_data(load_config(args.config, args.overrides), args.overrides)
    if args.nproc > 1:  # this machine, N processes under torchrun; each runs this command without --nproc
        code = distributed.launch(args.nproc, args.argv)
        if code:
            raise SystemExit(code)
        return
    report = run(config, resume=args.resume, overwrite=args.overwrite)
    if distributed.is_main():
        print(report.summary())


def cmd_evaluate(args: argparse.Namespace) -> None:
    from vaekit.modalities import evaluate_saved

    text = json.dumps(evaluate_saved(_load(args), args.data, args.limit, args.k, args.seed, args.ood,
                                     args.weight_draws), indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(text)


def cmd_sample(args: argparse.Namespace) -> None:
    from vaekit.generate import class_index
    from vaekit.modalities import modality_of

    model = _load(args)
    if args.class_ is not None and not isinstance(model, Conditional):
        raise ValueError(f"--class is for models conditioned on a label; {model.registered_name} is not")
    label = None if args.class_ is None else class_index(model, args.class_)
    io = modality_of(model)
    print(io.sample(model, args.output or io.outputs["sample"], args.n, args.seed, label, args.nrow, args.draw))


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from vaekit.modalities import modality_of

    model = _load(args)
    io = modality_of(model)
    inputs = io.inputs(model, args.inputs, args.labels, args.data, args.n)
    print(io.reconstruct(model, inputs, args.output or io.outputs["reconstruct"], args.nrow))


def cmd_interpolate(args: argparse.Namespace) -> None:
    from vaekit.modalities import modality_of

    model = _load(args)
    io = modality_of(model)
    inputs = io.inputs(model, args.inputs, args.labels, args.data, 2)
    if len(inputs.x) != 2:
        raise ValueError(f"interpolate needs exactly two inputs, got {len(inputs.x)}")
    print(io.interpolate(model, inputs, args.output or io.outputs["interpolate"], args.steps, args.method))


def cmd_classify(args: argparse.Namespace) -> None:
    from vaekit.modalities import classify_lines

    print("\n".join(classify_lines(_load(args), args.inputs, args.data, args.n, args.weight_draws)))


def cmd_compress(args: argparse.Namespace) -> None:
    from vaekit.compressed_files import compress_paths

    print(compress_paths(args.model, args.inputs, args.output, args.mode, args.precision, args.step,
                         args.entropy_model, args.batch_size, not args.no_names, args.labels))


def cmd_decompress(args: argparse.Namespace) -> None:
    from vaekit.compressed_files import decompress_path

    print(decompress_path(args.file, args.output, args.model))


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port between 1 and 65535, got {value}")
    return value


def cmd_serve(args: argparse.Namespace) -> None:
    from vaekit.explorer import serve_saved

    serve_saved(args.model, args.data, args.host, args.port, args.allow_host)


def cmd_data(args: argparse.Namespace) -> None:
    from vaekit.data import DATASETS, verify_named

    if args.action == "list":
        for name, ds in DATASETS.items():
            print(f"{name:18s} {ds.description}")
        return
    failed = False
    for name in args.names or DATASETS:
        for line in verify_named(name, None, args.download):  # a line per file, as it is checked
            failed |= line.startswith("FAILED")
            print(f"{name:18s} {line}")
    if failed:
        raise SystemExit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vaekit", description="Variational autoencoders: train, evaluate, sample, reconstruct.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p: argparse.ArgumentParser = sub.add_parser("train", help="train a model from a YAML recipe")
    p.add_argument("--config", help="a YAML recipe such as configs/vae-mnist.yaml (defaults if omitted)")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="override config values")
    p.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    p.add_argument("--nproc", type=_positive, default=1, help="data-parallel processes on this machine (torchrun, "
                   "gloo on CPU); for several machines run `torchrun ... -m vaekit.cli train ...` on each")
    p.add_argument("--device", help="where to train: auto (a GPU when present, the default), cpu, cuda, cuda:N, mps")
    p.set_defaults(func=cmd_train)

    def model_command(name: str, help_text: str, func,  # type: ignore[no-untyped-def]
                      device: bool = True) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_text)
        q.add_argument("model", help="a saved model directory (runs/NAME/model)")
        if device:  # the codec and the explorer run on the CPU
            q.add_argument("--device", default="cpu", help="where the model runs: cpu (the default), cuda, cuda:N, "
                           "mps or auto")
        q.set_defaults(func=func)
        return q

    p = model_command("evaluate", "test ELBO, importance-weighted log p(x), bits/dim, active units (a classifier: "
                      "error, calibration, uncertainty)", cmd_evaluate)
    p.add_argument("--data", help="data set whose test split to use (default: the data the model was trained on)")
    p.add_argument("--ood", help="classifiers: a data set whose test split is scored as out of distribution")
    p.add_argument("--weight-draws", type=_positive, default=10, help="bnn: weight draws each prediction averages")
    p.add_argument("--k", type=_at_most(1_000_000), default=5000, help="importance samples per example (default 5000)")
    p.add_argument("--limit", type=_positive, help="evaluate the first N test examples only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", help="also write the report as JSON here")

    p = model_command("sample", "decode draws from the prior into a PNG grid (text models: print sentences)",
                      cmd_sample)
    p.add_argument("-n", type=_at_most(10_000), default=64, help="number of samples")
    p.add_argument("--nrow", type=_at_most(1_000), default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="class_", metavar="C",
                   help="a conditional model's class to draw, by name (a class folder's) or index (default: a row of "
                   "--nrow for each class)")
    p.add_argument("--draw", action="store_true", help="text: draw each token (default: greedy decoding)")
    p.add_argument("-o", "--output", help="the PNG grid (default samples.png); audio: a folder of WAV files "
                   "(default samples); text: also write the sentences here")

    for name, func, default in (("reconstruct", cmd_reconstruct, "reconstructions.png"),
                                ("interpolate", cmd_interpolate, "interpolation.png")):
        p = model_command(name, f"{name} inputs (image files or sentences, or test examples of --data)", func)
        p.add_argument("inputs", nargs="*", help="image files, WAV/FLAC files for an audio model, or sentences for "
                       "a text model (default: test examples of --data)")
        p.add_argument("--data", help="a data set or path whose test examples to use (default: the model's training "
                       "data)")
        p.add_argument("-o", "--output", help=f"default {default}; audio: a folder (default {default[:-4]}); "
                       "text: also write the sentences here")
        p.add_argument("--nrow", type=_at_most(1_000), default=8)
        p.add_argument("--labels", nargs="+", metavar="C",
                       help="a conditional model's class of each input, in order, by name or index")
    sub.choices["reconstruct"].add_argument("-n", type=_at_most(10_000), default=32, help="test examples to use")
    sub.choices["interpolate"].add_argument("--steps", type=_at_most(1_000), default=10)
    sub.choices["interpolate"].add_argument("--method", choices=["linear", "slerp"], default="linear")

    p = model_command("classify", "predicted class and its probability (with its uncertainty, for classifiers)",
                      cmd_classify)
    p.add_argument("inputs", nargs="*", help="image files (default: test examples of --data)")
    p.add_argument("--data", help="default: the data the model was trained on")
    p.add_argument("-n", type=_at_most(100_000), default=20, help="test examples to classify")
    p.add_argument("--weight-draws", type=_positive, default=10, help="bnn: weight draws each prediction averages")

    p = model_command("compress", "compress images, a .npy array or (text models) a text file into one file",
                      cmd_compress, device=False)
    p.add_argument("inputs", nargs="+", help="image files, folders of images, one .npy array, or one .txt file")
    p.add_argument("-o", "--output", required=True, help="the compressed file to write")
    p.add_argument("--mode", choices=["lossless", "lossy"], default="lossless",
                   help="lossless: bits-back ANS, exact; lossy: quantized latents, the model's reconstruction")
    p.add_argument("--precision", type=int, help="lossless: latent buckets per dimension = 2**precision (default 12)")
    p.add_argument("--step", type=float,
                   help="lossy: latent quantization step, in prior standard deviations (default 0.25)")
    p.add_argument("--entropy-model", choices=["fitted", "prior"],
                   help="lossy: code latents under a Gaussian fitted to them (stored; the default) or under the prior")
    p.add_argument("--batch-size", type=_positive, default=1000, help="most items per network pass")
    p.add_argument("--no-names", action="store_true", help="leave the file names out (decompress numbers the files)")
    p.add_argument("--labels", help="a conditional model's labels: a .npy of class indices, one per item in order "
                   "(decompress writes them back beside the output)")

    p = sub.add_parser("decompress", help="decompress a file written by vaekit compress")
    p.add_argument("file", help="the compressed file")
    p.add_argument("-o", "--output", required=True, help="a folder for images, a .npy path for an array, or a text "
                   "file's path")
    p.add_argument("--model", help="the model directory (default: the one recorded at compression)")
    p.set_defaults(func=cmd_decompress)

    p = sub.add_parser("serve", help="explore a saved model in the browser: samples, sliders, interpolation, uploads")
    p.add_argument("model", help="a saved model directory (runs/NAME/model)")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this machine "
                   "only; 0.0.0.0 opens it to the network)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests addressed to NAME (a host name others use to reach it; repeatable)")
    p.add_argument("--data", help="the data set whose test examples the page offers (default: the model's training "
                   "data)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("data", help="list or verify the named data sets")
    p.add_argument("action", choices=["list", "verify"])
    p.add_argument("names", nargs="*", help="data sets to verify (default: all)")
    p.add_argument("--download", action="store_true", help="fetch missing files from their origin")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "overrides") and not any(a.startswith("-") or "=" not in a for a in extra):
        args.overrides += extra  # key=value after an option: vaekit train --config r.yaml --resume train.epochs=9
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = list(sys.argv[1:] if argv is None else argv)
    # vaekit's own messages (the data's sizes, progress lines in a log, warnings) go to stderr; -v adds details
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    logging.getLogger("vaekit").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    from vaekit.train import NonFiniteLossError, TrainingFailed, TrainingInterrupted

    try:
        args.func(args)
    except (ConfigError, ValueError, TypeError, OSError) as error:
        print(f"vaekit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (NonFiniteLossError, TrainingFailed) as error:
        print(f"vaekit {args.command}: error: {error}", file=sys.stderr)
        return 1
    except TrainingInterrupted as error:
        print(f"vaekit {args.command}: {error}; continue with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
