package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/freeze"
	"github.com/ensignbot/ensign/gate"
	"github.com/ensignbot/ensign/policy"
	"github.com/ensignbot/ensign/promote"
	"github.com/ensignbot/ensign/rollback"
	"github.com/ensignbot/ensign/vocab"
	"github.com/ensignbot/ensign/webhook"
	"github.com/ensignbot/ensign/workspace"
)

// run holds what one comment's commands share: the policy, and the
// commenter's permission, looked up at most once.
type run struct {
	d      *Dispatcher
	ctx    context.Context
	repo   forge.Repo
	ev     webhook.CommentEvent
	log    *slog.Logger
	pol    *policy.Policy
	polErr error

	level    *policy.Level
	memberOf map[policy.TeamRef]bool
	errs     []error
	refused  bool // the last command was not allowed or not applicable
}

// one runs a single command and returns its answer.
func (r *run) one(cmd Command) string {
	switch {
	case cmd.Unknown:
		return "ensign has no command " + vocab.Code("/"+cmd.Name) + ".\n\n" + helpText(r.pol, r.d.cfg.Floors)
	case cmd.Problem != "" && cmd.Name == "":
		return vocab.UpperFirst(cmd.Problem) + "."
	case cmd.Problem != "":
		return vocab.UpperFirst(cmd.Problem) + ". Nothing was done."
	case errors.Is(r.polErr, workspace.ErrInvalidPolicy):
		r.errs = append(r.errs, r.polErr)
		return "ensign cannot act on this repository because its policy is invalid:\n\n" +
			vocab.CodeBlock([]string{r.polErr.Error()}) + "\nNothing was done."
	case r.polErr != nil:
		r.errs = append(r.errs, r.polErr)
		return "ensign could not read this repository's policy (Gitea or the network failed), so nothing was done. Please try again later."
	case r.pol == nil && cmd.Name != policy.CommandHelp:
		return "This repository has no ensign policy file, so ensign manages nothing here. Nothing was done."
	}
	need := r.pol.CommandPermission(cmd.Name)
	need.Floor = r.d.cfg.Floors[cmd.Name]
	ok, err := r.authorized(need)
	if err != nil {
		r.errs = append(r.errs, err)
		return "ensign could not check your permissions, so nothing was done. Please try again later."
	}
	if !ok {
		r.refused = true
		return fmt.Sprintf("Refused: %s needs %s on %s. Nothing was done.", display(cmd), Requirement(need), r.repo)
	}
	switch cmd.Name {
	case policy.CommandHelp:
		return helpText(r.pol, r.d.cfg.Floors)
	case policy.CommandHold:
		return r.gated(r.hold(cmd.Arg))
	case policy.CommandUnhold:
		return r.gated(r.unhold())
	}
	svc := r.d.cfg.Services
	if svc == nil {
		return notAvailable()
	}
	switch cmd.Name {
	case policy.CommandPromote, policy.CommandPromoteNow:
		req := promote.PRRequest{PR: r.ev.Number, Person: r.ev.Author, Now: cmd.Name == policy.CommandPromoteNow}
		return r.service(display(cmd), func() (string, error) {
			out, err := svc.PromotePR(r.ctx, r.repo, req)
			if err == nil && out.Action == promote.ActionNotPromotion && req.Now {
				// A person's own change to a gated stage: let it through the
				// window gate for its current head.
				v, err := svc.GateOverride(r.ctx, r.repo, r.ev.Number, r.ev.Author)
				if errors.Is(err, gate.ErrNotGated) {
					return renderPromotion(out), nil
				}
				return renderOverride(v), err
			}
			return renderPromotion(out), err
		})
	case policy.CommandRollback:
		req := rollback.PRRequest{PR: r.ev.Number, SHA: cmd.Arg, Person: r.ev.Author}
		return r.service(display(cmd), func() (string, error) {
			out, err := svc.RollbackPR(r.ctx, r.repo, req)
			return renderRollback(out), err
		})
	case policy.CommandFreeze, policy.CommandUnfreeze:
		return r.freeze(svc, cmd)
	case policy.CommandStatus:
		return r.service(display(cmd), func() (string, error) {
			rep, err := svc.StatusPR(r.ctx, r.repo, r.ev.Number)
			return renderStatus(rep), err
		})
	}
	return "ensign does not know how to run this command. Nothing was done."
}

