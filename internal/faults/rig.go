package faults

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	flaggerclient "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
	"github.com/ensignbot/ensign/internal/scenario"
)

// webhookSecret signs the deliveries of every case's webhooks.
const webhookSecret = "faults-webhook-secret-0123456789"

// servers are what every case shares: Gitea, the API server, the ensign
// binary and a directory for logs.
type servers struct {
	gitea    *harness.GiteaServer
	kube     *harness.KubeServer
	bin      string
	dir      string
	logLevel string
	log      io.Writer
	kc       kubernetes.Interface
	flagger  flaggerclient.Interface
}

// rig is one case's world: its fleets (repositories and canaries), the
// proxy ensign reaches Gitea through, ensign's processes and the ledger of
// what ensign must have done.
type rig struct {
	*servers
	name   string
	proxy  *Proxy
	fleets []*scenario.Fleet
	// env is the environment every ensign process of the case gets.
	env   map[string]string
	addrs map[string]string // replica name -> listen address, stable across restarts
	procs map[string]*ensignproc.Proc
	runs  map[string]int // replica name -> processes started
	book  *ledger
	tag   int // the last version number handed out
	// revertsOnly: a recovery waits for the reverts and commands, not the
	// promotion pull requests (counted at the end of the case).
	revertsOnly bool
}

// appsPerNamespace is how many apps each fleet has in each of its two
// namespaces, all live.
const appsPerNamespace = 8

// newRig sets up a case: fleets fleets of apps (each its own organization
// and repository, all apps live, half promoting and half failing), a
// proxy in front of Gitea, and ensign's environment naming every
// repository. Nothing runs yet. The caller closes the rig.
func (s *servers) newRig(ctx context.Context, name string, fleets int) (*rig, error) {
	u, err := url.Parse(s.gitea.URL)
	if err != nil {
		return nil, err
	}
	p, err := NewProxy(u.Host)
	if err != nil {
		return nil, err
	}
	r := &rig{servers: s, name: name, proxy: p, addrs: map[string]string{}, procs: map[string]*ensignproc.Proc{}, runs: map[string]int{}}
	r.book = newLedger(r)
	var repos []string
	for i := range fleets {
		prefix := harness.UniqueName(name) + "-"
		if fleets > 1 {
			prefix = harness.UniqueName(fmt.Sprintf("%s%c", name, 'a'+i)) + "-"
		}
		f, err := scenario.SetupFleet(ctx, s.gitea, s.kube, scenario.FleetOptions{Prefix: prefix, Namespaces: 2, PerNamespace: appsPerNamespace, Live: appsPerNamespace})
		if err != nil {
			r.close()
			return nil, fmt.Errorf("%s: set up fleet: %w", name, err)
		}
		r.fleets = append(r.fleets, f)
		repos = append(repos, f.Org+"/"+f.Repo)
	}
	f := r.fleets[0]
	r.env = map[string]string{
		"ENSIGN_GITEA_URL":      "http://" + p.Addr(),
		"ENSIGN_GITEA_TOKEN":    f.Bot.Token,
		"ENSIGN_WEBHOOK_SECRET": webhookSecret,
		"ENSIGN_REPOS":          strings.Join(repos, ","),
		"ENSIGN_KUBECONFIGS":    f.Kubeconfigs(),
		"ENSIGN_LOG_LEVEL":      cmp.Or(s.logLevel, "info"),
		"KUBECONFIG":            s.kube.Kubeconfig,
	}
	for _, g := range r.fleets[1:] {
		// ensign's account in the other fleets is another user: make the
		// first fleet's bot an admin collaborator there too.
		if err := s.gitea.AddCollaborator(ctx, g.Org, g.Repo, f.Bot.Name, "admin"); err != nil {
			r.close()
			return nil, err
		}
		g.Bot = f.Bot
	}
	return r, nil
}

