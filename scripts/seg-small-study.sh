#!/usr/bin/env bash
# The segmentation trick study of docs/tricks.md: configs/segmentation/seg-small.ts
# with one change at a time, 3 seeds each (scripts/ablate.mjs), every finished
# run kept in docs/studies/seg-small.json, so the study (about 10 min a run on
# 2 cores) resumes where it stopped, in a later session or on another machine.
#   bash scripts/seg-small-study.sh            # the study
#   bash scripts/seg-small-study.sh --smoke    # each variant for a few steps (checks the settings parse and run)
set -euo pipefail
cd "$(dirname "$0")/.."
name=seg-small record=docs/studies/seg-small.json extra=()
if [[ ${1:-} == --smoke ]]; then
  name=seg-small-smoke record=work_dirs/ablate/seg-small-smoke.json
  rm -rf work_dirs/ablate/seg-small-smoke "$record"
  extra=(--seeds 1 --set data.trainSubset=16 --set data.testSubset=8 --epochs 1)
fi
CE='{"type":"CrossEntropyLoss"}' DICE='{"type":"DiceLoss"}' FOCAL='{"type":"FocalLoss"}' FLIP='{"type":"RandomFlip","prob":0.5}'
node scripts/ablate.mjs configs/segmentation/seg-small.ts --name "$name" --record "$record" "${extra[@]}" \
  --input weights/scenes-backbone-mobilenet_v3_large.safetensors \
  --variant 'baseline (CE, flips, poly)=' \
  --variant "CE + Dice=--set loss.terms=[$CE,$DICE]" \
  --variant "focal + Dice=--set loss.terms=[$FOCAL,$DICE]" \
  --variant 'class weights (median frequency)=--set loss.classWeight=median-frequency' \
  --variant "scale jitter (resize 0.5-2 + crop)=--set augment.train=[{\"type\":\"RandomResizeCrop\",\"cropSize\":128},$FLIP]" \
  --variant 'Mosaic (p 0.5, off the last 2 epochs)=--set augment.sample=[{"type":"Mosaic","imgScale":[128,128],"padVal":0,"prob":0.5,"offLastEpochs":2}]' \
  --variant "CutMix=--set augment.train=[$FLIP,{\"type\":\"Mixup\",\"mixupAlpha\":0,\"cutmixAlpha\":1}]" \
  --variant 'cosine instead of poly=--set schedule={"type":"cosine","warmupEpochs":1}' \
  --variant 'no flips=--set augment.train=[]' \
  --variant 'backbone at a tenth of the lr=--set optimizer.paramwise.customKeys.backbone.lrMult=0.1' \
  --variant 'from scratch (no pre-trained backbone)=--set model.backbonePretrained=null --set optimizer.paramwise=null'
[[ ${1:-} == --smoke ]] && exit 0

# The test-time tricks and SWA, paired within each run (scripts/seed-study.mjs): SWA over the last quarter at lr
# 0.01 (about where poly is then), flip + mmseg-ratio TTA (probabilities averaged), a 3-model ensemble.
node scripts/seed-study.mjs configs/segmentation/seg-small.ts --name seg-small-test-time --seeds 1,2,3 --group 3 \
  --set 'swa={"start":0.75,"lr":0.01,"annealEpochs":1}' --set 'tta={"flips":["h"],"ratios":[0.5,0.75,1.25,1.5,1.75]}'

# Pseudo-masks from 10% of the labels (200 images): the teacher for as many steps as 5 epochs of the whole set,
# pixels at confidence >= 0.9 kept (the others 255), the student on labelled + pseudo-masked images, and a
# labelled-only control with the student's steps.
for s in 1 2 3; do
  node dist/src/commands/main.js pseudo-label configs/segmentation/seg-small.ts --labelled 0.1 --threshold 0.9 \
    --teacher-epochs 50 --control --resume --set seed=$s --work-dir work_dirs/study/seg-small-pseudo-seed$s
done
