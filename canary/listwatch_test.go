package canary

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"

	"github.com/ensignbot/ensign/cluster"
)

func TestUnreachable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	gr := schema.GroupResource{Group: "flagger.app", Resource: "canaries"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"connection reset mid-answer", io.ErrUnexpectedEOF, true},
		{"not serving yet (503)", apierrors.NewServiceUnavailable("starting"), true},
		{"too many requests", apierrors.NewTooManyRequests("slow down", 1), true},
		{"forbidden", apierrors.NewForbidden(gr, "", errors.New("no")), false},
		{"resource version too old", apierrors.NewResourceExpired("too old"), false},
		{"cancelled", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unreachable(tc.err); got != tc.want {
				t.Errorf("unreachable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// A list or watch waits out an unreachable API server and returns its
// first answer; an answer that is an error is returned at once, and so is
// the last error when the context ends.
func TestRetryUnreachable(t *testing.T) {
	p := &patience{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	calls := 0
	v, err := retryUnreachable(context.Background(), p, func() (int, error) {
		calls++
		if calls < 3 {
			return 0, refused
		}
		return 42, nil
	})
	if v != 42 || err != nil || calls != 3 {
		t.Fatalf("got %d, %v after %d calls; want 42 after 3", v, err, calls)
	}

	calls = 0
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "canaries"}, "", errors.New("no"))
	if _, err := retryUnreachable(context.Background(), p, func() (int, error) { calls++; return 0, forbidden }); !apierrors.IsForbidden(err) || calls != 1 {
		t.Fatalf("forbidden: %v after %d calls; want it returned after one", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	_, err = retryUnreachable(ctx, p, func() (int, error) {
		calls++
		if calls == 2 {
			cancel()
		}
		return 0, refused
	})
	if !errors.Is(err, syscall.ECONNREFUSED) || calls != 2 {
		t.Fatalf("cancelled: %v after %d calls; want the refusal after 2", err, calls)
	}
}

// An informer whose API server refuses connections at first syncs within
// a few reconnectEvery of the server answering, not after client-go's
// growing backoff (0.8, 1.6, 3.2, 6.4 ... s: about 25 s after these six
// refusals), and then delivers what the list found.
func TestInformerWaitsOutUnreachableServer(t *testing.T) {
	client := fakeCanaryClient(t, "")
	var mu sync.Mutex
	refusals := 6
	client.PrependReactor("list", "canaries", func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if refusals == 0 {
			return false, nil, nil
		}
		refusals--
		return true, nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	})
	var recovered atomic.Int32
	inf := newInformer(client, "apps", time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)), func() { recovered.Add(1) }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { inf.RunWithContext(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	start := time.Now()
	synced, cancelWait := context.WithTimeout(ctx, 15*time.Second)
	defer cancelWait()
	if !cache.WaitForCacheSync(synced.Done(), inf.HasSynced) {
		t.Fatalf("not synced %v after six refusals", time.Since(start).Round(time.Millisecond))
	}
	if keys := inf.GetStore().ListKeys(); len(keys) != 1 || keys[0] != "apps/web" {
		t.Fatalf("cached %v, want [apps/web]", keys)
	}
	if n := recovered.Load(); n != 1 {
		t.Fatalf("told of the recovery %d times, want once", n)
	}
	t.Logf("synced %v after six refusals", time.Since(start).Round(time.Millisecond))
}

// A Failed canary whose handling failed waits out its retry backoff (here
// an hour, so only RetryNow can bring it back in this test); RetryNow,
// called when an API server answers again, hands it to the handler at once.
func TestRetryNowSkipsTheBackoff(t *testing.T) {
	client := fakeCanaryClient(t, "Failed")
	calls := make(chan int, 10)
	var n atomic.Int32
	w := NewWatcher([]Cluster{{Name: "prod", Client: client, Namespaces: []string{"apps"}}},
		handlerFunc(func(context.Context, string, *flaggerv1.Canary) error {
			calls <- int(n.Add(1))
			return errors.New("gitea is down")
		}), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w.urgent = workqueue.NewTypedRateLimitingQueue[Key](workqueue.NewTypedItemExponentialFailureRateLimiter[Key](time.Hour, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait := func(want int) {
		t.Helper()
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("handler call %d, want %d", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("handler call %d never came", want)
		}
	}
	wait(1) // fails: an hour's backoff
	for {   // until the failure is noted as waiting for a retry
		w.retryMu.Lock()
		waiting := len(w.retrying[w.urgent])
		w.retryMu.Unlock()
		if waiting == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.RetryNow()
	wait(2)
}

// fakeCanaryClient is a fake dynamic client holding canary apps/web, in
// phase (none if empty), for tests of one decision of the watch.
func fakeCanaryClient(t *testing.T, phase string) *dynamicfake.FakeDynamicClient {
	t.Helper()
	c := &unstructured.Unstructured{}
	c.SetAPIVersion("flagger.app/v1beta1")
	c.SetKind("Canary")
	c.SetNamespace("apps")
	c.SetName("web")
	if phase != "" {
		if err := unstructured.SetNestedField(c.Object, phase, "status", "phase"); err != nil {
			t.Fatal(err)
		}
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{cluster.CanaryGVR: "CanaryList"}, c)
}

// catchUp stores what a list after an outage says and queues the results
// that changed, Failed ones urgent; it never replaces a cached canary with
// an older version of it, and skips namespaces it does not watch.
func TestCatchUpAfterOutage(t *testing.T) {
	canary := func(ns, name, rv, phase string) unstructured.Unstructured {
		u := unstructured.Unstructured{}
		u.SetAPIVersion("flagger.app/v1beta1")
		u.SetKind("Canary")
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetResourceVersion(rv)
		if err := unstructured.SetNestedField(u.Object, phase, "status", "phase"); err != nil {
			t.Fatal(err)
		}
		return u
	}
	w := NewWatcher(nil, handlerFunc(func(context.Context, string, *flaggerv1.Canary) error { return nil }), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, u := range []unstructured.Unstructured{
		canary("apps", "failed-meanwhile", "10", "Progressing"),
		canary("apps", "succeeded-meanwhile", "11", "Progressing"),
		canary("apps", "newer-in-cache", "30", "Progressing"),
	} {
		c, _ := w.toCanary(&u)
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	w.catchUp("prod", scopedIndexer{idx, map[string]bool{"apps": true}}, []unstructured.Unstructured{
		canary("apps", "failed-meanwhile", "20", "Failed"),
		canary("apps", "succeeded-meanwhile", "21", "Succeeded"),
		canary("apps", "newer-in-cache", "22", "Failed"),
		canary("apps", "new", "23", "Failed"),
		canary("other", "unwatched", "24", "Failed"),
	})
	phase := func(name string) string {
		o, ok, _ := idx.GetByKey("apps/" + name)
		if !ok {
			return "absent"
		}
		return string(o.(*cached).Status.Phase)
	}
	for name, want := range map[string]string{"failed-meanwhile": "Failed", "succeeded-meanwhile": "Succeeded", "newer-in-cache": "Progressing", "new": "Failed"} {
		if got := phase(name); got != want {
			t.Errorf("%s is %s in the cache, want %s", name, got, want)
		}
	}
	if _, ok, _ := idx.GetByKey("other/unwatched"); ok {
		t.Error("a canary of an unwatched namespace was cached")
	}
	if n := w.urgent.Len(); n != 2 {
		t.Errorf("%d Failed canaries queued urgently, want 2 (failed-meanwhile, new)", n)
	}
	if n := w.queue.Len(); n != 1 {
		t.Errorf("%d other results queued, want 1 (succeeded-meanwhile)", n)
	}
}
