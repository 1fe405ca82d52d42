package ingest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults of Config.
const (
	DefaultHTTPAddr         = "127.0.0.1:8080"
	DefaultTopic            = "game-events"
	DefaultDeadLetterTopic  = "game-events-dead-letters"
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxOutstanding   = 20_000
	DefaultBackpressureWait = 250 * time.Millisecond
	DefaultPublishTimeout   = 30 * time.Second
	DefaultReadyTimeout     = 2 * time.Second
	DefaultBatchDelay       = time.Millisecond
	DefaultBatchCount       = 500
	DefaultDirectPublishMin = 32
)

// Config configures a Gateway. Zero values take the defaults above.
type Config struct {
	// Topic and DeadLetterTopic are topic IDs in the Pub/Sub client's
	// project, or full names "projects/P/topics/T".
	Topic, DeadLetterTopic string
	// HTTPAddr is the HTTP listen address; port 0 picks a free port.
	HTTPAddr string
	// MQTTAddr is the MQTT broker's listen address; empty: no broker.
	MQTTAddr string
	// MaxBodyBytes bounds a request body, after decompression, and an MQTT
	// payload.
	MaxBodyBytes int64
	// AuthTokens, when not empty, are the bearer tokens (HTTP) and MQTT
	// passwords the gateway accepts.
	AuthTokens []string
	// TLSCertFile and TLSKeyFile, when set, serve HTTP and MQTT over TLS.
	TLSCertFile, TLSKeyFile string
	// MaxOutstanding bounds the messages handed to Pub/Sub and not yet
	// confirmed; BackpressureWait is how long a request waits for capacity
	// before it is refused with 429.
	MaxOutstanding   int
	BackpressureWait time.Duration
	// PublishTimeout is how long a request waits for Pub/Sub to confirm its
	// publishes before it is answered 503.
	PublishTimeout time.Duration
	// ReadyTimeout bounds the topic check of /readyz.
	ReadyTimeout time.Duration
	// BatchDelay and BatchCount are the Pub/Sub client's batching settings
	// (PublishSettings.DelayThreshold and CountThreshold).
	BatchDelay time.Duration
	BatchCount int
	// DirectPublishMin is the number of valid events from which a request
	// publishes them in Publish RPCs of its own (at most 1000 messages
	// each) instead of through the client's bundler, which spends a
	// goroutine hand-off, a result, a channel and a batching delay on every
	// message. Smaller requests (single events, most MQTT messages) go
	// direct too while fewer than 8 messages are in flight, and otherwise
	// through the bundler, which gathers them across requests. Negative:
	// always the bundler.
	DirectPublishMin int
	// InstanceID names this gateway process in dead letters (run_id);
	// default "ingest-<host>-<pid>".
	InstanceID string
	// Logger receives the JSON logs; default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = DefaultDeadLetterTopic
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = DefaultMaxOutstanding
	}
	if c.BackpressureWait == 0 {
		c.BackpressureWait = DefaultBackpressureWait
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.BatchDelay == 0 {
		c.BatchDelay = DefaultBatchDelay
	}
	if c.BatchCount == 0 {
		c.BatchCount = DefaultBatchCount
	}
	if c.DirectPublishMin == 0 {
		c.DirectPublishMin = DefaultDirectPublishMin
	}
	if c.InstanceID == "" {
		host, _ := os.Hostname()
		c.InstanceID = "ingest-" + host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max body bytes %d must be positive", c.MaxBodyBytes))
	}
	if c.MaxOutstanding < 0 {
		errs = append(errs, fmt.Errorf("max outstanding %d must be positive", c.MaxOutstanding))
	}
	if c.BackpressureWait < 0 || c.PublishTimeout < 0 || c.ReadyTimeout < 0 || c.BatchDelay < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if c.BatchCount < 0 || c.BatchCount > pubsub.MaxPublishRequestCount {
		errs = append(errs, fmt.Errorf("batch count %d must be 1..%d", c.BatchCount, pubsub.MaxPublishRequestCount))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate and a key file"))
	}
	if c.Topic == c.DeadLetterTopic {
		errs = append(errs, fmt.Errorf("the dead-letter topic must differ from the events topic %q", c.Topic))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// Gateway is the ingest gateway: an HTTP server and optionally an MQTT
// broker in front of two Pub/Sub publishers.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	client  *pubsub.Client
	topics  [2]string // full names: events, dead letters
	pub     *publisher
	metrics *Metrics
	auth    *Authenticator
	tls     *tls.Config

	ids      *requestIDs
	draining atomic.Bool

	httpSrv *http.Server
	httpLn  net.Listener
	httpErr chan error
	mqtt    *broker

	stopOnce sync.Once
}

// New builds a gateway that publishes through client. It does not listen
// yet: see Start.
func New(cfg Config, client *pubsub.Client) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Gateway{
		cfg:    cfg,
		log:    cfg.Logger,
		client: client,
		topics: [2]string{fullTopic(client.Project(), cfg.Topic), fullTopic(client.Project(), cfg.DeadLetterTopic)},
		auth:   NewAuthenticator(cfg.AuthTokens),
		ids:    newRequestIDs(),
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ingest: TLS certificate: %w", err)
		}
		g.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	settings := pubsub.DefaultPublishSettings
	settings.DelayThreshold = cfg.BatchDelay
	settings.CountThreshold = cfg.BatchCount
	settings.Timeout = cfg.PublishTimeout
	// The gateway bounds outstanding messages itself, so that it can answer
	// 429 instead of blocking; the client's own flow control stays out of
	// the way.
	settings.FlowControlSettings.LimitExceededBehavior = pubsub.FlowControlIgnore
	events := client.Publisher(g.topics[0])
	events.PublishSettings = settings
	deadLetters := client.Publisher(g.topics[1])
	deadLetters.PublishSettings = settings
	g.pub = &publisher{
		events:      events,
		deadLetters: deadLetters,
		eventsTopic: g.topics[0],
		publishRPC:  client.TopicAdminClient.Publish,
		directMin:   cfg.DirectPublishMin,
		runID:       cfg.InstanceID,
		capacity:    int64(cfg.MaxOutstanding),
		sem:         semaphore.NewWeighted(int64(cfg.MaxOutstanding)),
		wait:        cfg.BackpressureWait,
		timeout:     cfg.PublishTimeout,
		now:         time.Now,
	}
	g.metrics = newMetrics(func() float64 { return float64(g.pub.outstanding.Load()) })
	g.pub.metrics = g.metrics
	return g, nil
}

