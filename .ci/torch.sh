#!/usr/bin/env bash
# libtorch for the `rust-bert` cargo feature, taken from PyPI.
#
# tch 0.17 (rust-bert 0.23) needs libtorch 2.4. The torch 2.4.0 wheel ships
# it (with CUDA libraries: about 5.5 GB, a few minutes to install); torch-sys
# finds it through the venv's `python` when LIBTORCH_USE_PYTORCH=1, and the
# test binaries need torch's lib folder on LD_LIBRARY_PATH at run time. The
# same venv has transformers and sentencepiece, with which
# models/scripts/make_tiny_hf_model.py builds the test models.
#
# Usage (prints `export` lines on stdout, progress on stderr):
#   eval "$(.ci/torch.sh)"
#   cargo test -p mediawatch-classify --features rust-bert
#
# Idempotent: a venv that has the pinned versions is reused.
# MEDIAWATCH_TORCH_VENV overrides the venv location.
set -euo pipefail

VENV="${MEDIAWATCH_TORCH_VENV:-$HOME/.cache/mediawatch/torch-venv}"
PYTHON="${PYTHON:-python3}"
PINS=(torch==2.4.0 transformers==4.44.2 safetensors==0.4.5 sentencepiece==0.2.0 numpy==1.26.4)
STAMP="$VENV/.mediawatch-$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -c1-12)"

if [ ! -f "$STAMP" ]; then
    echo "torch.sh: installing ${PINS[*]} into $VENV (several minutes)" >&2
    "$PYTHON" -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check "${PINS[@]}" >&2
    "$VENV/bin/python" -c 'import torch, transformers, sentencepiece, safetensors' >&2
    touch "$STAMP"
else
    echo "torch.sh: reusing $VENV" >&2
fi

TORCH_LIB="$("$VENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
echo "torch.sh: torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")')" >&2

cat <<EOF
export LIBTORCH_USE_PYTORCH=1
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:\$PATH"
export LD_LIBRARY_PATH="$TORCH_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export MEDIAWATCH_TORCH_PYTHON="$VENV/bin/python"
EOF
