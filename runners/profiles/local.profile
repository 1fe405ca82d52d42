# Local runs: prism, the Go SDK's portable runner, in this process with
# LOOPBACK workers. Batch and streaming. Nothing to start first.
runner=prism
