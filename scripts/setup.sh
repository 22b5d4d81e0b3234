#!/usr/bin/env bash
# One-time set-up on a fresh machine: CPU torch first (a bare 'torch' requirement would pull a
# multi-GB CUDA build), then zhaug and its test tools. char-similar is installed without its
# dependencies: zhaug reads only its data files, and its declared dependency (macropodus) pins
# packages that no longer build on Python 3.11.
set -euo pipefail
python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
python -m pip install --quiet --disable-pip-version-check --no-deps "char-similar==0.0.2"
python -m pip install --quiet --disable-pip-version-check -e ".[test,translate,distributed]"
# The llama.cpp runtime and the GGUF writer, for tests/test_generative.py (its tiny model); not the 1.1 GB Qwen pieces of zhaug[llm].
python -m pip install --quiet --disable-pip-version-check "xllamacpp>=2026.10.11549" "gguf>=0.17"
