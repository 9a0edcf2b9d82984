package canary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"golang.org/x/time/rate"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/ensignbot/ensign/cluster"
)

// Key names one canary in one cluster.
type Key struct {
	Cluster, Namespace, Name string
}

// String renders the key as cluster/namespace/name.
func (k Key) String() string { return k.Cluster + "/" + k.Namespace + "/" + k.Name }

// Handler acts on a canary. It is called with the latest cached object for a
// key and must be idempotent; an error retries the key with backoff. The
// cached object has the canary's namespace, name, UID and resource version,
// of its spec only spec.targetRef, and of its status the phase,
// lastTransitionTime, failedChecks, canaryWeight and iterations; the rest
// is empty.
type Handler interface {
	HandleCanary(ctx context.Context, cluster string, c *flaggerv1.Canary) error
}

// Cluster is one cluster to watch.
type Cluster struct {
	// Name is the cluster's name as the policy uses it.
	Name string
	// Client reaches the cluster's API server.
	Client dynamic.Interface
	// Namespaces to watch; empty watches all namespaces.
	Namespaces []string
}

// Options tunes a Watcher; zero values take the defaults.
type Options struct {
	// Workers handling keys concurrently (default 2). One key is never
	// handled by two workers at once.
	Workers int
	// UrgentWorkers handle Failed canaries (default 128). Their handlers
	// mostly wait, for their repository's batch of reverts and then for
	// Gitea and the API server, and a batch can take only the failures
	// whose handlers are running: with too few, a burst of failures is
	// pushed a few at a time.
	UrgentWorkers int
	// Resync re-delivers every cached canary this often (default 10m).
	Resync time.Duration
	// Logger for watcher events (default slog.Default()).
	Logger *slog.Logger
}

// Watcher watches canaries and feeds a Handler through a work queue.
type Watcher struct {
	clusters []Cluster
	handler  Handler
	opts     Options
	// queue holds keys to handle; urgent holds those of Failed canaries,
	// which have workers of their own so that a rollback never waits for
	// a worker behind a burst of other results.
	queue, urgent workqueue.TypedRateLimitingInterface[Key]

	mu      sync.RWMutex
	indexes map[string][]scopedIndexer // cluster -> the caches of its informers
	synced  atomic.Bool

	// retrying holds the keys waiting out a retry backoff, by queue, so
	// that they can be retried at once when an API server answers again.
	retryMu  sync.Mutex
	retrying map[workqueue.TypedRateLimitingInterface[Key]]map[Key]bool
}

// NewWatcher returns a watcher over clusters that calls h.
func NewWatcher(clusters []Cluster, h Handler, opts Options) *Watcher {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.UrgentWorkers <= 0 {
		opts.UrgentWorkers = 128
	}
	if opts.Resync <= 0 {
		opts.Resync = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Watcher{
		clusters: clusters,
		handler:  h,
		opts:     opts,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			retryLimiter(),
			workqueue.TypedRateLimitingQueueConfig[Key]{Name: "canaries"}),
		urgent: workqueue.NewTypedRateLimitingQueueWithConfig(
			retryLimiter(),
			workqueue.TypedRateLimitingQueueConfig[Key]{Name: "failed-canaries"}),
		indexes:  map[string][]scopedIndexer{},
		retrying: map[workqueue.TypedRateLimitingInterface[Key]]map[Key]bool{},
	}
}

// MaxRetryDelay caps the backoff of a key whose handling failed: when Gitea
// or an API server comes back after an outage, pending results are handled
// within this long, not after a backoff that grew for minutes.
const MaxRetryDelay = 3 * time.Second

// retryLimiter is client-go's controller rate limiter with the per-key
// backoff capped at MaxRetryDelay (from 100ms); the overall bucket (10 per
// second, bursts of 100) still bounds how fast retries go out.
func retryLimiter() workqueue.TypedRateLimiter[Key] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[Key](100*time.Millisecond, MaxRetryDelay),
		&workqueue.TypedBucketRateLimiter[Key]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// namespaceInformerLimit is how many namespaces of one cluster get an