func fullTopic(project, topic string) string {
	if strings.HasPrefix(topic, "projects/") {
		return topic
	}
	return "projects/" + project + "/topics/" + topic
}

// Topics returns the full names of the events and the dead-letter topics.
func (g *Gateway) Topics() (events, deadLetters string) { return g.topics[0], g.topics[1] }

// Metrics returns the gateway's metrics (their registry is served on
// /metrics).
func (g *Gateway) Metrics() *Metrics { return g.metrics }

// Stats are running totals since New.
type Stats struct {
	// Accepted counts valid events Pub/Sub confirmed.
	Accepted int64
	// DeadLettered counts rejected events confirmed on the dead-letter topic.
	DeadLettered int64
	// PublishFailures counts messages whose publish failed or timed out.
	PublishFailures int64
	// Outstanding is the number of messages awaiting confirmation now.
	Outstanding int64
}

// Stats returns the running totals.
func (g *Gateway) Stats() Stats {
	return Stats{
		Accepted:        g.pub.accepted.Load(),
		DeadLettered:    g.pub.deadLettered.Load(),
		PublishFailures: g.pub.failures.Load(),
		Outstanding:     g.pub.outstanding.Load(),
	}
}

// Start listens on the HTTP address (and the MQTT address, if set) and
// serves in the background until Shutdown.
func (g *Gateway) Start() error {
	ln, err := net.Listen("tcp", g.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("ingest: listen on %s: %w", g.cfg.HTTPAddr, err)
	}
	g.httpLn = ln
	g.httpSrv = &http.Server{
		Handler:           g.Handler(),
		TLSConfig:         g.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// A request may wait PublishTimeout for Pub/Sub before it answers.
		WriteTimeout: g.cfg.PublishTimeout + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	if g.cfg.MQTTAddr != "" {
		b, err := newBroker(g, g.cfg.MQTTAddr)
		if err != nil {
			_ = ln.Close()
			return err
		}
		g.mqtt = b
	}
	g.httpErr = make(chan error, 1)
	go func() {
		var err error
		if g.tls != nil {
			err = g.httpSrv.ServeTLS(ln, "", "")
		} else {
			err = g.httpSrv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		g.httpErr <- err
	}()
	g.log.Info("ingest gateway listening", "http", g.HTTPURL(), "mqtt", g.MQTTAddr(),
		"topic", g.topics[0], "dead_letter_topic", g.topics[1], "auth", g.auth.Enabled(), "tls", g.tls != nil)
	return nil
}

// HTTPAddr is the address the HTTP server listens on ("" before Start).
func (g *Gateway) HTTPAddr() string {
	if g.httpLn == nil {
		return ""
	}
	return g.httpLn.Addr().String()
}

// HTTPURL is the base URL of the HTTP server, http:// or https://.
func (g *Gateway) HTTPURL() string {
	scheme := "http"
	if g.tls != nil {
		scheme = "https"
	}
	return scheme + "://" + g.HTTPAddr()
}

// MQTTAddr is the address the MQTT broker listens on ("" when off).
func (g *Gateway) MQTTAddr() string {
	if g.mqtt == nil {
		return ""
	}
	return g.mqtt.addr()
}

// CheckTopics reports whether both topics exist, asking Pub/Sub with the
// ready timeout. The error's reason is topic_not_found or
// pubsub_unreachable.
func (g *Gateway) CheckTopics(ctx context.Context) *RequestError {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ReadyTimeout)
	defer cancel()
	for _, t := range g.topics {
		_, err := g.client.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: t})
		if err == nil {
			continue
		}
		if status.Code(err) == codes.NotFound {
			return &RequestError{Status: http.StatusServiceUnavailable, Reason: ReasonTopicNotFound,
				Message: "topic " + t + " does not exist"}
		}
		return &RequestError{Status: http.StatusServiceUnavailable, Reason: ReasonPubSubUnreachable,
			Message: "checking topic " + t + ": " + err.Error()}
	}
	return nil
}

