"""Small data sets unlike MNIST and Brown, made on the spot (seeded), for trying vaekit on "your own" data: the
tests and the own-data benchmark use them.

- :func:`shape_images`: a folder of tiny greyscale PNGs with few grey levels, a sub-folder per class;
- :func:`kitchen_sentences`: a .txt of short English sentences from a cooking domain (not Brown's);
- :func:`spoken_words`: WAV files of words spoken by espeak-ng at a telephone sample rate, flat or per class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SHAPES = ("ring", "bar", "cross")


def shape_images(folder: Path, per_class: int = 100, size: tuple[int, int] = (7, 9),
                 levels: tuple[int, ...] = (0, 85, 170, 255), seed: int = 0) -> Path:
    """``per_class`` images (height, width) = ``size`` of each of :data:`SHAPES`, shifted and speckled, with only
    the grey ``levels`` occurring, as ``folder/<shape>/<shape>_NNNN.png``."""
    rng = np.random.default_rng(seed)
    height, width = size
    palette = np.array(levels, dtype=np.uint8)
    top = len(levels) - 1
    for c, name in enumerate(SHAPES):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = np.zeros(size, dtype=np.int64)
            cy, cx = height // 2 + int(rng.integers(-1, 2)), width // 2 + int(rng.integers(-1, 2))
            if c == 0:
                image[max(0, cy - 1):cy + 2, max(0, cx - 1):cx + 2] = top
                image[cy, cx] = 0
            elif c == 1:
                image[:, cx] = top
                image[:, max(0, cx - 1)] = max(1, top // 2)
            else:
                image[cy, :] = max(1, top - 1)
                image[:, cx] = top
            speckle = rng.integers(0, top + 1, size) * (rng.random(size) < 0.06)
            image = np.where(speckle > 0, speckle, image)
            Image.fromarray(palette[image]).save(folder / name / f"{name}_{i:04d}.png")
    return folder


_VERBS = ("stir", "chop", "add", "slice", "boil", "bake", "fry", "mix", "pour", "season", "grate", "toast")
_FOODS = ("onions", "carrots", "the rice", "the soup", "garlic", "potatoes", "the dough", "butter", "the sauce",
          "tomatoes", "mushrooms", "the eggs", "lentils", "the bread", "spinach", "peppers")
_AMOUNTS = ("two cups of", "a pinch of", "half a spoon of", "three slices of", "a handful of", "some")
_TIMES = ("for five minutes", "for an hour", "until golden", "until soft", "gently", "slowly", "over low heat",
          "on both sides", "while it cools", "before serving")
_OPENERS = ("then", "now", "next", "finally", "first", "meanwhile")


def kitchen_sentences(path: Path, count: int = 5000, seed: int = 0) -> Path:
    """``count`` short English cooking instructions, one a line, in a .txt file."""
    rng = np.random.default_rng(seed)
    pick = lambda words: words[rng.integers(len(words))]  # noqa: E731
    lines = []
    for _ in range(count):
        form = rng.integers(4)
        if form == 0:
            line = f"{pick(_VERBS)} {pick(_FOODS)} {pick(_TIMES)} ."
        elif form == 1:
            line = f"{pick(_OPENERS)} {pick(_VERBS)} {pick(_AMOUNTS)} {pick(_FOODS)} ."
        elif form == 2:
            line = f"{pick(_OPENERS)} , {pick(_VERBS)} {pick(_FOODS)} and {pick(_FOODS)} {pick(_TIMES)} ."
        else:
            line = f"{pick(_VERBS)} {pick(_AMOUNTS)} {pick(_FOODS)} {pick(_TIMES)} ."
        lines.append(line[0].upper() + line[1:])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


WORDS = ("red", "green", "blue")


def spoken_words(folder: Path, per_word: int = 8, sample_rate: int = 8000, labelled: bool = True,
                 seed: int = 0) -> Path:
    """Each of :data:`WORDS` spoken ``per_word`` times by espeak-ng (seeded voices, pitch and speed), as 16-bit WAV
    files at ``sample_rate``: ``folder/<word>/NN.wav`` when ``labelled``, else flat ``folder/<word>-NN.wav``."""
    import soundfile

    from vaekit.data.audio import ACCENTS, speak

    rng = np.random.default_rng(seed)
    for word in WORDS:
        for i in range(per_word):
            entry = {"voice": str(ACCENTS[rng.integers(len(ACCENTS))]), "pitch": int(rng.integers(20, 81)),
                     "speed": int(rng.integers(130, 200)), "text": word}
            wave = speak(entry, sample_rate)
            path = folder / word / f"{i:02d}.wav" if labelled else folder / f"{word}-{i:02d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(path, wave, sample_rate, subtype="PCM_16")
    return folder
