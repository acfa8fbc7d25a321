#!/usr/bin/env bash
# How the shipped MD Diffusion weights (pretrained/md_diffusion/) were made: the weights shipped before
# they learned the degradations of DATA.degrade (git revision 5f78762), each kind fine-tuned for 2000 steps
# on the default config, whose training items now draw their low-resolution input afresh (operator, grid,
# phase, blur, noise). Both kinds ran at once, one process of one thread each (TRAIN.nprocs=1, 8 patches a
# step), on 2 CPU cores (about 45 minutes).
# Then: python -m ppsci_ext.pretrained export md_diffusion md_supervised
set -euo pipefail
cd "$(dirname "$0")/.."
export GLOG_minloglevel=2
out=outputs/md_diffusion_finetuned
mkdir -p "$out/start"
for kind in diffusion supervised; do
  git show "5f78762:pretrained/md_diffusion/$kind.pdparams" > "$out/start/$kind.pdparams"
  python examples/md_diffusion/MDDiffusion.py mode=train MODEL.kind=$kind output_dir=$out \
    TRAIN.init_from=$out/start/$kind.pdparams TRAIN.iters=2000 TRAIN.nprocs=1 TRAIN.batch_size=8 num_threads=1 "$@" &
  sleep 20  # the first run writes the synthetic pairs (DATA.root) before the second reads them
done
wait
