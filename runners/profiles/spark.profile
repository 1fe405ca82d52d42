# Spark through a Beam Spark job server on this machine
# (scripts/spark-job-server.sh), SDK workers in this process (LOOPBACK).
# Batch only. For a remote cluster, override --endpoint and use
# --environment_type=DOCKER or PROCESS.
runner=spark
endpoint=localhost:8099
environment_type=LOOPBACK
