#!/bin/sh
# Writes a text corpus of about MB megabytes to OUT: words drawn with a
# skewed (roughly Zipf) distribution from /usr/share/dict/words when present,
# else from a built-in list (and pairs of its words), ten to a line, with some capitals and punctuation.
# Usage: gen_corpus.sh OUT MB [SEED]
set -eu
out=$1
mb=$2
seed=${3:-42}
dict=/usr/share/dict/words
if [ ! -r "$dict" ]; then dict=/dev/null; fi
awk -v mb="$mb" -v seed="$seed" '
  { if ($0 ~ /^[A-Za-z]+$/ && n < 20000) words[n++] = $0 }
  END {
    if (n < 100) {
      split("the of and to in is was that for it with as his on be at by had are but from " \
            "or have an they which one you were her all she there would their we him been " \
            "has when who will more no if out so said what up its about into than them can " \
            "only other new some could time these two may then do first any my now such " \
            "like our over man me even most made after also did many before must through " \
            "years where much your way well down should because each just those people", w, " ")
      # 100 base words and pairs of them: a vocabulary of ~10000 words.
      n = 0
      for (i in w) words[n++] = w[i]
      for (i in w) for (j in w) if (i != j) words[n++] = w[i] w[j]
    }
    srand(seed)
    limit = mb * 1000000
    bytes = 0
    while (bytes < limit) {
      line = ""
      for (k = 0; k < 10; k++) {
        r = rand()
        word = words[int(n * r * r * r)]
        if (rand() < 0.05) word = toupper(substr(word, 1, 1)) substr(word, 2)
        if (rand() < 0.05) word = word ","
        line = line (k ? " " : "") word
      }
      print line
      bytes += length(line) + 1
    }
  }' "$dict" > "$out"
