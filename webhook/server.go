package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ensignbot/ensign/internal/logctx"
)

// Defaults for zero Config fields.
const (
	DefaultMaxBodyBytes   = 2 << 20
	DefaultWorkers        = 4
	DefaultQueueSize      = 256
	DefaultDedupSize      = 10000
	DefaultDedupTTL       = 24 * time.Hour
	DefaultHandlerTimeout = 10 * time.Minute
)

// Path is where Gitea must deliver.
const Path = "/webhooks/gitea"

// Handlers receive the events. Comment is required; PullRequest and Push are
// optional, and their events are acknowledged and dropped when nil. Each call
// gets a context that ends after Config.HandlerTimeout or when Shutdown gives
// up waiting. An error is logged; Gitea is not asked to redeliver.
type Handlers struct {
	Comment     func(ctx context.Context, ev CommentEvent) error
	PullRequest func(ctx context.Context, ev PullRequestEvent) error
	Push        func(ctx context.Context, ev PushEvent) error
}

// Config configures a Server.
type Config struct {
	// Secret is the webhook secret configured in Gitea; required.
	Secret []byte
	// BotLogin is ensign's own Gitea account; its comments are ignored.
	// Required, so ensign never answers itself.
	BotLogin string
	Handlers Handlers
	// MaxBodyBytes larger bodies get 413; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Workers handle events concurrently; zero means DefaultWorkers.
	Workers int
	// QueueSize events may wait for a worker; when full, deliveries get 503.
	QueueSize int
	// DedupSize and DedupTTL bound the remembered delivery ids.
	DedupSize int
	DedupTTL  time.Duration
	// HandlerTimeout bounds one handler call; zero means DefaultHandlerTimeout.
	HandlerTimeout time.Duration
	// Ready, if set, is consulted by GET /readyz in addition to the server's
	// own state (for example, "caches synced").
	Ready func() error
	// MaxInFlightBytes bounds the bodies of all requests being read at once;
	// zero means DefaultMaxInFlightBytes. Past it deliveries get 503.
	MaxInFlightBytes int64
	// ReadTimeout bounds reading one request (see HTTPServer); zero means
	// DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxConns bounds the open connections (see Listen); zero means
	// DefaultMaxConns.
	MaxConns int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Observe, if set, is told what each delivery was answered: its
	// X-Gitea-Event header (as sent, bounded) and the Result.
	Observe func(event string, r Result)
	// QueueDepth, if set, is told the work queue's depth as it changes.
	QueueDepth func(n int)
}

// Server is the webhook receiver: an http.Handler serving POST Path,
// GET /healthz and GET /readyz, with a bounded worker pool behind it.
type Server struct {
	cfg  Config
	log  *slog.Logger
	mux  *http.ServeMux
	seen *seenSet
	// inflight is the byte budget of bodies being read; unauth samples
	// the log lines of unauthenticated rejections.
	inflight *budget
	unauth   sampler

	// base is the server-lifetime context of the workers: it outlives any
	// request and is cancelled only when Shutdown gives up waiting.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.RWMutex // guards closing and sends on queue
	closing bool
	queue   chan job
	workers sync.WaitGroup
}

type job struct {
	delivery string
	event    string
	run      func(ctx context.Context) error
}

// New validates cfg and starts the worker pool. Call Shutdown to stop it.
func New(cfg Config) (*Server, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook secret is empty")
	}
	if cfg.BotLogin == "" {
		return nil, errors.New("webhook bot login is empty")
	}
	if cfg.Handlers.Comment == nil {
		return nil, errors.New("webhook comment handler is nil")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.DedupSize <= 0 {
		cfg.DedupSize = DefaultDedupSize
	}
	if cfg.DedupTTL <= 0 {
		cfg.DedupTTL = DefaultDedupTTL
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = DefaultHandlerTimeout
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		inflight: &budget{max: cfg.MaxInFlightBytes},
		unauth:   sampler{every: time.Second},
		cfg:      cfg,
		log:      cfg.Logger,
		seen:     newSeenSet(cfg.DedupSize, cfg.DedupTTL),
		queue:    make(chan job, cfg.QueueSize),
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+Path, s.receive)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, "ok") })
	s.mux.HandleFunc("GET /readyz", s.ready)
	for range cfg.Workers {
		s.workers.Add(1)
		go s.work()
	}
	return s, nil
}

