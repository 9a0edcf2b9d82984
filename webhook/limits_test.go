package webhook

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs s on a loopback listener through HTTPServer and Listen, as
// `ensign run` does, and returns the address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := s.HTTPServer()
	go srv.Serve(s.Listen(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// stalled opens a connection that sends a POST's headers claiming
// contentLength bytes, then prefix of the body, and nothing more.
func stalled(t *testing.T, addr string, contentLength int, prefix string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nX-Gitea-Delivery: slow-%p\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", Path, c, contentLength, prefix)
	return c
}

// post sends d over HTTP and returns the status code.
func post(t *testing.T, addr string, d delivery) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+Path, bytes.NewReader(d.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Gitea-Event", d.event)
	req.Header.Set("X-Gitea-Delivery", d.id)
	req.Header.Set("X-Gitea-Signature", d.sig)
	req.Header.Set("Content-Type", d.contentType)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSlowBodyIsCutOff(t *testing.T) {
	s, _ := newServer(t, func(c *Config) { c.ReadTimeout = 300 * time.Millisecond })
	addr := serve(t, s)
	c := stalled(t, addr, 1000, "{")
	closed := make(chan error, 1)
	go func() {
		// Trickle a byte now and then, as a slow-loris client does; the
		// server must end the request anyway.
		for i := 0; i < 100; i++ {
			if _, err := c.Write([]byte(" ")); err != nil {
				closed <- err
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		closed <- nil
	}()
	reader := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(c)
		reader <- err
	}()
	select {
	case <-reader:
	case err := <-closed:
		if err == nil {
			t.Fatal("a body trickled in for 5 s was still being read")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server kept a trickling body open for 5 s with a 300 ms read timeout")
	}
}

func TestBodyMemoryFollowsArrivingBytes(t *testing.T) {
	s, rec := newServer(t, func(c *Config) { c.MaxInFlightBytes = 1 << 20 })
	addr := serve(t, s)
	// Ten connections each claim almost the maximum body and send 10 bytes:
	// reserving from Content-Length would take 20 MiB.
	for range 10 {
		stalled(t, addr, DefaultMaxBodyBytes-1, `{"action":`)
	}
	waitUntil(t, "all ten bodies are being read", func() bool { return s.inflight.used.Load() == 10*readChunk })
	if got := s.inflight.used.Load(); got > 10*readChunk {
		t.Fatalf("%d bytes reserved for ten 10-byte bodies", got)
	}
	// A real delivery still goes through.
	if code := post(t, addr, signed(loadPayload(t), "real-1")); code != http.StatusAccepted {
		t.Fatalf("signed delivery next to stalled ones: status %d", code)
	}
	waitFor(t, rec, 1)
}

func TestInFlightBudgetRefusesWhenSpent(t *testing.T) {
	s, rec := newServer(t, func(c *Config) { c.MaxInFlightBytes = 2 * readChunk })
	addr := serve(t, s)
	stalled(t, addr, DefaultMaxBodyBytes-1, "{")
	stalled(t, addr, DefaultMaxBodyBytes-1, "{")
	waitUntil(t, "the budget is spent", func() bool { return s.inflight.used.Load() == 2*readChunk })
	if code := post(t, addr, signed(loadPayload(t), "real-2")); code != http.StatusServiceUnavailable {
		t.Fatalf("delivery with the body budget spent: status %d, want 503", code)
	}
	if rec.count() != 0 {
		t.Fatal("a refused delivery was handled")
	}
}

func TestConnectionsAreCapped(t *testing.T) {
	s, _ := newServer(t, func(c *Config) { c.MaxConns = 2 })
	addr := serve(t, s)
	a := stalled(t, addr, 100, "")
	stalled(t, addr, 100, "")
	done := make(chan int, 1)
	go func() { done <- post(t, addr, signed(loadPayload(t), "capped-1")) }()
	select {
	case code := <-done:
		t.Fatalf("a third connection was served (status %d) while two were open with MaxConns 2", code)
	case <-time.After(300 * time.Millisecond):
	}
	a.Close()
	select {
	case code := <-done:
		if code != http.StatusAccepted {
			t.Fatalf("status %d once a connection freed up", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not served after another closed")
	}
}

func TestMalformedDeliveryIDs(t *testing.T) {
	s, rec := newServer(t, nil)
	payload := loadPayload(t)
	for name, id := range map[string]string{
		"500 KB":   strings.Repeat("a", 500<<10),
		"65 chars": strings.Repeat("a", 65),
		"newline":  "abc\ndef",
		"spaces":   "a b",
		"unicode":  "déjà-vu",
	} {
		t.Run(name, func(t *testing.T) {
			if w := signed(payload, id).send(s); w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", w.Code)
			}
		})
	}
	if n := len(s.seen.index); n != 0 {
		t.Fatalf("%d malformed delivery ids kept in the replay set", n)
	}
	if w := signed(payload, "0f8c6a8e-2b1d-4d6e-9b9b-6c1b2a3d4e5f").send(s); w.Code != http.StatusAccepted {
		t.Fatalf("a UUID delivery id: status %d", w.Code)
	}
	waitFor(t, rec, 1)
}

// lineCounter counts and keeps log lines.
type lineCounter struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(p))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		l.lines = append(l.lines, sc.Text())
	}
	return len(p), nil
}

func TestUnauthenticatedNoiseIsSampledAndBounded(t *testing.T) {
	logs := &lineCounter{}
	s, _ := newServer(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	payload := loadPayload(t)
	for i := range 100 {
		d := signed(payload, fmt.Sprintf("bad-%d", i))
		d.sig = strings.Repeat("0", 64)
		if w := d.send(s); w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", w.Code)
		}
		long := signed(payload, strings.Repeat("x", 10<<10))
		long.send(s)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.lines) == 0 || len(logs.lines) > 2 {
		t.Fatalf("200 unauthenticated rejections in under a second wrote %d log lines, want 1 or 2:\n%s", len(logs.lines), strings.Join(logs.lines, "\n"))
	}
	for _, l := range logs.lines {
		if len(l) > 400 {
			t.Fatalf("log line of %d bytes for an unauthenticated request", len(l))
		}
	}
}

func TestSamplerCountsSuppressed(t *testing.T) {
	s := sampler{every: time.Second}
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	if ok, n := s.allow(t0); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for i := range 5 {
		if ok, _ := s.allow(t0.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("line %d within the second was let through", i)
		}
	}
	if ok, n := s.allow(t0.Add(1500 * time.Millisecond)); !ok || n != 5 {
		t.Fatalf("after the second: %v, suppressed %d, want true 5", ok, n)
	}
}
