package gate

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ensignbot/ensign/policy"
)

// FlaggerPath is where ensign serves Flagger's gate webhooks
// (confirm-rollout, confirm-promotion), with the canary's cluster as the
// query parameter "cluster": /flagger/gate?cluster=production.
const FlaggerPath = "/flagger/gate"

// maxGateBody bounds a gate request's body (Flagger sends a few hundred
// bytes).
const maxGateBody = 64 << 10

// Gates decides for a canary; the router implements it by asking the
// repository whose policy names the canary.
type Gates interface {
	Allow(ctx context.Context, ref policy.CanaryRef) (allow bool, why string, err error)
}

// FlaggerHandler serves Flagger's gate webhooks: 200 lets the rollout or
// promotion go ahead, 403 holds it (Flagger asks again at its next
// interval). A request for a canary no policy names gets 404, a malformed
// one 400, a missing or wrong token 401; none of them changes anything.
type FlaggerHandler struct {
	Gates Gates
	// Token, if set, must come as "Authorization: Bearer <token>" or as the
	// webhook's metadata "token".
	Token  string
	Logger *slog.Logger
}

// flaggerPayload is what Flagger posts to a webhook.
type flaggerPayload struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum"`
	Metadata  map[string]string `json:"metadata"`
}

// ServeHTTP answers one gate request.
func (h FlaggerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGateBody))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	var p flaggerPayload
	if err := json.Unmarshal(body, &p); err != nil || p.Name == "" || p.Namespace == "" {
		http.Error(w, "want Flagger's webhook payload with name and namespace", http.StatusBadRequest)
		return
	}
	if h.Token != "" {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got == "" {
			got = p.Metadata["token"]
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.Token)) != 1 {
			http.Error(w, "missing or wrong token", http.StatusUnauthorized)
			return
		}
	}
	clusterName := r.URL.Query().Get("cluster")
	if clusterName == "" {
		http.Error(w, "name the canary's cluster: "+FlaggerPath+"?cluster=NAME, as the policy names it", http.StatusBadRequest)
		return
	}
	ref := policy.CanaryRef{Cluster: clusterName, Namespace: p.Namespace, Name: p.Name}
	allow, why, err := h.Gates.Allow(r.Context(), ref)
	switch {
	case errors.Is(err, ErrUnknownCanary):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		log.Warn("flagger gate", "canary", ref.String(), "err", err)
		http.Error(w, "ensign could not decide: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	log.Info("flagger gate", "canary", ref.String(), "phase", p.Phase, "allow", allow, "why", why)
	if !allow {
		http.Error(w, fmt.Sprintf("held by ensign: %s", why), http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "go ahead: "+why)
}
