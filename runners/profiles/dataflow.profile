# Google Cloud Dataflow, batch and streaming, in us-central1 with
# throughput-based autoscaling up to 10 workers. Give --project and
# --staging_location=gs://BUCKET/staging on the command line; add --dry_run
# to print the job without submitting it.
runner=dataflow
region=us-central1
autoscaling_algorithm=THROUGHPUT_BASED
max_num_workers=10
