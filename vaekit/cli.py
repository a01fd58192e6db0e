"""The ``vaekit`` command: parses arguments, loads, calls the library. Nothing else lives here."""
from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from vaekit.config import ConfigError, DataConfig, RunConfig, load_config
from vaekit.contract import Classifies, Conditional, Latent, Sentences, WeightPosterior

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


def _data_config(model, name: str | None) -> DataConfig:  # type: ignore[no-untyped-def]
    """The data a command reads: by default the data the model was trained on (its saved record: the same test
    split); --data names another, read at the model's sentence length or image size."""
    from vaekit.data import DATASETS

    if name is None:
        record = model.trained_on
        if record is None or record.data is None:
            raise ValueError("this model does not record the data it was trained on (saved by an older vaekit, or "
                             "never trained with vaekit): give --data")
        recorded = record.data
        if recorded.name not in DATASETS and not Path(recorded.name).exists():
            raise ValueError(f"the data this model was trained on, {recorded.name}, is not there any more: give "
                             "--data")
        return recorded
    if isinstance(model, Sentences):
        return DataConfig(name=name, max_length=model.max_length)
    shape = model.data_shape
    if name not in DATASETS and Path(name).is_dir() and len(shape) == 3 and shape[0] in (1, 3):
        return DataConfig(name=name, image_size=(shape[1], shape[2]), channels=shape[0])  # a folder, read to fit
    return DataConfig(name=name)


def _load_test_data(model, name: str | None):  # type: ignore[no-untyped-def]
    from vaekit.data import load_data

    return load_data(_data_config(model, name), tokenizer=getattr(model, "tokenizer", None))


def _test_examples(model, args: argparse.Namespace, count: int):  # type: ignore[no-untyped-def]
    """The first ``count`` test examples of --data and their labels (None if it has none)."""
    data = _load_test_data(model, args.data)
    if data.data_shape != model.data_shape:
        raise ValueError(f"data '{data.name}' has shape {data.data_shape}, the model expects {model.data_shape}")
    return data.test.x[:count], None if data.test.y is None else data.test.y[:count]


def _given_labels(model, labels: list[str] | None, count: int):  # type: ignore[no-untyped-def]
    """--labels as class indices, by name or index, one per input."""
    import torch

    from vaekit.generate import class_index

    if labels is None or len(labels) != count:
        raise ValueError(f"{model.registered_name} needs each input's class: give --labels with {count} class names "
                         "or indices")
    return torch.tensor([class_index(model, label) for label in labels])


def _inputs(model, args: argparse.Namespace, count: int):  # type: ignore[no-untyped-def]
    """The inputs a command works on and their labels (None unless the model is conditional): image files
    with --labels, or the first ``count`` test examples of --data with theirs."""
    from vaekit.data.user_files import load_images

    if args.inputs:
        x = load_images([Path(p) for p in args.inputs], model.data_shape)
        if not isinstance(model, Conditional):
            return x, None
        return x, _given_labels(model, args.labels, len(x))
    x, y = _test_examples(model, args, count)
    if isinstance(model, Conditional) and y is None:
        raise ValueError(f"{model.registered_name} needs labelled inputs; the data has no labels")
    return x, y if isinstance(model, Conditional) else None


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The saved model ``args.model`` on ``--device``."""
    from vaekit.devices import resolve_device
    from vaekit.saving import load

    return load(args.model).to(resolve_device(args.device))


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if not skip and a != "--nproc" and not a.startswith("--nproc="):
            out.append(a)
        skip = a == "--nproc"
    return out


def _named_after_data(config: RunConfig, overrides: list[str]) -> RunConfig:
    """A run on data given on the command line (or a recipe without a name) is named after the model and the data,
    ``vae-shapes``, not after the recipe's own data; ``name=`` still decides."""
    keys = {item.partition("=")[0].strip() for item in overrides}
    if "name" in keys or ("data.name" not in keys and config.name != RunConfig.model_fields["name"].default):
        return config
    path = Path(config.data.name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem if path.is_file() else path.name).strip("-.") or "data"
    return config.model_copy(update={"name": f"{config.model.name}-{stem}"})


