package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/ensignbot/ensign/internal/prio"
)

// FetchOptions select what Fetch brings in.
type FetchOptions struct {
	// Branches to fetch (short names such as "main"). Required.
	Branches []string
	// Depth limits history on a first fetch (a shallow clone); 0 fetches full
	// history. Once a branch is present, later fetches bring only new commits
	// whatever the depth.
	Depth int
}

// Fetch brings the named branches up to date with the remote and returns
// their tips; a branch missing on the remote is absent from the map (and its
// record in the cache is dropped).
//
// While another operation holds the repository (a rollback's fetch and
// push take seconds), Fetch first asks the remote for its tips without
// waiting: when the cache holds every one already, as it does unless
// somebody else pushed, it returns them at once and leaves the recorded
// tips to the operations that hold the lock.
func (r *Repo) Fetch(ctx context.Context, opts FetchOptions) (map[string]plumbing.Hash, error) {
	if len(opts.Branches) == 0 {
		return nil, errors.New("fetch: no branches given")
	}
	release, free := r.opMu.TryAcquire(prio.Urgent(ctx))
	if !free {
		tips, cached, err := r.cachedTips(ctx, opts)
		if err != nil || cached {
			return tips, err
		}
		if release, err = r.begin(ctx); err != nil {
			return nil, err
		}
	}
	defer release()
	return r.fetch(ctx, opts)
}

// cachedTips lists the remote's branch tips (remoteTips, without the lock)
// and reports whether the cache holds the tip of each of opts.Branches,
// which must each exist.
func (r *Repo) cachedTips(ctx context.Context, opts FetchOptions) (_ map[string]plumbing.Hash, cached bool, err error) {
	remote, err := r.remoteTips(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("fetch from %s: %w", r.url, err)
	}
	tips := map[string]plumbing.Hash{}
	for _, b := range opts.Branches {
		h, ok := remote[b]
		if !ok || !r.hasObject(h) {
			return nil, false, nil
		}
		tips[b] = h
	}
	return tips, true, nil
}

func (r *Repo) fetch(ctx context.Context, opts FetchOptions) (_ map[string]plumbing.Hash, err error) {
	if len(opts.Branches) == 0 {
		return nil, errors.New("fetch: no branches given")
	}
	ctx, done := r.network(ctx, "fetch")
	defer func() { done(err) }()
	sess, adv, err := r.uploadPackSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", r.url, err)
	}
	defer sess.Close()
	remote, err := advertisedBranches(adv)
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", r.url, err)
	}
	tips := map[string]plumbing.Hash{}
	var wants []plumbing.Hash
	for _, b := range opts.Branches {
		h, ok := remote[b]
		if !ok {
			continue
		}
		tips[b] = h
		if !r.hasObject(h) {
			wants = append(wants, h)
		}
	}
	if len(wants) > 0 {
		depth := 0
		if !r.hasAnyTip() {
			depth = opts.Depth
		}
		if err := r.uploadPack(ctx, sess, adv, wants, depth); err != nil {
			return nil, fmt.Errorf("fetch from %s: %w", r.url, err)
		}
	}
	for _, b := range opts.Branches {
		if err := r.setTip(b, tips[b]); err != nil {
			return nil, err
		}
	}
	return tips, nil
}

// Deepen fetches more history behind a branch's tip so that at least depth
// first-parent commits are present (a no-op on full clones).
func (r *Repo) Deepen(ctx context.Context, branch string, depth int) error {
	release, err := r.begin(ctx)
	if err != nil {
		return err
	}
	defer release()
	return r.deepen(ctx, branch, depth)
}

func (r *Repo) deepen(ctx context.Context, branch string, depth int) (err error) {
	tip, ok, err := r.Tip(branch)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("deepen %s: %w", branch, ErrBranchMissing)
	}
	shallow, err := r.shallows()
	if err != nil || len(shallow) == 0 {
		return err
	}
	ctx, done := r.network(ctx, "fetch")
	defer func() { done(err) }()
	sess, adv, err := r.uploadPackSession(ctx)
	if err != nil {
		return fmt.Errorf("deepen %s: %w", branch, err)
	}
	defer sess.Close()
	if err := r.uploadPack(ctx, sess, adv, []plumbing.Hash{tip}, depth); err != nil {
		return fmt.Errorf("deepen %s to %d: %w", branch, depth, err)
	}
	return nil
}

// FetchCommit fetches one commit (which must be reachable from a remote
// branch) with depth commits of its history, for a shallow cache that needs
// an old commit without the history in between.
func (r *Repo) FetchCommit(ctx context.Context, h plumbing.Hash, depth int) error {
	// A commit the cache holds (a promotion ensign just pushed) needs
	// neither the network nor a wait behind a rollback holding the lock.
	if r.hasObject(h) {
		return nil
	}
	release, err := r.begin(ctx)
	if err != nil {
		return err
	}
	defer release()
	return r.fetchCommit(ctx, h, depth)
}

