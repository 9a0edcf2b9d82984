package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/ensignbot/ensign/internal/prio"
)

// Options configure a repository cache.
type Options struct {
	// Dir is the cache directory: a bare repository, created if missing.
	Dir string
	// URL is the remote's http(s) URL, without credentials.
	URL string
	// Token authenticates as http basic auth (user "ensign"); may be empty.
	Token string
	// HTTPClient is used for git's smart HTTP; nil means http.DefaultClient.
	// Give it a transport with dial, TLS and response-header timeouts.
	HTTPClient *http.Client
	// Timeout bounds each conversation with the remote (a fetch, a push
	// attempt); 0 means DefaultTimeout. A connection that stops answering
	// fails the operation instead of holding it forever.
	Timeout time.Duration
	// Observe, if set, is told about every fetch and push: "fetch" or
	// "push", how long it took, and its error (a *PushRejectedError with
	// Stale set for a lost race); and about every repack of the cache
	// ("repack": the small packs and loose objects rolled into one, see
	// the package doc), which is reported while the cache's storage is
	// locked, so Observe must be quick.
	Observe func(op string, took time.Duration, err error)
	// CacheBytes bounds the decoded-object cache; 0 means 16 MiB.
	CacheBytes int64
}

// Repo is a persistent bare clone of one remote, updated by incremental
// fetches. Every method is safe for concurrent use: reads of the object store
// are serialized by one mutex (go-git's on-disk storage is not safe for
// concurrent use), and operations that change refs or talk to the remote
// (Fetch, Deepen, Update, Revert, Push) run one at a time.
type Repo struct {
	url     string
	ep      *transport.Endpoint
	auth    *githttp.BasicAuth
	tr      transport.Transport
	timeout time.Duration
	observe func(op string, took time.Duration, err error)

	opMu  prio.Lock  // serializes fetch/update/revert/push/log (begin)
	mu    sync.Mutex // guards st, packs and loose
	st    *filesystem.Storage
	packs *packReader // fast reads from packs; go-git does the rest
	// loose counts the loose objects (-1 until first counted); more than
	// repackLoose of them, or more packs than repackPacks, start a repack
	// of about repackObjects objects at most (repack.go).
	loose                                   int
	repackPacks, repackLoose, repackObjects int

	proposals proposer // Propose pushes that come in together go together
}

// remoteRefPrefix holds the remote's branch tips as last fetched or pushed.
const remoteRefPrefix = "refs/remotes/origin/"

// Open opens the cache at opts.Dir, initialising an empty bare repository
// when the directory holds none. It does no network I/O; call Fetch.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("open repo cache: remote URL %q must be http(s)", RedactURL(opts.URL))
	}
	if u.User != nil {
		return nil, fmt.Errorf("open repo cache: remote URL %q must not carry credentials; use Options.Token", RedactURL(opts.URL))
	}
	ep, err := transport.NewEndpoint(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("open repo cache: parse remote URL %q: %w", RedactURL(opts.URL), err)
	}
	if opts.Dir == "" {
		return nil, errors.New("open repo cache: no directory given")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open repo cache: %w", err)
	}
	cacheBytes := opts.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = 16 << 20
	}
	st := filesystem.NewStorageWithOptions(osfs.New(opts.Dir),
		cache.NewObjectLRU(cache.FileSize(cacheBytes)),
		// ExclusiveAccess is left off: with it, go-git's HasEncodedObject
		// misses packed objects (its loose-object cache answers first).
		filesystem.Options{KeepDescriptors: true})
	if _, err := os.Stat(filepath.Join(opts.Dir, "HEAD")); errors.Is(err, os.ErrNotExist) {
		if _, err := git.Init(st, nil); err != nil {
			return nil, fmt.Errorf("open repo cache: init %s: %w", opts.Dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("open repo cache: %w", err)
	}
	r := &Repo{url: opts.URL, ep: ep, st: st, tr: githttp.NewClient(opts.HTTPClient), timeout: opts.Timeout, observe: opts.Observe, packs: newPackReader(opts.Dir),
		loose: -1, repackPacks: repackPacks, repackLoose: repackLoose, repackObjects: repackObjects,
		proposals: proposer{arrived: make(chan struct{}, 1)}}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if opts.Token != "" {
		r.auth = &githttp.BasicAuth{Username: "ensign", Password: opts.Token}
	}
	return r, nil
}

// DefaultTimeout bounds one conversation with the remote when
// Options.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// begin waits for the operation in flight (fetch, push, log walk) to end;
// work under a context marked urgent (prio.WithUrgent, see Urgent) goes
// before ordinary waiters. Call release when the operation is over.
func (r *Repo) begin(ctx context.Context) (release func(), err error) {
	release, err = r.opMu.AcquireContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait for the other Git operations on %s: %w", RedactURL(r.url), err)
	}
	return release, nil
}

