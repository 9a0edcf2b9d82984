package freeze

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/workspace"
)

// ErrBadRequest wraps a request that cannot be right whatever the retry:
// no stage, no reason, a length out of bounds, an app or stage the policy
// does not have.
var ErrBadRequest = errors.New("bad freeze request")

// Forge is what the Service needs of Gitea: a pull request when the deploy
// branch refuses ensign's push.
type Forge interface {
	EnsurePullRequest(ctx context.Context, repo forge.Repo, want forge.NewPullRequest) (forge.PullRequest, bool, error)
}

// Service freezes and unfreezes the stages of one repository.
type Service struct {
	ws    *workspace.Workspace
	forge Forge
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service for ws. now may be nil (time.Now).
func New(ws *workspace.Workspace, f Forge, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{ws: ws, forge: f, log: log, now: now}
}

// Request asks to freeze or unfreeze a stage of some apps.
type Request struct {
	// Stage is the stage.
	Stage string
	// Apps are the apps; All means every app that has Stage. Exactly one
	// of them is given.
	Apps []string
	All  bool
	// For is how long a freeze lasts, from now (Freeze only).
	For time.Duration
	// Reason says why (Freeze only; required).
	Reason string
	// By is who asks.
	By string
}

// Action is what a call did.
type Action string

// Actions of Freeze, Unfreeze and Expire.
const (
	// ActionFrozen: the freeze is on the deploy branch.
	ActionFrozen Action = "frozen"
	// ActionExtended: a freeze of the same stage and apps was replaced by
	// this one (longer, shorter or with a new reason).
	ActionExtended Action = "extended"
	// ActionUnfrozen: freezes were removed from the deploy branch.
	ActionUnfrozen Action = "unfrozen"
	// ActionExpired: freezes that had ended were removed.
	ActionExpired Action = "expired"
	// ActionProposed: the deploy branch refused ensign's push; the change
	// waits in pull request PR for a person to merge.
	ActionProposed Action = "proposed"
	// ActionNotFrozen: nothing matched; nothing written.
	ActionNotFrozen Action = "not-frozen"
)

// Outcome is what Freeze, Unfreeze or Expire did.
type Outcome struct {
	Action Action `json:"action"`
	// Freeze is the freeze written (Freeze).
	Freeze *policy.Freeze `json:"freeze,omitempty"`
	// Removed are the freezes removed or narrowed (Unfreeze, Expire).
	Removed []policy.Freeze `json:"removed,omitempty"`
	// StillFrozen are freezes that keep covering what Unfreeze was asked
	// about, because they cover more (every app) than it was asked to lift.
	StillFrozen []policy.Freeze `json:"stillFrozen,omitempty"`
	// Commit is the commit on the deploy branch, or on the pull request's
	// branch for ActionProposed.
	Commit string `json:"commit,omitempty"`
	// PR and URL are the pull request of ActionProposed.
	PR  int64  `json:"pr,omitempty"`
	URL string `json:"url,omitempty"`
	// Reason says why in one sentence.
	Reason string `json:"reason"`
}

// Freeze writes a freeze of req.Stage of req.Apps (or every app) from now
// for req.For. A freeze of the same stage and apps is replaced, so a second
// /freeze extends or shortens the first.
func (s *Service) Freeze(ctx context.Context, req Request) (Outcome, error) {
	now := s.now().UTC().Truncate(time.Second)
	f := policy.Freeze{Stage: req.Stage, Apps: slices.Sorted(slices.Values(req.Apps)), From: now, Until: now.Add(req.For), By: req.By, Reason: strings.TrimSpace(req.Reason)}
	if err := checkSelection(req); err != nil {
		return Outcome{}, err
	}
	if req.For <= 0 {
		return Outcome{}, fmt.Errorf("%w: give how long the freeze lasts (for example 4h)", ErrBadRequest)
	}
	if err := f.Check(); err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	replaced := false
	out, err := s.change(ctx, req, "freeze", func(pol *policy.Policy) ([]policy.Freeze, error) {
		if err := checkScope(pol, req); err != nil {
			return nil, err
		}
		replaced = false
		var keep []policy.Freeze
		for _, g := range pol.Freezes {
			switch {
			case g.Ended(now):
			case g.Stage == f.Stage && slices.Equal(g.Apps, f.Apps):
				replaced = true
			default:
				keep = append(keep, g)
			}
		}
		return append(keep, f), nil
	}, func() string {
		return fmt.Sprintf("Freeze %s until %s\n\n%s\n\nAsked by %s.", f.Scope(), f.Until.Format(time.RFC3339), f.Reason, orSomeone(f.By))
	})
	if err != nil {
		return out, err
	}
	out.Freeze = &f
	switch {
	case out.Action == ActionProposed:
	case replaced:
		out.Action, out.Reason = ActionExtended, fmt.Sprintf("%s frozen until %s (replacing the freeze it had)", f.Scope(), f.Until.Format(time.RFC3339))
	default:
		out.Action, out.Reason = ActionFrozen, fmt.Sprintf("%s frozen until %s", f.Scope(), f.Until.Format(time.RFC3339))
	}
	return out, nil
}

// Unfreeze lifts the freezes of req.Stage: with All every freeze of the
// stage; with Apps it removes those apps from the freezes that list them
// (a freeze left with no app goes). A freeze of every app is not narrowed:
// it is reported in StillFrozen, for an Unfreeze with All.
func (s *Service) Unfreeze(ctx context.Context, req Request) (Outcome, error) {
	if err := checkSelection(req); err != nil {
		return Outcome{}, err
	}
	now := s.now()
	var removed, still []policy.Freeze
	out, err := s.change(ctx, req, "unfreeze", func(pol *policy.Policy) ([]policy.Freeze, error) {
		if err := checkScope(pol, req); err != nil {
			return nil, err
		}
		removed, still = nil, nil
		var keep []policy.Freeze
		for _, g := range pol.Freezes {
			if g.Stage != req.Stage || g.Ended(now) {
				keep = append(keep, g)
				continue
			}
			switch {
			case req.All:
				removed = append(removed, g)
			case len(g.Apps) == 0:
				still = append(still, g)
				keep = append(keep, g)
			default:
				rest := slices.DeleteFunc(slices.Clone(g.Apps), func(a string) bool { return slices.Contains(req.Apps, a) })
				if len(rest) == len(g.Apps) {
					keep = append(keep, g)
					continue
				}
				removed = append(removed, g)
				if len(rest) > 0 {
					g.Apps = rest
					keep = append(keep, g)
				}
			}
		}
		if len(removed) == 0 {
			return nil, errNothing
		}
		return keep, nil
	}, func() string {
		return fmt.Sprintf("Unfreeze %s\n\nAsked by %s.", scopeOf(req), orSomeone(req.By))
	})
	out.Removed, out.StillFrozen = removed, still
	if errors.Is(err, errNothing) {
		out.Action, out.Reason = ActionNotFrozen, scopeOf(req)+" has no freeze to lift"
		if len(still) > 0 {
			out.Reason += fmt.Sprintf("; it is frozen by the freeze of %s (lift it with --all)", still[0].Scope())
		}
		return out, nil
	}
	if err != nil || out.Action == ActionProposed {
		return out, err
	}
	out.Action, out.Reason = ActionUnfrozen, scopeOf(req)+" unfrozen"
	if len(still) > 0 {
		out.Reason += fmt.Sprintf("; still frozen by the freeze of %s (lift it with --all)", still[0].Scope())
	}
	return out, nil
}

// Expire removes the freezes that have ended, so the policy file says only
// what holds. It pushes to the deploy branch only (no pull request: an
// ended freeze closes nothing, so a refused push loses nothing).
func (s *Service) Expire(ctx context.Context) (Outcome, error) {
	now := s.now()
	var removed []policy.Freeze
	out, err := s.change(ctx, Request{}, "expire", func(pol *policy.Policy) ([]policy.Freeze, error) {
		removed = nil
		var keep []policy.Freeze
		for _, g := range pol.Freezes {
			if g.Ended(now) {
				removed = append(removed, g)
			} else {
				keep = append(keep, g)
			}
		}
		if len(removed) == 0 {
			return nil, errNothing
		}
		return keep, nil
	}, func() string {
		return fmt.Sprintf("Remove %d ended freeze(s)", len(removed))
	})
	out.Removed = removed
	if errors.Is(err, errNothing) {
		return Outcome{Action: ActionNotFrozen, Reason: "no freeze has ended"}, nil
	}
	if err != nil {
		return out, err
	}
	out.Action, out.Reason = ActionExpired, fmt.Sprintf("removed %d ended freeze(s)", len(removed))
	return out, nil
}

// errNothing stops an edit that has nothing to change.
var errNothing = errors.New("nothing to change")

// checkSelection checks req names a stage and exactly one of Apps and All.
func checkSelection(req Request) error {
	switch {
	case req.Stage == "":
		return fmt.Errorf("%w: name the stage", ErrBadRequest)
	case req.All == (len(req.Apps) > 0):
		return fmt.Errorf("%w: name the apps or ask for all of them, not both or neither", ErrBadRequest)
	}
	return nil
}

// checkScope checks the policy has the stage for the apps asked about.
func checkScope(pol *policy.Policy, req Request) error {
	if req.All {
		for i := range pol.Apps {
			if pol.Apps[i].Stage(req.Stage) != nil {
				return nil
			}
		}
		return fmt.Errorf("%w: no app has a stage %q", ErrBadRequest, req.Stage)
	}
	for _, name := range req.Apps {
		a := pol.App(name)
		if a == nil {
			return fmt.Errorf("%w: the policy has no app %q", ErrBadRequest, name)
		}
		if a.Stage(req.Stage) == nil {
			return fmt.Errorf("%w: app %q has no stage %q", ErrBadRequest, name, req.Stage)
		}
	}
	return nil
}

func scopeOf(req Request) string {
	return policy.Freeze{Stage: req.Stage, Apps: slices.Sorted(slices.Values(req.Apps))}.Scope()
}

func orSomeone(by string) string {
	if by == "" {
		return "someone"
	}
	return by
}
