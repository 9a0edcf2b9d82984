// Package harness starts the real servers and controllers that ensign's
// integration tests and demo run against:
//
//   - a throwaway Gitea (sqlite, random loopback port, admin user and token,
//     loopback webhooks allowed): StartGitea;
//   - a Kubernetes control plane (kube-apiserver + etcd through envtest) with
//     Flagger's and Flux's real CRDs: StartKube;
//   - kube-controller-manager (deployment, replicaset, serviceaccount, garbage
//     collector and namespace controllers), kube-scheduler and kwok with fake
//     Nodes, so that Deployments get ReplicaSets and running, ready Pods with
//     no container runtime: StartWorkloads;
//   - Flagger with -mesh-provider=kubernetes (blue/green without a mesh):
//     StartFlagger;
//   - Flux's source-controller and kustomize-controller, which can fetch from
//     the harness Gitea over HTTP with a token Secret (FluxGitSecret):
//     StartFlux.
//
// The binaries are built from the Go module proxy by harness/build/build.sh and
// cached outside the repository (BinDir). Nothing here fakes a server or a
// controller. CONTROLLERS.md records what the real controllers were seen to do.
// The same cache holds helm (build.sh helm), which Helm(t) finds for the
// chart tests with the same skip-or-fail rule.
//
// All of them listen on 127.0.0.1 only, on free ports, with leader election
// off. Lifetime: every process is registered with a watchdog process that
// kills it as soon as the process that started it is gone, so a test binary
// that panics, times out or is killed leaves none of them behind. Normal
// shutdown goes through Stop, which also removes their temporary directories.
//
// Tests share one Gitea, API server and set of workloads per test binary:
// call Main from TestMain and Gitea(t), Kube(t) or Workloads(t) from tests;
// they start on first use. Flagger(t, ns) and Flux(t, ns) start controllers
// for one test, confined to its namespace (Flagger also needs the workloads,
// to see Deployments become ready), so they leave alone what other tests of
// the binary play. Without the binaries, and with ENSIGN_E2E
// unset, those calls skip the test with a message that says how to build
// them; with ENSIGN_E2E set they fail it instead. Workloads, Flagger
// and Flux skip the test unless ENSIGN_CONTROLLERS is set (ControllersEnv,
// which make sets by default), which also makes build.sh build them.
//
// Methods of the server types are safe for concurrent use.
package harness