// Urgent marks the Git operations under ctx as urgent (a rollback): each
// waits only for the operation in flight on its repository, going before
// the ordinary operations queued behind it.
func Urgent(ctx context.Context) context.Context { return prio.WithUrgent(ctx) }

// network bounds one conversation with the remote by the Repo's timeout and
// reports it to the Observe hook when done is called.
func (r *Repo) network(ctx context.Context, op string) (context.Context, func(err error)) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	start := time.Now()
	return ctx, func(err error) {
		cancel()
		if r.observe != nil {
			r.observe(op, time.Since(start), err)
		}
	}
}

// Close releases open pack file descriptors. The Repo must not be used after.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packs.close()
	return r.st.Close()
}

// URL returns the remote URL the cache mirrors (it never carries credentials).
func (r *Repo) URL() string { return r.url }

// endpoint is a copy of the remote's endpoint for one session: go-git's
// HTTP transport rewrites its session's endpoint in place when it checks
// for a redirect, so sessions that run side by side (a fetch and a
// proposal) must not share one.
func (r *Repo) endpoint() *transport.Endpoint {
	ep := *r.ep
	return &ep
}

// authMethod returns the auth as the interface, nil-safe (a typed nil pointer
// inside the interface would make go-git dereference it).
func (r *Repo) authMethod() transport.AuthMethod {
	if r.auth == nil {
		return nil
	}
	return r.auth
}

// readObject returns an object's type and full content.
func (r *Repo) readObject(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, b, ok := r.packs.read(h); ok {
		return t, b, nil
	}
	o, err := r.st.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return 0, nil, fmt.Errorf("object %s: %w", h, ErrNotFound)
		}
		return 0, nil, fmt.Errorf("read object %s: %w", h, err)
	}
	rd, err := o.Reader()
	if err != nil {
		return 0, nil, fmt.Errorf("read object %s: %w", h, err)
	}
	defer rd.Close()
	b := make([]byte, o.Size())
	if _, err := io.ReadFull(rd, b); err != nil {
		return 0, nil, fmt.Errorf("read object %s: %w", h, err)
	}
	return o.Type(), b, nil
}

// viewObject calls fn with object h's type and content. When a pack holds
// h, the content is the pack cache's, not a copy, and fn runs under the
// storage mutex: it must be quick and must not keep data.
func (r *Repo) viewObject(h plumbing.Hash, fn func(plumbing.ObjectType, []byte) error) error {
	r.mu.Lock()
	if t, b, ok := r.packs.view(h); ok {
		defer r.mu.Unlock()
		return fn(t, b)
	}
	r.mu.Unlock()
	t, b, err := r.readObject(h)
	if err != nil {
		return err
	}
	return fn(t, b)
}

// hasObject reports whether the object is in the local store.
func (r *Repo) hasObject(h plumbing.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packs.has(h) || r.st.HasEncodedObject(h) == nil
}

// Tip returns the last fetched (or pushed) tip of a remote branch, and false
// if the cache has no record of the branch.
func (r *Repo) Tip(branch string) (plumbing.Hash, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, err := r.st.Reference(plumbing.ReferenceName(remoteRefPrefix + branch))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("read tip of %s: %w", branch, err)
	}
	return ref.Hash(), true, nil
}

func (r *Repo) setTip(branch string, h plumbing.Hash) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := plumbing.ReferenceName(remoteRefPrefix + branch)
	if h.IsZero() {
		if err := r.st.RemoveReference(name); err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
			return fmt.Errorf("remove tip of %s: %w", branch, err)
		}
		return nil
	}
	if err := r.st.SetReference(plumbing.NewHashReference(name, h)); err != nil {
		return fmt.Errorf("record tip of %s: %w", branch, err)
	}
	return nil
}

// localTips returns every recorded remote branch tip.
func (r *Repo) localTips() (map[string]plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it, err := r.st.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	tips := map[string]plumbing.Hash{}
	err = it.ForEach(func(ref *plumbing.Reference) error {
		if n := ref.Name().String(); strings.HasPrefix(n, remoteRefPrefix) && ref.Type() == plumbing.HashReference {
			tips[strings.TrimPrefix(n, remoteRefPrefix)] = ref.Hash()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	return tips, nil
}

// RedactURL removes any userinfo (user, password, token) from a URL.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Not parseable: drop everything between "://" and the last '@'.
		if i := strings.Index(raw, "://"); i >= 0 {
			if j := strings.LastIndex(raw, "@"); j > i {
				return raw[:i+3] + "REDACTED@" + raw[j+1:]
			}
		}
		return raw
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}
