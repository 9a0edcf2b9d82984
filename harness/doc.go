// Package harness starts the real servers that ensign's integration tests and
// demo run against: a throwaway Gitea (sqlite, random loopback port, admin user
// and token, loopback webhooks allowed) and a Kubernetes control plane
// (kube-apiserver + etcd through envtest) with Flagger's and Flux's CRDs.
//
// The binaries are built from the Go module proxy by harness/build/build.sh and
// cached outside the repository (BinDir). Nothing here fakes either server.
// The same cache holds helm (build.sh helm), which Helm(t) finds for the
// chart tests with the same skip-or-fail rule.
//
// Lifetime: every server process is registered with a watchdog process that
// kills it as soon as the process that started it is gone, so a test binary
// that panics, times out or is killed leaves no gitea, etcd or kube-apiserver
// behind. Normal shutdown goes through Stop, which also removes the servers'
// temporary directories.
//
// Tests share one server of each kind per test binary: call Main from TestMain
// and Gitea(t) or Kube(t) from tests; servers start on first use. Without the
// binaries, and with ENSIGN_E2E unset, those calls skip the test with a message
// that says how to build them; with ENSIGN_E2E set they fail it instead.
//
// Methods of GiteaServer and KubeServer are safe for concurrent use.
package harness
