package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/harness"
)

// Gate is the rollout webhook of the sample canaries when the real Flagger
// analyses them: Flagger calls it at every analysis step and it answers as
// the test decides for the canary's namespace (200 passes the step, 500 fails
// it). Everything else (primary, promotion, rollback, phases, events) is the
// real Flagger's doing.
type Gate struct {
	// URL is the base URL; the canaries call URL + "/gate".
	URL string
	srv *http.Server

	mu    sync.Mutex
	fail  map[string]bool
	calls map[string]int
}

// StartGate serves a Gate on a loopback port; every namespace passes until
// Fail says otherwise.
func StartGate() (*Gate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	g := &Gate{URL: "http://" + ln.Addr().String(), fail: map[string]bool{}, calls: map[string]int{}}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

func (g *Gate) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/gate" {
		http.NotFound(w, r)
		return
	}
	var p flaggerv1.CanaryWebhookPayload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.calls[p.Namespace]++
	fail := g.fail[p.Namespace]
	g.mu.Unlock()
	if fail {
		http.Error(w, "the test fails this analysis", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Fail makes the analyses of the canary in namespace fail (true) or pass.
func (g *Gate) Fail(namespace string, fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail[namespace] = fail
}

// Calls returns how often Flagger asked the gate about namespace's canary.
func (g *Gate) Calls(namespace string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[namespace]
}

// Close stops serving.
func (g *Gate) Close() error { return g.srv.Close() }

// realCanaryYAML is the sample Canary for the real Flagger: blue/green on the
// kubernetes provider (no mesh), one iteration, failed at the first failed
// check. Flagger runs an analysis step every 10 s at the least.
const realCanaryYAML = `apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
  analysis:
    interval: 10s
    threshold: 1
    iterations: 1
    webhooks:
      - name: gate
        type: rollout
        url: %s/gate
        timeout: 5s
`

// realDeploymentYAML is the played base's Deployment with the port Flagger's
// Services point at.
const realDeploymentYAML = deploymentYAML + `          ports:
            - name: http
              containerPort: 9898
`

// realFiles are the app's base manifests for the real controllers: Flux
// applies the Deployment and the Canary, Flagger does the rest.
func realFiles(gate *Gate) map[string]string {
	return map[string]string{
		"apps/podinfo/base/kustomization.yaml": "resources:\n  - deployment.yaml\n  - canary.yaml\n",
		"apps/podinfo/base/deployment.yaml":    realDeploymentYAML,
		"apps/podinfo/base/canary.yaml":        fmt.Sprintf(realCanaryYAML, gate.URL),
	}
}

// setupRealCluster creates the namespaces and the Flux objects (the
// GitRepository reads Gitea with the reader's token); the real Flux applies
// the Deployments and Canaries from Git and the real Flagger initializes
// them. It returns once both canaries are Initialized.
func (e *Env) setupRealCluster(ctx context.Context) error {
	if err := e.createNamespaces(ctx); err != nil {
		return err
	}
	secret := harness.FluxGitSecret(e.FluxNamespace, "gitea-token", e.Reader.Name, e.Reader.Token)
	if _, err := e.kube.CoreV1().Secrets(e.FluxNamespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create flux git secret: %w", err)
	}
	if err := e.createFluxObjects(ctx, "gitea-token"); err != nil {
		return err
	}
	for _, s := range e.Stages() {
		if err := e.WaitPhase(ctx, s, flaggerv1.CanaryPhaseInitialized, 2*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// Reconcile asks the real Flux to fetch main now (the GitRepository's
// requestedAt, as a Gitea push webhook to Flux's receiver would); the new
// artifact makes every Kustomization apply it.
func (e *Env) Reconcile(ctx context.Context) error {
	return flux.RequestReconcile(ctx, e.dyn, flux.Ref{Kind: "GitRepository", Namespace: e.FluxNamespace, Name: "gitops"}, time.Now())
}

// Applied returns the commit the stage's Kustomization last applied.
func (e *Env) Applied(ctx context.Context, s Stage) (string, error) {
	k, err := flux.GetKustomization(ctx, e.dyn, e.FluxNamespace, "podinfo-"+s.Name)
	if err != nil {
		return "", err
	}
	return k.Commit(), nil
}

// WaitApplied waits up to d until the stage's Kustomization has applied sha.
func (e *Env) WaitApplied(ctx context.Context, s Stage, sha string, d time.Duration) error {
	return Wait(ctx, d, fmt.Sprintf("Flux to apply %.8s to %s", sha, s.Name), func() (bool, error) {
		u, err := e.dyn.Resource(flux.KustomizationGVR).Namespace(e.FluxNamespace).Get(ctx, "podinfo-"+s.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if got := flux.FromUnstructured(u).Commit(); got != sha {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			return false, fmt.Errorf("applied %.8s; conditions %v", got, conds)
		}
		return true, nil
	})
}

// Canary reads the stage's canary.
func (e *Env) Canary(ctx context.Context, s Stage) (*flaggerv1.Canary, error) {
	return e.flagger.FlaggerV1beta1().Canaries(s.Namespace).Get(ctx, "podinfo", metav1.GetOptions{})
}

// WaitPhase waits up to d until the stage's canary is in phase.
func (e *Env) WaitPhase(ctx context.Context, s Stage, phase flaggerv1.CanaryPhase, d time.Duration) error {
	return Wait(ctx, d, fmt.Sprintf("the %s canary to be %s", s.Name, phase), func() (bool, error) {
		c, err := e.Canary(ctx, s)
		if err != nil {
			return false, err
		}
		if c.Status.Phase == phase {
			return true, nil
		}
		return false, fmt.Errorf("phase %q", c.Status.Phase)
	})
}

// Controllers are the real Flux and Flagger confined to the namespaces of one
// setup: Flux reconciles only the setup's Flux namespace, and one Flagger per
// stage watches only that stage's namespace. A test binary that also plays
// Flux and Flagger on the same API server uses them, so the real controllers
// leave the played objects alone. (kube-controller-manager, kube-scheduler
// and kwok may be shared: they only roll out Deployments.)
type Controllers struct {
	Flux     *harness.FluxServer
	Flaggers []*harness.FlaggerServer
}

// StartControllers starts the controllers for the setup that Setup creates
// with Options.Prefix prefix, before Setup (which waits for Flagger to
// initialize the canaries). The API server needs kube-controller-manager,
// kube-scheduler and kwok running (harness.StartWorkloads).
func StartControllers(ctx context.Context, k *harness.KubeServer, prefix string) (c *Controllers, err error) {
	c = &Controllers{}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if c.Flux, err = harness.StartFlux(ctx, k, harness.FluxOptions{Namespace: fluxNamespace(prefix)}); err != nil {
		return c, err
	}
	for _, stage := range []string{"staging", "production"} {
		f, err := harness.StartFlagger(ctx, k, harness.FlaggerOptions{Namespace: stageNamespace(prefix, stage)})
		if err != nil {
			return c, err
		}
		c.Flaggers = append(c.Flaggers, f)
	}
	return c, nil
}

// Stop stops the Flaggers, then Flux; safe to call more than once.
func (c *Controllers) Stop() error {
	var errs []error
	for _, f := range c.Flaggers {
		errs = append(errs, f.Stop())
	}
	if c.Flux != nil {
		errs = append(errs, c.Flux.Stop())
	}
	return errors.Join(errs...)
}