// informer each; above it one cluster-wide informer serves them all (each
// informer is a watch stream with its goroutines and buffers: 100 of them
// cost about 17 MiB where one cluster-wide costs about 2).
const namespaceInformerLimit = 8

// Run starts the informers, waits for their caches, and handles keys until
// ctx is done; then it stops taking new keys and waits for running handlers.
func (w *Watcher) Run(ctx context.Context) error {
	var informers []cache.SharedIndexInformer
	var synced []cache.InformerSynced
	for _, cl := range w.clusters {
		scopes := cl.Namespaces
		var only map[string]bool // nil: every namespace the informer sees counts
		if len(scopes) == 0 || len(scopes) > namespaceInformerLimit {
			if len(scopes) > 0 {
				only = map[string]bool{}
				for _, ns := range scopes {
					only[ns] = true
				}
			}
			scopes = []string{metav1.NamespaceAll}
		}
		for _, ns := range scopes {
			var inf cache.SharedIndexInformer
			caughtUp := func(items []unstructured.Unstructured) {
				w.catchUp(cl.Name, scopedIndexer{inf.GetIndexer(), only}, items)
			}
			inf = newInformer(cl.Client, ns, w.opts.Resync, w.opts.Logger.With("cluster", cl.Name), w.RetryNow, caughtUp)
			if err := inf.SetTransform(w.transform(only)); err != nil {
				return fmt.Errorf("set canary transform: %w", err)
			}
			if _, err := inf.AddEventHandler(w.eventHandler(cl.Name, only)); err != nil {
				return fmt.Errorf("watch canaries in cluster %s: %w", cl.Name, err)
			}
			w.mu.Lock()
			w.indexes[cl.Name] = append(w.indexes[cl.Name], scopedIndexer{inf.GetIndexer(), only})
			w.mu.Unlock()
			informers = append(informers, inf)
			synced = append(synced, inf.HasSynced)
		}
	}
	infCtx, stopInformers := context.WithCancel(context.WithoutCancel(ctx))
	var running sync.WaitGroup
	for _, inf := range informers {
		running.Go(func() { inf.RunWithContext(infCtx) })
	}
	defer func() {
		stopInformers()
		running.Wait()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		w.queue.ShutDown()
		w.urgent.ShutDown()
		return fmt.Errorf("wait for canary caches: %w", ctx.Err())
	}
	w.synced.Store(true)
	w.opts.Logger.Info("watching canaries", "clusters", len(w.clusters), "informers", len(informers))

	var wg sync.WaitGroup
	for q, n := range map[workqueue.TypedRateLimitingInterface[Key]]int{w.queue: w.opts.Workers, w.urgent: w.opts.UrgentWorkers} {
		for range n {
			wg.Go(func() {
				for w.next(ctx, q) {
				}
			})
		}
	}
	<-ctx.Done()
	w.queue.ShutDownWithDrain()
	w.urgent.ShutDownWithDrain()
	wg.Wait()
	return nil
}

// scopedIndexer is an informer's cache and the namespaces of it that count
// (nil: all).
type scopedIndexer struct {
	cache.Indexer
	only map[string]bool
}

func (s scopedIndexer) watches(ns string) bool { return s.only == nil || s.only[ns] }

// Synced reports whether the initial listing of every watched namespace is
// in the cache (and so queued for handling where it needs it).
func (w *Watcher) Synced() bool { return w.synced.Load() }

// Get returns the cached canary for key.
func (w *Watcher) Get(key Key) (*flaggerv1.Canary, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, idx := range w.indexes[key.Cluster] {
		if !idx.watches(key.Namespace) {
			continue
		}
		obj, ok, err := idx.GetByKey(key.Namespace + "/" + key.Name)
		if c, isCanary := obj.(*cached); err == nil && ok && isCanary {
			return c.canary(), true
		}
	}
	return nil, false
}

