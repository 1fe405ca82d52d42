// Package pubsubcodec is a gRPC codec that encodes Pub/Sub PublishRequests
// without protobuf reflection.
//
// Why: the ingest gateway publishes every event as one Pub/Sub message with
// three attributes, and protobuf-go marshals map fields through reflection,
// which made encoding the Publish request a quarter of the gateway's CPU
// time (scripts/bench-ingest.sh --profile). Codec writes the same wire
// format directly with protowire. It handles the fields a publisher sets —
// the topic and each message's data, attributes and ordering key — and
// hands anything else (a message id or publish time set, unknown fields,
// strings that are not UTF-8, any other message type) to gRPC's own proto
// codec, so that the bytes always decode to the message given and errors
// stay protobuf's.
//
// Use it per call, as the gateway does:
//
//	client.TopicAdminClient.Publish(ctx, req, gax.WithGRPCOptions(grpc.ForceCodecV2(pubsubcodec.Codec{})))
package pubsubcodec
