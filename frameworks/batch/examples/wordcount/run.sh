#!/bin/sh
# Runs wordcount on a tutti cluster and checks it against `sort | uniq -c`.
# Usage: run.sh MASTER DIR [MB] [MAPS] [REDUCES]
#   MASTER  the master's HOST:PORT; DIR a fresh work directory
#   TUTTI_BATCH  the tutti-batch binary (default: tutti-batch on PATH)
# Prints the input size, the job's and the single-process times; exits 0
# only when the results are equal.
set -eu
master=$1
dir=$2
mb=${3:-5}
maps=${4:-8}
reduces=${5:-4}
here=$(cd "$(dirname "$0")" && pwd)
batch=${TUTTI_BATCH:-tutti-batch}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
"$here/gen_corpus.sh" "$dir/corpus.txt" "$mb"
sed -e "s|@EXAMPLE@|$here|g" -e "s|@DIR@|$dir|g" -e "s|@MAPS@|$maps|g" \
    -e "s|@REDUCES@|$reduces|g" "$here/job.json.in" > "$dir/job.json"
start=$(date +%s.%N)
"$batch" run "$dir/job.json" --master="$master"
mid=$(date +%s.%N)
tr -cs 'A-Za-z' '\n' < "$dir/corpus.txt" | tr 'A-Z' 'a-z' | grep -v '^$' | LC_ALL=C sort \
  | uniq -c | awk '{ print $1, $2 }' > "$dir/expected.txt"
end=$(date +%s.%N)
size=$(wc -c < "$dir/corpus.txt")
awk -v s="$size" -v a="$start" -v b="$mid" -v c="$end" 'BEGIN {
  printf "input %.1f MB; tutti-batch %.2fs (%.1f MB/s); sort | uniq -c %.2fs (%.1f MB/s)\n",
    s / 1e6, b - a, s / 1e6 / (b - a), c - b, s / 1e6 / (c - b) }'
if cmp -s "$dir/result.txt" "$dir/expected.txt"; then
  echo "wordcount: OK ($(wc -l < "$dir/result.txt") distinct words)"
else
  echo "wordcount: MISMATCH between $dir/result.txt and $dir/expected.txt" >&2
  exit 1
fi
