package webhook

import (
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults of the limits that apply before a delivery is authenticated.
const (
	// DefaultMaxInFlightBytes bounds the bodies of all deliveries being read
	// at once, whoever sends them.
	DefaultMaxInFlightBytes = 16 << 20
	// DefaultReadTimeout bounds reading one request, headers and body: a
	// body trickled in byte by byte is cut off.
	DefaultReadTimeout = 15 * time.Second
	// DefaultMaxConns bounds open connections; further ones wait in the
	// kernel's accept queue until one closes.
	DefaultMaxConns = 128
	// maxHeaderBytes bounds a request's headers (Gitea sends about 1 KiB).
	maxHeaderBytes = 16 << 10
	// readChunk is how much of a body is reserved and read at a time, so
	// memory follows the bytes that really arrive, never Content-Length.
	readChunk = 32 << 10
	// maxDeliveryID bounds X-Gitea-Delivery (Gitea sends a 36-character UUID).
	maxDeliveryID = 64
)

// HTTPServer returns the http.Server to serve s on: read, write and idle
// timeouts and a header size limit, so no connection can hold memory or a
// goroutine for long before it is authenticated. Serve it on Listen's
// listener to also cap the connections.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: min(5*time.Second, s.cfg.ReadTimeout),
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.ReadTimeout + 15*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// Listen wraps ln so that at most Config.MaxConns connections are open at
// once.
func (s *Server) Listen(ln net.Listener) net.Listener {
	return netutil.LimitListener(ln, s.cfg.MaxConns)
}

// budget is a byte count shared by every request being read.
type budget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes, reporting false (and reserving nothing) when that
// would exceed the budget.
func (b *budget) take(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (b *budget) give(n int64) { b.used.Add(-n) }

// Errors of readBody.
var (
	errTooLarge = errors.New("payload too large")
	errBusy     = errors.New("too many deliveries are being read; redeliver later")
)

// readBody reads at most limit bytes of r, reserving them from b chunk by
// chunk as they arrive. The caller gives back the returned reservation once
// it is done with the body.
func readBody(r io.Reader, limit int64, b *budget) (body []byte, reserved int64, err error) {
	for {
		if int64(len(body)) == reserved {
			n := min(readChunk, limit+1-reserved)
			if n <= 0 {
				return body, reserved, errTooLarge
			}
			if !b.take(n) {
				return body, reserved, errBusy
			}
			reserved += n
			body = slices.Grow(body, int(n))
		}
		m, rerr := r.Read(body[len(body):reserved])
		body = body[:len(body)+m]
		if int64(len(body)) > limit {
			return body, reserved, errTooLarge
		}
		if rerr == io.EOF {
			return body, reserved, nil
		}
		if rerr != nil {
			return body, reserved, rerr
		}
	}
}

// validDelivery reports whether id looks like a Gitea delivery id: a UUID,
// or at least a short token of letters, digits and dashes. The id is not
// covered by the signature, so it is checked before it is logged or kept.
func validDelivery(id string) bool {
	if id == "" || len(id) > maxDeliveryID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// sampler lets through one log line per interval for a kind of noise that
// anyone can cause (bad signatures, oversized bodies), and counts the rest
// so the next line says how many were suppressed.
type sampler struct {
	mu         sync.Mutex
	every      time.Duration
	last       time.Time
	suppressed int
}

// allow reports whether to log now and how many lines were suppressed since
// the last one logged.
func (s *sampler) allow(now time.Time) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.IsZero() && now.Sub(s.last) < s.every {
		s.suppressed++
		return false, 0
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	return true, n
}

// bounded returns s cut to n bytes, with control characters replaced, for
// logging values that come from outside.
func bounded(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	out := []byte(s)
	for i, c := range out {
		if c < ' ' || c == 0x7f {
			out[i] = '?'
		}
	}
	return string(out)
}
