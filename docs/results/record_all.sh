#!/usr/bin/env bash
# Writes every record in docs/results from the run folders under runs/ (made
# by the commands each record lists), then renders the docs' tables.
# Run from the repository root after the runs exist; records whose run
# folders are missing are left as they are.
set -euo pipefail
cd "$(dirname "$0")/../.."
record() { python scripts/record_experiment.py "$@"; }
have() { for f in "$@"; do [ -e "$f" ] || { echo "skip: $f missing"; return 1; }; done; }
CIFAR_TOLERANCE=(--tolerance=bits_per_dim=0.05 --tolerance=auroc=0.05)
EVAL="python launch/evaluate.py --flagfile=launch/flagfiles/evaluate_cifar10.cfg"

# The JPEG quality that matches cifar10_jpeg's compression.
if have ../shared/data/cifar10_jpeg_test.npz; then
  python scripts/match_jpeg_quality.py --output=runs/jpeg_quality.json > /dev/null
  record --experiment=jpeg_quality \
    --description="The Pillow JPEG quality whose error matches cifar10_jpeg's, measured on 1000 lossless/JPEG CIFAR-10 test pairs" \
    --command="python scripts/match_jpeg_quality.py --output=runs/jpeg_quality.json" \
    --json=matching=runs/jpeg_quality.json \
    --tolerance=measured_mae=0.01 --tolerance=best_quality=0
fi

# CIFAR-10 (JPEG) models, scored on every OOD set raw and JPEG-matched.
cifar_record() {  # name, description, flagfile (train), extra args...
  local name=$1 description=$2 flagfile=$3; shift 3
  have runs/$name/evaluation/results.json || return 0
  record --experiment=$name --description="$description" \
    --command="python launch/train.py --flagfile=launch/flagfiles/$flagfile.cfg --workdir=runs/$name" \
    --command="$EVAL --workdir=runs/$name" \
    --workdir=runs/$name --evaluation=evaluation=runs/$name/evaluation/results.json \
    "${CIFAR_TOLERANCE[@]}" "$@"
}
cifar_record cifar10_vae_cpu "VAE (Gaussian posterior, discretized-logistic pixels) on JPEG CIFAR-10, scored on SVHN, CelebA, Tiny ImageNet (raw and JPEG q75) and constructed inputs" cifar10_vae_cpu
cifar_record cifar10_vae_flow_cpu "VAE with a flow posterior (4 affine couplings; the paper's Fig. 3b) on JPEG CIFAR-10, scored as cifar10_vae_cpu" cifar10_vae_flow_cpu
cifar_record cifar10_pixelcnn_cpu "PixelCNN++ on JPEG CIFAR-10, scored on SVHN, CelebA, Tiny ImageNet (raw and JPEG q75) and constructed inputs" cifar10_pixelcnn_cpu
cifar_record cifar10_glow_cpu "Glow (3 x 4, width 128, affine coupling) on JPEG CIFAR-10, 14000 steps, scored on SVHN, CelebA, Tiny ImageNet (raw and JPEG q75) and constructed inputs" cifar10_glow_cpu --curves=curves=runs/cifar10_glow_cpu
cifar_record cifar10_cvglow_cpu "CV-Glow (additive coupling: constant volume) on JPEG CIFAR-10, scored as cifar10_glow_cpu" cifar10_cvglow_cpu --curves=curves=runs/cifar10_cvglow_cpu

