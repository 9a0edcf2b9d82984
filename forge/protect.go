package forge

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"code.gitea.io/sdk/gitea"
)

// BranchRule is a Gitea branch protection rule that lets only some
// accounts push to the branches it matches.
type BranchRule struct {
	// Pattern is the rule's glob, e.g. "ensign/**".
	Pattern string
	// Pushers are the only accounts that may push, force-push or delete
	// branches matching Pattern.
	Pushers []string
}

// ProtectBranches makes Gitea refuse pushes to branches matching
// rule.Pattern from anyone but rule.Pushers: it creates the rule, or
// rewrites an existing rule of that pattern whose push settings differ. It
// reports whether it changed anything. The bot must be an administrator of
// repo; Gitea answers 403 otherwise.
func (c *Client) ProtectBranches(ctx context.Context, repo Repo, rule BranchRule) (bool, error) {
	if rule.Pattern == "" || len(rule.Pushers) == 0 {
		return false, fmt.Errorf("protect branches of %s: a pattern and at least one pusher are required", repo)
	}
	var existing *gitea.BranchProtection
	err := c.call(ctx, func(api *gitea.Client) (*gitea.Response, error) {
		rules, resp, err := api.ListBranchProtections(repo.Owner, repo.Name, gitea.ListBranchProtectionsOptions{
			ListOptions: gitea.ListOptions{PageSize: pageSize},
		})
		for _, r := range rules {
			if r.RuleName == rule.Pattern {
				existing = r
			}
		}
		return resp, err
	})
	if err != nil {
		return false, fmt.Errorf("protect %s of %s: list rules: %w", rule.Pattern, repo, err)
	}
	if existing != nil && sameSet(existing.PushWhitelistUsernames, rule.Pushers) && existing.EnablePush && existing.EnablePushWhitelist && len(existing.PushWhitelistTeams) == 0 && !existing.PushWhitelistDeployKeys {
		return false, nil
	}
	// The SDK's options lack the force-push fields Gitea has had since
	// 1.22; without them a rule would let every writer force-push.
	body := map[string]any{
		"enable_push":                      true,
		"enable_push_whitelist":            true,
		"push_whitelist_usernames":         rule.Pushers,
		"push_whitelist_teams":             []string{},
		"push_whitelist_deploy_keys":       false,
		"enable_force_push":                true,
		"enable_force_push_allowlist":      true,
		"force_push_allowlist_usernames":   rule.Pushers,
		"force_push_allowlist_teams":       []string{},
		"force_push_allowlist_deploy_keys": false,
	}
	method, path, want := http.MethodPost, fmt.Sprintf("/repos/%s/%s/branch_protections", repo.Owner, repo.Name), http.StatusCreated
	if existing != nil {
		method, want = http.MethodPatch, http.StatusOK
		path += "/" + url.PathEscape(rule.Pattern)
	} else {
		body["rule_name"] = rule.Pattern
	}
	code, msg, err := c.rawJSON(ctx, method, path, body)
	if err != nil {
		return false, fmt.Errorf("protect %s of %s: %w", rule.Pattern, repo, err)
	}
	if code != want {
		return false, fmt.Errorf("protect %s of %s: %w", rule.Pattern, repo, &StatusError{Code: code, Message: msg})
	}
	return true, nil
}

// sameSet reports whether a and b hold the same names, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
