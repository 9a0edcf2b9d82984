package gitops

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Branches lists the server's branch tips now (one round trip, nothing
// fetched); use it to see whether a PR branch exists.
func (r *Repo) Branches(ctx context.Context) (map[string]plumbing.Hash, error) {
	return r.remoteTips(ctx)
}

// remoteTips lists the server's branch tips (one receive-pack advertisement).
func (r *Repo) remoteTips(ctx context.Context) (map[string]plumbing.Hash, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	sess, err := r.tr.NewReceivePackSession(r.endpoint(), r.authMethod())
	if err != nil {
		return nil, fmt.Errorf("list refs of %s: %w", r.url, err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list refs of %s: %w", r.url, err)
	}
	return advertisedBranches(adv)
}

// pushSession is one receive-pack conversation: the server's advertised
// tips, then at most one update.
type pushSession struct {
	r    *Repo
	sess transport.ReceivePackSession
	adv  *packp.AdvRefs
	tips map[string]plumbing.Hash
}

func (r *Repo) openPush(ctx context.Context) (*pushSession, error) {
	sess, err := r.tr.NewReceivePackSession(r.endpoint(), r.authMethod())
	if err != nil {
		return nil, fmt.Errorf("push to %s: %w", r.url, err)
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("push to %s: list refs: %w", r.url, err)
	}
	tips, err := advertisedBranches(adv)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("push to %s: %w", r.url, err)
	}
	return &pushSession{r: r, sess: sess, adv: adv, tips: tips}, nil
}

func (p *pushSession) Close() error { return p.sess.Close() }

// update sets branch from old to new on the server, sending only the objects
// in objs. The server applies it only if the branch still has the value old
// (zero: the branch must not exist), which makes it a compare-and-swap. A lost
// race returns a *PushRejectedError with Stale set.
func (p *pushSession) update(ctx context.Context, branch string, old, new plumbing.Hash, objs *objectSet) error {
	r := p.r
	ref := plumbing.NewBranchReferenceName(branch)
	if cur := p.tips[branch]; cur != old {
		return &PushRejectedError{Ref: ref.String(), Reason: fmt.Sprintf("branch is at %s, expected %s", short(cur), short(old)), Stale: true}
	}
	rs, err := p.send(ctx, []*packp.Command{{Name: ref, Old: old, New: new}}, objs.mem, objs.news, nil)
	if err == nil && rs == nil {
		err = fmt.Errorf("no status report")
	}
	if err != nil {
		// Find out whether we lost a race or the server refused for good.
		now, lerr := r.remoteTips(ctx)
		stale := lerr == nil && now[branch] != old
		return &PushRejectedError{Ref: ref.String(), Reason: strings.TrimSpace(err.Error()), Stale: stale}
	}
	return nil
}

// send makes one push: cmds, with a pack of the objects news read from
// mem, and opts as push options ("key=value") when the server takes them.
// It returns the server's report, which comes with the error of a refused
// command.
func (p *pushSession) send(ctx context.Context, cmds []*packp.Command, mem storer.EncodedObjectStorer, news []plumbing.Hash, opts []string) (*packp.ReportStatus, error) {
	var pack bytes.Buffer
	if _, err := packfile.NewEncoder(&pack, mem, false).Encode(news, 0); err != nil {
		return nil, fmt.Errorf("push to %s: build pack: %w", p.r.url, err)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(p.adv.Capabilities)
	req.Commands = cmds
	if len(opts) > 0 && p.adv.Capabilities.Supports(capability.PushOptions) {
		if err := req.Capabilities.Set(capability.PushOptions); err != nil {
			return nil, fmt.Errorf("push to %s: %w", p.r.url, err)
		}
		for _, o := range opts {
			k, v, _ := strings.Cut(o, "=")
			req.Options = append(req.Options, &packp.Option{Key: k, Value: v})
		}
	}
	req.Packfile = io.NopCloser(&pack)
	return p.sess.ReceivePack(ctx, req)
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing (absent)"
	}
	return h.String()[:12]
}
