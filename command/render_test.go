package command

import (
	"strings"
	"testing"

	"github.com/ensignbot/ensign/status"
)

// A read-only user may ask /status: the comment says a canary could not be
// read, never why (the reason names cluster addresses and configuration).
func TestStatusHidesWhyACanaryIsUnreachable(t *testing.T) {
	rep := status.Report{Repo: "acme/gitops", Commit: "0123456789abcdef", Apps: []status.AppReport{{Name: "podinfo", Stages: []status.StageReport{{
		Name: "production", Phase: "unreachable",
		Unreachable: `read canary production/podinfo/podinfo: Get "https://10.0.3.7:6443/apis/flagger.app/v1beta1": dial tcp: i/o timeout; set ENSIGN_KUBECONFIGS`,
	}}}}}
	md := renderStatus(rep)
	if !strings.Contains(md, "| production | - | unreachable |") {
		t.Fatalf("the stage row does not say unreachable:\n%s", md)
	}
	for _, secret := range []string{"10.0.3.7", "6443", "ENSIGN_KUBECONFIGS", "dial tcp"} {
		if strings.Contains(md, secret) {
			t.Fatalf("the comment shows %q:\n%s", secret, md)
		}
	}
}

// /status says when a stage is frozen by a deny window or Flux is suspended.
func TestStatusShowsFreezesAndSuspensions(t *testing.T) {
	rep := status.Report{Repo: "acme/gitops", Commit: "0123456789abcdef", Apps: []status.AppReport{{Name: "podinfo", Stages: []status.StageReport{
		{Name: "production", Phase: "Succeeded", Frozen: "year-end-freeze", Suspended: []string{"Kustomization/flux-system/podinfo-production"}},
		{Name: "staging", Phase: "Succeeded", WindowOpen: true},
	}}}}
	md := renderStatus(rep)
	for _, want := range []string{"| production | - | Succeeded | - | frozen (year-end-freeze); Flux suspended |", "| staging | - | Succeeded | - | open |"} {
		if !strings.Contains(md, want) {
			t.Fatalf("status lacks %q:\n%s", want, md)
		}
	}
}
