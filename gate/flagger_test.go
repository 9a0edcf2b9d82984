package gate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ensignbot/ensign/policy"
)

// fixedGates answers for one canary: production/podinfo/podinfo.
type fixedGates struct {
	allow bool
	err   error
	asked *[]policy.CanaryRef
}

func (g fixedGates) Allow(_ context.Context, ref policy.CanaryRef) (bool, string, error) {
	*g.asked = append(*g.asked, ref)
	if ref != (policy.CanaryRef{Cluster: "production", Namespace: "podinfo", Name: "podinfo"}) {
		return false, "", fmt.Errorf("%w: %s", ErrUnknownCanary, ref)
	}
	return g.allow, "the reason", g.err
}

func TestFlaggerHandler(t *testing.T) {
	payload := `{"name":"podinfo","namespace":"podinfo","phase":"Progressing","checksum":"abc","metadata":{"token":"%s"}}`
	tests := []struct {
		name, method, query, body, auth string
		allow                           bool
		err                             error
		want                            int
		asked                           bool
	}{
		{"open", "POST", "?cluster=production", fmt.Sprintf(payload, "s3cret"), "", true, nil, 200, true},
		{"held", "POST", "?cluster=production", fmt.Sprintf(payload, "s3cret"), "", false, nil, 403, true},
		{"token in the header", "POST", "?cluster=production", fmt.Sprintf(payload, ""), "Bearer s3cret", true, nil, 200, true},
		{"wrong token", "POST", "?cluster=production", fmt.Sprintf(payload, "guess"), "", true, nil, 401, false},
		{"no token", "POST", "?cluster=production", `{"name":"podinfo","namespace":"podinfo"}`, "", true, nil, 401, false},
		{"no cluster", "POST", "", fmt.Sprintf(payload, "s3cret"), "", true, nil, 400, false},
		{"not Flagger's payload", "POST", "?cluster=production", `[1,2]`, "", true, nil, 400, false},
		{"no name", "POST", "?cluster=production", `{"namespace":"podinfo","metadata":{"token":"s3cret"}}`, "", true, nil, 400, false},
		{"unknown canary", "POST", "?cluster=staging", fmt.Sprintf(payload, "s3cret"), "", true, nil, 404, true},
		{"cannot decide", "POST", "?cluster=production", fmt.Sprintf(payload, "s3cret"), "", false, fmt.Errorf("gitea down"), 503, true},
		{"GET", "GET", "?cluster=production", "", "", true, nil, 405, false},
		{"too large", "POST", "?cluster=production", `{"name":"` + strings.Repeat("x", maxGateBody) + `"}`, "", true, nil, 400, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []policy.CanaryRef
			h := FlaggerHandler{Gates: fixedGates{allow: tt.allow, err: tt.err, asked: &asked}, Token: "s3cret", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			req := httptest.NewRequest(tt.method, FlaggerPath+tt.query, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.want)
			}
			if (len(asked) > 0) != tt.asked {
				t.Fatalf("asked the gates %v, want asked=%v", asked, tt.asked)
			}
		})
	}
}
