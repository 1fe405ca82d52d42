// Package jobserver starts Apache Beam's Flink and Spark job servers on
// loopback for tests and the demo, the same way a user does: it runs
// scripts/flink-job-server.sh or scripts/spark-job-server.sh (Java mode),
// which resolve Beam's FlinkJobServerDriver / SparkJobServerDriver and their
// dependencies with Maven from the poms next to this file (flink/pom.xml,
// spark/pom.xml) once, cache the classpath under
// $RAILYARD_CACHE_DIR/job-servers, and exec Java. The Flink job server gets
// railyard's Flink configuration (flink/conf/flink-conf.yaml: checkpoints
// every 2 s, without which Flink never runs a Go DoFn's bundle-finalization
// callback, so the Pub/Sub source would never ack).
//
// Start picks a free job port, waits until the job service accepts
// connections and returns a Server whose Endpoint goes into
// --endpoint; Close stops the server's whole process group. StartForTest
// does the same for a test and stops it in the test's cleanup. Fetch only
// resolves the jars (scripts/test.sh calls the scripts' --fetch-only on a
// fresh machine so the first test does not pay for the download).
//
// Beam's job servers bind their gRPC services to all interfaces whatever
// --job-host says (Beam's ServerFactory uses NettyServerBuilder.forPort);
// everything railyard sends them goes over loopback.
package jobserver
