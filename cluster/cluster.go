package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ensignbot/ensign/flux"
	"github.com/ensignbot/ensign/policy"
)

// Client reaches one cluster. Everything goes through the dynamic client:
// client-go's typed clientset would link every API group's client and
// scheme into the binary (16 MB of it; BENCHMARKS.md, "A smaller binary and
// cheaper history walks").
type Client struct {
	Name    string
	Dynamic dynamic.Interface
}

// Set is the clusters ensign knows, by the names the policy uses.
type Set struct {
	clients map[string]*Client
}

// ErrUnknownCluster means the policy names a cluster ensign has no
// kubeconfig for.
var ErrUnknownCluster = errors.New("unknown cluster")

// ErrNoKustomization means no Flux Kustomization delivers a stage's
// overlay and the policy names none: there is nothing to ask to reconcile,
// and Flux applies the deploy branch on its own interval.
var ErrNoKustomization = errors.New("no Flux Kustomization delivers the overlay")

// NewSet returns a set of the given clients.
func NewSet(clients ...*Client) *Set {
	s := &Set{clients: map[string]*Client{}}
	for _, c := range clients {
		s.clients[c.Name] = c
	}
	return s
}

// FromConfig builds a client for a cluster from a rest config.
func FromConfig(name string, cfg *rest.Config) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "ensign"
	// Watch streams are long-lived; gzip keeps about 44 KiB of inflate state
	// per stream, and canary objects are small.
	cfg.DisableCompression = true
	if cfg.QPS == 0 {
		// Flux's controllers' defaults: a burst of 100 failed canaries
		// costs a few hundred requests (images, events, reconcile requests).
		cfg.QPS, cfg.Burst = 50, 300
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return capRetryAfter{rt} })
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	return &Client{Name: name, Dynamic: dc}, nil
}

// FromKubeconfig builds a client from a kubeconfig file; an empty path means
// the in-cluster configuration.
func FromKubeconfig(name, path string) (*Client, error) {
	var cfg *rest.Config
	var err error
	if path == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster %s: load kubeconfig: %w", name, err)
	}
	return FromConfig(name, cfg)
}

// Client returns the named cluster's client.
func (s *Set) Client(name string) (*Client, error) {
	c, ok := s.clients[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: give its kubeconfig in ENSIGN_KUBECONFIGS (known: %s)", ErrUnknownCluster, name, strings.Join(s.Names(), ", "))
	}
	return c, nil
}

// Names lists the clusters, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.clients))
	for n := range s.clients {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Canary reads a canary.
func (s *Set) Canary(ctx context.Context, ref policy.CanaryRef) (*flaggerv1.Canary, error) {
	c, err := s.Client(ref.Cluster)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u, err := c.Dynamic.Resource(CanaryGVR).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read canary %s: %w", ref, err)
	}
	out, err := Decode(u)
	if err != nil {
		return nil, fmt.Errorf("read canary %s: %w", ref, err)
	}
	return out, nil
}

// Kustomizations returns the Flux Kustomizations that deliver a stage's
// overlay in its cluster: the one the policy names, else every Kustomization
// whose path is the overlay.
func (s *Set) Kustomizations(ctx context.Context, stage *policy.Stage) ([]flux.Kustomization, error) {
	cl, err := s.Client(stage.Canary.Cluster)
	if err != nil {
		return nil, err
	}
	if named(stage) {
		k, err := flux.GetKustomization(ctx, cl.Dynamic, stage.Flux.Kustomization.Namespace, stage.Flux.Kustomization.Name)
		if err != nil {
			return nil, err
		}
		return []flux.Kustomization{withSource(stage, k)}, nil
	}
	return flux.Kustomizations(ctx, cl.Dynamic, stage.Overlay)
}

// named reports whether the policy names the stage's Kustomization.
func named(stage *policy.Stage) bool {
	return stage.Flux != nil && !stage.Flux.Kustomization.IsZero()
}

// withSource sets k's source to the GitRepository the policy names for the
// stage, if it names one.
func withSource(stage *policy.Stage, k flux.Kustomization) flux.Kustomization {
	if stage.Flux != nil && !stage.Flux.GitRepository.IsZero() {
		k.Source = flux.Ref{Kind: "GitRepository", Namespace: stage.Flux.GitRepository.Namespace, Name: stage.Flux.GitRepository.Name}
	}
	return k
}

// Suspended returns the Flux Kustomizations delivering the stage's overlay
// that are suspended (Flux applies nothing from Git to the stage while one
// is); none when Flux does not deliver it.
func (s *Set) Suspended(ctx context.Context, stage *policy.Stage) ([]flux.Ref, error) {
	ks, err := s.Kustomizations(ctx, stage)
	if err != nil {
		return nil, err
	}
	return suspendedOf(ks), nil
}

// AppliedRevision returns the Git commit the stage's Flux Kustomization last
// applied, and the Kustomization's name; empty strings when none is found.
func (s *Set) AppliedRevision(ctx context.Context, stage *policy.Stage) (commit, kustomization string, err error) {
	ks, err := s.Kustomizations(ctx, stage)
	if err != nil {
		return "", "", err
	}
	for _, k := range ks {
		if c := k.Commit(); c != "" {
			return c, k.Ref.Namespace + "/" + k.Ref.Name, nil
		}
	}
	return "", "", nil
}

// RequestReconcile asks Flux to reconcile the stage's Kustomizations and
// their GitRepository sources now, sources first. It returns what it asked.
func (s *Set) RequestReconcile(ctx context.Context, stage *policy.Stage, now time.Time) ([]flux.Ref, error) {
	cl, err := s.Client(stage.Canary.Cluster)
	if err != nil {
		return nil, err
	}
	ks, err := s.Kustomizations(ctx, stage)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("%w: %s in cluster %s (set flux.kustomization for stage %s)", ErrNoKustomization, stage.Overlay, stage.Canary.Cluster, stage.Name)
	}
	var refs []flux.Ref
	seen := map[flux.Ref]bool{}
	for _, k := range ks {
		if k.Source.Kind == "GitRepository" && !seen[k.Source] {
			seen[k.Source] = true
			refs = append(refs, k.Source)
		}
	}
	for _, k := range ks {
		refs = append(refs, k.Ref)
	}
	for _, r := range refs {
		if err := flux.RequestReconcile(ctx, cl.Dynamic, r, now); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// Refused reports whether err is an answer of a cluster's API server that
// asking again will not change: the object is missing, or the request is
// forbidden, unauthorized, invalid or malformed.
func Refused(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) ||
		apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}
