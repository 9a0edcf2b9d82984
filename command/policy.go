package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/policy"
)

// FileGetter reads one file of a repository; *forge.Client implements it.
type FileGetter interface {
	GetFile(ctx context.Context, repo forge.Repo, ref, path string) ([]byte, error)
}

// RepoPolicy is a PolicySource that reads the policy file from the
// repository through the Gitea API on every call, so a changed policy takes
// effect at once. A repository without the file gets the defaults; a file
// that does not load is an error naming the file, line and field.
type RepoPolicy struct {
	Files FileGetter
	// Ref is the branch, tag or commit to read; empty means the default
	// branch.
	Ref string
	// Path is the policy file's path; empty means policy.DefaultFilename.
	Path string
}

// Policy loads the repository's policy.
func (p RepoPolicy) Policy(ctx context.Context, repo forge.Repo) (*policy.Policy, error) {
	path := p.Path
	if path == "" {
		path = policy.DefaultFilename
	}
	data, err := p.Files.GetFile(ctx, repo, p.Ref, path)
	if errors.Is(err, forge.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	pol, err := policy.Load(repo.String()+"/"+path, data)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return pol, nil
}
