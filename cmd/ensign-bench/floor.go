package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"code.gitea.io/sdk/gitea"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/util"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/ensignbot/ensign/harness"
)

// floorOpts configures the Gitea floor: what Gitea alone takes for the Git
// and API work of issue 14's bursts, with no ensign running.
type floorOpts struct {
	size   int   // changes per burst (branches, pull requests, commits)
	widths []int // requests at once for the pull request rows
}

// floorRow is one measured piece of work.
type floorRow struct {
	work  string
	total time.Duration
	each  summary // per request, where the work is many requests
}

// benchFloor measures, on a repository of its own, what Gitea takes with
// nothing else running for: size promotion branches in one push and in size
// pushes two at a time (ENSIGN_PROMOTIONS' default); size pull requests
// from pushed branches, at each width; and size commits to main in one push
// (a burst of reverts). A burst target below these is out of ensign's reach
// on the machine.
func benchFloor(ctx context.Context, g *harness.GiteaServer, o floorOpts) ([]floorRow, error) {
	const org, name = "floor", "gitops"
	user, err := g.CreateUser(ctx, "floor-dev")
	if err != nil {
		return nil, err
	}
	if err := g.CreateOrg(ctx, org); err != nil {
		return nil, err
	}
	if _, err := g.CreateRepo(ctx, org, name); err != nil {
		return nil, err
	}
	if err := g.AddCollaborator(ctx, org, name, user.Name, "write"); err != nil {
		return nil, err
	}
	auth := &githttp.BasicAuth{Username: user.Name, Password: user.Token}
	url := g.URL + org + "/" + name + ".git"
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	repo, err := git.CloneContext(cctx, memory.NewStorage(), memfs.New(), &git.CloneOptions{
		URL: url, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName("main"), SingleBranch: true,
	})
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", url, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	commit := func(msg string, files map[string]string) (plumbing.Hash, error) {
		for f, content := range files {
			if err := util.WriteFile(wt.Filesystem, f, []byte(content), 0o644); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			return plumbing.ZeroHash, err
		}
		sig := &object.Signature{Name: user.Name, Email: user.Name + "@example.com", When: time.Now()}
		return wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	}
	overlay := func(app int, tag string) map[string]string {
		return map[string]string{fmt.Sprintf("apps/app-%03d/production/kustomization.yaml", app): "images:\n  - name: ghcr.io/acme/app\n    newTag: " + tag + "\n"}
	}
	push := func(refspecs ...string) error {
		specs := make([]config.RefSpec, len(refspecs))
		for i, s := range refspecs {
			specs[i] = config.RefSpec(s)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return repo.PushContext(pctx, &git.PushOptions{Auth: auth, RefSpecs: specs})
	}
	// The base: every app's production overlay.
	files := map[string]string{}
	for a := range o.size {
		for f, c := range overlay(a, "1.0.0") {
			files[f] = c
		}
	}
	base, err := commit("Add the apps", files)
	if err != nil {
		return nil, err
	}
	if err := push("refs/heads/main:refs/heads/main"); err != nil {
		return nil, fmt.Errorf("push the base: %w", err)
	}
	// branches makes size promotion branches off base, one commit each,
	// named set/<i>, and returns their push refspecs.
	branches := func(set string) ([]string, error) {
		var specs []string
		for a := range o.size {
			if err := wt.Checkout(&git.CheckoutOptions{Hash: base, Force: true}); err != nil {
				return nil, err
			}
			h, err := commit("Promote app-"+fmt.Sprint(a), overlay(a, "1.1.0"))
			if err != nil {
				return nil, err
			}
			ref := plumbing.NewBranchReferenceName(fmt.Sprintf("%s/%03d", set, a))
			if err := repo.Storer.SetReference(plumbing.NewHashReference(ref, h)); err != nil {
				return nil, err
			}
			specs = append(specs, ref.String()+":"+ref.String())
		}
		return specs, nil
	}
	var rows []floorRow
	timed := func(work string, each []time.Duration, start time.Time) {
		rows = append(rows, floorRow{work: work, total: time.Since(start), each: summarize(each)})
		fmt.Fprintf(os.Stderr, "floor: %s: %v\n", work, time.Since(start).Round(time.Millisecond))
	}

	specs, err := branches("one-push")
	if err != nil {
		return rows, err
	}
	start := time.Now()
	if err := push(specs...); err != nil {
		return rows, fmt.Errorf("push %d branches: %w", len(specs), err)
	}
	timed(fmt.Sprintf("%d promotion branches, one push", o.size), nil, start)

	if specs, err = branches("own-push"); err != nil {
		return rows, err
	}
	start = time.Now()
	each, err := timeEach(ctx, len(specs), 2, func(i int) error {
		if err := push(specs[i]); err != nil {
			return fmt.Errorf("push %s: %w", specs[i], err)
		}
		return nil
	})
	if err != nil {
		return rows, err
	}
	timed(fmt.Sprintf("%d promotion branches, a push each, 2 at once", o.size), each, start)

	for _, width := range o.widths {
		set := fmt.Sprintf("pulls-%d", width)
		if specs, err = branches(set); err != nil {
			return rows, err
		}
		if err := push(specs...); err != nil {
			return rows, err
		}
		start = time.Now()
		each, err := timeEach(ctx, o.size, width, func(i int) error {
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			c, err := g.Client(cctx, user.Token)
			if err != nil {
				return err
			}
			head := fmt.Sprintf("%s/%03d", set, i)
			if _, _, err := c.CreatePullRequest(org, name, gitea.CreatePullRequestOption{
				Head: head, Base: "main", Title: "Promote app-" + fmt.Sprint(i) + " to production", Body: "floor",
			}); err != nil {
				return fmt.Errorf("pull request from %s: %w", head, err)
			}
			return nil
		})
		if err != nil {
			return rows, err
		}
		timed(fmt.Sprintf("%d pull requests (POST /pulls), %d at once", o.size, width), each, start)
	}

	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName("main"), Force: true}); err != nil {
		return rows, err
	}
	for a := range o.size {
		if _, err := commit(fmt.Sprintf("Revert app-%03d", a), overlay(a, "0.9.0")); err != nil {
			return rows, err
		}
	}
	start = time.Now()
	if err := push("refs/heads/main:refs/heads/main"); err != nil {
		return rows, fmt.Errorf("push %d commits: %w", o.size, err)
	}
	timed(fmt.Sprintf("%d commits to main (a burst of reverts), one push", o.size), nil, start)
	return rows, nil
}

