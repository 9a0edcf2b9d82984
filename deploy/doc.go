// Package deploy holds the Kubernetes manifests that run ensign in a cluster
// (kubectl apply -k deploy/) and the tests that keep them honest: every
// manifest is applied with strict server-side field validation to the
// harness's real API server, the ServiceAccount's ClusterRole is exercised by
// running ensign's own cluster calls under that ServiceAccount's token, and
// the ConfigMap is fed to a freshly built `ensign run` to prove ensign
// accepts it.
//
// There is no Go API here. The tests leave nothing behind: they run against
// the test binary's own throwaway API server and Gitea.
package deploy
