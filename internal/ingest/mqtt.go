package ingest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/railyard-dev/railyard/schemas"
)

// MQTTTopicPrefix is the prefix of the topics the broker accepts: clients
// publish to "railyard/events/<game>", and <game> becomes the game
// attribute of every event of the message.
const MQTTTopicPrefix = "railyard/events/"

// Reason codes the broker sends in a negative MQTT 5 PUBACK. MQTT 3.1.1
// has no negative PUBACK: those clients are disconnected instead, which is
// how 3.1.1 tells a client its message was not taken (it sends it again
// after reconnecting).
var (
	codeInvalidTopic  = packets.Code{Code: 0x90, Reason: ReasonInvalidTopic}  // Topic Name invalid
	codeOverloaded    = packets.Code{Code: 0x97, Reason: ReasonOverloaded}    // Quota exceeded
	codePublishFailed = packets.Code{Code: 0x80, Reason: ReasonPublishFailed} // Unspecified error
	codeShuttingDown  = packets.Code{Code: 0x80, Reason: ReasonShuttingDown}  // Unspecified error
	codeTooLarge      = packets.Code{Code: 0x80, Reason: ReasonBodyTooLarge}  // Unspecified error
)

// broker is the embedded MQTT broker. Its hook runs in each client's read
// loop: OnPublish publishes the message to Pub/Sub and waits for the
// confirmation before it returns, and mochi writes the PUBACK only after
// OnPublish returned without error. So a PUBACK always means "published",
// and PUBACKs keep the order of their PUBLISHes, as MQTT requires. The
// price is that one connection has one message in flight at a time:
// clients that need more throughput open more connections or send several
// events per message.
type broker struct {
	g        *Gateway
	server   *mqtt.Server
	listener *tcpListener
	inflight inflight
}

func newBroker(g *Gateway, addr string) (*broker, error) {
	caps := mqtt.NewDefaultServerCapabilities()
	// The broker is a way into Pub/Sub, not a message store: no retained
	// messages, and forgotten sessions after an hour.
	caps.RetainAvailable = 0
	caps.MaximumSessionExpiryInterval = 3600
	caps.MaximumPacketSize = uint32(min(g.cfg.MaxBodyBytes+64<<10, 1<<28))
	server := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(mochiLog{Handler: g.log.Handler()}).With("component", "mqtt"),
		// $SYS topics go to subscribers, and the broker has none.
		SysTopicResendInterval: 3600,
	})
	b := &broker{g: g, server: server}
	if err := server.AddHook(&hook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("ingest: mqtt hook: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ingest: mqtt listen on %s: %w", addr, err)
	}
	if g.tls != nil {
		ln = tls.NewListener(ln, g.tls)
	}
	b.listener = &tcpListener{id: "railyard-ingest", ln: ln, log: g.log}
	if err := server.AddListener(b.listener); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("ingest: mqtt listener: %w", err)
	}
	if err := server.Serve(); err != nil {
		_ = server.Close()
		return nil, fmt.Errorf("ingest: mqtt: %w", err)
	}
	return b, nil
}

func (b *broker) addr() string { return b.listener.Address() }

// drain stops accepting connections and refuses new publishes at once;
// shutdown then waits for the publishes in flight.
func (b *broker) drain() {
	b.listener.stopAccepting()
	b.inflight.drain()
}

// shutdown drains, waits for the publishes in flight to be published and
// acknowledged, then disconnects every client.
func (b *broker) shutdown(ctx context.Context) error {
	b.listener.stopAccepting()
	var err error
	select {
	case <-b.inflight.drain():
	case <-ctx.Done():
		err = fmt.Errorf("%d MQTT messages still in flight: %w", b.inflight.count(), ctx.Err())
	}
	// Clients that just got their last PUBACK usually disconnect at once;
	// give them a moment rather than cutting them off mid-goodbye.
	grace := time.NewTimer(disconnectGrace)
	defer grace.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for atomic.LoadInt64(&b.server.Info.ClientsConnected) > 0 {
		select {
		case <-tick.C:
		case <-grace.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	_ = b.server.Close()
	return err
}

// disconnectGrace is how long a draining broker waits for its clients to
// disconnect on their own.
const disconnectGrace = time.Second

// hook is the broker's mochi hook: authentication, ACL and publishing.
type hook struct {
	mqtt.HookBase
	b *broker
}

func (h *hook) ID() string { return "railyard-ingest" }

func (h *hook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish, mqtt.OnPublished:
		return true
	}
	return false
}

// OnConnectAuthenticate takes the MQTT password as the bearer token when
// authentication is on; the user name is free.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	g := h.b.g
	if !g.auth.Enabled() || g.auth.Valid(pk.Connect.Password) {
		return true
	}
	reason := ReasonInvalidToken
	if len(pk.Connect.Password) == 0 {
		reason = ReasonMissingToken
	}
	g.metrics.refused.WithLabelValues(TransportMQTT, reason).Inc()
	g.log.Warn("mqtt connection refused", "reason", reason, "client_id", cl.ID, "remote_addr", cl.Net.Remote)
	return false
}

