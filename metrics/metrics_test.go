package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerExportsEnsignMetrics(t *testing.T) {
	r := New(Build{Version: "v1.0.0", Commit: "abc", GoVersion: "go1.26.8"})
	r.ObserveAction("rollback", 2*time.Second, nil)
	r.ObserveAction("promote", time.Second, errors.New("boom"))
	r.Leader.Set(1)
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", Path, nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`ensign_actions_total{kind="rollback",outcome="done"} 1`,
		`ensign_actions_total{kind="promote",outcome="error"} 1`,
		`ensign_action_duration_seconds_count{kind="rollback"} 1`,
		`ensign_leader 1`,
		`ensign_build_info{commit="abc",goversion="go1.26.8",version="v1.0.0"} 1`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
