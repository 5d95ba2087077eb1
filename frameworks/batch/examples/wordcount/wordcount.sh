#!/bin/sh
# The tasks of the wordcount job; all share WC_DIR (a directory every agent
# can reach: on one machine, any directory).
#   wordcount.sh split   — cuts corpus.txt into $WC_MAPS shards
#   wordcount.sh map     — counts the words of shard $TUTTI_TASK_INDEX and writes
#                          one partition per reducer (word -> reducer by its first letters)
#   wordcount.sh reduce  — sums partition $TUTTI_TASK_INDEX of every map output
#   wordcount.sh merge   — result.txt: "count word" lines sorted by word
# Outputs are written to a temporary name and renamed, so a retried task
# never leaves half a file behind.
set -eu
: "${WC_DIR:?}" "${WC_MAPS:?}" "${WC_REDUCES:?}"
cd "$WC_DIR"
i=${TUTTI_TASK_INDEX:-0}
case "$1" in
  split)
    mkdir -p shards maps reduces
    split -n "l/$WC_MAPS" -d -a 5 corpus.txt shards/.tmp-
    for f in shards/.tmp-*; do mv "$f" "shards/${f#shards/.tmp-}"; done
    ;;
  map)
    shard=shards/$(printf %05d "$i")
    tr -cs 'A-Za-z' '\n' < "$shard" | tr 'A-Z' 'a-z' | awk -v R="$WC_REDUCES" -v m="$i" '
      BEGIN { for (c = 0; c < 256; c++) ord[sprintf("%c", c)] = c }
      $0 != "" { n[$0]++ }
      END {
        for (w in n) {
          p = (ord[substr(w, 1, 1)] * 31 + ord[substr(w, 2, 1)]) % R
          print w, n[w] > ("maps/.tmp-" m "-" p)
        }
        for (p = 0; p < R; p++) printf "" >> ("maps/.tmp-" m "-" p)
      }'
    for p in $(seq 0 $((WC_REDUCES - 1))); do mv "maps/.tmp-$i-$p" "maps/$i-$p"; done
    ;;
  reduce)
    cat maps/*-"$i" | awk '{ n[$1] += $2 } END { for (w in n) print n[w], w }' \
      > "reduces/.tmp-$i"
    mv "reduces/.tmp-$i" "reduces/$i"
    ;;
  merge)
    cat reduces/* | LC_ALL=C sort -k2,2 > .tmp-result.txt
    mv .tmp-result.txt result.txt
    ;;
  *)
    echo "unknown step '$1'" >&2
    exit 2
    ;;
esac
