package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	flaggerinformers "github.com/fluxcd/flagger/pkg/client/informers/externalversions"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// timeline records, with the time since the test started, everything the
// real controllers do in one namespace: Canary status writes, Deployment
// image and replica changes, Events, and the calls Flagger makes to the
// test's webhooks. The test logs it at the end; the facts it shows are
// written up in harness/CONTROLLERS.md.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	lines []string
	// canaries holds every Canary status the informer saw, in order.
	canaries []flaggerv1.CanaryStatus
}

func (tl *timeline) add(format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.lines = append(tl.lines, fmt.Sprintf("%7.1fs ", time.Since(tl.start).Seconds())+fmt.Sprintf(format, args...))
}

// mark adds a line that says what the test did.
func (tl *timeline) mark(format string, args ...any) { tl.add("== "+format, args...) }

func (tl *timeline) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return strings.Join(tl.lines, "\n")
}

// statuses returns the Canary statuses seen so far.
func (tl *timeline) statuses() []flaggerv1.CanaryStatus {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]flaggerv1.CanaryStatus(nil), tl.canaries...)
}

// watch records the namespace's Canaries, Deployments and Events until ctx ends.
func (tl *timeline) watch(ctx context.Context, t *testing.T, kc kubernetes.Interface, fc flaggerclient.Interface, ns string) {
	t.Helper()
	kf := informers.NewSharedInformerFactoryWithOptions(kc, 0, informers.WithNamespace(ns))
	ff := flaggerinformers.NewSharedInformerFactoryWithOptions(fc, 0, flaggerinformers.WithNamespace(ns))
	canaries := ff.Flagger().V1beta1().Canaries().Informer()
	deployments := kf.Apps().V1().Deployments().Informer()
	events := kf.Core().V1().Events().Informer()
	onCanary := func(obj any) {
		c := obj.(*flaggerv1.Canary)
		s := c.Status
		tl.mu.Lock()
		tl.canaries = append(tl.canaries, *s.DeepCopy())
		tl.mu.Unlock()
		tl.add("canary    phase=%s lastTransitionTime=%s iterations=%d failedChecks=%d canaryWeight=%d lastAppliedSpec=%s lastPromotedSpec=%s rv=%s",
			s.Phase, s.LastTransitionTime.Format("15:04:05"), s.Iterations, s.FailedChecks, s.CanaryWeight,
			s.LastAppliedSpec, s.LastPromotedSpec, c.ResourceVersion)
	}
	_, _ = canaries.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onCanary,
		UpdateFunc: func(_, n any) { onCanary(n) },
	})
	describe := func(d *appsv1.Deployment) string {
		img := ""
		if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
			img = cs[0].Image[strings.LastIndexByte(cs[0].Image, ':')+1:]
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		return fmt.Sprintf("image=%s replicas=%d updated=%d ready=%d available=%d generation=%d/%d",
			img, replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas,
			d.Status.ObservedGeneration, d.Generation)
	}
	_, _ = deployments.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			d := obj.(*appsv1.Deployment)
			tl.add("deploy    %s created: %s", d.Name, describe(d))
		},
		UpdateFunc: func(o, n any) {
			od, nd := o.(*appsv1.Deployment), n.(*appsv1.Deployment)
			if a, b := describe(od), describe(nd); a != b {
				tl.add("deploy    %s %s", nd.Name, b)
			}
		},
	})
	_, _ = events.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			e := obj.(*corev1.Event)
			tl.add("event     %s %s/%s %s %s: %s", e.Source.Component, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type, e.Reason, e.Message)
		},
		UpdateFunc: func(_, n any) {
			e := n.(*corev1.Event)
			tl.add("event     %s %s/%s %s %s (x%d): %s", e.Source.Component, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type, e.Reason, e.Count, e.Message)
		},
	})
	kf.Start(ctx.Done())
	ff.Start(ctx.Done())
	for _, inf := range []cache.SharedIndexInformer{canaries, deployments, events} {
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			t.Fatal("timeline informers did not sync")
		}
	}
}

// gateHook serves the Canary's webhooks: /gate answers Flagger's rollout
// checks with the status the test sets, /events records Flagger's events.
type gateHook struct {
	*httptest.Server
	status atomic.Int32
	calls  atomic.Int32
	tl     *timeline
}

func newGateHook(tl *timeline) *gateHook {
	h := &gateHook{tl: tl}
	h.status.Store(http.StatusOK)
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p flaggerv1.CanaryWebhookPayload
		_ = json.NewDecoder(r.Body).Decode(&p)
		switch r.URL.Path {
		case "/gate":
			code := int(h.status.Load())
			h.calls.Add(1)
			tl.add("webhook   gate (rollout) phase=%s checksum=%s -> %d", p.Phase, p.Checksum, code)
			w.WriteHeader(code)
		case "/events":
			tl.add("webhook   event phase=%s %s: %s", p.Phase, p.Metadata["eventType"], p.Metadata["eventMessage"])
		default:
			http.NotFound(w, r)
		}
	}))
	return h
}
