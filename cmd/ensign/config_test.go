package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/ensignbot/ensign/policy"
)

func TestLoadConfig(t *testing.T) {
	kube := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kube, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"ENSIGN_GITEA_URL":   "https://gitea.example.com/",
		"ENSIGN_GITEA_TOKEN": "tok-0123456789",
		"ENSIGN_REPOS":       "acme/gitops,acme/other",
		"ENSIGN_KUBECONFIGS": "staging=" + kube + ",production=",
		"ENSIGN_DATA_DIR":    t.TempDir(),
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // substring; empty means success
	}{
		{"valid", base, ""},
		{"missing url", with("ENSIGN_GITEA_URL", "<unset>"), "ENSIGN_GITEA_URL"},
		{"missing token", with("ENSIGN_GITEA_TOKEN", "<unset>"), "ENSIGN_GITEA_TOKEN"},
		{"bad url", with("ENSIGN_GITEA_URL", "gitea.example.com"), "ENSIGN_GITEA_URL: want an http(s) URL"},
		{"url with credentials", with("ENSIGN_GITEA_URL", "https://bot:pw@gitea.example.com"), "ENSIGN_GITEA_URL: must not carry credentials"},
		{"bad repo", with("ENSIGN_REPOS", "acme"), `ENSIGN_REPOS: want owner/name, got "acme"`},
		{"duplicate repo", with("ENSIGN_REPOS", "a/b,a/b"), `ENSIGN_REPOS: "a/b" is listed twice`},
		{"missing kubeconfig", with("ENSIGN_KUBECONFIGS", "prod=/nonexistent/kc"), `ENSIGN_KUBECONFIGS: kubeconfig of cluster "prod"`},
		{"bad listen", with("ENSIGN_LISTEN_ADDR", "8080"), "ENSIGN_LISTEN_ADDR"},
		{"bad level", with("ENSIGN_LOG_LEVEL", "loud"), "ENSIGN_LOG_LEVEL"},
		{"bad workers", with("ENSIGN_WORKERS", "0"), "ENSIGN_WORKERS"},
		{"bad promotions", with("ENSIGN_PROMOTIONS", "0"), "ENSIGN_PROMOTIONS"},
		{"not a number", with("ENSIGN_WORKERS", "many"), "ENSIGN_WORKERS"},
		{"short resync", with("ENSIGN_RESYNC", "5s"), "ENSIGN_RESYNC"},
		{"escaping policy", with("ENSIGN_POLICY_FILE", "../x.yaml"), "ENSIGN_POLICY_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(context.Background(), envconfig.MapLookuper(tt.env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("loadConfig: %v", err)
				}
				if c.GiteaURL != "https://gitea.example.com" || len(c.Repos) != 2 || c.Kubeconfigs["staging"] != kube {
					t.Fatalf("config = %+v", c)
				}
				if _, ok := c.Kubeconfigs["production"]; !ok {
					t.Fatalf("in-cluster entry for production lost: %v", c.Kubeconfigs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("loadConfig error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "tok-0123456789") {
				t.Fatalf("error leaks the token: %v", err)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	s := secret("tok-0123456789")
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s", s, s), fmt.Sprintf("%+v", config{GiteaToken: s, WebhookSecret: s})} {
		if strings.Contains(out, "tok-0123456789") {
			t.Fatalf("secret printed: %s", out)
		}
	}
}

func TestCommandFloors(t *testing.T) {
	base := map[string]string{
		"ENSIGN_GITEA_URL": "http://gitea.example", "ENSIGN_GITEA_TOKEN": "t", "ENSIGN_REPOS": "acme/gitops",
		"ENSIGN_DATA_DIR": t.TempDir(),
	}
	with := func(v string) envconfig.Lookuper {
		m := maps.Clone(base)
		if v != "" {
			m["ENSIGN_COMMAND_FLOORS"] = v
		}
		return envconfig.MapLookuper(m)
	}
	cfg, err := loadConfig(context.Background(), with(""))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.floors[policy.CommandPromoteNow] != policy.LevelAdmin || cfg.floors[policy.CommandHold] != policy.LevelWrite {
		t.Fatalf("default floors %v", cfg.floors)
	}
	cfg, err = loadConfig(context.Background(), with("hold=read,promote-now=owner"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.floors[policy.CommandHold] != policy.LevelRead || cfg.floors[policy.CommandPromoteNow] != policy.LevelOwner || cfg.floors[policy.CommandRollback] != policy.LevelWrite {
		t.Fatalf("floors %v", cfg.floors)
	}
	for _, bad := range []string{"deploy=write", "hold=boss"} {
		if _, err := loadConfig(context.Background(), with(bad)); err == nil || !strings.Contains(err.Error(), "ENSIGN_COMMAND_FLOORS") {
			t.Fatalf("%s: err %v, want one naming ENSIGN_COMMAND_FLOORS", bad, err)
		}
	}
}

func TestProtectBranchesSetting(t *testing.T) {
	base := map[string]string{
		"ENSIGN_GITEA_URL": "http://gitea.example", "ENSIGN_GITEA_TOKEN": "t", "ENSIGN_REPOS": "acme/gitops",
		"ENSIGN_DATA_DIR": t.TempDir(),
	}
	load := func(extra map[string]string) (*config, error) {
		m := maps.Clone(base)
		maps.Copy(m, extra)
		return loadConfig(context.Background(), envconfig.MapLookuper(m))
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "ensign/"},
		{map[string]string{"ENSIGN_PROTECT_BRANCHES": "bots/ensign/"}, "bots/ensign/"},
		{map[string]string{"ENSIGN_PROTECT_BRANCHES": "none"}, "none"},
	} {
		cfg, err := load(tc.env)
		if err != nil || cfg.ProtectBranches != tc.want {
			t.Fatalf("%v: %v, %v; want %q", tc.env, cfg, err, tc.want)
		}
	}
	for _, bad := range []map[string]string{
		{"ENSIGN_PROTECT_BRANCHES": "ensign"},                                    // not a prefix: would also cover ensign-foo
		{"ENSIGN_PROTECT_BRANCHES": "rel*/"},                                     // a glob
		{"ENSIGN_PROTECT_BRANCHES": "release/", "ENSIGN_BRANCH": "release/prod"}, // covers the deploy branch
	} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "ENSIGN_PROTECT_BRANCHES") {
			t.Fatalf("%v: err %v, want one naming ENSIGN_PROTECT_BRANCHES", bad, err)
		}
	}
}

func TestLeaderElectionSettings(t *testing.T) {
	base := map[string]string{
		"ENSIGN_GITEA_URL": "http://gitea.example", "ENSIGN_GITEA_TOKEN": "t", "ENSIGN_REPOS": "acme/gitops",
		"ENSIGN_DATA_DIR": t.TempDir(),
	}
	type lease struct {
		on              bool
		id, ns          string
		lease, renew, r time.Duration
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    lease
		wantErr string // substring; empty means success
	}{
		{"defaults: off", nil, lease{false, "ensign", "", 15 * time.Second, 10 * time.Second, 2 * time.Second}, ""},
		{"on in the pod's namespace", map[string]string{"ENSIGN_LEADER_ELECTION": "true", "POD_NAMESPACE": "ensign"},
			lease{true, "ensign", "ensign", 15 * time.Second, 10 * time.Second, 2 * time.Second}, ""},
		{"explicit namespace wins", map[string]string{"ENSIGN_LEADER_ELECTION": "true", "POD_NAMESPACE": "ensign", "ENSIGN_LEADER_ELECTION_NAMESPACE": "platform"},
			lease{true, "ensign", "platform", 15 * time.Second, 10 * time.Second, 2 * time.Second}, ""},
		{"all set", map[string]string{"ENSIGN_LEADER_ELECTION": "true", "ENSIGN_LEADER_ELECTION_ID": "ensign-prod", "ENSIGN_LEADER_ELECTION_NAMESPACE": "ops",
			"ENSIGN_LEADER_ELECTION_LEASE_DURATION": "30s", "ENSIGN_LEADER_ELECTION_RENEW_DEADLINE": "20s", "ENSIGN_LEADER_ELECTION_RETRY_PERIOD": "5s"},
			lease{true, "ensign-prod", "ops", 30 * time.Second, 20 * time.Second, 5 * time.Second}, ""},
		{"on without a namespace", map[string]string{"ENSIGN_LEADER_ELECTION": "true"}, lease{}, "ENSIGN_LEADER_ELECTION_NAMESPACE: not set"},
		{"not a boolean", map[string]string{"ENSIGN_LEADER_ELECTION": "yes please"}, lease{}, "ENSIGN_LEADER_ELECTION"},
		{"bad lease name", map[string]string{"ENSIGN_LEADER_ELECTION_ID": "Ensign_Lease"}, lease{}, "ENSIGN_LEADER_ELECTION_ID: not a valid Lease name"},
		{"bad namespace", map[string]string{"ENSIGN_LEADER_ELECTION_NAMESPACE": "a.b"}, lease{}, "ENSIGN_LEADER_ELECTION_NAMESPACE: not a valid namespace"},
		{"lease not above renew", map[string]string{"ENSIGN_LEADER_ELECTION_LEASE_DURATION": "10s"}, lease{}, "ENSIGN_LEADER_ELECTION_LEASE_DURATION: want more than"},
		{"renew not above 1.2 x retry", map[string]string{"ENSIGN_LEADER_ELECTION_RETRY_PERIOD": "9s"}, lease{}, "ENSIGN_LEADER_ELECTION_RENEW_DEADLINE: want more than 1.2 x"},
		{"zero retry", map[string]string{"ENSIGN_LEADER_ELECTION_RETRY_PERIOD": "0s"}, lease{}, "ENSIGN_LEADER_ELECTION_RETRY_PERIOD: want a positive duration"},
		{"negative lease", map[string]string{"ENSIGN_LEADER_ELECTION_LEASE_DURATION": "-15s"}, lease{}, "ENSIGN_LEADER_ELECTION_LEASE_DURATION"},
		{"lease under a second", map[string]string{"ENSIGN_LEADER_ELECTION_LEASE_DURATION": "900ms", "ENSIGN_LEADER_ELECTION_RENEW_DEADLINE": "600ms", "ENSIGN_LEADER_ELECTION_RETRY_PERIOD": "100ms"}, lease{}, "ENSIGN_LEADER_ELECTION_LEASE_DURATION: want at least 1s"},
		{"not a duration", map[string]string{"ENSIGN_LEADER_ELECTION_RENEW_DEADLINE": "10"}, lease{}, "ENSIGN_LEADER_ELECTION_RENEW_DEADLINE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := maps.Clone(base)
			maps.Copy(m, tt.env)
			c, err := loadConfig(context.Background(), envconfig.MapLookuper(m))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadConfig error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			got := lease{c.LeaderElection, c.LeaderElectionID, c.LeaderElectionNamespace, c.LeaseDuration, c.RenewDeadline, c.RetryPeriod}
			if got != tt.want {
				t.Fatalf("leader election settings %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestConfigVarsListEveryVariable: `ensign config` (configVars) documents
// every variable the config struct reads, and nothing else.
func TestConfigVarsListEveryVariable(t *testing.T) {
	var read []string
	ty := reflect.TypeFor[config]()
	for i := range ty.NumField() {
		if name, _, _ := strings.Cut(ty.Field(i).Tag.Get("env"), ","); name != "" {
			read = append(read, name)
		}
	}
	var listed []string
	for _, v := range configVars {
		listed = append(listed, v[0])
	}
	slices.Sort(read)
	slices.Sort(listed)
	if !slices.Equal(read, listed) {
		t.Fatalf("the config reads %v; configVars lists %v", read, listed)
	}
}

// testConfig is ensign's configuration from vars (and testSecret as the
// webhook secret), with every default the environment would give.
func testConfig(t *testing.T, vars map[string]string) *config {
	t.Helper()
	vars["ENSIGN_WEBHOOK_SECRET"] = testSecret
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(vars))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