# The same Glow fine-tuned on lossless CIFAR-10 (like with like, model side).
if have runs/cifar10_glow_lossless_cpu/evaluation/results.json; then
  record --experiment=cifar10_glow_lossless_cpu \
    --description="cifar10_glow_cpu fine-tuned 1000 steps on the 4000 lossless CIFAR-10 train images, scored on lossless CIFAR-10 test and raw SVHN, CelebA, Tiny ImageNet" \
    --command="python launch/train.py --flagfile=launch/flagfiles/cifar10_glow_cpu.cfg --workdir=runs/cifar10_glow_cpu" \
    --command="python launch/train.py --flagfile=launch/flagfiles/cifar10_glow_lossless_cpu.cfg --workdir=runs/cifar10_glow_lossless_cpu" \
    --command="python launch/evaluate.py --workdir=runs/cifar10_glow_lossless_cpu --num_examples=1000" \
    --workdir=runs/cifar10_glow_lossless_cpu \
    --evaluation=evaluation=runs/cifar10_glow_lossless_cpu/evaluation/results.json \
    --curves=curves=runs/cifar10_glow_lossless_cpu "${CIFAR_TOLERANCE[@]}"
fi

# SVHN -> CIFAR-10 (Fig. 7b): trained on 9000 SVHN test images, 1000 held out.
if have runs/svhn_glow_cpu/evaluation/results.json; then
  record --experiment=svhn_glow_cpu \
    --description="Glow on 9000 SVHN test images (test[:9000]; no SVHN train split offline), scored on the 1000 held out and on CIFAR-10 (JPEG and lossless)" \
    --command="python launch/train.py --flagfile=launch/flagfiles/svhn_glow_cpu.cfg --workdir=runs/svhn_glow_cpu" \
    --command="python launch/evaluate.py --workdir=runs/svhn_glow_cpu --num_examples=1000" \
    --workdir=runs/svhn_glow_cpu --evaluation=evaluation=runs/svhn_glow_cpu/evaluation/results.json \
    "${CIFAR_TOLERANCE[@]}"
fi

# Section 5, Fig. 6, 11-13 on the CIFAR-10 Glows.
for name in cifar10_glow_cpu cifar10_cvglow_cpu; do
  have runs/$name/analysis/analysis.json || continue
  record --experiment=${name}_analysis \
    --description="Section 5 (Eq. 6 against the measured gap), data statistics (Fig. 6, 11) and latent codes (Fig. 12-13) of runs/$name" \
    --command="python launch/train.py --flagfile=launch/flagfiles/$name.cfg --workdir=runs/$name" \
    --command="python launch/analyze_data.py --flagfile=launch/flagfiles/analyze_cifar10.cfg --workdir=runs/$name" \
    --workdir=runs/$name --json=analysis=runs/$name/analysis/analysis.json \
    --tolerance=measured_gap=30 --tolerance=paper_gap=30 --tolerance=channel_variance_sums=0.01
done

# openai/glow's edge padding of the coupling convolutions, on and off (short runs).
if have runs/edge_padding_on/results.json runs/edge_padding_off/results.json; then
  record --experiment=edge_padding \
    --description="CPU Glow of cifar10_glow_cpu.cfg, 1500 steps, with and without --coupling_edge_padding (one seed each, 500 images per set)" \
    --command="python launch/train.py --flagfile=launch/flagfiles/cifar10_glow_cpu.cfg --train_steps=1500 --eval_every=500 --eval_num_examples=500 --num_samples=0 --eval_datasets=svhn_cropped --workdir=runs/edge_padding_on --coupling_edge_padding" \
    --command="python launch/train.py --flagfile=launch/flagfiles/cifar10_glow_cpu.cfg --train_steps=1500 --eval_every=500 --eval_num_examples=500 --num_samples=0 --eval_datasets=svhn_cropped --workdir=runs/edge_padding_off" \
    --workdir=runs/edge_padding_on --workdir=runs/edge_padding_off \
    --curves=on=runs/edge_padding_on --curves=off=runs/edge_padding_off --tolerance=bits_per_dim=0.05 \
    --note="The flagfile then trained 2000 steps and evaluated every 250; the commands give the settings these runs used."
fi

# RealNVP-style flow (exp-scale affine couplings, reversed channels).
cifar_record cifar10_rnvp_cpu "RealNVP-style flow (exp-scale affine couplings, channels reversed between couplings) on JPEG CIFAR-10, scored as cifar10_glow_cpu" cifar10_rnvp_cpu --curves=curves=runs/cifar10_rnvp_cpu