// authorized looks up what Authorize needs (the level once per comment, team
// memberships only when the level does not already decide) and asks it.
func (r *run) authorized(need policy.Permission) (bool, error) {
	if r.level == nil {
		raw, err := r.d.cfg.Forge.RepoPermission(r.ctx, r.repo, r.ev.Author)
		if err != nil {
			return false, fmt.Errorf("authorize %s: %w", r.ev.Author, err)
		}
		level, err := policy.ParseLevel(raw)
		if err != nil {
			return false, fmt.Errorf("authorize %s: Gitea's permission %q: %w", r.ev.Author, raw, err)
		}
		r.level = &level
	}
	if need.GrantsLevel(*r.level) || len(need.Teams) == 0 || !need.Admits(*r.level) {
		return Authorize(need, *r.level, nil), nil
	}
	if r.memberOf == nil {
		r.memberOf = make(map[policy.TeamRef]bool)
	}
	var teams []policy.TeamRef
	for _, t := range need.Teams {
		member, known := r.memberOf[t]
		if !known {
			var err error
			member, err = r.d.cfg.Forge.TeamMember(r.ctx, t.Org, t.Team, r.ev.Author)
			if errors.Is(err, forge.ErrNotFound) {
				r.log.Warn("policy names a team that does not exist", "team", t.String())
				member, err = false, nil
			}
			if err != nil {
				return false, fmt.Errorf("authorize %s: %w", r.ev.Author, err)
			}
			r.memberOf[t] = member
		}
		if member {
			teams = append(teams, t)
		}
	}
	return Authorize(need, *r.level, teams), nil
}

func (r *run) hold(reason string) string {
	label := holdLabel(r.pol)
	added, err := r.d.cfg.Forge.AddLabel(r.ctx, r.repo, r.ev.Number, forge.Label{
		Name: label, Color: "#e11d21", Description: "ensign will not merge or promote this pull request",
	})
	if err != nil {
		r.errs = append(r.errs, err)
		return "ensign could not add the " + vocab.Code(label) + " label, so the pull request is not on hold. Please try again."
	}
	text := vocab.HoldText(label, r.ev.Author, reason)
	if err := r.d.cfg.Forge.SetStatusSection(r.ctx, r.repo, r.ev.Number, vocab.SectionHold, text); err != nil {
		r.errs = append(r.errs, err)
		return "The pull request is on hold (label " + vocab.Code(label) + "), but ensign could not record the reason in its status comment."
	}
	if !added {
		return "This pull request was already on hold; the reason is updated."
	}
	return "This pull request is now on hold (label " + vocab.Code(label) + "). ensign will not merge or promote it until " + vocab.Code("/unhold") + "."
}

// gated brings the pull request's window gate status up to date after a
// hold changed, and returns answer. A failure is logged: the next change
// of the pull request or of the windows writes the status again.
func (r *run) gated(answer string) string {
	if r.d.cfg.Services == nil {
		return answer
	}
	if _, err := r.d.cfg.Services.GateRefresh(r.ctx, r.repo, r.ev.Number); err != nil {
		r.log.Warn("update the window gate after a hold", "err", err)
	}
	return answer
}

func (r *run) unhold() string {
	label := holdLabel(r.pol)
	removed, err := r.d.cfg.Forge.RemoveLabel(r.ctx, r.repo, r.ev.Number, label)
	if err != nil {
		r.errs = append(r.errs, err)
		return "ensign could not remove the " + vocab.Code(label) + " label, so the pull request is still on hold. Please try again."
	}
	if err := r.d.cfg.Forge.SetStatusSection(r.ctx, r.repo, r.ev.Number, vocab.SectionHold, ""); err != nil {
		r.errs = append(r.errs, err)
		return "The hold label is removed, but ensign could not update its status comment."
	}
	if !removed {
		return "This pull request was not on hold."
	}
	return "The hold is lifted."
}

// service calls a service and turns its result into an answer.
func (r *run) service(what string, call func() (string, error)) string {
	text, err := call()
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %w", what, err))
		return vocab.Code(what) + " failed: " + bound(err.Error(), 300)
	}
	if strings.TrimSpace(text) == "" {
		return "Done."
	}
	return text
}

func notAvailable() string {
	return "Not available: ensign's promotion and rollback services are not running in this deployment. Nothing was done."
}

func holdLabel(p *policy.Policy) string {
	if p != nil && p.Labels.Hold != "" {
		return p.Labels.Hold
	}
	return "hold"
}

// display is how a command is named in answers: "/promote now" rather than
// "promote-now".
func display(cmd Command) string {
	if cmd.Name == policy.CommandPromoteNow {
		return "/promote now"
	}
	return "/" + cmd.Name
}

// freeze runs /freeze or /unfreeze. A request the service refuses is
// answered with why; it is the person's to fix, not an error to retry.
func (r *run) freeze(svc Services, cmd Command) string {
	req := freeze.Request{By: r.ev.Author, For: cmd.For, Reason: cmd.Arg}
	if app, stage, ok := strings.Cut(cmd.Scope, "/"); ok {
		req.Apps, req.Stage = []string{app}, stage
	} else {
		req.Stage, req.All = cmd.Scope, true
	}
	var out freeze.Outcome
	var err error
	if cmd.Name == policy.CommandFreeze {
		out, err = svc.Freeze(r.ctx, r.repo, req)
	} else {
		out, err = svc.Unfreeze(r.ctx, r.repo, req)
	}
	if errors.Is(err, freeze.ErrBadRequest) {
		r.refused = true
		return "Refused: " + bound(strings.TrimPrefix(err.Error(), freeze.ErrBadRequest.Error()+": "), 300) + ". Nothing was done."
	}
	return r.service(display(cmd), func() (string, error) { return renderFreeze(out), err })
}
