package canary

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
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
	c := &unstructured.Unstructured{}
	c.SetAPIVersion("flagger.app/v1beta1")
	c.SetKind("Canary")
	c.SetNamespace("apps")
	c.SetName("web")
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{cluster.CanaryGVR: "CanaryList"}, c)
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
	inf := newInformer(client, "apps", time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	t.Logf("synced %v after six refusals", time.Since(start).Round(time.Millisecond))
}
