# Two commands on a fresh machine:  `make demo` (train + samples + metrics) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SHARED := $(abspath ../shared/data)

# Tests, benchmarks and the demo read the real data sets from ../shared/data when it exists;
# elsewhere the loaders download them (canonical URL, SHA-256 checked) into ~/.cache/vaekit.
ifneq ($(wildcard $(SHARED)),)
export VAEKIT_DATA ?= $(SHARED)
endif

.PHONY: demo test benchmarks gpu-check clean

# Debian packages: espeak-ng (the spoken-digits set), chromium and chromium-driver (the explorer's browser test).
APT := espeak-ng chromium chromium-driver

$(BIN)/.installed: pyproject.toml
	@missing="$$(for p in $(APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else echo "missing Debian packages: $$missing (apt-get install $$missing as root)"; fi; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/vaekit train --config configs/vae-mnist.yaml name=demo train.max_minutes=5 --overwrite
	@echo "wrote runs/demo/: samples.png reconstructions.png loss_curves.png traversals.png metrics.json config.yaml model/"

test: $(BIN)/.installed
	$(BIN)/python -m pytest

# on a machine with a CUDA GPU: about 5 minutes; elsewhere it says there is none and measures nothing
gpu-check: $(BIN)/.installed
	cd benchmarks && ../$(BIN)/python gpu.py

benchmarks: $(BIN)/.installed
	cd benchmarks && ../$(BIN)/python quality.py && ../$(BIN)/python speed.py && ../$(BIN)/python bits_per_dim.py \
		&& ../$(BIN)/python compression.py && ../$(BIN)/python family.py \
		&& ../$(BIN)/python quality.py --model iwae-2-layers --minutes 45 --snapshot-every 15 \
		&& ../$(BIN)/python semi_supervised.py --models m1-m2 m2 --epochs 10 \
		&& ../$(BIN)/python semi_supervised.py --data binarized-fashion-mnist --models m1-m2 --epochs 10 \
		&& ../$(BIN)/python aae.py && ../$(BIN)/python bnn.py && ../$(BIN)/python text.py && ../$(BIN)/python audio.py \
		&& ../$(BIN)/python scale.py && ../$(BIN)/python explorer.py

clean:
	rm -rf $(VENV) runs *.egg-info