// ServeHTTP routes to the webhook, health and readiness endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Shutdown stops accepting deliveries (they get 503, so Gitea records them as
// failed and they can be redelivered), then waits for queued and running
// events to finish. If ctx ends first, running handlers' contexts are
// cancelled, Shutdown waits for them to return and reports ctx's error.
// Queued events not yet started are then dropped (and logged).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.queue)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return fmt.Errorf("shut down webhook workers: %w", ctx.Err())
	}
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	s.mu.RLock()
	closing := s.closing
	s.mu.RUnlock()
	if closing {
		reply(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			reply(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	reply(w, http.StatusOK, "ready")
}

// receive answers a delivery: it checks and decodes it, then records its id
// and queues it.
func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	event := bounded(r.Header.Get("X-Gitea-Event"), 40)
	j, code, msg := s.check(w, r)
	if j == nil {
		s.observe(event, rejection(code, msg))
		reply(w, code, msg)
		return
	}
	log := s.log.With("delivery", j.delivery, "event", j.event)
	if !s.seen.add(j.delivery, time.Now()) {
		log.Info("webhook replay ignored")
		s.observe(event, ResultReplay)
		reply(w, http.StatusAccepted, "duplicate delivery ignored")
		return
	}
	if res := s.enqueue(*j); res != ResultAccepted {
		s.seen.remove(j.delivery)
		log.Warn("webhook dropped", "result", res)
		s.observe(event, res)
		reply(w, http.StatusServiceUnavailable, "busy, redeliver later")
		return
	}
	s.observe(event, ResultAccepted)
	reply(w, http.StatusAccepted, "accepted")
}

// Result is what the receiver answered a delivery, for Config.Observe.
type Result string

// Delivery results.
const (
	ResultAccepted     Result = "accepted"      // queued for a worker (202)
	ResultIgnored      Result = "ignored"       // verified, nothing to do (202)
	ResultReplay       Result = "replay"        // a delivery id seen before (202)
	ResultBadSignature Result = "bad_signature" // X-Gitea-Signature missing or wrong (401)
	ResultTooLarge     Result = "too_large"     // over the body limit (413)
	ResultBadRequest   Result = "bad_request"   // malformed id, content type or payload (400)
	ResultBusy         Result = "busy"          // the shared body memory budget is spent (503)
	ResultQueueFull    Result = "queue_full"    // no room in the work queue (503)
	ResultShuttingDown Result = "shutting_down" // intake stopped (503)
)

// rejection names the result of a delivery check refused.
func rejection(code int, msg string) Result {
	switch code {
	case http.StatusAccepted:
		return ResultIgnored
	case http.StatusUnauthorized:
		return ResultBadSignature
	case http.StatusRequestEntityTooLarge:
		return ResultTooLarge
	case http.StatusServiceUnavailable:
		return ResultBusy
	}
	return ResultBadRequest
}

func (s *Server) observe(event string, r Result) {
	if s.cfg.Observe != nil {
		s.cfg.Observe(event, r)
	}
}

// check verifies and decodes a delivery without side effects. It returns the
// job to run, or nil and the status and message to answer with. Order
// matters: the size limit and the signature come before anything reads the
// payload.
func (s *Server) check(w http.ResponseWriter, r *http.Request) (*job, int, string) {
	now := time.Now()
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.noise(now, "webhook rejected: payload too large", "content_length", r.ContentLength, "remote", r.RemoteAddr)
		return nil, http.StatusRequestEntityTooLarge, "payload too large"
	}
	delivery := r.Header.Get("X-Gitea-Delivery")
	if !validDelivery(delivery) {
		s.noise(now, "webhook rejected: missing or malformed X-Gitea-Delivery", "length", len(delivery), "remote", r.RemoteAddr)
		return nil, http.StatusBadRequest, "missing or malformed X-Gitea-Delivery (want Gitea's delivery UUID)"
	}
	// Memory follows the bytes that arrive, within a budget shared by all
	// requests being read: Content-Length is only a claim.
	body, reserved, err := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), s.cfg.MaxBodyBytes, s.inflight)
	defer s.inflight.give(reserved)
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &tooBig):
		s.noise(now, "webhook rejected: payload too large", "delivery", delivery, "remote", r.RemoteAddr, "limit", s.cfg.MaxBodyBytes)
		return nil, http.StatusRequestEntityTooLarge, "payload too large"
	case errors.Is(err, errBusy):
		s.noise(now, "webhook refused: too many bodies in flight", "delivery", delivery, "remote", r.RemoteAddr)
		return nil, http.StatusServiceUnavailable, errBusy.Error()
	case err != nil:
		s.noise(now, "webhook rejected: cannot read body", "delivery", delivery, "remote", r.RemoteAddr, "err", err)
		return nil, http.StatusBadRequest, "cannot read body"
	}
	if err := Verify(s.cfg.Secret, body, r.Header.Get("X-Gitea-Signature")); err != nil {
		s.noise(now, "webhook rejected: "+err.Error(), "delivery", delivery, "remote", r.RemoteAddr)
		return nil, http.StatusUnauthorized, err.Error()
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, http.StatusBadRequest, "content type must be application/json (set the webhook's POST content type to application/json)"
	}
	event := bounded(r.Header.Get("X-Gitea-Event"), 40)
	j, why, err := s.decode(event, delivery, body)
	if err != nil {
		s.log.Warn("webhook payload rejected", "delivery", delivery, "event", event, "err", err)
		return nil, http.StatusBadRequest, err.Error()
	}
	if j == nil {
		s.log.Debug("webhook ignored", "delivery", delivery, "event", event, "reason", why)
		return nil, http.StatusAccepted, "ignored: " + why
	}
	return j, 0, ""
}

