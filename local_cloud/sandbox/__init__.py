"""Each template function in worker processes of its own, as Lambda runs it in execution environments.

`pool` is the local cloud's side (start, hand out, time out and replace workers); `worker` is the
program a worker runs. They speak one JSON line each way per invocation over the worker's stdin and
a private copy of its stdout; the handler's own prints go to the worker's stderr (the function log).
"""