// Len reports how many canaries are cached across all clusters.
func (w *Watcher) Len() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	n := 0
	for _, idxs := range w.indexes {
		for _, idx := range idxs {
			for _, k := range idx.ListKeys() {
				if ns, _, _ := strings.Cut(k, "/"); idx.watches(ns) {
					n++
				}
			}
		}
	}
	return n
}

func (w *Watcher) eventHandler(cluster string, only map[string]bool) cache.ResourceEventHandler {
	enqueue := func(c *cached) {
		if only == nil || only[c.Namespace] {
			key := Key{Cluster: cluster, Namespace: c.Namespace, Name: c.Name}
			if c.Status.Phase == flaggerv1.CanaryPhaseFailed {
				w.urgent.Add(key)
			} else {
				w.queue.Add(key)
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if c, ok := obj.(*cached); ok && Final(c.Status.Phase) {
				enqueue(c) // a result that happened while ensign was down
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*cached)
			n, ok2 := newObj.(*cached)
			if !ok1 || !ok2 {
				return
			}
			resync := o.ResourceVersion == n.ResourceVersion
			if o.Status.Phase != n.Status.Phase || (resync && Final(n.Status.Phase)) {
				enqueue(n)
			}
		},
	}
}

// catchUp brings an informer's cache up to date with a list read after an
// outage, before its watch is back: a canary whose phase changed meanwhile
// is stored and queued as the watch would have (Failed ones urgent). An
// object the cache already holds at this or a later version is left alone,
// so the watch, when it comes back, finds nothing older in the cache than
// what it brings.
func (w *Watcher) catchUp(clusterName string, idx scopedIndexer, items []unstructured.Unstructured) {
	n := 0
	transform := w.transform(idx.only)
	for i := range items {
		obj, _ := transform(&items[i])
		c, ok := obj.(*cached)
		if !ok || !idx.watches(c.Namespace) {
			continue
		}
		var old *cached
		if o, exists, err := idx.GetByKey(c.Namespace + "/" + c.Name); err == nil && exists {
			old, _ = o.(*cached)
		}
		if old != nil && !newer(c.ResourceVersion, old.ResourceVersion) {
			continue
		}
		if err := idx.Update(c); err != nil {
			continue
		}
		if (old == nil || old.Status.Phase != c.Status.Phase) && Final(c.Status.Phase) {
			key := Key{Cluster: clusterName, Namespace: c.Namespace, Name: c.Name}
			if c.Status.Phase == flaggerv1.CanaryPhaseFailed {
				w.urgent.Add(key)
			} else {
				w.queue.Add(key)
			}
			n++
		}
	}
	if n > 0 {
		w.opts.Logger.Info("canary results that came in during the outage are queued", "cluster", clusterName, "results", n)
	}
}

// newer reports whether resource version a is later than b. Resource
// versions are opaque to clients, but the API server's are etcd revisions:
// anything that does not parse as one is not taken as newer.
func newer(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x > y
}

// next handles one key of q; it returns false when q is shut down.
func (w *Watcher) next(ctx context.Context, q workqueue.TypedRateLimitingInterface[Key]) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	c, ok := w.Get(key)
	if !ok {
		q.Forget(key) // deleted since it was queued
		return true
	}
	err := w.handle(ctx, key, c)
	switch {
	case err == nil:
		q.Forget(key)
	case errors.Is(err, ErrPermanent):
		w.opts.Logger.Error("canary handling failed permanently", "canary", key.String(), "phase", c.Status.Phase, "err", err)
		q.Forget(key)
	default:
		w.opts.Logger.Warn("canary handling failed; will retry", "canary", key.String(), "phase", c.Status.Phase,
			"retries", q.NumRequeues(key), "err", err)
		w.markRetrying(q, key, true)
		q.AddRateLimited(key)
		return true
	}
	w.markRetrying(q, key, false)
	return true
}

