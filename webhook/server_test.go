package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var secret = []byte("s3cret-for-tests")

// variant returns payload changed by edit.
func variant(t testing.TB, payload []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// loadPayload returns a pull request comment delivery captured from Gitea
// v1.26.0 (names, numbers and URLs normalized).
func loadPayload(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/pull_request_comment.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder collects handled comment events.
type recorder struct {
	mu     sync.Mutex
	events []CommentEvent
	done   chan struct{}
}

func newRecorder() *recorder { return &recorder{done: make(chan struct{}, 100)} }

func (r *recorder) handle(_ context.Context, ev CommentEvent) error {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.done <- struct{}{}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func newServer(t *testing.T, mutate func(*Config)) (*Server, *recorder) {
	t.Helper()
	rec := newRecorder()
	cfg := Config{
		Secret:   secret,
		BotLogin: "ensign",
		Handlers: Handlers{Comment: rec.handle},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, rec
}

type delivery struct {
	event, id, sig, contentType string
	body                        []byte
}

func signed(body []byte, id string) delivery {
	return delivery{event: EventIssueComment, id: id, sig: Sign(secret, body), contentType: "application/json", body: body}
}

func (d delivery) send(s http.Handler) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(d.body))
	if d.event != "" {
		req.Header.Set("X-Gitea-Event", d.event)
		req.Header.Set("X-Gitea-Event-Type", "pull_request_comment")
	}
	if d.id != "" {
		req.Header.Set("X-Gitea-Delivery", d.id)
	}
	if d.sig != "" {
		req.Header.Set("X-Gitea-Signature", d.sig)
	}
	if d.contentType != "" {
		req.Header.Set("Content-Type", d.contentType)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func waitFor(t *testing.T, rec *recorder, n int) {
	t.Helper()
	for rec.count() < n {
		select {
		case <-rec.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("handled %d events, want %d", rec.count(), n)
		}
	}
}

func TestReceiveStatusCodes(t *testing.T) {
	payload := loadPayload(t)
	edited := variant(t, payload, func(m map[string]any) { m["action"] = "edited" })
	onIssue := variant(t, payload, func(m map[string]any) {
		m["is_pull"] = false
		delete(m, "pull_request")
		delete(m["issue"].(map[string]any), "pull_request")
	})
	byBot := variant(t, payload, func(m map[string]any) {
		m["comment"].(map[string]any)["user"].(map[string]any)["login"] = "Ensign"
		m["sender"].(map[string]any)["login"] = "Ensign"
	})
	tooBig := append(bytes.Repeat([]byte(" "), 4096), payload...)
	tests := []struct {
		name    string
		d       delivery
		code    int
		handled bool
	}{
		{"valid", signed(payload, "d1"), http.StatusAccepted, true},
		{"no signature", delivery{event: EventIssueComment, id: "d2", contentType: "application/json", body: payload}, http.StatusUnauthorized, false},
		{"wrong signature", func() delivery { d := signed(payload, "d3"); d.sig = Sign([]byte("other"), payload); return d }(), http.StatusUnauthorized, false},
		{"uppercase hex is the same mac", func() delivery { d := signed(payload, "d3b"); d.sig = strings.ToUpper(d.sig); return d }(), http.StatusAccepted, true},
		{"truncated signature", func() delivery { d := signed(payload, "d4"); d.sig = d.sig[:10]; return d }(), http.StatusUnauthorized, false},
		{"signature of other body", func() delivery { d := signed(payload, "d5"); d.body = edited; return d }(), http.StatusUnauthorized, false},
		{"too large", signed(tooBig, "d6"), http.StatusRequestEntityTooLarge, false},
		{"malformed json", signed([]byte(`{"action": "created", "comment": `), "d7"), http.StatusBadRequest, false},
		{"missing fields", signed([]byte(`{"action": "created", "is_pull": true}`), "d8"), http.StatusBadRequest, false},
		{"missing delivery id", signed(payload, ""), http.StatusBadRequest, false},
		{"form content type", func() delivery {
			d := signed(payload, "d9")
			d.contentType = "application/x-www-form-urlencoded"
			return d
		}(), http.StatusBadRequest, false},
		{"unknown event", func() delivery { d := signed(payload, "d10"); d.event = "release"; return d }(), http.StatusAccepted, false},
		{"no event header", func() delivery { d := signed(payload, "d11"); d.event = ""; return d }(), http.StatusAccepted, false},
		{"edited comment", signed(edited, "d12"), http.StatusAccepted, false},
		{"comment on issue", signed(onIssue, "d13"), http.StatusAccepted, false},
		{"comment by bot", signed(byBot, "d14"), http.StatusAccepted, false},
		{"pull request without handler", func() delivery { d := signed(payload, "d15"); d.event = EventPullRequest; return d }(), http.StatusAccepted, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rec := newServer(t, func(c *Config) { c.MaxBodyBytes = int64(len(payload)) + 100 })
			w := tt.d.send(s)
			if w.Code != tt.code {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.code)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if got := rec.count() == 1; got != tt.handled {
				t.Fatalf("handled = %v, want %v", got, tt.handled)
			}
		})
	}
}

func TestTooLargeWithoutContentLength(t *testing.T) {
	s, rec := newServer(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	body := append(bytes.Repeat([]byte(" "), 2048), loadPayload(t)...)
	req := httptest.NewRequest(http.MethodPost, Path, io.MultiReader(bytes.NewReader(body)))
	req.ContentLength = -1 // as with chunked transfer encoding
	req.Header.Set("X-Gitea-Event", EventIssueComment)
	req.Header.Set("X-Gitea-Delivery", "big")
	req.Header.Set("X-Gitea-Signature", Sign(secret, body))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", w.Code)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 0 {
		t.Fatal("oversized delivery was handled")
	}
}

func TestReceiveDecodesComment(t *testing.T) {
	s, rec := newServer(t, nil)
	if w := signed(loadPayload(t), "abc").send(s); w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	waitFor(t, rec, 1)
	want := CommentEvent{
		Delivery: "abc", Owner: "acme", Repo: "gitops", Number: 3, CommentID: 42, Author: "alice",
		Body: "Canary latency looks odd in eu-west.\n\n/hold waiting for the SRE review\n",
	}
	if got := rec.events[0]; got != want {
		t.Fatalf("event\n got %+v\nwant %+v", got, want)
	}
}

func TestReplayIgnored(t *testing.T) {
	s, rec := newServer(t, nil)
	d := signed(loadPayload(t), "same-id")
	for i := range 3 {
		w := d.send(s)
		if w.Code != http.StatusAccepted {
			t.Fatalf("delivery %d: status %d", i, w.Code)
		}
		if i > 0 && !strings.Contains(w.Body.String(), "duplicate") {
			t.Fatalf("delivery %d: body %q, want duplicate", i, w.Body.String())
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := rec.count(); n != 1 {
		t.Fatalf("handled %d times, want 1", n)
	}
}

func TestDedupBounded(t *testing.T) {
	set := newSeenSet(3, time.Minute)
	now := time.Now()
	for _, id := range []string{"a", "b", "c", "d"} {
		if !set.add(id, now) {
			t.Fatalf("%s reported as seen", id)
		}
	}
	if !set.add("a", now) {
		t.Fatal("a should have been evicted by size")
	}
	if set.add("d", now) {
		t.Fatal("d should still be remembered")
	}
	if !set.add("d", now.Add(2*time.Minute)) {
		t.Fatal("d should have expired")
	}
	if len(set.index) != set.order.Len() || set.order.Len() > 3 {
		t.Fatalf("index %d, order %d", len(set.index), set.order.Len())
	}
}

func TestQueueFullRefusesAndForgetsDelivery(t *testing.T) {
	release := make(chan struct{})
	var handled atomic.Int32
	s, _ := newServer(t, func(c *Config) {
		c.Workers, c.QueueSize = 1, 1
		c.Handlers.Comment = func(ctx context.Context, ev CommentEvent) error {
			<-release
			handled.Add(1)
			return nil
		}
	})
	payload := loadPayload(t)
	// The worker takes the first; the second waits in the queue. Which of
	// the next ones is refused depends on timing, so retry until one is.
	if w := signed(payload, "q1").send(s); w.Code != http.StatusAccepted {
		t.Fatalf("q1: %d", w.Code)
	}
	refused := ""
	for i := 2; i < 50 && refused == ""; i++ {
		id := fmt.Sprintf("q%d", i)
		if w := signed(payload, id).send(s); w.Code == http.StatusServiceUnavailable {
			refused = id
		}
		time.Sleep(time.Millisecond)
	}
	if refused == "" {
		t.Fatal("no delivery was refused with a full queue")
	}
	close(release)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The refused id was forgotten, so a redelivery of it is not a replay.
	if s.seen.add(refused, time.Now()) == false {
		t.Fatal("refused delivery id is still remembered")
	}
}

func TestShutdownDrainsInFlight(t *testing.T) {
	started := make(chan struct{})
	var finished atomic.Bool
	s, _ := newServer(t, func(c *Config) {
		c.Handlers.Comment = func(ctx context.Context, ev CommentEvent) error {
			close(started)
			select {
			case <-time.After(200 * time.Millisecond):
				finished.Store(true)
			case <-ctx.Done():
			}
			return nil
		}
	})
	if w := signed(loadPayload(t), "x").send(s); w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	<-started
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Shutdown returned before the running handler finished")
	}
	if w := signed(loadPayload(t), "y").send(s); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("delivery after shutdown: status %d, want 503", w.Code)
	}
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz after shutdown: %d", w.Code)
	}
}

func TestShutdownDeadlineCancelsHandlers(t *testing.T) {
	started := make(chan struct{})
	var cancelled atomic.Bool
	s, _ := newServer(t, func(c *Config) {
		c.Handlers.Comment = func(ctx context.Context, ev CommentEvent) error {
			close(started)
			<-ctx.Done()
			cancelled.Store(true)
			return ctx.Err()
		}
	})
	signed(loadPayload(t), "x").send(s)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if !cancelled.Load() {
		t.Fatal("handler context was not cancelled")
	}
}

func TestHandlerPanicDoesNotKillWorker(t *testing.T) {
	var calls atomic.Int32
	s, _ := newServer(t, func(c *Config) {
		c.Workers = 1
		c.Handlers.Comment = func(ctx context.Context, ev CommentEvent) error {
			if calls.Add(1) == 1 {
				panic("boom")
			}
			return nil
		}
	})
	signed(loadPayload(t), "p1").send(s)
	signed(loadPayload(t), "p2").send(s)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2", calls.Load())
	}
}

func TestHealthAndReady(t *testing.T) {
	notReady := errors.New("caches not synced")
	var ready atomic.Bool
	s, _ := newServer(t, func(c *Config) {
		c.Ready = func() error {
			if ready.Load() {
				return nil
			}
			return notReady
		}
	})
	get := func(path string) int {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code
	}
	if c := get("/healthz"); c != http.StatusOK {
		t.Fatalf("healthz %d", c)
	}
	if c := get("/readyz"); c != http.StatusServiceUnavailable {
		t.Fatalf("readyz before ready %d", c)
	}
	ready.Store(true)
	if c := get("/readyz"); c != http.StatusOK {
		t.Fatalf("readyz when ready %d", c)
	}
	if c := get(Path); c != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s = %d, want 405", Path, c)
	}
}

