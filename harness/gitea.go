package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// GiteaServer is a running throwaway Gitea on 127.0.0.1.
type GiteaServer struct {
	// URL is the server's root URL, with a trailing slash.
	URL string
	// AdminUser, AdminPassword and AdminToken belong to the site admin the
	// harness created; the token has all scopes.
	AdminUser     string
	AdminPassword string
	AdminToken    string
	// Dir holds the server's configuration, database, repositories and log.
	Dir string

	bin string
	// life guards cmd and done, which a restart replaces.
	life sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

const giteaIni = `APP_NAME = ensign harness
RUN_USER = {{.User}}
RUN_MODE = prod
WORK_PATH = {{.Dir}}
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {{.Port}}
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:{{.Port}}/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
STATIC_ROOT_PATH = {{.Static}}
APP_DATA_PATH = {{.Dir}}/data

[database]
DB_TYPE = sqlite3
PATH = {{.Dir}}/data/gitea.db
SQLITE_JOURNAL_MODE = WAL

[repository]
ROOT = {{.Dir}}/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = {{.Secret}}
INTERNAL_TOKEN = {{.InternalToken}}
PASSWORD_HASH_ALGO = pbkdf2$1000$32
PASSWORD_COMPLEXITY = off
MIN_PASSWORD_LENGTH = 6

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true
DEFAULT_ALLOW_CREATE_ORGANIZATION = true
ENABLE_NOTIFY_MAIL = false

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 10

[mailer]
ENABLED = false

[actions]
ENABLED = false

[packages]
ENABLED = false

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[cron]
ENABLED = false

[git]
PATH = {{.Git}}
HOME_PATH = {{.Dir}}/git-home

[log]
MODE = file
LEVEL = Warn
ROOT_PATH = {{.Dir}}/log
`

// GiteaOptions tunes StartGitea; the zero value is fine.
type GiteaOptions struct {
	// Port to listen on; zero picks a free one.
	Port int
	// Dir for the server's data; empty makes a scratch directory that Stop removes.
	Dir string
}

// StartGitea starts a Gitea server with a fresh sqlite database and a site
// admin, and waits until its API answers.
func StartGitea(ctx context.Context, opts GiteaOptions) (*GiteaServer, error) {
	bin, err := binary("gitea")
	if err != nil {
		return nil, err
	}
	static, err := giteaStaticDir()
	if err != nil {
		return nil, err
	}
	gitBin, err := binary(filepath.Join("gitea-git", "bin", "git"))
	if err != nil {
		return nil, err
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = newScratchDir("gitea-"); err != nil {
			return nil, err
		}
	} else if _, err := scratch(); err != nil { // start the watchdog anyway
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	var ini bytes.Buffer
	err = template.Must(template.New("app.ini").Parse(giteaIni)).Execute(&ini, map[string]any{
		"User": u.Username, "Dir": dir, "Port": port, "Static": static,
		"Secret": randomHex(32), "InternalToken": randomHex(32), "Git": gitBin,
	})
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "app.ini")
	if err := os.WriteFile(conf, ini.Bytes(), 0o600); err != nil {
		return nil, err
	}
	g := &GiteaServer{
		URL:           "http://127.0.0.1:" + strconv.Itoa(port) + "/",
		AdminUser:     "ensign-admin",
		AdminPassword: randomHex(12),
		Dir:           dir,
		bin:           bin,
	}
	if _, err := g.cli(ctx, "migrate"); err != nil {
		return nil, err
	}
	out, err := g.cli(ctx, "admin", "user", "create", "--admin", "--username", g.AdminUser,
		"--password", g.AdminPassword, "--email", g.AdminUser+"@example.com",
		"--must-change-password=false", "--access-token", "--access-token-name", "harness",
		"--access-token-scopes", "all")
	if err != nil {
		return nil, err
	}
	const tokenPrefix = "Access token was successfully created... "
	for line := range strings.SplitSeq(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(line), tokenPrefix); ok {
			g.AdminToken = strings.TrimSpace(t)
		}
	}
	if g.AdminToken == "" {
		return nil, fmt.Errorf("gitea admin user create: no token in output: %q", out)
	}
	if err := g.startWeb(); err != nil {
		return nil, err
	}
	if err := g.waitHealthy(ctx); err != nil {
		_ = g.Stop()
		return nil, err
	}
	return g, nil
}

// startWeb starts `gitea web` on the server's configuration, directory and
// port, appending its output to gitea.stdout. It does not wait for it.
func (g *GiteaServer) startWeb() error {
	logf, err := os.OpenFile(filepath.Join(g.Dir, "gitea.stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	cmd := exec.Command(g.bin, "web", "--work-path", g.Dir, "--config", filepath.Join(g.Dir, "app.ini"))
	cmd.Dir = g.Dir
	cmd.Env = giteaEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start gitea: %w", err)
	}
	g.cmd, g.done = cmd, done
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return nil
}

func giteaEnv() []string {
	return append(os.Environ(), "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true", "GITEA_WORK_DIR=")
}

// cli runs a gitea CLI command against this server's configuration and
// returns its standard output.
func (g *GiteaServer) cli(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	full := append([]string{args[0], "--work-path", g.Dir, "--config", filepath.Join(g.Dir, "app.ini")}, args[1:]...)
	cmd := exec.CommandContext(ctx, g.bin, full...)
	cmd.Dir = g.Dir
	cmd.Env = giteaEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gitea %s: %w: %s", strings.Join(args[:min(3, len(args))], " "), err, lastLines(stderr.String()+stdout.String(), 5))
	}
	return stdout.String(), nil
}

func (g *GiteaServer) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"api/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.done:
			return fmt.Errorf("gitea exited during start-up: %s", g.logTail())
		case <-ctx.Done():
			return fmt.Errorf("gitea did not become healthy at %s: %w: %s", g.URL, ctx.Err(), g.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (g *GiteaServer) logTail() string {
	var b strings.Builder
	for _, f := range []string{"gitea.stdout", "log/gitea.log"} {
		data, _ := os.ReadFile(filepath.Join(g.Dir, f))
		b.WriteString(lastLines(string(data), 10))
	}
	return b.String()
}

// CPU is the processor time the server has used since it last started,
// with the processes it started and waited for: the git commands and the
// `gitea hook` processes of every push.
func (g *GiteaServer) CPU() (time.Duration, error) {
	g.life.Lock()
	pid := 0
	if g.cmd != nil && g.cmd.Process != nil {
		pid = g.cmd.Process.Pid
	}
	g.life.Unlock()
	if pid == 0 {
		return 0, fmt.Errorf("gitea is not running")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("gitea's CPU time: %w", err)
	}
	// The fields after the command name, which is in parentheses: utime,
	// stime, cutime and cstime are the 12th to 15th of them, in clock ticks
	// (100 a second on Linux).
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, fmt.Errorf("gitea's CPU time: short /proc/%d/stat", pid)
	}
	var ticks int64
	for _, f := range fields[11:15] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("gitea's CPU time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Stop kills the server and, if the harness made its directory, removes it.
// It is safe to call more than once.
func (g *GiteaServer) Stop() error {
	g.life.Lock()
	defer g.life.Unlock()
	if g.cmd != nil && g.cmd.Process != nil {
		terminate(g.cmd.Process.Pid, g.done)
	}
	if root, _ := scratch(); root != "" && strings.HasPrefix(g.Dir, root+string(filepath.Separator)) {
		return os.RemoveAll(g.Dir)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