func (w *Watcher) markRetrying(q workqueue.TypedRateLimitingInterface[Key], key Key, on bool) {
	w.retryMu.Lock()
	defer w.retryMu.Unlock()
	if on {
		if w.retrying[q] == nil {
			w.retrying[q] = map[Key]bool{}
		}
		w.retrying[q][key] = true
	} else {
		delete(w.retrying[q], key)
	}
}

// otherWorkAfter is how long RetryNow lets rollbacks go first before it
// retries other results, when it retries rollbacks too.
const otherWorkAfter = time.Second

// RetryNow queues at once every key waiting out a retry backoff: called
// when an API server or Gitea answers again after an outage, so that
// results whose handling failed meanwhile are handled now, not when a
// backoff that grew during the outage ends. (The backoff's own re-add
// later is handled as a repeat, which handlers are made for.) Failed
// canaries go at once; other results too, unless Failed ones were retried
// with them: then otherWorkAfter later, so the rollbacks take the
// repository's lock first.
func (w *Watcher) RetryNow() {
	w.retryMu.Lock()
	defer w.retryMu.Unlock()
	urgent := len(w.retrying[w.urgent])
	n := 0
	for q, keys := range w.retrying {
		for key := range keys {
			if q == w.urgent || urgent == 0 {
				q.Add(key)
			} else {
				q.AddAfter(key, otherWorkAfter)
			}
			n++
		}
		clear(keys)
	}
	if n > 0 {
		w.opts.Logger.Info("retrying canary results at once", "results", n, "rollbacks", urgent)
	}
}

func (w *Watcher) handle(ctx context.Context, key Key, c *flaggerv1.Canary) (err error) {
	defer func() {
		if r := recover(); r != nil {
			utilruntime.HandleError(fmt.Errorf("canary handler panicked on %s: %v", key, r))
			err = fmt.Errorf("handler panicked: %v: %w", r, ErrPermanent)
		}
	}()
	return w.handler.HandleCanary(ctx, key.Cluster, c) // Get made it: the handler's own
}

// ErrPermanent marks a handler error that retrying cannot fix; the key is
// dropped until the canary changes or the next resync.
var ErrPermanent = errors.New("permanent failure")

// Final reports whether a canary phase is a result ensign acts on.
func Final(p flaggerv1.CanaryPhase) bool {
	return p == flaggerv1.CanaryPhaseSucceeded || p == flaggerv1.CanaryPhaseFailed
}

// transform is the informer transform of a scope: a canary in a namespace
// outside it (a cluster-wide informer serving a few namespaces sees every
// canary of the cluster) is kept as its name and version only, undecoded
// (foreign), since nothing reads more of it; the others are decoded by
// toCanary.
func (w *Watcher) transform(only map[string]bool) cache.TransformFunc {
	return func(obj any) (any, error) {
		if u, ok := obj.(*unstructured.Unstructured); ok && only != nil && !only[u.GetNamespace()] {
			return &foreign{key: u.GetNamespace() + "/" + u.GetName(), resourceVersion: u.GetResourceVersion()}, nil
		}
		return w.toCanary(obj)
	}
}

// toCanary converts the informer's unstructured objects to what the cache
// keeps of a canary (cached), so that a cache of thousands stays small. A
// canary that does not fully decode keeps its identity, phase and transition
// time (see Decode): an error here would stall the whole informer.
func (w *Watcher) toCanary(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil // tombstones and already-converted objects
	}
	c, err := cluster.Decode(u)
	if err != nil {
		w.opts.Logger.Warn("canary does not fully decode; acting on its phase only", "namespace", u.GetNamespace(), "name", u.GetName(), "err", err)
	}
	ref := c.Spec.TargetRef
	ref.APIVersion, ref.Kind = common(ref.APIVersion), common(ref.Kind)
	return &cached{
		Namespace: c.Namespace, Name: c.Name, ResourceVersion: c.ResourceVersion, UID: c.UID,
		TargetRef: ref,
		Status: cachedStatus{
			Phase: common(c.Status.Phase), LastTransitionTime: c.Status.LastTransitionTime,
			FailedChecks: c.Status.FailedChecks, CanaryWeight: c.Status.CanaryWeight, Iterations: c.Status.Iterations,
		},
	}, nil
}

