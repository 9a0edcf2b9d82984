package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ensignbot/ensign/forge"
	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
	"github.com/ensignbot/ensign/internal/scenario"
)

// The stage: servers, ensign's binary, the sample repository, ensign running.

func (d *demo) startServers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serversTimeout)
	defer cancel()
	var err error
	if d.gitea, err = harness.StartGitea(ctx, harness.GiteaOptions{}); err != nil {
		return err
	}
	d.n.say("Gitea %s at %s", harness.GiteaVersion, d.gitea.URL)
	if d.kube, err = harness.StartKube(ctx); err != nil {
		return err
	}
	d.n.say("kube-apiserver %s + etcd %s with Flagger's and Flux's CRDs; KUBECONFIG=%s", harness.KubernetesVersion, harness.EtcdVersion, d.kube.Kubeconfig)
	d.n.say("Both clusters of the story (staging, production) are this one API server, told apart by namespace.")
	return nil
}

func (d *demo) build(ctx context.Context) error {
	work, err := os.MkdirTemp("", "ensign-demo-")
	if err != nil {
		return err
	}
	d.work = work
	d.n.say("go build -o %s/ensign ./cmd/ensign   (the first build on a machine takes a minute or two)", work)
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	d.bin, err = ensignproc.Build(ctx, work)
	return err
}

func (d *demo) seed(ctx context.Context) error {
	now := time.Now().UTC()
	lead := d.opts.windowLead
	if d.opts.real {
		lead = max(lead, realLead)
	}
	d.windowOpens = scenario.NextMinuteAfter(now.Add(lead))
	if d.opts.real {
		d.n.waiting(analysisTimeout, "Flux to apply both overlays and Flagger to initialize both canaries")
	}
	env, err := scenario.Setup(ctx, d.gitea, d.kube, scenario.Options{
		StartTag:          startTag,
		Windows:           scenario.DailyWindow(windowName, d.windowOpens, windowLen),
		ProductionWindows: []string{windowName},
		Gate:              d.gate,
	})
	if err != nil {
		return err
	}
	if d.gate != nil {
		d.gate.Fail(env.Production.Namespace, true)
	}
	d.env = env
	d.n.say("Repository %s/%s: app podinfo with a staging and a production overlay, both pinning %s.", env.Org, env.Repo, startTag)
	if d.opts.real {
		d.n.say("Flux applied both overlays (Deployment and Canary); Flagger created podinfo-primary in each namespace and initialized both canaries.")
	}
	d.n.say("Users: %s (ensign's account, admin), %s (CI, write), %s (a developer, write), %s (read only).", env.Bot.Name, env.CI.Name, env.Dev.Name, env.Reader.Name)
	d.n.say("Policy: production auto-merges promotions only inside window %q, daily at %s UTC for %s.", windowName, d.windowOpens.Format("15:04"), scenario.ShortDuration(windowLen))
	d.n.say("It is %s UTC now, so the window is closed; it opens at %s UTC, in %s.", now.Format("15:04:05"), d.windowOpens.Format("15:04:05"), time.Until(d.windowOpens).Round(time.Second))
	d.n.look("repository", env.RepoURL())
	d.n.look("policy", env.RepoURL()+"/src/branch/main/.ensign.yaml")
	return nil
}

func (d *demo) startEnsign(ctx context.Context) error {
	addr, err := ensignproc.FreeAddr()
	if err != nil {
		return err
	}
	secret := randomHex(16)
	env := map[string]string{
		"ENSIGN_GITEA_URL":      strings.TrimSuffix(d.gitea.URL, "/"),
		"ENSIGN_GITEA_TOKEN":    d.env.Bot.Token,
		"ENSIGN_WEBHOOK_SECRET": secret,
		"ENSIGN_REPOS":          d.env.Org + "/" + d.env.Repo,
		"ENSIGN_KUBECONFIGS":    d.env.Kubeconfigs(),
		"ENSIGN_LISTEN_ADDR":    addr,
		"ENSIGN_DATA_DIR":       filepath.Join(d.work, "data"),
	}
	d.n.say("ensign run, configured by the environment (token and secret not shown):")
	for _, k := range []string{"ENSIGN_GITEA_URL", "ENSIGN_REPOS", "ENSIGN_KUBECONFIGS", "ENSIGN_LISTEN_ADDR", "ENSIGN_DATA_DIR"} {
		d.n.say("  %s=%s", k, env[k])
	}
	d.n.waiting(readyTimeout, "ensign to sync its canary caches (/readyz)")
	d.ensign, err = ensignproc.Start(d.bin, filepath.Join(d.work, "ensign.log"), env)
	if err != nil {
		return err
	}
	if err := d.ensign.WaitReady(ctx, readyTimeout); err != nil {
		return errors.Join(err, d.ensign.Stop())
	}
	hook := "http://" + addr + "/webhooks/gitea"
	fc, err := forge.New(forge.Config{URL: env["ENSIGN_GITEA_URL"], Token: d.env.Bot.Token})
	if err != nil {
		return err
	}
	if _, _, err := fc.EnsureWebhook(ctx, forge.Repo{Owner: d.env.Org, Name: d.env.Repo}, forge.Webhook{
		URL: hook, Secret: secret, Events: []string{"pull_request_comment", "push"},
	}); err != nil {
		return fmt.Errorf("register the webhook: %w", err)
	}
	d.n.say("ensign is ready (pid %d); Gitea delivers push and pull_request_comment webhooks to %s", d.ensign.PID(), hook)
	d.n.look("ensign's log", "tail -f "+d.ensign.Log)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}
