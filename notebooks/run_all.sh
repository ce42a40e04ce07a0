#!/usr/bin/env bash
# Regenerate the committed outputs of every chapter with a FULL run (no VAE_QUICK):
# chapter 5 trains the tutorial's recipe, 10 epochs on all 60,000 images (about
# 3 minutes on two CPU cores); chapter 6 reuses that run from its checkpoint.
#
#   VAE_DATA_DIR=/path/to/mnist bash notebooks/run_all.sh            # all chapters, appendices
#   VAE_DATA_DIR=/path/to/mnist bash notebooks/run_all.sh 04_elbo    # some of them
#
# Each notebook is first synced with its .py twin (whichever was edited last wins; a
# chapter that has only its .py gets its .ipynb), executed in place, and synced again.
# The chapters are NN_name, the appendices AN_name (A1_training_speed). The training run
# in notebooks/runs/tutorial is deleted first so that the outputs come from the current code; KEEP_RUN=1 keeps it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -x "$here/../.venv/bin/jupyter" ]]; then
    PATH="$here/../.venv/bin:$PATH"
fi
cd "$here"
unset VAE_QUICK
# The book's kernel: the usual Python 3 kernel, except that output written by C code to file
# descriptors 1 and 2 goes to this script's stderr (the log below) instead of into the notebook.
# That is where TensorFlow's start-up lines (CUDA probing, oneDNN notice) go: TensorFlow writes
# them before it reads TF_CPP_MIN_LOG_LEVEL, so no log level keeps them out.
export JUPYTER_PATH="$here/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

if [[ $# -gt 0 ]]; then
    chapters=("${@%.ipynb}")
    chapters=("${chapters[@]%.py}")
else
    chapters=()
    for notebook in [0-9][0-9]_*.py A[0-9]_*.py; do chapters+=("${notebook%.py}"); done
fi

if [[ "${KEEP_RUN:-0}" != 1 && " ${chapters[*]} " == *" 05_training "* ]]; then
    rm -rf runs/tutorial
fi

for chapter in "${chapters[@]}"; do
    start=$SECONDS
    if [[ -e "$chapter.ipynb" ]]; then
        jupytext --sync --quiet "$chapter.ipynb"
    else
        jupytext --to ipynb --quiet "$chapter.py"
    fi
    # nbclient's `jupyter execute` is `jupyter nbconvert --execute --inplace` without nbconvert.
    log="$(mktemp)"
    if ! jupyter execute --inplace --timeout=3600 "$chapter.ipynb" 2>"$log"; then
        cat "$log" >&2
        rm -f "$log"
        echo "$chapter: FAILED" >&2
        exit 1
    fi
    rm -f "$log"
    # Execution timestamps would make every re-run differ in every cell: drop them.
    python -c 'import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
for cell in nb.cells:
    cell.metadata.pop("execution", None)
nbformat.write(nb, sys.argv[1])' "$chapter.ipynb"
    jupytext --sync --quiet "$chapter.ipynb"
    echo "$chapter: $((SECONDS - start)) s"
done
