"""leapserve's gRPC server (`leapserve serve`) around the native runtime (leapserve.runtime).

A request, top to bottom:

* services/: the servicers (prediction.py, oip.py, admin.py); services/common.py ends a call with
  the status server/errors.py gives each error;
* codec.py (leapserve.v1 Values) and tensors.py (Open Inference Protocol tensors): the wire on one
  side, the runtime's values and columns on the other; wire.py holds the tags of what the server
  writes to the wire itself;
* registry.py: which loaded version of which model answers, and reloads; loading.py loads and
  warms a version, discovery.py finds bundles on disk;
* the runtime's pipeline scores.

Around them: app.py builds and runs one server process, supervisor.py runs several on one port;
metrics.py, logs.py, tls.py, and loops.py (the event loop: uvloop where installed).
"""
