package canary

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/ensignbot/ensign/cluster"
)

// reconnectEvery is how often a list or watch of canaries is tried again
// while the API server cannot be reached.
const reconnectEvery = 250 * time.Millisecond

// newInformer is a canary informer of one namespace (or all) of one
// cluster whose list and watch wait for an unreachable API server instead
// of failing: client-go's reflector backs off after each failed attempt,
// up to 30 s and with jitter up to a minute, so after an API server
// restart the watch could come back that long after the server did, and
// canaries that failed in between would wait. Here it comes back within
// reconnectEvery of the server answering, and recovered is called then:
// its requests go with cluster.CallerRetries, so a starting server's 429
// comes back at once rather than after client-go's whole-second wait.
//
// The watch itself can take seconds more after that: the API server holds
// a new watch until its watch cache is rebuilt (about 4 s after a restart
// here), and the informer's cache keeps the canaries as they were before
// the outage meanwhile. So once an outage is noticed, a list (served from
// etcd at once) is tried every reconnectEvery, and the first one that
// succeeds is handed to caughtUp, which brings the cache up to date.
func newInformer(client dynamic.Interface, namespace string, resync time.Duration, log *slog.Logger, recovered func(), caughtUp func([]unstructured.Unstructured)) cache.SharedIndexInformer {
	res := client.Resource(cluster.CanaryGVR).Namespace(namespace)
	p := &patience{log: log.With("namespace", namespace), recovered: recovered}
	if caughtUp != nil {
		p.catchUp = func(ctx context.Context) { catchUp(ctx, res, p, caughtUp) }
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			ctx = cluster.CallerRetries(ctx)
			return retryUnreachable(ctx, p, func() (runtime.Object, error) { return res.List(ctx, opts) })
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			ctx = cluster.CallerRetries(ctx)
			return retryUnreachable(ctx, p, func() (watch.Interface, error) { return res.Watch(ctx, opts) })
		},
	}
	return cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, client),
		&unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{
			ResyncPeriod: resync,
			// No indexes: the watcher only looks canaries up by key, and a
			// namespace index of a cluster-wide cache held 3 MB of key
			// sets at 22,000 canaries.
			Indexers:          cache.Indexers{},
			ObjectDescription: cluster.CanaryGVR.String(),
		},
	)
}

// catchUp lists the canaries every reconnectEvery until the API server
// answers, and hands the first list to caughtUp.
func catchUp(ctx context.Context, res dynamic.ResourceInterface, p *patience, caughtUp func([]unstructured.Unstructured)) {
	ctx = cluster.CallerRetries(ctx)
	for ctx.Err() == nil {
		list, err := res.List(ctx, metav1.ListOptions{})
		if err == nil {
			p.log.Info("the API server answers lists again; caught up with the canaries", "canaries", len(list.Items))
			caughtUp(list.Items)
			return
		}
		if !unreachable(err) {
			p.log.Warn("cannot list canaries to catch up after the outage; the watch will", "err", err)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(reconnectEvery):
		}
	}
}

// patience logs once when the API server becomes unreachable and once
// when it answers again.
type patience struct {
	log       *slog.Logger
	down      atomic.Bool
	recovered func() // may be nil
	// catchUp, if set, runs once per outage, from when it is noticed.
	catchUp func(ctx context.Context)
}

// retryUnreachable calls fn until the API server answers (a result or an
// API error) or ctx ends.
func retryUnreachable[T any](ctx context.Context, p *patience, fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err == nil || !unreachable(err) || ctx.Err() != nil {
			if err == nil && p.down.Swap(false) {
				p.log.Info("the API server answers again; watching canaries")
				if p.recovered != nil {
					p.recovered()
				}
			}
			return v, err
		}
		if !p.down.Swap(true) {
			p.log.Warn("cannot reach the API server; retrying", "every", reconnectEvery, "err", err)
			if p.catchUp != nil {
				go p.catchUp(ctx)
			}
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(reconnectEvery):
		}
	}
}

// unreachable reports whether err says the API server could not be
// reached or is not serving yet, rather than that it refused the request.
func unreachable(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err)
}
