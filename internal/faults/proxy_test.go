package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProxyModes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	p, err := NewProxy(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	url := "http://" + p.Addr() + "/"
	get := func(timeout time.Duration) (int, string, error) {
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{}}
		resp, err := c.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	if code, body, err := get(5 * time.Second); err != nil || code != 200 || body != "hello" {
		t.Fatalf("forward: %d %q %v", code, body, err)
	}

	p.SetMode(Partition)
	if _, _, err := get(300 * time.Millisecond); err == nil {
		t.Fatal("a request through a partition was answered")
	}
	// A request made during the partition is answered once it heals,
	// neither failed nor lost.
	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, body, err := get(30 * time.Second)
		res <- result{code, body, err}
	}()
	select {
	case r := <-res:
		t.Fatalf("answered during the partition: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	p.SetMode(Forward)
	if r := <-res; r.err != nil || r.code != 200 || r.body != "hello" {
		t.Fatalf("after the partition healed: %+v", r)
	}

	p.SetMode(Unavailable)
	if code, _, err := get(5 * time.Second); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("unavailable: %d %v, want 503", code, err)
	}
	p.SetMode(Forward)
	if code, body, err := get(5 * time.Second); err != nil || code != 200 || body != "hello" {
		t.Fatalf("forward again: %d %q %v", code, body, err)
	}
}
