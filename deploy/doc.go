// Package deploy holds what runs ensign in a cluster and the tests that keep
// it honest: the Helm chart (chart/, with its Grafana dashboard) and the
// Kustomize base (kubectl apply -k deploy/), whose manifests (ensign.yaml)
// are the chart rendered with ensign.values.yaml, byte for byte.
//
// The tests lint the chart, compare `helm template` of several value sets
// with golden files (go test ./deploy -update rewrites them and the base),
// apply every rendering to the harness's real API server with strict
// server-side field validation, run ensign's own cluster calls and its leader
// election (package leader) under the chart's ServiceAccount, feed the
// ConfigMap to a freshly built `ensign run`, and check that every query of
// the dashboard names a metric ensign exports.
//
// There is no Go API here. The tests leave nothing behind: they run against
// the test binary's own throwaway API server and Gitea.
package deploy