// timeEach runs fn(0..n-1) width at a time (fanOut) and returns how long
// each call took.
func timeEach(ctx context.Context, n, width int, fn func(i int) error) ([]time.Duration, error) {
	var mu sync.Mutex
	var each []time.Duration
	err := fanOut(ctx, n, width, func(i int) error {
		t := time.Now()
		if err := fn(i); err != nil {
			return err
		}
		mu.Lock()
		each = append(each, time.Since(t))
		mu.Unlock()
		return nil
	})
	return each, err
}

// fanOut runs fn(0..n-1) on at most width goroutines and returns the
// first error; it hands out no more work once ctx is done.
func fanOut(ctx context.Context, n, width int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		once sync.Once
		err  error
	)
	next := make(chan int)
	for range width {
		wg.Go(func() {
			for i := range next {
				if e := fn(i); e != nil {
					once.Do(func() { err = e })
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err != nil {
		return err
	}
	return ctx.Err()
}

// printFloor prints the floor's table.
func printFloor(w io.Writer, o floorOpts, rows []floorRow) {
	fmt.Fprintf(w, "### Gitea alone: the work of a burst of %d, no ensign running\n\n", o.size)
	out := [][]string{{"work", "total s", "each p50 ms", "each p95 ms", "each max ms"}}
	for _, r := range rows {
		row := []string{r.work, fmt.Sprintf("%.2f", r.total.Seconds()), "", "", ""}
		if r.each.N > 0 {
			row[2], row[3], row[4] = ms(r.each.P50), ms(r.each.P95), ms(r.each.Max)
		}
		out = append(out, row)
	}
	table(w, out)
	fmt.Fprintln(w)
}

// parseWidths parses -floor-widths: a comma-separated list of positive
// counts.
func parseWidths(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-floor-widths: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}
