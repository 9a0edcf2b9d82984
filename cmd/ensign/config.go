package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ensignbot/ensign/leader"
	"github.com/ensignbot/ensign/policy"
)

// secret is a configuration value that must never reach a log or an error.
type secret string

// String hides the value.
func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue hides the value from slog.
func (s secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// config is ensign's configuration, read once from the environment.
type config struct {
	GiteaURL      string            `env:"ENSIGN_GITEA_URL, required"`
	GiteaToken    secret            `env:"ENSIGN_GITEA_TOKEN, required"`
	WebhookSecret secret            `env:"ENSIGN_WEBHOOK_SECRET"`
	Repos         []string          `env:"ENSIGN_REPOS, required"`
	Branch        string            `env:"ENSIGN_BRANCH, default=main"`
	PolicyFile    string            `env:"ENSIGN_POLICY_FILE, default=.ensign.yaml"`
	Kubeconfigs   map[string]string `env:"ENSIGN_KUBECONFIGS, separator=="`
	ListenAddr    string            `env:"ENSIGN_LISTEN_ADDR, default=:8080"`
	// PprofAddr, if set, serves Go's /debug/pprof/ there (off by default;
	// never on the webhook listener, which Gitea reaches).
	PprofAddr  string        `env:"ENSIGN_PPROF_ADDR"`
	DataDir    string        `env:"ENSIGN_DATA_DIR"`
	LogLevel   string        `env:"ENSIGN_LOG_LEVEL, default=info"`
	LogFormat  string        `env:"ENSIGN_LOG_FORMAT, default=text"`
	Workers    int           `env:"ENSIGN_WORKERS, default=16"`
	Promotions int           `env:"ENSIGN_PROMOTIONS, default=4"`
	Resync     time.Duration `env:"ENSIGN_RESYNC, default=10m"`
	// CommandFloors is the operator's minimum level per comment command;
	// no policy file can lower it (validate fills in the defaults).
	CommandFloors map[string]string `env:"ENSIGN_COMMAND_FLOORS, separator=="`
	floors        map[string]policy.Level
	// ProtectBranches is the branch prefix ensign asks Gitea to let only
	// ensign push to ("none": leave branch protection to the operator).
	ProtectBranches string `env:"ENSIGN_PROTECT_BRANCHES, default=ensign/"`
	// Timeouts: each Gitea API call, each conversation with the Git server
	// (a fetch, a push), and each whole action (one canary result, one
	// comment command).
	GiteaTimeout  time.Duration `env:"ENSIGN_GITEA_TIMEOUT, default=20s"`
	GitTimeout    time.Duration `env:"ENSIGN_GIT_TIMEOUT, default=2m"`
	ActionTimeout time.Duration `env:"ENSIGN_ACTION_TIMEOUT, default=5m"`
	// GateToken, if set, must come with Flagger's gate webhooks.
	GateToken secret `env:"ENSIGN_GATE_TOKEN"`
	// Leader election on a coordination.k8s.io Lease: off by default in the
	// binary (one process, as on a laptop), on in the Helm chart.
	LeaderElection          bool          `env:"ENSIGN_LEADER_ELECTION, default=false"`
	LeaderElectionID        string        `env:"ENSIGN_LEADER_ELECTION_ID, default=ensign"`
	LeaderElectionNamespace string        `env:"ENSIGN_LEADER_ELECTION_NAMESPACE, default=$POD_NAMESPACE"`
	LeaseDuration           time.Duration `env:"ENSIGN_LEADER_ELECTION_LEASE_DURATION, default=15s"`
	RenewDeadline           time.Duration `env:"ENSIGN_LEADER_ELECTION_RENEW_DEADLINE, default=10s"`
	RetryPeriod             time.Duration `env:"ENSIGN_LEADER_ELECTION_RETRY_PERIOD, default=2s"`
}

// configVars documents every variable for `ensign config`.
var configVars = [][2]string{
	{"ENSIGN_GITEA_URL", "Gitea base URL, e.g. https://gitea.example.com (required)"},
	{"ENSIGN_GITEA_TOKEN", "token of ensign's Gitea account: repo write, issue write, read org (required; never logged)"},
	{"ENSIGN_WEBHOOK_SECRET", "secret of the Gitea webhook, for X-Gitea-Signature (required by `ensign run`; never logged)"},
	{"ENSIGN_REPOS", "comma-separated GitOps repositories, owner/name (required)"},
	{"ENSIGN_BRANCH", "branch Flux deploys from (default main)"},
	{"ENSIGN_POLICY_FILE", "policy file path in each repository (default .ensign.yaml)"},
	{"ENSIGN_KUBECONFIGS", "cluster=kubeconfig pairs, comma-separated, named as the policy names clusters; an empty path means in-cluster config"},
	{"ENSIGN_LISTEN_ADDR", "address of the webhook receiver and health endpoints (default :8080)"},
	{"ENSIGN_PPROF_ADDR", "address to serve Go's /debug/pprof/ on, e.g. 127.0.0.1:6060 (default: off)"},
	{"ENSIGN_DATA_DIR", "where repository caches live (default $XDG_CACHE_HOME/ensign or ~/.cache/ensign)"},
	{"ENSIGN_LOG_LEVEL", "debug, info, warn or error (default info)"},
	{"ENSIGN_LOG_FORMAT", "text or json (default text)"},
	{"ENSIGN_WORKERS", "canary events handled at once (default 16)"},
	{"ENSIGN_PROMOTIONS", "promotions of one repository running at once (default 2)"},
	{"ENSIGN_RESYNC", "how often every canary is re-checked (default 10m)"},
	{"ENSIGN_GITEA_TIMEOUT", "bound on each Gitea API call (default 20s)"},
	{"ENSIGN_GIT_TIMEOUT", "bound on each conversation with the Git server: a fetch, a push (default 2m)"},
	{"ENSIGN_ACTION_TIMEOUT", "bound on handling one canary result or one comment command, retried after (default 5m)"},
	{"ENSIGN_GATE_TOKEN", "token Flagger's gate webhooks must send (Authorization: Bearer, or metadata token) to /flagger/gate; empty accepts any (never logged)"},
	{"ENSIGN_PROTECT_BRANCHES", "branch prefix ensign protects in each repository so only ensign's account may push to it (a Gitea rule <prefix>**; needs admin on the repository); none to leave it to you (default ensign/)"},
	{"ENSIGN_COMMAND_FLOORS", "command=level pairs, comma-separated: the lowest permission (none, read, write, admin, owner) a repository's policy may grant each comment command; default help=read,status=read,hold=write,unhold=write,promote=write,rollback=write,promote-now=admin,freeze=admin,unfreeze=admin"},
	{"ENSIGN_LEADER_ELECTION", "true: replicas elect a leader on a Lease and only the leader acts (default false; the Helm chart sets true)"},
	{"ENSIGN_LEADER_ELECTION_ID", "name of the Lease (default ensign)"},
	{"ENSIGN_LEADER_ELECTION_NAMESPACE", "namespace of the Lease (default $POD_NAMESPACE, the pod's own namespace)"},
	{"ENSIGN_LEADER_ELECTION_LEASE_DURATION", "how long followers wait before taking over an unrenewed lease (default 15s; at least 1s)"},
	{"ENSIGN_LEADER_ELECTION_RENEW_DEADLINE", "how long the leader keeps trying to renew before it stops acting (default 10s; less than the lease duration)"},
	{"ENSIGN_LEADER_ELECTION_RETRY_PERIOD", "how often to try to acquire or renew the lease (default 2s; renew deadline > 1.2 x this)"},
}

// loadConfig reads the configuration from lookup (the environment in
// production) and validates it.
func loadConfig(ctx context.Context, lookup envconfig.Lookuper) (*config, error) {
	var c config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: lookup}); err != nil {
		return nil, fmt.Errorf("configuration: %s", nameVariable(err.Error()))
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// nameVariable rewrites go-envconfig's "Field: problem" into "ENSIGN_VAR:
// problem", so that every configuration error names what the user sets.
func nameVariable(msg string) string {
	t := reflect.TypeFor[config]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if rest, ok := strings.CutPrefix(msg, f.Name+": "); ok {
			return name + ": " + rest
		}
	}
	return msg
}

