package cluster

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCapRetryAfter(t *testing.T) {
	tests := []struct{ sent, got string }{
		{"5", "1"},
		{"1", "1"},
		{"0", "0"},
		{"", ""},
		{"Wed, 21 Oct 2026 07:28:00 GMT", "Wed, 21 Oct 2026 07:28:00 GMT"}, // a date: client-go ignores it
	}
	for _, tt := range tests {
		t.Run(tt.sent, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.sent != "" {
					w.Header().Set("Retry-After", tt.sent)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			defer srv.Close()
			resp, err := (&http.Client{Transport: capRetryAfter{http.DefaultTransport}}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Retry-After"); got != tt.got {
				t.Fatalf("Retry-After %q became %q, want %q", tt.sent, got, tt.got)
			}
		})
	}
}
