package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// revertRenamed measures reverting a commit whose files were moved after
// it: before each measured pair, a commit that renames the reverted
// commit's app directory (apps/teamT/appA → apps/teamT/appA-renamed, ten
// files) is put on the server's main. Both tools then revert with rename
// detection: the revert lands at the new path.
func (b *bench) revertRenamed(runs int) error {
	cands, err := b.candidates(100, 6*runs)
	if err != nil {
		return err
	}
	// One candidate per app directory, since each run moves its app.
	seen := map[string]bool{}
	var picked []string
	for _, sha := range cands {
		dir, err := b.appDirOf(sha)
		if err != nil {
			return err
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		picked = append(picked, sha)
	}
	if len(picked) < 2*runs {
		return fmt.Errorf("only %d revert candidates in distinct app directories", len(picked))
	}
	for i := 0; i < runs; i++ {
		for _, sha := range picked[2*i : 2*i+2] {
			if err := b.renameAppOf(sha); err != nil {
				return err
			}
		}
		ens := exec.Command(b.self, "op", "revert", "-cache", b.path("ens"), "-url", b.url, "-sha", picked[2*i])
		cli := shCmd(b.path("cli"), "git fetch -q origin && git reset -q --hard origin/main && git revert --no-edit %s >/dev/null && git push -q origin HEAD:main", picked[2*i+1])
		if err := b.pair("revert-renamed", i, ens, cli); err != nil {
			return err
		}
		for _, sha := range picked[2*i : 2*i+2] {
			if err := b.checkRevertedAtNewPath(sha); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRevertedAtNewPath makes sure a measured revert did what git's
// rename detection says: main has the reverted commit's parent's content
// at the renamed path.
func (b *bench) checkRevertedAtNewPath(sha string) error {
	files, err := b.changedFiles(sha)
	if err != nil {
		return err
	}
	dir, err := appDirOfFiles(sha, files)
	if err != nil {
		return err
	}
	for _, f := range files {
		want, err := exec.Command("git", "-C", b.srvRepo, "rev-parse", sha+"^:"+f).Output()
		if err != nil {
			return err
		}
		moved := dir + "-renamed" + strings.TrimPrefix(f, dir)
		got, err := exec.Command("git", "-C", b.srvRepo, "rev-parse", "main:"+moved).Output()
		if err != nil {
			return fmt.Errorf("after reverting %s: %s: %w", sha, moved, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("after reverting %s: %s is not the parent's version", sha, moved)
		}
	}
	return nil
}

// appDirOf is the apps/teamT/appA directory a commit changed.
func (b *bench) appDirOf(sha string) (string, error) {
	files, err := b.changedFiles(sha)
	if err != nil {
		return "", err
	}
	return appDirOfFiles(sha, files)
}

// appDirOfFiles is the apps/teamT/appA directory of files, which commit
// sha changed.
func appDirOfFiles(sha string, files []string) (string, error) {
	if len(files) == 0 {
		return "", fmt.Errorf("%s changes nothing", sha)
	}
	parts := strings.SplitN(files[0], "/", 4)
	if len(parts) < 4 {
		return "", fmt.Errorf("%s: unexpected path %s", sha, files[0])
	}
	return strings.Join(parts[:3], "/"), nil
}

// renameAppOf commits, straight into the server repository, a move of the
// app directory sha changed to "<dir>-renamed" on top of main.
func (b *bench) renameAppOf(sha string) error {
	dir, err := b.appDirOf(sha)
	if err != nil {
		return err
	}
	index := filepath.Join(b.work, "rename-index")
	defer os.Remove(index)
	git := func(stdin []byte, args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-C", b.srvRepo}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_INDEX_FILE="+index,
			"GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
			"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com")
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	main, err := git(nil, "rev-parse", "refs/heads/main")
	if err != nil {
		return err
	}
	if _, err := git(nil, "read-tree", main); err != nil {
		return err
	}
	ls, err := git(nil, "ls-files", "-s", "--", dir+"/")
	if err != nil {
		return err
	}
	var info bytes.Buffer
	for _, line := range strings.Split(ls, "\n") {
		meta, path, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta) // mode, object, stage
		fmt.Fprintf(&info, "0 %s\t%s\n", strings.Repeat("0", 40), path)
		fmt.Fprintf(&info, "%s %s 0\t%s-renamed%s\n", f[0], f[1], dir, strings.TrimPrefix(path, dir))
	}
	if _, err := git(info.Bytes(), "update-index", "--index-info"); err != nil {
		return err
	}
	tree, err := git(nil, "write-tree")
	if err != nil {
		return err
	}
	commit, err := git(nil, "commit-tree", tree, "-p", main, "-m", "Rename "+dir)
	if err != nil {
		return err
	}
	_, err = git(nil, "update-ref", "refs/heads/main", commit, main)
	return err
}
