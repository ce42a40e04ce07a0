#!/usr/bin/env bash
# The ablation runs of chapter 15: chapter 8's validation recipe cut to 10 epochs (an hour of
# this 2-core CPU holds about five such runs), then one change per run. Each trains on the
# first 50,000 training images and reports on the last 10,000 (--validation), never on the
# test set.
#
#   VAE_DATA_DIR=/path/to/mnist bash results/validation/ablation.sh           # every row
#   VAE_DATA_DIR=/path/to/mnist bash results/validation/ablation.sh vamp      # some rows
#
# Runs train in runs/ablation/NAME (resumed if interrupted); when one finishes, its config,
# history and metrics (with L_100; not its weights) are copied to
# results/validation/ablation-NAME.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [[ -x .venv/bin/python ]]; then
    PATH="$PWD/.venv/bin:$PATH"
fi

# chapter 8's wide-lr2e-3 in 10 epochs: the learning rate halves every 3.5 epochs, so that the
# run ends on a small rate, as the 20-epoch runs (half-life 7) did
base=(--latent-dim 50 --epochs 10 --batch-size 128 --learning-rate 2e-3
      --binarization dynamic --validation --seed 0)
recipe="--filters 64,128 --lr-half-life 3.5"  # what the rows below keep unless they change it
declare -A change=(
    [base]="$recipe --kl analytic"
    [monte-carlo-kl]="$recipe --kl monte_carlo"
    [warmup]="$recipe --kl analytic --kl-warmup 3"
    [mixture]="$recipe --kl monte_carlo --prior mixture"
    [vamp]="$recipe --kl monte_carlo --prior vamp"
    [iwae]="$recipe --objective iwae --iwae-samples 5"
    [constant-lr]="--filters 64,128 --kl analytic"
    [narrow]="--filters 32,64 --lr-half-life 3.5 --kl analytic"
    [elu]="$recipe --kl analytic --activation elu"
)
order=(base monte-carlo-kl mixture vamp warmup iwae constant-lr narrow elu)

for name in "${@:-${order[@]}}"; do
    if [[ -z "${change[$name]+set}" ]]; then
        echo "ablation.sh: no row named '$name' (rows: ${order[*]})" >&2
        exit 2
    fi
    # shellcheck disable=SC2086  # each change is several words, split on purpose
    python -m vae_lib train --out "runs/ablation/$name" "${base[@]}" ${change[$name]} --quiet
    # L_100 on a fixed random 2,000 of the 10,000 validation images: a minute per run
    python -m vae_lib evaluate "runs/ablation/$name" --iw-samples 100 --iw-images 2000 --quiet
    mkdir -p "results/validation/ablation-$name"
    cp "runs/ablation/$name"/{config.json,history.csv,metrics.json} "results/validation/ablation-$name/"
done
