# Flink through a Beam Flink job server on this machine
# (scripts/flink-job-server.sh), SDK workers in this process (LOOPBACK).
# Batch and streaming. For a remote cluster, override --endpoint and use
# --environment_type=DOCKER or PROCESS.
runner=flink
endpoint=localhost:8099
environment_type=LOOPBACK
