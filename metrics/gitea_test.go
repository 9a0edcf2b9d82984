package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGiteaOperation(t *testing.T) {
	tests := []struct {
		method, path, want string
	}{
		{"GET", "/api/v1/version", "GET /version"},
		{"GET", "/api/v1/user", "GET /user"},
		{"POST", "/api/v1/repos/acme/gitops/pulls", "POST /repos/{owner}/{repo}/pulls"},
		{"POST", "/api/v1/repos/acme/gitops/pulls/12/merge", "POST /repos/{owner}/{repo}/pulls/{id}/merge"},
		{"GET", "/api/v1/repos/acme/pulls/pulls/3", "GET /repos/{owner}/{repo}/pulls/{id}"},
		{"GET", "/api/v1/repos/acme/gitops/collaborators/dev/permission", "GET /repos/{owner}/{repo}/collaborators/{name}/permission"},
		{"PATCH", "/api/v1/repos/acme/gitops/issues/comments/881", "PATCH /repos/{owner}/{repo}/issues/comments/{id}"},
		{"GET", "/api/v1/repos/acme/gitops/contents/apps/podinfo/overlays/staging/kustomization.yaml", "GET /repos/{owner}/{repo}/contents/{path}"},
		{"GET", "/api/v1/repos/acme/gitops/raw/.ensign.yaml", "GET /repos/{owner}/{repo}/raw/{path}"},
		{"GET", "/api/v1/orgs/acme/teams/search", "GET /orgs/{name}/teams/search"},
		{"GET", "/api/v1/teams/7/members/dev", "GET /teams/{id}/members/{name}"},
		{"DELETE", "/api/v1/repos/a/b/c/d/e/f/g/h/i/j", "DELETE /repos/{owner}/{repo}/{name}/{name}/{name}/{name}/{name}/..."},
		{"GET", "/api/v1/repos/acme/gitops/", "GET /repos/{owner}/{repo}"},
		{"GET", "/acme/gitops.git/info/refs", "GET other"},
		{"GET", "/gitea/api/v1/repos/acme/gitops", "GET /repos/{owner}/{repo}"},
		{"BREW", "/api/v1/version", "OTHER /version"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if got := GiteaOperation(tt.method, tt.path); got != tt.want {
				t.Fatalf("GiteaOperation = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestGiteaTransportRecords sends real HTTP requests through the transport:
// one answered, one with no response at all.
func TestGiteaTransportRecords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusMethodNotAllowed)
	}))
	defer srv.Close()
	r := New(Build{})
	client := &http.Client{Transport: r.GiteaTransport(nil)}
	resp, err := client.Post(srv.URL+"/api/v1/repos/acme/gitops/pulls/4/merge", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := client.Get("http://127.0.0.1:1/api/v1/version"); err == nil {
		t.Fatal("a request to port 1 succeeded")
	}
	body := scrape(t, r)
	for _, want := range []string{
		`ensign_gitea_requests_total{code="405",operation="POST /repos/{owner}/{repo}/pulls/{id}/merge"} 1`,
		`ensign_gitea_requests_total{code="error",operation="GET /version"} 1`,
		`ensign_gitea_request_duration_seconds_count{operation="POST /repos/{owner}/{repo}/pulls/{id}/merge"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