func (r *Repo) fetchCommit(ctx context.Context, h plumbing.Hash, depth int) (err error) {
	if r.hasObject(h) {
		return nil
	}
	ctx, done := r.network(ctx, "fetch")
	defer func() { done(err) }()
	sess, adv, err := r.uploadPackSession(ctx)
	if err != nil {
		return fmt.Errorf("fetch commit %s: %w", h, err)
	}
	defer sess.Close()
	if err := r.uploadPack(ctx, sess, adv, []plumbing.Hash{h}, depth); err != nil {
		return fmt.Errorf("fetch commit %s: %w", h, err)
	}
	return nil
}

// uploadPackSession opens an upload-pack session with the remote and reads
// the references it advertises. The caller closes the session.
func (r *Repo) uploadPackSession(ctx context.Context) (transport.UploadPackSession, *packp.AdvRefs, error) {
	sess, err := r.tr.NewUploadPackSession(r.endpoint(), r.authMethod())
	if err != nil {
		return nil, nil, err
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, nil, fmt.Errorf("list refs: %w", err)
	}
	return sess, adv, nil
}

// uploadPack asks for wants (shallow to depth when depth > 0), offering the
// recorded tips as haves, and stores the pack and the new shallow boundary.
func (r *Repo) uploadPack(ctx context.Context, sess transport.UploadPackSession, adv *packp.AdvRefs, wants []plumbing.Hash, depth int) error {
	req := packp.NewUploadPackRequestFromCapabilities(adv.Capabilities)
	// A thin pack may reference bases below our shallow boundary.
	req.Capabilities.Delete(capability.ThinPack)
	if adv.Capabilities.Supports(capability.NoProgress) {
		_ = req.Capabilities.Set(capability.NoProgress)
	}
	req.Wants = wants
	tips, err := r.localTips()
	if err != nil {
		return err
	}
	seen := map[plumbing.Hash]bool{}
	for _, h := range tips {
		if !seen[h] && r.hasObject(h) {
			seen[h] = true
			req.Haves = append(req.Haves, h)
		}
	}
	shallow, err := r.shallows()
	if err != nil {
		return err
	}
	if depth > 0 || len(shallow) > 0 {
		if !adv.Capabilities.Supports(capability.Shallow) {
			return errors.New("server does not support shallow fetches")
		}
		_ = req.Capabilities.Set(capability.Shallow)
		req.Shallows = shallow
	}
	if depth > 0 {
		req.Depth = packp.DepthCommits(depth)
	}
	resp, err := sess.UploadPack(ctx, req)
	if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("upload-pack: %w", err)
	}
	defer resp.Close()
	var rd io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		rd = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		rd = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	r.mu.Lock()
	err = packfile.UpdateObjectStorage(r.st, rd)
	// go-git keeps every pack's index decoded in memory once it has read
	// one, and writing a pack reads them all; ensign reads packs through
	// packReader, so let go-git's copies go until it needs them again.
	r.st.Reindex()
	if err == nil {
		r.maybeRepack()
	}
	r.mu.Unlock()
	if err != nil && !errors.Is(err, packfile.ErrEmptyPackfile) {
		return fmt.Errorf("store pack: %w", err)
	}
	if depth > 0 || len(shallow) > 0 {
		return r.updateShallows(shallow, resp.Shallows, resp.Unshallows)
	}
	return nil
}

func (r *Repo) shallows() ([]plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.st.Shallow()
	if err != nil {
		return nil, fmt.Errorf("read shallow list: %w", err)
	}
	return s, nil
}

func (r *Repo) updateShallows(old, add, remove []plumbing.Hash) error {
	set := map[plumbing.Hash]bool{}
	for _, h := range old {
		set[h] = true
	}
	for _, h := range add {
		set[h] = true
	}
	for _, h := range remove {
		delete(set, h)
	}
	list := make([]plumbing.Hash, 0, len(set))
	for h := range set {
		list = append(list, h)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.st.SetShallow(list); err != nil {
		return fmt.Errorf("write shallow list: %w", err)
	}
	return nil
}

// IsShallow reports whether the cache lacks part of the history.
func (r *Repo) IsShallow() (bool, error) {
	s, err := r.shallows()
	return len(s) > 0, err
}

func (r *Repo) hasAnyTip() bool {
	tips, err := r.localTips()
	if err != nil {
		return false
	}
	for _, h := range tips {
		if r.hasObject(h) {
			return true
		}
	}
	return false
}

// advertisedBranches maps branch short names to the hashes a server advertised.
func advertisedBranches(adv *packp.AdvRefs) (map[string]plumbing.Hash, error) {
	refs, err := adv.AllReferences()
	if err != nil {
		return nil, fmt.Errorf("decode advertised refs: %w", err)
	}
	out := map[string]plumbing.Hash{}
	for name, ref := range refs {
		if name.IsBranch() && ref.Type() == plumbing.HashReference {
			out[name.Short()] = ref.Hash()
		}
	}
	return out, nil
}
