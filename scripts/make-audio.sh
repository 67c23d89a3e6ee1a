#!/usr/bin/env bash
# Synthesizes the test audio in assets/audio/ with espeak-ng and sox (Debian packages).
# Each file is 16 kHz mono PCM16: leading silence, then utterances separated by known silence
# gaps, so the speech segments are known by construction and written to segments.json.
# Run once; the outputs are committed. Re-running rewrites them (espeak-ng versions may differ).
set -euo pipefail

cd "$(dirname "$0")/.."
out=assets/audio
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

rate=16000
lead_s=0.5   # silence before the first utterance
gap_s=1.0    # silence between utterances (the VAD ends speech after 0.55 s of silence)
tail_s=1.0   # silence after the last utterance, so the VAD's end of speech fires in the file

silence() { sox -n -r "$rate" -c 1 -b 16 -e signed-integer "$2" trim 0 "$1"; }

# utterance TEXT OUT: speech with espeak-ng's own leading/trailing silence trimmed.
utterance() {
  espeak-ng -v en-us -s 165 -w "$tmp/raw.wav" "$1"
  sox "$tmp/raw.wav" -r "$rate" -c 1 -b 16 -e signed-integer "$2" \
    silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse
}

ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 + 0.5 }'; }

# build NAME TEXT...: writes $out/NAME.wav and prints its segments.json entry.
build() {
  local name=$1
  shift
  silence "$lead_s" "$tmp/lead.wav"
  silence "$gap_s" "$tmp/gap.wav"
  silence "$tail_s" "$tmp/tail.wav"
  local parts=("$tmp/lead.wav") at_ms
  at_ms=$(ms "$lead_s")
  local segs="" i=0
  for text in "$@"; do
    utterance "$text" "$tmp/u$i.wav"
    local len_ms
    len_ms=$(ms "$(soxi -D "$tmp/u$i.wav")")
    [ -n "$segs" ] && segs+=","
    segs+=$'\n'"      { \"startMs\": $at_ms, \"endMs\": $((at_ms + len_ms)), \"text\": \"$text\" }"
    at_ms=$((at_ms + len_ms))
    parts+=("$tmp/u$i.wav")
    if [ $((i + 1)) -lt $# ]; then
      parts+=("$tmp/gap.wav")
      at_ms=$((at_ms + $(ms "$gap_s")))
    fi
    i=$((i + 1))
  done
  parts+=("$tmp/tail.wav")
  sox "${parts[@]}" -r "$rate" -c 1 -b 16 -e signed-integer "$out/$name.wav"
  local total_ms
  total_ms=$(ms "$(soxi -D "$out/$name.wav")")
  printf '  "%s.wav": {\n    "sampleRate": %d,\n    "durationMs": %d,\n    "segments": [%s\n    ]\n  }' \
    "$name" "$rate" "$total_ms" "$segs"
}

{
  echo '{'
  build restaurant \
    "Hi, I would like to book a table for four people tonight at seven." \
    "Could we sit by the window, please?"
  echo ','
  build dental \
    "Hello, I need a dental appointment for a cleaning." \
    "Is next Tuesday morning available?" \
    "Thank you."
  echo
  echo '}'
} >"$out/segments.json"

ls -l "$out"