// openRig sets up a case's rig (newRig) and starts `ensign run` on it as
// replica "ensign", waiting until it is ready. The caller closes the rig.
func (s *servers) openRig(ctx context.Context, name string, fleets int) (*rig, *ensignproc.Proc, error) {
	r, err := s.newRig(ctx, name, fleets)
	if err != nil {
		return nil, nil, err
	}
	p, err := r.start(ctx, "ensign", nil, true)
	if err != nil {
		r.close()
		return nil, nil, err
	}
	return r, p, nil
}

// forge is a Gitea client as ensign's account, straight to Gitea (not
// through the proxy), for the suite's own checks.
func (r *rig) forge() (*forge.Client, error) {
	return forge.New(forge.Config{URL: strings.TrimSuffix(r.gitea.URL, "/"), Token: r.fleets[0].Bot.Token, CallTimeout: 10 * time.Second})
}

// start runs `ensign run` as replica name with extra environment, points
// the fleets' webhooks at it (once per replica) and, if wait, waits until
// it is ready.
func (r *rig) start(ctx context.Context, name string, extra map[string]string, wait bool) (*ensignproc.Proc, error) {
	addr, ok := r.addrs[name]
	if !ok {
		var err error
		if addr, err = ensignproc.FreeAddr(); err != nil {
			return nil, err
		}
		if err := r.hook(ctx, addr); err != nil {
			return nil, err
		}
		r.addrs[name] = addr
	}
	env := map[string]string{
		"ENSIGN_LISTEN_ADDR": addr,
		"ENSIGN_DATA_DIR":    filepath.Join(r.dir, r.name, name, "data"),
		"POD_NAME":           name,
	}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	r.runs[name]++
	logPath := filepath.Join(r.dir, r.name, fmt.Sprintf("%s.%d.log", name, r.runs[name]))
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	p, err := ensignproc.Start(r.bin, logPath, env)
	if err != nil {
		return nil, err
	}
	r.procs[name] = p
	if wait {
		if err := p.WaitReady(ctx, 2*time.Minute); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// hook makes every fleet's repository deliver comments and pushes to addr.
func (r *rig) hook(ctx context.Context, addr string) error {
	fc, err := r.forge()
	if err != nil {
		return err
	}
	for _, f := range r.fleets {
		if _, _, err := fc.EnsureWebhook(ctx, f.ForgeRepo(), forge.Webhook{
			URL: "http://" + addr + "/webhooks/gitea", Secret: webhookSecret, Events: []string{"pull_request_comment", "push"},
		}); err != nil {
			return fmt.Errorf("register ensign's webhook: %w", err)
		}
	}
	return nil
}

// nextTag hands out a version no earlier round used.
func (r *rig) nextTag() string {
	r.tag++
	return fmt.Sprintf("2.%d.0", r.tag)
}

// close stops every ensign process and the proxy, and releases the
// ledger's Git caches.
func (r *rig) close() {
	for _, p := range r.procs {
		_ = p.Stop()
	}
	if r.proxy != nil {
		_ = r.proxy.Close()
	}
	r.book.close()
}

// logTails returns the end of every ensign log of the case, for a report
// of what went wrong.
func (r *rig) logTails(n int) string {
	var b strings.Builder
	for name, p := range r.procs {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", name, p.Log, p.LogTail(n))
	}
	return b.String()
}

// namespace makes a namespace for the leader election Lease.
func (r *rig) namespace(ctx context.Context) (string, error) {
	ns := harness.UniqueName("faults-lease-")
	_, err := r.kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	return ns, err
}

// say prints a progress line.
func (r *rig) say(format string, args ...any) {
	fmt.Fprintf(r.log, "[%s] %s: %s\n", time.Now().Format("15:04:05"), r.name, fmt.Sprintf(format, args...))
}

// waitLeading waits until p says it leads (ensign_leader 1 on /metrics).
func waitLeading(ctx context.Context, p *ensignproc.Proc, within time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	err := scenario.Wait(ctx, within, "replica "+p.Addr+" to lead", func() (bool, error) {
		resp, err := c.Get("http://" + p.Addr + "/metrics")
		if err != nil {
			return false, p.Exited()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), "\nensign_leader 1\n"), p.Exited()
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, p.LogTail(20))
	}
	return nil
}
