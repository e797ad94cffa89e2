#!/usr/bin/env bash
# Regenerate the measured profiles (and MobileNetV2's raw-tensor payload table) on this machine.
# Needs the ml extra: pip install torch==2.14.1 torchvision==0.29.1 && pip install -e '.[ml]'
# Run from the repository root:  bash scenarios/profiles/measure_all.sh
set -euo pipefail
for model in resnet18 resnet50 mobilenet_v2 vgg16; do
  extra=()
  if [ "$model" = mobilenet_v2 ]; then extra=(--payloads scenarios/payloads/mobilenet_v2-raw.csv); fi
  simsplit profile "$model" --out "scenarios/profiles/${model}-measured.csv" --repeats 20 --warmup 5 --overwrite \
    --plot "scenarios/profiles/${model}-measured.png" "${extra[@]}"
done