// OnACLCheck lets clients publish (OnPublish checks the topic, to give a
// specific answer) and not subscribe: the broker is only a way in.
func (h *hook) OnACLCheck(_ *mqtt.Client, _ string, write bool) bool { return write }

// OnPublished runs after mochi sent the acknowledgement of a publish that
// OnPublish accepted.
func (h *hook) OnPublished(*mqtt.Client, packets.Packet) { h.b.inflight.end() }

// OnPublish publishes the message's events and dead letters and returns
// only when Pub/Sub confirmed them; an error makes mochi withhold the
// PUBACK (see refuse).
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	b := h.b
	g := b.g
	start := time.Now()
	if !b.inflight.begin() {
		return h.refuse(cl, pk, codeShuttingDown, "the gateway is shutting down", false)
	}
	game, ok := strings.CutPrefix(pk.TopicName, MQTTTopicPrefix)
	if !ok || game == "" || strings.Contains(game, "/") || len(game) > schemas.MaxStringBytes {
		return h.refuse(cl, pk, codeInvalidTopic, fmt.Sprintf("topic %q is not %s<game>", truncate(pk.TopicName), MQTTTopicPrefix), true)
	}
	if int64(len(pk.Payload)) > g.cfg.MaxBodyBytes {
		return h.refuse(cl, pk, codeTooLarge, fmt.Sprintf("payload of %d bytes is over the limit of %d", len(pk.Payload), g.cfg.MaxBodyBytes), true)
	}
	reqID := "mqtt-" + g.ids.next()
	items, e := ParseBody(payloadFormat(pk), pk.Payload, time.Now())
	if e != nil {
		// An MQTT message cannot be refused for its content without the
		// client resending it forever: keep it as a dead letter instead.
		items = []Item{{Raw: pk.Payload, Err: &schemas.ValidationError{Reason: schemas.Reason(e.Reason), Detail: e.Message}}}
	}
	bt := batch{requestID: reqID, transport: TransportMQTT, items: items, attrs: map[string]string{AttrGame: game}}
	for i := range items {
		if items[i].Err != nil {
			bt.metadata = mqttMetadata(cl, pk, reqID, game, start)
			break
		}
	}
	out, e := g.pub.publish(context.Background(), bt)
	if e != nil {
		return h.refuse(cl, pk, codeOverloaded, e.Message, true)
	}
	if len(out.failed) > 0 {
		return h.refuse(cl, pk, codePublishFailed,
			fmt.Sprintf("%d of %d events were not confirmed by Pub/Sub: %s", len(out.failed), len(items), out.failed[0].Detail), true)
	}
	g.log.LogAttrs(context.Background(), slog.LevelInfo, "message",
		slog.String("request_id", reqID),
		slog.String("transport", TransportMQTT),
		slog.String("client_id", cl.ID),
		slog.String("topic", pk.TopicName),
		slog.Int("qos", int(pk.FixedHeader.Qos)),
		slog.Int("bytes", len(pk.Payload)),
		slog.Int("events", len(items)),
		slog.Int("accepted", out.accepted),
		slog.Int("rejected", len(out.rejected)),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
	return pk, nil
}

