package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ensignbot/ensign/harness"
	"github.com/ensignbot/ensign/internal/ensignproc"
	"github.com/ensignbot/ensign/internal/scenario"
)

// failoverOpts tune the fail-over benchmark.
type failoverOpts struct {
	runs         int
	lease        time.Duration
	dir, bin     string
	namespaces   int
	perNamespace int
	idle         time.Duration
}

// failoverResult is what the fail-over benchmark measured.
type failoverResult struct {
	kill, term             []time.Duration
	leaderRSS, followerRSS []int64 // KiB, idle
}

// benchFailover runs replicas of `ensign run` with leader election on a
// small fleet and measures, runs times each, how long after the leader is
// SIGKILLed (and, separately, SIGTERMed) the standby leads, as the standby's
// ensign_leader gauge shows it. It also reads the idle memory of a leader
// and a standby.
func benchFailover(ctx context.Context, g *harness.GiteaServer, k *harness.KubeServer, o failoverOpts) (failoverResult, error) {
	var res failoverResult
	f, err := scenario.SetupFleet(ctx, g, k, scenario.FleetOptions{Prefix: harness.UniqueName("fo") + "-", Namespaces: o.namespaces, PerNamespace: o.perNamespace, Live: 2})
	if err != nil {
		return res, err
	}
	ns := harness.UniqueName("ensign-")
	kc := kubernetes.NewForConfigOrDie(k.Config)
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return res, err
	}
	env := map[string]string{
		"ENSIGN_GITEA_URL":                      strings.TrimSuffix(g.URL, "/"),
		"ENSIGN_GITEA_TOKEN":                    f.Bot.Token,
		"ENSIGN_WEBHOOK_SECRET":                 webhookSecret,
		"ENSIGN_REPOS":                          f.Org + "/" + f.Repo,
		"ENSIGN_KUBECONFIGS":                    f.Kubeconfigs(),
		"ENSIGN_LEADER_ELECTION":                "true",
		"ENSIGN_LEADER_ELECTION_NAMESPACE":      ns,
		"ENSIGN_LEADER_ELECTION_LEASE_DURATION": o.lease.String(),
		"ENSIGN_LEADER_ELECTION_RENEW_DEADLINE": (o.lease * 2 / 3).String(),
		"ENSIGN_LEADER_ELECTION_RETRY_PERIOD":   (o.lease / 6).String(),
		"KUBECONFIG":                            k.Kubeconfig,
	}
	n := 0
	start := func() (*ensignproc.Proc, error) {
		n++
		addr, err := ensignproc.FreeAddr()
		if err != nil {
			return nil, err
		}
		e := map[string]string{"ENSIGN_LISTEN_ADDR": addr, "POD_NAME": fmt.Sprintf("replica-%d", n), "ENSIGN_DATA_DIR": filepath.Join(o.dir, fmt.Sprintf("fo-%d", n))}
		for k, v := range env {
			e[k] = v
		}
		p, err := ensignproc.Start(o.bin, filepath.Join(o.dir, fmt.Sprintf("fo-%d.log", n)), e)
		if err != nil {
			return nil, err
		}
		return p, p.WaitReady(ctx, 2*time.Minute)
	}
	leader, err := start()
	if err != nil {
		return res, err
	}
	defer func() { leader.Kill() }()
	if _, err := waitLeading(ctx, leader, time.Minute); err != nil {
		return res, err
	}
	standby, err := start()
	if err != nil {
		return res, err
	}
	defer func() { standby.Kill() }()
	for i := range 2 * o.runs {
		kill := i%2 == 0
		if i == 0 {
			time.Sleep(o.idle)
			if m, err := leader.Memory(); err == nil {
				res.leaderRSS = append(res.leaderRSS, m.RSS)
			}
			if m, err := standby.Memory(); err == nil {
				res.followerRSS = append(res.followerRSS, m.RSS)
			}
		}
		t0 := time.Now()
		if kill {
			leader.Kill()
		} else if err := leader.Stop(); err != nil {
			return res, err
		}
		if _, err := waitLeading(ctx, standby, 4*o.lease+30*time.Second); err != nil {
			return res, fmt.Errorf("run %d: %w", i, err)
		}
		took := time.Since(t0) // from the signal
		if kill {
			res.kill = append(res.kill, took)
		} else {
			res.term = append(res.term, took)
		}
		fmt.Fprintf(os.Stderr, "  failover run %d (%s): standby led after %v\n", i+1, map[bool]string{true: "SIGKILL", false: "SIGTERM"}[kill], took.Round(time.Millisecond))
		leader = standby
		if standby, err = start(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// waitLeading polls p's ensign_leader gauge until it reads 1 and returns
// how long that took.
func waitLeading(ctx context.Context, p *ensignproc.Proc, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < limit {
		if text, err := scrapeMetrics(ctx, p.Addr, time.Second); err == nil && strings.Contains(text, "\nensign_leader 1\n") {
			return time.Since(start), nil
		}
		if err := p.Exited(); err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("no replica led within %v", limit)
}

// printFailover prints the fail-over tables.
func printFailover(w io.Writer, o failoverOpts, res failoverResult) {
	fmt.Fprintf(w, "### Leader fail-over: signal to the standby leading (its ensign_leader gauge, polled every 20 ms), lease %v, renew %v, retry %v\n\n", o.lease, o.lease*2/3, o.lease/6)
	rows := [][]string{latencyHeader, latencyRow("SIGKILL of the leader", summarize(res.kill)), latencyRow("SIGTERM of the leader", summarize(res.term))}
	table(w, rows)
	fmt.Fprintf(w, "\nidle VmRSS after %v: leader %s MiB, standby %s MiB\n\n", o.idle, mibs(res.leaderRSS), mibs(res.followerRSS))
}

func mibs(vs []int64) string {
	if len(vs) == 0 {
		return "-"
	}
	return mib(median(vs))
}