# Fig. 10: three members of one recipe and step count, and their ensemble.
ENSEMBLE=runs/cifar10_glow_ensemble_cpu
MEMBERS="--workdir=$ENSEMBLE/member_0 --workdir=$ENSEMBLE/member_1 --workdir=$ENSEMBLE/member_2"
if have $ENSEMBLE/ensemble_evaluation/results.json $ENSEMBLE/member_{0,1,2}/evaluation/results.json; then
  record --experiment=cifar10_glow_ensemble_cpu \
    --description="Ensemble of three Glows of cifar10_glow_ensemble_cpu.cfg (seeds 0, 1, 2; 4000 steps each), log p_ens = logsumexp_m log p_m - log 3, scored on SVHN raw and JPEG q75 (Fig. 10)" \
    --command="python launch/train_ensemble.py --flagfile=launch/flagfiles/cifar10_glow_ensemble_cpu.cfg --workdir=$ENSEMBLE --num_members=3" \
    --command="python launch/evaluate.py --flagfile=launch/flagfiles/evaluate_ensemble.cfg $MEMBERS" \
    --command="python launch/evaluate.py --flagfile=launch/flagfiles/evaluate_ensemble.cfg --workdir=$ENSEMBLE/member_<m>  # m = 0, 1, 2" \
    $MEMBERS --evaluation=evaluation=$ENSEMBLE/ensemble_evaluation/results.json \
    --evaluation=member_0=$ENSEMBLE/member_0/evaluation/results.json \
    --evaluation=member_1=$ENSEMBLE/member_1/evaluation/results.json \
    --evaluation=member_2=$ENSEMBLE/member_2/evaluation/results.json \
    "${CIFAR_TOLERANCE[@]}"
fi

# The grayscale pairs (Fig. 1 left, 7a, 9), each on 32x32x1 and on the paper's
# 32x32x3 tiling; the README's main job is fashion_mnist_glow_cpu.
gray_record() {  # name, description
  local name=$1 description=$2
  have runs/$name/evaluation/results.json || return 0
  record --experiment=$name --description="$description" \
    --command="python launch/train.py --flagfile=launch/flagfiles/$name.cfg --workdir=runs/$name" \
    --command="python launch/evaluate.py --workdir=runs/$name" \
    --workdir=runs/$name --evaluation=evaluation=runs/$name/evaluation/results.json \
    --curves=curves=runs/$name "${CIFAR_TOLERANCE[@]}"
}
gray_record fashion_mnist_glow_cpu "The README's main job: Glow (3 x 4, width 128) on Fashion-MNIST padded to 32x32x1, 1500 steps, scored on MNIST, NotMNIST and constant and random images (2000 per set)"
gray_record notmnist_glow_cpu "Glow on NotMNIST padded to 32x32x1, trained to the plateau rule or 15 minutes, scored on MNIST, Fashion-MNIST and constant and random images"
gray_record notmnist_glow_rgb_cpu "Glow on NotMNIST padded to 32x32 and tiled to 3 channels (the paper's layout), trained to the plateau rule or 15 minutes, scored on MNIST, Fashion-MNIST and constant and random images"
gray_record mnist_glow_cpu "Glow on MNIST padded to 32x32x1, trained to the plateau rule or 12 minutes, scored on NotMNIST, Fashion-MNIST and constant and random images"
gray_record mnist_glow_rgb_cpu "Glow on MNIST padded to 32x32 and tiled to 3 channels (the paper's layout), trained to the plateau rule or 12 minutes, scored on NotMNIST, Fashion-MNIST and constant and random images"