// refuse withholds the acknowledgement: an MQTT 5 client publishing at
// QoS 1 gets a PUBACK with a failure reason code, any other is
// disconnected. Nothing of the message is acknowledged, so the client
// still has it and sends it again.
func (h *hook) refuse(cl *mqtt.Client, pk packets.Packet, code packets.Code, msg string, begun bool) (packets.Packet, error) {
	g := h.b.g
	if begun {
		h.b.inflight.end()
	}
	g.metrics.refused.WithLabelValues(TransportMQTT, code.Reason).Inc()
	g.log.Warn("mqtt message refused", "reason", code.Reason, "error", msg, "client_id", cl.ID,
		"topic", pk.TopicName, "packet_id", pk.PacketID, "protocol_version", cl.Properties.ProtocolVersion)
	// (mochi answers a refused QoS 2 publish with a PUBACK, which a QoS 2
	// flow does not expect: those clients are disconnected too.)
	if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos == 1 {
		return pk, code
	}
	cl.Stop(code)
	return pk, packets.ErrRejectPacket
}

// payloadFormat takes the MQTT 5 content type when the client set one,
// else sniffs the payload.
func payloadFormat(pk packets.Packet) Format {
	if f := formatOfMediaType(pk.Properties.ContentType); f != 0 {
		return f
	}
	return SniffFormat(pk.Payload)
}

func mqttMetadata(cl *mqtt.Client, pk packets.Packet, reqID, game string, received time.Time) string {
	m := map[string]string{
		"transport":        TransportMQTT,
		"request_id":       reqID,
		"remote_addr":      cl.Net.Remote,
		"client_id":        cl.ID,
		"username":         string(cl.Properties.Username),
		"topic":            pk.TopicName,
		"game":             game,
		"qos":              strconv.Itoa(int(pk.FixedHeader.Qos)),
		"packet_id":        strconv.Itoa(int(pk.PacketID)),
		"protocol_version": strconv.Itoa(int(cl.Properties.ProtocolVersion)),
		"received_at":      received.UTC().Format(time.RFC3339Nano),
	}
	if ct := pk.Properties.ContentType; ct != "" {
		m["Content-Type"] = ct
	}
	data, _ := json.Marshal(m)
	return string(data)
}

// tcpListener is mochi's TCP listener with one difference: it can stop
// accepting connections without closing those it has, so that a draining
// broker still acknowledges the publishes in flight.
type tcpListener struct {
	id   string
	ln   net.Listener
	log  *slog.Logger
	once sync.Once
}

var _ listeners.Listener = (*tcpListener)(nil)

func (l *tcpListener) ID() string              { return l.id }
func (l *tcpListener) Address() string         { return l.ln.Addr().String() }
func (l *tcpListener) Protocol() string        { return "tcp" }
func (l *tcpListener) Init(*slog.Logger) error { return nil }

func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			if err := establish(l.id, conn); err != nil {
				l.log.Debug("mqtt connection ended", "error", err, "remote_addr", conn.RemoteAddr().String())
			}
		}()
	}
}

func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	l.stopAccepting()
	closeClients(l.id)
}

func (l *tcpListener) stopAccepting() { l.once.Do(func() { _ = l.ln.Close() }) }

// inflight counts publishes between OnPublish and their acknowledgement,
// and lets shutdown wait for them while refusing new ones.
type inflight struct {
	mu       sync.Mutex
	n        int
	draining bool
	zero     chan struct{}
}

func (f *inflight) begin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draining {
		return false
	}
	f.n++
	return true
}

func (f *inflight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n <= 0 && f.zero != nil {
		f.n = 0
		select {
		case <-f.zero:
		default:
			close(f.zero)
		}
	}
}

// drain refuses further begins and returns a channel closed when none is
// in flight.
func (f *inflight) drain() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.draining = true
	if f.zero == nil {
		f.zero = make(chan struct{})
		if f.n == 0 {
			close(f.zero)
		}
	}
	return f.zero
}

func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// mochiLog passes on mochi's warnings and errors, except its report of a
// refusal by the hook, which the hook logs itself (mochi's version dumps the
// whole packet, payload included). Below warning, mochi logs every
// connection.
type mochiLog struct{ slog.Handler }

func (h mochiLog) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h mochiLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "publish packet error" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h mochiLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return mochiLog{h.Handler.WithAttrs(attrs)}
}

func (h mochiLog) WithGroup(name string) slog.Handler {
	return mochiLog{h.Handler.WithGroup(name)}
}
