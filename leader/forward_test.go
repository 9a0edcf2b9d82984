package leader

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// campaign is a fixed answer to who leads.
type campaign struct {
	leading bool
	addr    string
}

func (c campaign) Leading() bool         { return c.leading }
func (c campaign) LeaderAddress() string { return c.addr }

func TestForwarder(t *testing.T) {
	var got []string
	leaderSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Gitea-Signature")+" "+r.Header.Get(ForwardedHeader)+" "+string(body))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer leaderSrv.Close()
	leaderAddr := strings.TrimPrefix(leaderSrv.URL, "http://")
	local := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	send := func(f *Forwarder, forwarded bool) int {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/gitea", strings.NewReader(`{"x":1}`))
		req.Header.Set("X-Gitea-Signature", "sig")
		if forwarded {
			req.Header.Set(ForwardedHeader, "1")
		}
		w := httptest.NewRecorder()
		f.ServeHTTP(w, req)
		return w.Code
	}
	tests := []struct {
		name      string
		c         campaign
		forwarded bool
		want      int
		passedOn  bool
	}{
		{"the leader serves", campaign{leading: true, addr: "elsewhere:1"}, false, http.StatusTeapot, false},
		{"a standby passes it on unchanged", campaign{addr: leaderAddr}, false, http.StatusAccepted, true},
		{"no leader known", campaign{}, false, http.StatusServiceUnavailable, false},
		{"never passed on twice", campaign{addr: leaderAddr}, true, http.StatusServiceUnavailable, false},
		{"the leader is gone", campaign{addr: "127.0.0.1:1"}, false, http.StatusBadGateway, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			f := NewForwarder(tt.c, local, 1<<20)
			if code := send(f, tt.forwarded); code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
			if tt.passedOn != (len(got) == 1) {
				t.Fatalf("leader got %v, want passed on: %v", got, tt.passedOn)
			}
			if tt.passedOn && got[0] != `POST /webhooks/gitea sig 1 {"x":1}` {
				t.Fatalf("the leader got %q", got[0])
			}
		})
	}
}
