package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ensignbot/ensign/gitops"
	"github.com/ensignbot/ensign/vocab"
)

var traceStart = time.Now()

// trace prints step timings when GITBENCH_TRACE is set.
func trace(step string) {
	if os.Getenv("GITBENCH_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "%8.1f ms %s\n", float64(time.Since(traceStart).Microseconds())/1000, step)
	}
}

var bot = gitops.Identity{Name: "ensign-bench", Email: "bench@example.com"}

var tagLine = regexp.MustCompile(`(?m)^(\s*newTag:\s*).*$`)

// runOp runs one measured ensign operation in this (child) process.
func runOp(args []string) error {
	if len(args) == 0 {
		return errors.New("op: name missing")
	}
	fs := flag.NewFlagSet("op", flag.ExitOnError)
	cache := fs.String("cache", "", "cache dir")
	url := fs.String("url", "", "remote URL")
	file := fs.String("file", "", "file to edit (promote)")
	tag := fs.String("tag", "", "new tag (promote)")
	sha := fs.String("sha", "", "commit to revert")
	depth := fs.Int("depth", 1, "cold start fetch depth")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := gitops.Open(ctx, gitops.Options{Dir: *cache, URL: *url})
	if err != nil {
		return err
	}
	defer r.Close()
	switch args[0] {
	case "warm":
		_, err = r.Fetch(ctx, gitops.FetchOptions{Branches: []string{"main"}})
		return err
	case "promote":
		_, err = r.Update(ctx, gitops.Target{Branch: "main"}, gitops.CommitMeta{
			Message:  "Promote to " + *tag,
			Trailers: []gitops.Trailer{{Key: vocab.TrailerPromotion, Value: *tag}},
			Author:   bot,
		}, func(ed *gitops.TreeEditor) error {
			b, err := ed.ReadFile(*file)
			if err != nil {
				return err
			}
			return ed.WriteFile(*file, tagLine.ReplaceAll(b, []byte("${1}"+*tag)))
		})
		return err
	case "revert":
		return revert(ctx, r, *sha)
	case "cold":
		if _, err := r.Fetch(ctx, gitops.FetchOptions{Branches: []string{"main"}, Depth: *depth}); err != nil {
			return err
		}
		trace("shallow fetch")
		return revert(ctx, r, *sha)
	}
	return fmt.Errorf("op: unknown %q", args[0])
}

func revert(ctx context.Context, r *gitops.Repo, sha string) error {
	h := plumbing.NewHash(sha)
	// What the rollback service does: refresh, check for an existing revert,
	// then revert and push.
	if _, err := r.Fetch(ctx, gitops.FetchOptions{Branches: []string{"main"}}); err != nil {
		return err
	}
	trace("fetch")
	if c, err := r.FindRevert(ctx, "main", h, 5000, vocab.Reverted); err != nil {
		return err
	} else if c != nil {
		return fmt.Errorf("%s already reverted by %s", sha, c.Hash)
	}
	trace("find revert")
	defer trace("revert+push")
	_, err := r.Revert(ctx, gitops.Target{Branch: "main"}, gitops.RevertRequest{
		Commit:   h,
		Author:   bot,
		Trailers: []gitops.Trailer{{Key: "Ensign-Canary", Value: "bench"}},
	})
	return err
}