// noise logs a rejection anyone can cause without the secret, at most once
// per second, with bounded fields and a count of the lines suppressed.
func (s *Server) noise(now time.Time, msg string, args ...any) {
	ok, suppressed := s.unauth.allow(now)
	if !ok {
		return
	}
	for i := 1; i < len(args); i += 2 {
		if v, isString := args[i].(string); isString {
			args[i] = bounded(v, 80)
		}
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	s.log.Warn(msg, args...)
}

// decode turns a verified payload into a job, or into nil and the reason it
// is ignored.
func (s *Server) decode(event, delivery string, body []byte) (*job, string, error) {
	h := s.cfg.Handlers
	switch event {
	case EventIssueComment:
		ev, relevant, err := DecodeComment(delivery, body)
		if err != nil || !relevant {
			return nil, "not a new pull request comment", err
		}
		if strings.EqualFold(ev.Author, s.cfg.BotLogin) {
			return nil, "comment by ensign itself", nil
		}
		return &job{delivery, event, func(ctx context.Context) error { return h.Comment(ctx, ev) }}, "", nil
	case EventPullRequest:
		if h.PullRequest == nil {
			return nil, "no pull request handler", nil
		}
		ev, err := DecodePullRequest(delivery, body)
		if err != nil {
			return nil, "", err
		}
		return &job{delivery, event, func(ctx context.Context) error { return h.PullRequest(ctx, ev) }}, "", nil
	case EventPush:
		if h.Push == nil {
			return nil, "no push handler", nil
		}
		ev, err := DecodePush(delivery, body)
		if err != nil {
			return nil, "", err
		}
		return &job{delivery, event, func(ctx context.Context) error { return h.Push(ctx, ev) }}, "", nil
	}
	return nil, fmt.Sprintf("event %q is not handled", event), nil
}

func (s *Server) enqueue(j job) Result {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closing {
		return ResultShuttingDown
	}
	select {
	case s.queue <- j:
		s.depth()
		return ResultAccepted
	default:
		return ResultQueueFull
	}
}

// depth reports the work queue's depth to Config.QueueDepth.
func (s *Server) depth() {
	if s.cfg.QueueDepth != nil {
		s.cfg.QueueDepth(len(s.queue))
	}
}

func (s *Server) work() {
	defer s.workers.Done()
	for j := range s.queue {
		if s.base.Err() != nil {
			s.log.Warn("webhook event dropped at shutdown", "delivery", j.delivery, "event", j.event)
			continue
		}
		s.depth()
		s.run(j)
	}
}

func (s *Server) run(j job) {
	log := s.log.With("delivery", j.delivery, "event", j.event)
	ctx, cancel := context.WithTimeout(s.base, s.cfg.HandlerTimeout)
	defer cancel()
	ctx = logctx.With(ctx, log)
	defer func() {
		if p := recover(); p != nil {
			log.Error("webhook handler panicked", "panic", fmt.Sprint(p))
		}
	}()
	start := time.Now()
	if err := j.run(ctx); err != nil {
		log.Error("webhook handler failed", "err", err, "duration", time.Since(start))
		return
	}
	log.Debug("webhook handled", "duration", time.Since(start))
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}