// validate checks every field and reports all problems, each naming its variable.
func (c *config) validate() error {
	var errs []error
	bad := func(variable, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", variable, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.GiteaURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("ENSIGN_GITEA_URL", "want an http(s) URL such as https://gitea.example.com, got %q", c.GiteaURL)
	} else if u.User != nil {
		bad("ENSIGN_GITEA_URL", "must not carry credentials; put the token in ENSIGN_GITEA_TOKEN")
	}
	c.GiteaURL = strings.TrimSuffix(c.GiteaURL, "/")
	seen := map[string]bool{}
	for _, r := range c.Repos {
		owner, name, ok := strings.Cut(strings.TrimSpace(r), "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			bad("ENSIGN_REPOS", "want owner/name, got %q", r)
		} else if seen[r] {
			bad("ENSIGN_REPOS", "%q is listed twice", r)
		}
		seen[r] = true
	}
	if strings.TrimSpace(c.Branch) == "" || strings.ContainsAny(c.Branch, " ~^:?*[\\") {
		bad("ENSIGN_BRANCH", "not a valid branch name: %q", c.Branch)
	}
	if c.PolicyFile == "" || filepath.IsAbs(c.PolicyFile) || strings.HasPrefix(filepath.Clean(c.PolicyFile), "..") {
		bad("ENSIGN_POLICY_FILE", "want a path inside the repository, got %q", c.PolicyFile)
	}
	for _, cluster := range sortedKeys(c.Kubeconfigs) {
		p := c.Kubeconfigs[cluster]
		if cluster == "" {
			bad("ENSIGN_KUBECONFIGS", "a kubeconfig without a cluster name: %q", p)
			continue
		}
		if p == "" {
			continue // in-cluster
		}
		if _, err := os.Stat(p); err != nil {
			bad("ENSIGN_KUBECONFIGS", "kubeconfig of cluster %q: %v", cluster, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		bad("ENSIGN_LISTEN_ADDR", "want host:port or :port, got %q", c.ListenAddr)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("ENSIGN_LOG_LEVEL", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("ENSIGN_LOG_FORMAT", "want text or json, got %q", c.LogFormat)
	}
	if c.Workers < 1 || c.Workers > 64 {
		bad("ENSIGN_WORKERS", "want 1 to 64, got %d", c.Workers)
	}
	if c.Promotions < 1 || c.Promotions > 32 {
		bad("ENSIGN_PROMOTIONS", "want 1 to 32, got %d", c.Promotions)
	}
	for _, t := range []struct {
		name     string
		d, least time.Duration
	}{{"ENSIGN_GITEA_TIMEOUT", c.GiteaTimeout, time.Second}, {"ENSIGN_GIT_TIMEOUT", c.GitTimeout, 5 * time.Second}, {"ENSIGN_ACTION_TIMEOUT", c.ActionTimeout, 10 * time.Second}} {
		if t.d < t.least {
			bad(t.name, "want at least %v, got %v", t.least, t.d)
		}
	}
	if c.ActionTimeout < c.GitTimeout || c.ActionTimeout < c.GiteaTimeout {
		bad("ENSIGN_ACTION_TIMEOUT", "want at least ENSIGN_GIT_TIMEOUT (%v) and ENSIGN_GITEA_TIMEOUT (%v), got %v", c.GitTimeout, c.GiteaTimeout, c.ActionTimeout)
	}
	if c.Resync < time.Minute {
		bad("ENSIGN_RESYNC", "want at least 1m, got %v", c.Resync)
	}
	if c.ProtectBranches == "" {
		c.ProtectBranches = policy.DefaultBranchPrefix
	}
	if p := c.ProtectBranches; p != "none" {
		switch {
		case !strings.HasSuffix(p, "/") || strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ~^:?*[\\"):
			bad("ENSIGN_PROTECT_BRANCHES", "want a branch prefix ending in '/' (such as ensign/) or none, got %q", p)
		case strings.HasPrefix(c.Branch, p):
			bad("ENSIGN_PROTECT_BRANCHES", "%q would protect the deploy branch %s too", p, c.Branch)
		}
	}
	c.validateLeaderElection(bad)
	c.floors = map[string]policy.Level{}
	for name, p := range policy.DefaultPermissions() {
		c.floors[name] = p.Level
	}
	for _, name := range sortedKeys(c.CommandFloors) {
		if _, known := c.floors[name]; !known {
			bad("ENSIGN_COMMAND_FLOORS", "unknown command %q (want one of %s)", name, strings.Join(policy.CommandNames(), ", "))
			continue
		}
		level, err := policy.ParseLevel(c.CommandFloors[name])
		if err != nil {
			bad("ENSIGN_COMMAND_FLOORS", "%s: %v", name, err)
			continue
		}
		c.floors[name] = level
	}
	if c.DataDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			bad("ENSIGN_DATA_DIR", "not set and no user cache directory: %v", err)
		}
		c.DataDir = filepath.Join(base, "ensign")
	}
	return errors.Join(errs...)
}

// validateLeaderElection checks the Lease settings: names Kubernetes
// accepts, and durations client-go's leader elector accepts (lease duration
// > renew deadline > 1.2 x retry period > 0), so a bad value stops ensign at
// start rather than when it first campaigns. The namespace is needed only
// with election on.
func (c *config) validateLeaderElection(bad func(variable, format string, args ...any)) {
	if errs := validation.IsDNS1123Subdomain(c.LeaderElectionID); len(errs) > 0 {
		bad("ENSIGN_LEADER_ELECTION_ID", "not a valid Lease name %q: %s", c.LeaderElectionID, strings.Join(errs, "; "))
	}
	switch ns := c.LeaderElectionNamespace; {
	case ns == "" && c.LeaderElection:
		bad("ENSIGN_LEADER_ELECTION_NAMESPACE", "not set and POD_NAMESPACE is empty; set one of them to the namespace of the Lease")
	case ns != "":
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			bad("ENSIGN_LEADER_ELECTION_NAMESPACE", "not a valid namespace %q: %s", ns, strings.Join(errs, "; "))
		}
	}
	lease, renew, retry := c.LeaseDuration, c.RenewDeadline, c.RetryPeriod
	if retry <= 0 {
		bad("ENSIGN_LEADER_ELECTION_RETRY_PERIOD", "want a positive duration, got %v", retry)
	}
	if renew <= time.Duration(leader.JitterFactor*float64(retry)) {
		bad("ENSIGN_LEADER_ELECTION_RENEW_DEADLINE", "want more than %.1f x ENSIGN_LEADER_ELECTION_RETRY_PERIOD (%v), got %v", leader.JitterFactor, retry, renew)
	}
	if lease <= renew {
		bad("ENSIGN_LEADER_ELECTION_LEASE_DURATION", "want more than ENSIGN_LEADER_ELECTION_RENEW_DEADLINE (%v), got %v", renew, lease)
	} else if lease < time.Second {
		bad("ENSIGN_LEADER_ELECTION_LEASE_DURATION", "want at least 1s (the Lease records whole seconds), got %v", lease)
	}
}

// requireWebhookSecret is checked by the commands that receive webhooks.
func (c *config) requireWebhookSecret() error {
	if c.WebhookSecret == "" {
		return errors.New("ENSIGN_WEBHOOK_SECRET: required to verify Gitea webhooks; set it to the secret of the repository's webhook")
	}
	if len(c.WebhookSecret) < 16 {
		return errors.New("ENSIGN_WEBHOOK_SECRET: too short; use at least 16 characters")
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("want debug, info, warn or error, got %q", s)
	}
	return l, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// configCmd is `ensign config`: the environment variables and what they do.
func configCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config", "usage: ensign config\n\nLists the environment variables ensign reads.\n")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return badUsage(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	width := 0
	for _, v := range configVars {
		width = max(width, len(v[0]))
	}
	for _, v := range configVars {
		fmt.Fprintf(stdout, "%-*s  %s\n", width, v[0], v[1])
	}
	return 0
}