def cmd_train(args: argparse.Namespace) -> None:
    from vaekit.run import run
    from vaekit.train import distributed

    if args.device is not None:  # the same as the override train.device=...
        args.overrides = [*args.overrides, f"train.device={args.device}"]
    config = _named_after_data(load_config(args.config, args.overrides), args.overrides)
    if args.nproc > 1:  # this machine, N processes under torchrun; each runs this command without --nproc
        code = distributed.launch(args.nproc, _without_nproc(args.argv))
        if code:
            raise SystemExit(code)
        return
    metrics = run(config, resume=args.resume, overwrite=args.overwrite)
    if not distributed.is_main():
        return
    test = metrics["test"]
    if "expected_calibration_error" in test:  # a classifier
        ood = "" if test["ood"] is None else (f", {test['ood']} told apart with AUROC "
                                              f"{test['ood_auroc_entropy']:.3f} (predictive entropy)")
        print(f"{config.run_dir}: test error {test['error']:.2%}, -log p(y|x) {test['nll']:.4f} nats, expected "
              f"calibration error {test['expected_calibration_error']:.4f}{ood}")
        return
    error = "" if test["classification_error"] is None else f", classification error {test['classification_error']:.2%}"
    if test["elbo"] is None:  # a model without a bound: its reconstructions and the Parzen estimate
        parzen = test["parzen"]
        print(f"{config.run_dir}: test log p(x|z) {test['reconstruction']:.2f} nats, Parzen log-likelihood "
              f"{parzen['log_likelihood']:.1f} ± {parzen['standard_error']:.1f} nats (sigma {parzen['sigma']:.3f})"
              f"{error}")
        return
    if test["perplexity"] is not None:  # text
        print(f"{config.run_dir}: test ELBO {test['elbo']:.2f} nats, log p(x) {test['log_likelihood']:.2f} nats per "
              f"sentence (k={test['k']}), perplexity {test['perplexity']:.1f}, KL {test['kl']:.2f} nats")
        return
    print(f"{config.run_dir}: test ELBO {test['elbo']:.2f} nats, log p(x) {test['log_likelihood']:.2f} nats "
          f"(k={test['k']}), {test['bits_per_dim']:.4f} bits/dim{error}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    import torch

    from vaekit.data import load_data
    from vaekit.distributions.likelihoods import check_likelihood
    from vaekit.evaluate import EvalReport, evaluate
    from vaekit.uncertainty import ClassifierReport, classifier_report

    model = _load(args)
    data = _load_test_data(model, args.data)
    test = data.test if args.limit is None else data.test.subset(slice(0, args.limit))
    torch.manual_seed(args.seed)
    if not isinstance(model, Latent) and isinstance(model, Classifies):  # error, calibration and uncertainty;
        # --ood scores another set's test split
        ood = None if args.ood is None else (args.ood, load_data(_data_config(model, args.ood)).test)
        report: EvalReport | ClassifierReport = classifier_report(
            model, test, ood, samples=args.weight_draws if isinstance(model, WeightPosterior) else 1)
    else:
        check_likelihood(model.config.likelihood, data.kind, data.name)
        report = evaluate(model, test, k=args.k, seed=args.seed)
    text = json.dumps(report.as_dict(), indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    print(text)


def _print_text(lines: list[str], output: str | None) -> None:
    """Sentences to stdout, and to --output if given."""
    print("\n".join(lines))
    if output:
        Path(output).write_text("\n".join(lines) + "\n")


def _sentences(model, args: argparse.Namespace, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """A text command's sentences: those given, or the first ``count`` test sentences of --data."""
    if args.inputs:
        return list(args.inputs)
    x = _load_test_data(model, args.data).test.x[:count]
    return [model.tokenizer.decode(row) for row in x.tolist()]


def _audio_inputs(model, args: argparse.Namespace, count: int):  # type: ignore[no-untyped-def]
    """An audio command's clips as spectrograms, with their labels for a conditional model: WAV/FLAC files given
    (with --labels), or the first ``count`` test clips of --data."""
    from vaekit.sounds import read_clips

    if not args.inputs:
        return _inputs(model, args, count)
    x = read_clips(model, [Path(p) for p in args.inputs])
    if not isinstance(model, Conditional):
        return x, None
    return x, _given_labels(model, args.labels, len(x))


def cmd_sample(args: argparse.Namespace) -> None:
    from vaekit.generate import class_index, samples_per_class, save_grid
    from vaekit.sentences import sample_text

    model = _load(args)
    if args.class_ is not None:
        if not isinstance(model, Conditional):
            raise ValueError(f"--class is for models conditioned on a label; {model.registered_name} is not")
        args.class_ = class_index(model, args.class_)
    if isinstance(model, Sentences):  # sentences, greedy or drawn token by token
        _print_text(sample_text(model, args.n, args.seed, greedy=not args.draw), args.output)
        return
    if model.config.audio is not None:  # WAV files and their spectrograms in a folder
        from vaekit.sounds import sample_sounds

        written = sample_sounds(model, Path(args.output or "samples"), args.n, args.seed, args.class_)
        print(f"{len(written) - 1} WAV files in {args.output or 'samples'}/, spectrograms in {written[-1]}")
        return
    args.output = args.output or "samples.png"
    if isinstance(model, Conditional) and args.class_ is None:  # a row of --nrow samples for each class
        print(save_grid(samples_per_class(model, args.nrow, args.seed), args.output, nrow=args.nrow))
        return
    print(save_grid(model.sample(args.n, seed=args.seed, y=args.class_), args.output, nrow=args.nrow))


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from vaekit.generate import reconstruction_pairs, save_grid
    from vaekit.sentences import reconstruct_text

    model = _load(args)
    if isinstance(model, Sentences):
        lines = _sentences(model, args, args.n)
        _print_text([f"  in: {a}\n out: {b}" for a, b in zip(lines, reconstruct_text(model, lines))], args.output)
        return
    if model.config.audio is not None:
        from vaekit.sounds import reconstruct_sounds

        x, y = _audio_inputs(model, args, args.n)
        written = reconstruct_sounds(model, x, Path(args.output or "reconstructions"), y)
        print(f"{len(written) - 1} WAV files in {args.output or 'reconstructions'}/, spectrograms in {written[-1]}")
        return
    args.output = args.output or "reconstructions.png"
    x, y = _inputs(model, args, args.n)
    print(save_grid(reconstruction_pairs(model, x, args.nrow, y), args.output, nrow=args.nrow))


def cmd_interpolate(args: argparse.Namespace) -> None:
    from vaekit.generate import interpolate, save_grid
    from vaekit.sentences import homotopy

    model = _load(args)
    if isinstance(model, Sentences):  # a homotopy between two sentences
        lines = _sentences(model, args, 2)
        if len(lines) != 2:
            raise ValueError(f"interpolate needs exactly two sentences, got {len(lines)}")
        _print_text(homotopy(model, lines[0], lines[1], args.steps), args.output)
        return
    if model.config.audio is not None:
        from vaekit.sounds import interpolate_sounds

        x, y = _audio_inputs(model, args, 2)
        if len(x) != 2:
            raise ValueError(f"interpolate needs exactly two clips, got {len(x)}")
        written = interpolate_sounds(model, x, Path(args.output or "interpolation"), args.steps, y)
        print(f"{len(written) - 1} WAV files in {args.output or 'interpolation'}/, spectrograms in {written[-1]}")
        return
    args.output = args.output or "interpolation.png"
    x, y = _inputs(model, args, 2)
    if len(x) != 2:
        raise ValueError(f"interpolate needs exactly two inputs, got {len(x)}")
    print(save_grid(interpolate(model, x[0], x[1], args.steps, args.method, y), args.output, nrow=args.steps))


def cmd_classify(args: argparse.Namespace) -> None:
    from vaekit.data.user_files import load_images
    from vaekit.uncertainty import predict

    model = _load(args)
    if not isinstance(model, Classifies):
        raise ValueError(f"{model.registered_name} has no classifier; classifiers (classifier, bnn) and "
                         "semi-supervised models (m1, m2, m1-m2, semi-supervised-aae) do")
    if args.inputs:
        names, x, y = args.inputs, load_images([Path(p) for p in args.inputs], model.data_shape), None
    else:
        x, y = _test_examples(model, args, args.n)
        names = [f"test #{i}" for i in range(len(x))]
    prediction = predict(model, x, args.weight_draws)
    confidence, predicted = prediction.probabilities.max(1)
    if prediction.mutual_information is not None:  # a classifier's uncertainty, over weight draws if Bayesian
        spread = zip(prediction.entropy.tolist(), prediction.mutual_information.tolist())
        notes = [f", predictive entropy {h:.3f} nats, mutual information {i:.3f} nats" for h, i in spread]
    else:
        notes = [""] * len(x)
    for name, c, p, note in zip(names, predicted.tolist(), confidence.tolist(), notes):
        print(f"{name}: class {c} (probability {p:.3f}{note})")
    if y is not None:
        print(f"error on these {len(y)}: {(predicted != y).float().mean().item():.2%}")


def _compress_text(model, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    from vaekit.atomic import atomic_write
    from vaekit.codec.files import model_reference
    from vaekit.codec.text import compress_text

    if len(args.inputs) != 1 or not Path(args.inputs[0]).is_file():
        raise ValueError("a text model compresses one UTF-8 text file, a sentence a line")
    path = Path(args.inputs[0])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error})") from None
    data = compress_text(model, text, precision=args.precision or 12, max_batch=args.batch_size, progress=True,
                         source={"files": [path.name], "model": model_reference(args.model, args.output)})
    atomic_write(Path(args.output), lambda tmp: tmp.write_bytes(data))
    print(f"{args.output}: {text.count(chr(10)) + (not text.endswith(chr(10)))} lines, {len(text)} characters in "
          f"{len(data)} bytes, {8 * len(data) / len(text):.4f} bits/character")


def cmd_compress(args: argparse.Namespace) -> None:
    from vaekit.atomic import atomic_write
    from vaekit.codec import compress, decompress
    from vaekit.codec.container import unpack
    from vaekit.codec.files import folder_labels, model_reference, read_inputs, read_labels
    from vaekit.generate import class_names
    from vaekit.image_quality import SSIM_WINDOW, psnr, ssim
    from vaekit.saving import load

    model = load(args.model)
    if isinstance(model, Sentences):
        return _compress_text(model, args)
    x, source, names = read_inputs(args.inputs, model.data_shape, keep_names=not args.no_names,
                                   lossless=args.mode == "lossless")
    source["model"] = model_reference(args.model, args.output)
    labels = None if args.labels is None else read_labels(Path(args.labels))
    if labels is None and isinstance(model, Conditional):  # a labelled folder: an image's class is its folder
        labels = folder_labels(names, class_names(model))
        if labels is None:
            raise ValueError(f"{model.registered_name} codes each item's class: put the images in folders named "
                             f"after the classes ({', '.join(class_names(model)[:10])}) or give --labels y.npy")
    data = compress(model, x, args.mode, precision=args.precision, step=args.step, entropy_model=args.entropy_model,
                    batch_size=args.batch_size, source=source, progress=True, labels=labels)
    atomic_write(Path(args.output), lambda tmp: tmp.write_bytes(data))
    payload = len(unpack(data)[1])
    pixels = len(x) * math.prod(model.data_shape[-2:]) if len(model.data_shape) == 3 else x.numel()
    line = (f"{args.output}: {len(x)} items in {len(data)} bytes ({len(data) - payload} of header and names); the "
            f"data {8 * payload / x.numel():.4f} bits/dim ({8 * payload / pixels:.4f} bits/pixel), the whole file "
            f"{8 * len(data) / x.numel():.4f} bits/dim")
    if args.mode == "lossy":
        y = decompress(model, data)
        line += f", PSNR {psnr(x, y):.2f} dB"
        if x.dim() == 4 and min(x.shape[-2:]) >= SSIM_WINDOW:
            line += f", SSIM {ssim(x, y):.4f}"
        elif x.dim() == 4:
            line += f" (no SSIM: its window is {SSIM_WINDOW} pixels wide, the images {min(x.shape[-2:])})"
    print(line)


def _find_model(recorded: object, compressed: Path) -> Path | None:
    if not isinstance(recorded, str) or not recorded:
        return None
    for base in (compressed.resolve().parent, Path.cwd()):
        if (base / recorded / "config.json").is_file():
            return base / recorded
    return None


def cmd_decompress(args: argparse.Namespace) -> None:
    from vaekit.atomic import atomic_write
    from vaekit.codec import decompress, read_header
    from vaekit.codec.files import write_outputs
    from vaekit.saving import load

    source = Path(args.file)
    if not source.is_file():
        raise ValueError(f"'{source}' is {'a folder' if source.is_dir() else 'not there'}; give a file written by "
                         "vaekit compress")
    data = source.read_bytes()
    header = read_header(data)
    model_dir = args.model or _find_model(header.source.get("model"), source)
    if model_dir is None or not Path(model_dir).is_dir():
        recorded = header.source.get("model")
        raise FileNotFoundError(f"the model this file was made with ({recorded or 'not recorded'}) is not found "
                                "from here or beside the file; give it with --model")
    if header.kind == "text":
        from vaekit.codec.text import decompress_text

        text = decompress_text(load(model_dir), data, progress=True)
        atomic_write(Path(args.output), lambda tmp: tmp.write_text(text, encoding="utf-8"))
        print(f"{args.output}: {header.count} lines of text")
        return
    x, labels = decompress(load(model_dir), data, progress=True, return_labels=True)
    written = write_outputs(x, header, args.output, labels)
    print(f"{args.output}: {header.count} items ({header.mode}) in {len(written)} file(s)")


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port between 1 and 65535, got {value}")
    return value


def cmd_serve(args: argparse.Namespace) -> None:
    from vaekit.codec.files import model_reference
    from vaekit.explorer import serve
    from vaekit.explorer.media import kind_of
    from vaekit.saving import load

    model = load(args.model)
    kind_of(model)  # refuses data the page cannot show before anything is loaded
    data = _load_test_data(model, args.data)
    if data.data_shape != model.data_shape and data.kind != "tokens":
        raise ValueError(f"data '{data.name}' has shape {data.data_shape}, the model expects {model.data_shape}")
    serve(model, data.test, data.name, args.host, args.port, model_reference(args.model), args.allow_host)


def cmd_data(args: argparse.Namespace) -> None:
    from vaekit.data import DATASETS, verify_named

    if args.action == "list":
        for name, ds in DATASETS.items():
            print(f"{name:18s} {ds.description}")
        return
    names = args.names or list(DATASETS)
    failed = False
    for name in names:
        if name not in DATASETS:
            raise ValueError(f"unknown data set '{name}'; known: {', '.join(DATASETS)}")
        for line in verify_named(name, download=args.download):
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
    args = build_parser().parse_args(argv)
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
