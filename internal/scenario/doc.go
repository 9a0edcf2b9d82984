// Package scenario sets up ensign's story on real servers: a GitOps
// repository on Gitea with a staging and a production overlay and a policy,
// the people who push to it and comment on pull requests, and the cluster
// objects Flux and Flagger work on. It talks to the real Gitea and
// kube-apiserver the harness starts and fakes nothing on their side.
//
// Flux and Flagger are either run or played:
//
//   - Run (Options.Gate set): the real source-controller and
//     kustomize-controller apply the overlays from Gitea, and the real Flagger
//     (kubernetes provider, on Deployments that kube-controller-manager,
//     kube-scheduler and kwok roll out) analyses each new version. The test
//     only pushes, asks Flux to fetch (Reconcile), and decides each analysis
//     through the canaries' rollout webhook (Gate). Users:
//     cmd/ensign TestStoryOnRealControllers, cmd/ensign-demo (make demo, and
//     TestDemoOnRealControllers), and cmd/ensign-bench -only real. What the
//     real controllers do is recorded in harness/CONTROLLERS.md.
//   - Played (Options.Gate nil): the actors FluxApply, Analyse, SetPhase,
//     StartAnalysis and FinishAnalysis write what those controllers would write
//     to the API server (a Deployment's image, a Canary's status, a
//     Kustomization's lastAppliedRevision, Flagger's warning event), not their
//     logic. Tests keep them where they need control the real controllers
//     cannot give: a phase change at an exact moment (every latency
//     benchmark, the burst and fault suites), hundreds or thousands of
//     canaries (Fleet: the memory benchmark, bursts of 100 failures), a
//     crash or restart between two of ensign's writes (the story's restart,
//     rollback's and promote's restart tests, internal/faults), failures of
//     versions Flagger would never see (a version already gone from Git,
//     conflicting reverts, image-automation markers), and runs without the
//     controllers built (ENSIGN_CONTROLLERS empty). Users: cmd/ensign
//     TestStory and its CLI, freeze, wait, catch-up, memory and HA tests;
//     the promote, rollback, freeze and gate integration tests;
//     internal/faults; cmd/ensign-bench's other benchmarks; cmd/ensign-demo
//     without --controllers.
//
// Where the played actors differ from the real controllers (a Failed status
// rewritten every 10 s, failedChecks and iterations reset, the target scaled
// to zero, the primary updated at Promoting) is listed in
// harness/CONTROLLERS.md; ensign is written against the real behaviour, and
// TestStoryOnRealControllers checks it.
package scenario