func TestNewValidates(t *testing.T) {
	ok := Config{Secret: secret, BotLogin: "ensign", Handlers: Handlers{Comment: newRecorder().handle}}
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"no secret", func(c *Config) { c.Secret = nil }},
		{"no bot login", func(c *Config) { c.BotLogin = "" }},
		{"no comment handler", func(c *Config) { c.Handlers.Comment = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mutate(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// Every answer is reported to Config.Observe with the event as sent.
func TestObserveNamesEveryAnswer(t *testing.T) {
	payload, err := readPayload()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	s, _ := newServer(t, func(c *Config) {
		c.MaxBodyBytes = int64(len(payload)) + 100
		c.Observe = func(event string, r Result) { got = append(got, event+" "+string(r)) }
	})
	badSig := signed(payload, "o3")
	badSig.sig = Sign([]byte("another secret"), payload)
	tooBig := signed(append(slices.Clone(payload), make([]byte, 200)...), "o4")
	push := signed([]byte(`{}`), "o5")
	push.event = "release"
	noID := signed(payload, "")
	for _, d := range []delivery{signed(payload, "o1"), signed(payload, "o1"), badSig, tooBig, push, noID} {
		d.send(s)
	}
	want := []string{"issue_comment accepted", "issue_comment replay", "issue_comment bad_signature", "issue_comment too_large", "release ignored", "issue_comment bad_request"}
	if !slices.Equal(got, want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
}