# Fig. 11a and 12b: data statistics and latent codes of NotMNIST and MNIST
# under a CV-Glow trained on NotMNIST.
if have runs/notmnist_cvglow_rgb_cpu/analysis/analysis.json; then
  record --experiment=notmnist_cvglow_rgb_cpu_analysis \
    --description="Data statistics (Fig. 11a) and latent codes (Fig. 12b) of NotMNIST and MNIST (32x32x3 tiled) under a CV-Glow trained on NotMNIST" \
    --command="python launch/train.py --flagfile=launch/flagfiles/notmnist_cvglow_rgb_cpu.cfg --workdir=runs/notmnist_cvglow_rgb_cpu" \
    --command="python launch/analyze_data.py --workdir=runs/notmnist_cvglow_rgb_cpu --datasets=notmnist,mnist --graying_factors=" \
    --workdir=runs/notmnist_cvglow_rgb_cpu --json=analysis=runs/notmnist_cvglow_rgb_cpu/analysis/analysis.json \
    --tolerance=covariance_trace=5 --tolerance=measured_gap=30 --tolerance=paper_gap=30
fi

# Fig. 8: two moons copied to D dimensions, RealNVP with exp and sigmoid scales.
if have runs/two_moons/results.json; then
  record --experiment=two_moons \
    --description="Fig. 8: a RealNVP (4 affine couplings, MLP nets) on two moons copied to D = 2 ... 100 dimensions, exp and sigmoid scales, 1000 Adam steps per cell" \
    --command="python launch/two_moons.py --output_dir=runs/two_moons" \
    --json=two_moons=runs/two_moons/results.json \
    --tolerance=mean_log_prob_z=3 --tolerance=mean_log_det=5 --tolerance=final_nll=3
fi

# Issue 21: the OOD benchmark on a finished training run, condensed.
benchmark_record() {  # name (ood_benchmark_<name>.cfg), run, description, extra args...
  local name=ood_benchmark_$1 run=$2 description=$3; shift 3
  have runs/$name/results.json || return 0
  python scripts/summarize_benchmark.py runs/$name/results.json runs/$name/summary.json
  record --experiment=$name --description="$description" \
    --command="python launch/train.py --flagfile=launch/flagfiles/$run.cfg --workdir=runs/$run" \
    --command="python launch/ood_benchmark.py --flagfile=launch/flagfiles/$name.cfg" \
    --command="python scripts/summarize_benchmark.py runs/$name/results.json runs/$name/summary.json" \
    --workdir=runs/$run --json=benchmark=runs/$name/summary.json \
    --tolerance=auroc=0.03 --tolerance=auroc_low=0.03 --tolerance=auroc_high=0.03 "$@"
}
benchmark_record cifar10 cifar10_glow_cpu "OOD benchmark on CIFAR-10 (JPEG) pairs with the CPU Glow runs/cifar10_glow_cpu: likelihood, typicality, input complexity, likelihood ratio, per-level likelihood, DoSE and latent goodness-of-fit, one image and batches of 5 and 10 (2000 images per set)"
benchmark_record cifar10_gradients cifar10_glow_cpu "OOD benchmark on the CIFAR-10 (JPEG) pairs no single-image score passed 0.95 on (JPEG-matched SVHN, grayed CIFAR-10), raw SVHN and the flip control, with the CPU Glow runs/cifar10_glow_cpu: every score of ood_benchmark_cifar10 plus the score test + typicality and the layer-wise gradient norms (2000 images per set)" \
  --note="One model, so the intervals are over examples only."
benchmark_record fashion_mnist fashion_mnist_glow_cpu "OOD benchmark on Fashion-MNIST pairs (MNIST, NotMNIST, flipped Fashion-MNIST) with the README's main-job Glow runs/fashion_mnist_glow_cpu: every score of the CIFAR-10 record plus the score test + typicality and the layer-wise gradient norms, one image and batches of 5 and 10 (2000 images per set; NotMNIST has 1000)" \
  --note="One model, so the intervals are over examples only."

python scripts/render_docs.py
