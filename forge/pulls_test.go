package forge

import (
	"encoding/base64"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"
)

// decodeOption reads a push option value back as Gitea's AGit flow does.
func decodeOption(t *testing.T, v string) string {
	t.Helper()
	if b, ok := strings.CutPrefix(v, "{base64}"); ok {
		out, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			t.Fatalf("bad base64 in %q: %v", v, err)
		}
		return string(out)
	}
	return v
}

func TestProposalOptions(t *testing.T) {
	long := strings.Repeat("a line of a long body\n", 2000)
	tests := []struct {
		name, title, body string
		wantBody          bool
	}{
		{"plain", "Promote podinfo to production", "one line", true},
		{"a body of many lines", "Promote podinfo", "Promotes podinfo.\n\n<!-- ensign:promotion {} -->\n", true},
		{"a title of two lines", "Promote\npodinfo", "x", true},
		{"a value that looks encoded", "{base64}aGk=", "{base64}aGk=", true},
		{"a body too long for a push option", "Promote podinfo", long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, o := range ProposalOptions(tt.title, tt.body) {
				k, v, ok := strings.Cut(o, "=")
				if !ok || strings.ContainsAny(o, "\r\n\x00") || len(o) > 65516 {
					t.Fatalf("option %.60q cannot be a git push option", o)
				}
				got[k] = v
			}
			if got["force-push"] != "true" {
				t.Errorf("force-push = %q, want true", got["force-push"])
			}
			if d := decodeOption(t, got["title"]); d != tt.title {
				t.Errorf("title reads back as %q, want %q", d, tt.title)
			}
			v, ok := got["description"]
			if ok != tt.wantBody {
				t.Fatalf("description sent: %v, want %v", ok, tt.wantBody)
			}
			if d := decodeOption(t, v); ok && d != tt.body {
				t.Errorf("description reads back as %q, want %q", d, tt.body)
			}
		})
	}
}

func TestToPullRequestAGit(t *testing.T) {
	tests := []struct {
		name  string
		index int64
		head  gitea.PRBranchInfo
		agit  bool
	}{
		{"proposed by AGit", 7, gitea.PRBranchInfo{Name: "", Ref: "refs/pull/7/head", Sha: "abc"}, true},
		{"from a branch", 7, gitea.PRBranchInfo{Name: "ensign/promote/x", Ref: "ensign/promote/x", Sha: "abc"}, false},
		{"from a branch since deleted", 7, gitea.PRBranchInfo{Name: "ensign/promote/x", Ref: "refs/pull/7/head", Sha: "abc"}, false},
		{"another pull request's head", 7, gitea.PRBranchInfo{Name: "", Ref: "refs/pull/8/head", Sha: "abc"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := tt.head
			got := toPullRequest(&gitea.PullRequest{Index: tt.index, Head: &head})
			if got.AGit != tt.agit || got.HeadBranch != tt.head.Ref || got.HeadSHA != tt.head.Sha {
				t.Fatalf("AGit %v, head %s at %s; want AGit %v, head %s at %s", got.AGit, got.HeadBranch, got.HeadSHA, tt.agit, tt.head.Ref, tt.head.Sha)
			}
		})
	}
}
