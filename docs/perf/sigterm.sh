#!/bin/bash
# docs/perf/sigterm.sh BIN N OUT [RECORDER ARGS...] (BIN: a release roomrec): N publishers sending, then SIGTERM to the recorder: time to exit, files finalized.
BIN=$1; N=$2; OUT=$3; shift 3
rm -rf $OUT; mkdir -p $OUT/files
PORT=$((42000 + RANDOM % 1000))
$BIN relay --listen 127.0.0.1:$PORT --max-connections 1000000 --max-connections-per-ip 1000000 --max-room-members 1000000 > $OUT/relay.log 2>&1 &
RELAY=$!
sleep 1
$BIN --room sig --server ws://127.0.0.1:$PORT --password false --ice-ip 127.0.0.1 --record s --output-dir $OUT/files "$@" > $OUT/rec.log 2>&1 &
REC=$!
sleep 1
JOIN=$(( N / 20 + 5 ))
$BIN loadgen --server ws://127.0.0.1:$PORT --room sig --password false --publishers $N --join-rate 20 --duration $((JOIN + 30)) > $OUT/lg.jsonl 2> $OUT/lg.log &
LG=$!
sleep $JOIN
echo "files before SIGTERM: $(ls $OUT/files | grep -c -E '\.(ts|webm)$')"
T0=$(date +%s.%N)
kill -TERM $REC
while kill -0 $REC 2>/dev/null; do sleep 0.02; done
T1=$(date +%s.%N)
echo "recorder exit after SIGTERM: $(echo "$T1 - $T0" | bc) s"
grep -E "all files closed|files left|not finalized|ERROR" $OUT/rec.log | tail -3
python3 - $OUT/files <<'PY'
import json,sys,glob
m=json.load(open(glob.glob(sys.argv[1]+'/*_manifest.json')[0]))
fs=m['files']; print('manifest files', len(fs), 'keys', sorted(fs[0].keys()) if fs else None)
PY
kill $LG $RELAY 2>/dev/null; wait 2>/dev/null
