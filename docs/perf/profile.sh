#!/bin/bash
# docs/perf/profile.sh BIN N OUT [RECORDER ARGS...] (BIN: a release roomrec): relay + recorder + loadgen N publishers; perf on the recorder, 20 s steady state.
BIN=$1; N=$2; OUT=$3; shift 3
rm -rf $OUT; mkdir -p $OUT/files
PORT=$((41000 + RANDOM % 1000))
$BIN relay --listen 127.0.0.1:$PORT --max-connections 1000000 --max-connections-per-ip 1000000 --max-room-members 1000000 > $OUT/relay.log 2>&1 &
RELAY=$!
sleep 1
$BIN --room prof --server ws://127.0.0.1:$PORT --password false --ice-ip 127.0.0.1 --record p --output-dir $OUT/files "$@" > $OUT/rec.log 2>&1 &
REC=$!
sleep 1
JOIN=$(( N / 20 + 2 ))
$BIN loadgen --server ws://127.0.0.1:$PORT --room prof --password false --publishers $N --join-rate 20 --duration $((JOIN + 25)) > $OUT/lg.jsonl 2> $OUT/lg.log &
LG=$!
sleep $JOIN
perf record -F 499 --call-graph dwarf,16384 -p $REC -o $OUT/perf.data -- sleep 20 > $OUT/perf.log 2>&1
wait $LG
kill -TERM $REC; sleep 3; kill $RELAY
# then: perf report -i $OUT/perf.data --children --sort sym --stdio -g none
echo done $OUT
