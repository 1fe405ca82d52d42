package pubsubcodec

import (
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of google.pubsub.v1.PublishRequest and PubsubMessage.
const (
	fieldRequestTopic    protowire.Number = 1
	fieldRequestMessages protowire.Number = 2

	fieldMessageData        protowire.Number = 1
	fieldMessageAttributes  protowire.Number = 2
	fieldMessageOrderingKey protowire.Number = 5

	fieldMapKey   protowire.Number = 1
	fieldMapValue protowire.Number = 2
)

// Codec encodes *pubsubpb.PublishRequest itself and everything else, and
// every response, with gRPC's proto codec. Its Name is "proto", so the
// content type on the wire does not change.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

func fallback() encoding.CodecV2 { return encoding.GetCodecV2(proto.Name) }

// Name is the content subtype, the same as the proto codec's.
func (Codec) Name() string { return proto.Name }

// Unmarshal is the proto codec's.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error { return fallback().Unmarshal(data, v) }

// Marshal encodes a PublishRequest directly when it can, else with the
// proto codec.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*pubsubpb.PublishRequest)
	if !ok {
		return fallback().Marshal(v)
	}
	sizes, total, ok := requestSize(req)
	if !ok {
		return fallback().Marshal(v)
	}
	if mem.IsBelowBufferPoolingThreshold(total) {
		return mem.BufferSlice{mem.SliceBuffer(appendRequest(make([]byte, 0, total), req, sizes))}, nil
	}
	// Like the proto codec, take large buffers from gRPC's pool, which
	// frees them once they are sent.
	pool := mem.DefaultBufferPool()
	buf := pool.Get(total)
	*buf = appendRequest((*buf)[:0], req, sizes)
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// AppendPublishRequest appends the wire encoding of req to b. ok is false,
// and b unchanged, when req has what only protobuf's marshaller handles:
// fields other than the topic and the messages' data, attributes and
// ordering key, unknown fields, or strings that are not valid UTF-8 (which
// protobuf refuses to encode).
func AppendPublishRequest(b []byte, req *pubsubpb.PublishRequest) ([]byte, bool) {
	sizes, _, ok := requestSize(req)
	if !ok {
		return b, false
	}
	return appendRequest(b, req, sizes), true
}

// requestSize returns the encoded size of each message of req and of the
// whole request, so that each length prefix is written once; ok=false when
// req has what only protobuf's marshaller handles.
func requestSize(req *pubsubpb.PublishRequest) (sizes []int, total int, ok bool) {
	if len(req.ProtoReflect().GetUnknown()) > 0 || !utf8.ValidString(req.Topic) {
		return nil, 0, false
	}
	sizes = make([]int, len(req.Messages))
	if req.Topic != "" {
		total += protowire.SizeTag(fieldRequestTopic) + protowire.SizeBytes(len(req.Topic))
	}
	for i, m := range req.Messages {
		n, ok := messageSize(m)
		if !ok {
			return nil, 0, false
		}
		sizes[i] = n
		total += protowire.SizeTag(fieldRequestMessages) + protowire.SizeBytes(n)
	}
	return sizes, total, true
}

func appendRequest(b []byte, req *pubsubpb.PublishRequest, sizes []int) []byte {
	if req.Topic != "" {
		b = protowire.AppendTag(b, fieldRequestTopic, protowire.BytesType)
		b = protowire.AppendString(b, req.Topic)
	}
	for i, m := range req.Messages {
		b = protowire.AppendTag(b, fieldRequestMessages, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizes[i]))
		b = appendMessage(b, m)
	}
	return b
}

// messageSize is the encoded size of m, or ok=false when m has fields this
// package does not write.
func messageSize(m *pubsubpb.PubsubMessage) (int, bool) {
	if m == nil || m.MessageId != "" || m.PublishTime != nil || len(m.ProtoReflect().GetUnknown()) > 0 ||
		!utf8.ValidString(m.OrderingKey) {
		return 0, false
	}
	n := 0
	if len(m.Data) > 0 {
		n += protowire.SizeTag(fieldMessageData) + protowire.SizeBytes(len(m.Data))
	}
	for k, v := range m.Attributes {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return 0, false
		}
		n += protowire.SizeTag(fieldMessageAttributes) + protowire.SizeBytes(entrySize(k, v))
	}
	if m.OrderingKey != "" {
		n += protowire.SizeTag(fieldMessageOrderingKey) + protowire.SizeBytes(len(m.OrderingKey))
	}
	return n, true
}

// entrySize is the size of a map entry message; like protobuf-go, the key
// and the value are always written, even when empty.
func entrySize(k, v string) int {
	return protowire.SizeTag(fieldMapKey) + protowire.SizeBytes(len(k)) +
		protowire.SizeTag(fieldMapValue) + protowire.SizeBytes(len(v))
}

func appendMessage(b []byte, m *pubsubpb.PubsubMessage) []byte {
	if len(m.Data) > 0 {
		b = protowire.AppendTag(b, fieldMessageData, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Data)
	}
	for k, v := range m.Attributes {
		b = protowire.AppendTag(b, fieldMessageAttributes, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(entrySize(k, v)))
		b = protowire.AppendTag(b, fieldMapKey, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, fieldMapValue, protowire.BytesType)
		b = protowire.AppendString(b, v)
	}
	if m.OrderingKey != "" {
		b = protowire.AppendTag(b, fieldMessageOrderingKey, protowire.BytesType)
		b = protowire.AppendString(b, m.OrderingKey)
	}
	return b
}
