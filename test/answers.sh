# shellcheck shell=bash
# answers.sh — reading exporter answers in end-to-end scripts
# (test/domains, test/security). Source it; the caller declares
# `declare -A SERIES`, fills PROBES ("FILE ..." per probe) and sets work,
# the directory holding each answer as FILE.txt.

# load_answers: every answer's samples into SERIES["FILE|series"].
load_answers() {
  local p file line
  for p in "${PROBES[@]}"; do
    read -r file _ <<<"$p"
    while IFS= read -r line; do
      [[ $line == \#* || -z $line ]] && continue
      SERIES["$file|${line% *}"]=${line##* }
    done <"$work/$file.txt"
  done
}

# series NAME [LABEL=VALUE...]: a series as the exposition writes it, the
# labels in alphabetical order.
series() {
  local name=$1 out='' kv
  shift
  (($# == 0)) && { echo "$name"; return; }
  while IFS= read -r kv; do out+="${out:+,}${kv%%=*}=\"${kv#*=}\""; done < <(printf '%s\n' "$@" | LC_ALL=C sort)
  echo "$name{$out}"
}
