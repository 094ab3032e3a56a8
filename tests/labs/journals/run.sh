#!/usr/bin/env bash
# Inside academy/toolbox (see make.py): start the stand-ins, run the experiment, print the journal.
set -u
cd /tmp/h
python3 fakes.py faults 7000 >/tmp/faults.log 2>&1 &
python3 fakes.py toxiproxy 8474 >/tmp/toxiproxy.log 2>&1 &
for _ in $(seq 100); do
    curl -fs -o /dev/null http://api:8080/health && curl -fs -o /dev/null http://faults:7000/health && break
    sleep 0.1
done
cd /home/learner
cp /tmp/h/experiment.json experiment.json
# shellcheck disable=SC2086
chaos run $CHAOS_OPTIONS --journal-path journal.json experiment.json >/tmp/chaos.log 2>&1
echo "chaos exit code $?" >>/tmp/chaos.log
if [ -s journal.json ]; then cat journal.json; else cat /tmp/chaos.log >&2; exit 1; fi
