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
// reconnectEvery of the server answering, and recovered is called then.
func newInformer(client dynamic.Interface, namespace string, resync time.Duration, log *slog.Logger, recovered func()) cache.SharedIndexInformer {
	res := client.Resource(cluster.CanaryGVR).Namespace(namespace)
	p := &patience{log: log.With("namespace", namespace), recovered: recovered}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return retryUnreachable(ctx, p, func() (runtime.Object, error) { return res.List(ctx, opts) })
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return retryUnreachable(ctx, p, func() (watch.Interface, error) {
				w, err := res.Watch(ctx, opts)
				if err != nil && opts.SendInitialEvents != nil && *opts.SendInitialEvents && apierrors.IsTooManyRequests(err) {
					return nil, listInstead{err}
				}
				return w, err
			})
		},
	}
	return cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, client),
		&unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{
			ResyncPeriod:      resync,
			Indexers:          cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
			ObjectDescription: cluster.CanaryGVR.String(),
		},
	)
}

// patience logs once when the API server becomes unreachable and once
// when it answers again.
type patience struct {
	log       *slog.Logger
	down      atomic.Bool
	recovered func() // may be nil
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
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(reconnectEvery):
		}
	}
}

// listInstead is what a watch-list (a watch that streams the initial
// state) gets while the API server answers 429 to watches: its watch cache
// is still being built after a restart, for seconds, while lists are
// served from etcd at once. Its message hides the 429 from the reflector,
// which then lists instead of backing off, so canaries that changed during
// an outage are handled as soon as the API server answers; the plain watch
// that follows the list waits for the cache (retryUnreachable).
type listInstead struct{ err error }

func (e listInstead) Error() string {
	return "the API server does not stream the canaries yet (listing them instead): " + e.err.Error()
}

// unreachable reports whether err says the API server could not be
// reached or is not serving yet, rather than that it refused the request.
func unreachable(err error) bool {
	if _, ok := err.(listInstead); ok {
		return false
	}
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err)
}
