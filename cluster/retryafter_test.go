package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
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

// A list made with CallerRetries gets a starting API server's 429 back at
// once, as an error the caller can tell; without it, client-go waits the
// (capped) Retry-After and tries again itself.
func TestCallerRetries(t *testing.T) {
	for _, own := range []bool{true, false} {
		t.Run(fmt.Sprintf("caller retries %v", own), func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", "5")
					w.WriteHeader(http.StatusTooManyRequests)
					fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"The apiserver hasn't been fully initialized yet, please try again later.","reason":"TooManyRequests","code":429}`)
					return
				}
				fmt.Fprint(w, `{"apiVersion":"flagger.app/v1beta1","kind":"CanaryList","metadata":{},"items":[]}`)
			}))
			defer srv.Close()
			c, err := FromConfig("test", &rest.Config{Host: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if own {
				ctx = CallerRetries(ctx)
			}
			_, err = c.Dynamic.Resource(CanaryGVR).Namespace("apps").List(ctx, metav1.ListOptions{})
			switch {
			case own && (!apierrors.IsTooManyRequests(err) || calls.Load() != 1):
				t.Fatalf("caller retries: %d requests, err %v; want 1 request and the 429 back", calls.Load(), err)
			case !own && (err != nil || calls.Load() != 2):
				t.Fatalf("client-go retries: %d requests, err %v; want 2 and the list", calls.Load(), err)
			}
		})
	}
}
