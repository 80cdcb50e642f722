#!/usr/bin/env bash
# Run the *published* "Bringing Old Photos Back to Life" stage 1 on ONE image, exactly with the
# command lines that the published run.py uses for stage 1 (CPU: --GPU -1 / --gpu_ids -1).
#
# usage: run_stage1.sh quality|scratch|scratch_hr INPUT_IMAGE OUTPUT_DIR
#   quality    : test.py --test_mode Full --Quality_restore
#   scratch    : detection.py --input_size full_size ; test.py --Scratch_and_Quality_restore
#   scratch_hr : the same as scratch, test.py gets --HR (run.py --with_scratch --HR)
# Results (same layout as run.py):
#   OUTPUT_DIR/stage_1_restore_output/restored_image/NAME.png  (+ input_image/, origin/, masks/)
#   OUTPUT_DIR/final_output/NAME.png                           (run.py's copy of stage 1 result)
# Env:
#   STAGE1_TIME=1  wrap each python command in /usr/bin/time -v; reports go to
#                  OUTPUT_DIR/time_detection.txt and OUTPUT_DIR/time_test.txt
#   PUBLISHED_DIR  (required) the folder holding the published Global/ and the venv/ that runs it
# The input keeps its file name (the published code expects a 3-letter extension, e.g. .png);
# it is symlinked into OUTPUT_DIR/input/ because the published scripts take a folder.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 quality|scratch|scratch_hr INPUT_IMAGE OUTPUT_DIR" >&2
  exit 2
fi
mode=$1
in_img=$(realpath "$2")
out_dir=$(realpath -m "$3")
pub=${PUBLISHED_DIR:?set PUBLISHED_DIR to the folder holding the published Global/ and its venv/}

case "$mode" in quality|scratch|scratch_hr) ;; *) echo "bad mode: $mode" >&2; exit 2;; esac
[ -f "$in_img" ] || { echo "no such image: $in_img" >&2; exit 2; }

# "python" in run.py's command lines resolves to the venv's interpreter
export PATH="$pub/venv/bin:$PATH"
export VIRTUAL_ENV="$pub/venv"

mkdir -p "$out_dir/input"
rm -f "$out_dir/input/"*
ln -s "$in_img" "$out_dir/input/$(basename "$in_img")"
stage_1_input_dir="$out_dir/input"
stage_1_output_dir="$out_dir/stage_1_restore_output"
mkdir -p "$stage_1_output_dir"

run() {  # $1 = tag, rest = command
  local tag=$1; shift
  if [ "${STAGE1_TIME:-0}" = 1 ]; then
    /usr/bin/time -v -o "$out_dir/time_$tag.txt" "$@"
  else
    "$@"
  fi
}

cd "$pub/Global"
gpu=-1
if [ "$mode" = quality ]; then
  run test python test.py --test_mode Full --Quality_restore --test_input "$stage_1_input_dir" \
      --outputs_dir "$stage_1_output_dir" --gpu_ids $gpu
else
  mask_dir="$stage_1_output_dir/masks"
  hr=()
  [ "$mode" = scratch_hr ] && hr=(--HR)
  run detection python detection.py --test_path "$stage_1_input_dir" --output_dir "$mask_dir" \
      --input_size full_size --GPU $gpu
  run test python test.py --Scratch_and_Quality_restore --test_input "$mask_dir/input" \
      --test_mask "$mask_dir/mask" --outputs_dir "$stage_1_output_dir" --gpu_ids $gpu "${hr[@]}"
fi

# run.py: copy stage-1 results to final_output
mkdir -p "$out_dir/final_output"
cp "$stage_1_output_dir/restored_image/"* "$out_dir/final_output/"
echo "stage 1 result: $out_dir/final_output/$(ls "$stage_1_output_dir/restored_image/" | head -1)"