// cached is what the cache keeps of a canary: what ensign's handlers read
// and nothing more. That is its identity and version, of its spec only the
// workload it drives, and of its status the phase, when it last changed and
// the analysis counters. For a canary as Flux and Flagger leave it (labels,
// conditions, spec hashes) that is 378 bytes with the cache's own entry,
// where the whole metadata and status ensign kept before took 1,730
// (BenchmarkCanaryHeld).
type cached struct {
	Namespace, Name, ResourceVersion string
	UID                              types.UID
	TargetRef                        flaggerv1.LocalObjectReference
	Status                           cachedStatus
}

// cachedStatus is the part of a canary's status that cached keeps.
type cachedStatus struct {
	Phase                                  flaggerv1.CanaryPhase
	LastTransitionTime                     metav1.Time
	FailedChecks, CanaryWeight, Iterations int
}

// common returns s as a constant when it is one of the values most canaries
// share, so that thousands of cached canaries do not each keep a copy.
func common[S ~string](s S) S {
	for _, v := range []string{
		"apps/v1", "Deployment", "DaemonSet",
		string(flaggerv1.CanaryPhaseInitializing), string(flaggerv1.CanaryPhaseInitialized),
		string(flaggerv1.CanaryPhaseProgressing), string(flaggerv1.CanaryPhaseSucceeded),
		string(flaggerv1.CanaryPhaseFailed), string(flaggerv1.CanaryPhaseWaiting),
	} {
		if string(s) == v {
			return S(v)
		}
	}
	return s
}

// canary returns the cached canary as a new flaggerv1.Canary: the fields
// cached keeps, the rest empty.
func (c *cached) canary() *flaggerv1.Canary {
	out := &flaggerv1.Canary{ObjectMeta: metav1.ObjectMeta{
		Namespace: c.Namespace, Name: c.Name, ResourceVersion: c.ResourceVersion, UID: c.UID,
	}}
	out.Spec.TargetRef = c.TargetRef
	out.Status.Phase = c.Status.Phase
	out.Status.LastTransitionTime = c.Status.LastTransitionTime
	out.Status.FailedChecks, out.Status.CanaryWeight, out.Status.Iterations = c.Status.FailedChecks, c.Status.CanaryWeight, c.Status.Iterations
	return out
}

// GetObjectKind implements runtime.Object.
func (c *cached) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object, as the informer's store
// expects.
func (c *cached) DeepCopyObject() runtime.Object { d := *c; return &d }

// GetObjectMeta implements metav1.ObjectMetaAccessor, through which the
// informer reads the key and the resource version.
func (c *cached) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Name, ResourceVersion: c.ResourceVersion, UID: c.UID}
}

// foreign is what a cluster-wide cache keeps of a canary outside the
// watched namespaces: the key (namespace/name) and version the informer
// needs, under 200 bytes with the cache's own entry where a
// metav1.PartialObjectMetadata takes over 400 (BenchmarkForeignHeld) and an
// empty flaggerv1.Canary alone about 1 KB. In a shared cluster most of what
// a cluster-wide informer sees is foreign.
type foreign struct{ key, resourceVersion string }

// GetObjectKind implements runtime.Object.
func (f *foreign) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object.
func (f *foreign) DeepCopyObject() runtime.Object { c := *f; return &c }

// GetObjectMeta implements metav1.ObjectMetaAccessor, through which the
// informer reads the key and the resource version.
func (f *foreign) GetObjectMeta() metav1.Object {
	ns, name, _ := strings.Cut(f.key, "/")
	return &metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: f.resourceVersion}
}
