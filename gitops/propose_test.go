package gitops

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
)

func TestProposeTarget(t *testing.T) {
	tests := []struct {
		name    string
		target  Target
		ref     string
		invalid bool
	}{
		{"a topic", Target{Branch: "promote/app/prod/abc", Base: "main", Mode: Propose}, "refs/for/main/promote/app/prod/abc", false},
		{"no base", Target{Branch: "promote/app", Mode: Propose}, "", true},
		{"a bad topic", Target{Branch: "promote/a..b", Base: "main", Mode: Propose}, "", true},
		{"an option with a newline", Target{Branch: "t", Base: "main", Mode: Propose, PushOptions: []string{"title=a\nb"}}, "", true},
		{"options on a branch push", Target{Branch: "main", PushOptions: []string{"ci.skip"}}, "refs/heads/main", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.target.validate()
			if (err != nil) != tt.invalid {
				t.Fatalf("validate: %v, want invalid %v", err, tt.invalid)
			}
			if err == nil && tt.target.ref().String() != tt.ref {
				t.Fatalf("ref %s, want %s", tt.target.ref(), tt.ref)
			}
		})
	}
}

func TestAlreadyProposed(t *testing.T) {
	ref := plumbing.ReferenceName("refs/for/main/t")
	status := func(unpack string, s ...string) *packp.ReportStatus {
		rs := &packp.ReportStatus{UnpackStatus: unpack}
		for _, x := range s {
			rs.CommandStatuses = append(rs.CommandStatuses, &packp.CommandStatus{ReferenceName: ref, Status: x})
		}
		return rs
	}
	tests := []struct {
		name string
		rs   *packp.ReportStatus
		want bool
	}{
		{"no report", nil, false},
		{"the head is already this commit", status("ok", "new commit is same with old commit"), true},
		{"the server wants force-push", status("ok", "request `force-push` push option"), false},
		{"a hook declined", status("ok", "hook declined"), false},
		{"the pack did not unpack", status("index-pack failed", "new commit is same with old commit"), false},
		{"no command reported", status("ok"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alreadyProposed(tt.rs); got != tt.want {
				t.Fatalf("alreadyProposed = %v, want %v", got, tt.want)
			}
		})
	}
}