// Shutdown stops the gateway gracefully: /readyz turns 503 and new MQTT
// publishes are refused at once; the HTTP server stops accepting and waits
// for in-flight requests (which wait for their publishes); the MQTT broker
// waits for its in-flight publishes and disconnects its clients; then the
// Pub/Sub publishers are flushed. If ctx ends first, what is still running
// is cut off and Shutdown returns ctx's error.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var err error
	g.stopOnce.Do(func() {
		g.draining.Store(true)
		g.log.Info("ingest gateway draining")
		if g.mqtt != nil {
			g.mqtt.drain()
		}
		var errs []error
		if g.httpSrv != nil {
			if e := g.httpSrv.Shutdown(ctx); e != nil {
				errs = append(errs, fmt.Errorf("http: %w", e))
				_ = g.httpSrv.Close()
			}
			if e := <-g.httpErr; e != nil {
				errs = append(errs, fmt.Errorf("http: %w", e))
			}
		}
		if g.mqtt != nil {
			if e := g.mqtt.shutdown(ctx); e != nil {
				errs = append(errs, fmt.Errorf("mqtt: %w", e))
			}
		}
		g.pub.stop()
		err = errors.Join(errs...)
		if err != nil {
			err = fmt.Errorf("ingest: shutdown: %w", err)
		}
		g.log.Info("ingest gateway stopped", "error", err)
	})
	return err
}

// requestIDs makes request ids unique within a process and, thanks to a
// random prefix, across restarts: "<prefix>-<counter>".
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	b := make([]byte, 6)
	_, _ = io.ReadFull(rand.Reader, b)
	return &requestIDs{prefix: hex.EncodeToString(b)}
}

func (r *requestIDs) next() string {
	return r.prefix + "-" + strconv.FormatUint(r.n.Add(1), 10)
}
