"""The line protocol of the python peers (numpy_peer.py, torch_train_peer.py): one JSON request per
line on stdin, one JSON reply per line on stdout; an exception becomes {"error": "..."} so the
parent (bench/lib/numpy_peer.ts) gets a reason instead of a dead pipe."""
import json
import sys


def serve(handle):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
