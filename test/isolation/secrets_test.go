//go:build embednats

package isolation

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/harmony-edge/harmony-agent/internal/natsserver/natstest"
	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

// Secrets of the plain servers of TestSecretsNeverPrinted.
const (
	secretPassword = "pw-Secret-8a1f"
	wrongPassword  = "pw-Wrong-77c2"
	secretToken    = "tok-Secret-51e9"
	wrongToken     = "tok-Wrong-0d3b"
)

// TestSecretsNeverPrinted (issue 11, test 6): real runs of harmony-agent
// (log.level debug) and harmony-fleet with each kind of credential (a
// creds file, an nkey seed file, a password file, a token file, a
// password inside a URL), good and wrong, and check-config on each agent
// configuration; no password, token, seed or JWT appears in anything they
// print. A creds file readable by others is warned about.
func TestSecretsNeverPrinted(t *testing.T) {
	b := binaries(t)
	e := newEnv(t)
	e.enrol(t, "pi-1")
	e.putDesired(t, "pi-1", "web", sleepSpec)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	userPub, _ := user.PublicKey()
	seed, _ := user.Seed()
	plain := natstest.StartConfig(t, fmt.Sprintf(`authorization { users = [ { user: "pi-pw", password: %q }, { nkey: %q } ] }`, secretPassword, userPub))
	tokenURL := natstest.StartConfig(t, fmt.Sprintf(`authorization { token: %q }`, secretToken))
	port := func(url string) string { return url[strings.LastIndex(url, ":")+1:] }

	dir := t.TempDir()
	secretFile := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nkeyFile := secretFile("pi.nk", string(seed), 0o600)
	pwFile := secretFile("pi.password", secretPassword, 0o600)
	wrongPwFile := secretFile("wrong.password", wrongPassword, 0o600)
	tokFile := secretFile("pi.token", secretToken, 0o600)
	wrongTokFile := secretFile("wrong.token", wrongToken, 0o600)
	credsText, err := os.ReadFile(e.credsFile["pi-1"])
	if err != nil {
		t.Fatal(err)
	}
	readableCreds := secretFile("readable.creds", string(credsText), 0o644)
	if err := os.Chmod(readableCreds, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}

	secrets := []string{secretPassword, wrongPassword, secretToken, wrongToken, string(seed)}
	for _, f := range []string{e.credsFile["pi-1"], e.boot.AdminCreds} {
		secrets = append(secrets, credsSecrets(t, f)...)
	}

	var printed []string // everything the runs printed, by run
	record := func(what, out string) {
		printed = append(printed, fmt.Sprintf("==== %s\n%s", what, out))
	}

	agentRuns := []struct {
		name, url, auth string
		// ready is what the agent's log shows once it did what is
		// checked: connected, or told the refusal.
		ready string
	}{
		{"creds file", e.url(), "creds_file: " + e.credsFile["pi-1"], `"msg":"connected"`},
		{"creds file readable by others", e.url(), "creds_file: " + readableCreds, `"msg":"connected"`},
		{"nkey file", plain, "nkey_file: " + nkeyFile, `"msg":"connected"`},
		{"password file", plain, "user: pi-pw\n  password_file: " + pwFile, `"msg":"connected"`},
		{"wrong password file", plain, "user: pi-pw\n  password_file: " + wrongPwFile, "Authorization Violation"},
		{"token file", tokenURL, "token_file: " + tokFile, `"msg":"connected"`},
		{"wrong token file", tokenURL, "token_file: " + wrongTokFile, "Authorization Violation"},
		{"password in the URL", "nats://pi-pw:" + secretPassword + "@127.0.0.1:" + port(plain), "", `"msg":"connected"`},
		{"wrong password in the URL", "nats://pi-pw:" + wrongPassword + "@127.0.0.1:" + port(plain), "", "Authorization Violation"},
	}
	for _, r := range agentRuns {
		t.Run("agent "+r.name, func(t *testing.T) {
			state := t.TempDir()
			t.Cleanup(func() { killWorkloads(t, state) })
			cfg := fmt.Sprintf("device_id: pi-1\nstate_dir: %s\nnats:\n  urls: [%q]\n  create_resources: true\n", state, r.url)
			if r.auth != "" {
				cfg += "  " + r.auth + "\n"
			}
			cfg += "runtime:\n  podman:\n    socket: \"\"\nreconcile:\n  stop_timeout: 2s\nlog:\n  level: debug\n  format: json\n"
			cfgFile := filepath.Join(t.TempDir(), "agent.yaml")
			if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}

			code, out, errOut := run(t, nil, b.agent, "check-config", "--config", cfgFile)
			record("check-config "+r.name, out+errOut)
			if code != 0 {
				t.Fatalf("check-config = %d\n%s%s", code, out, errOut)
			}
			if strings.Contains(r.name, "readable") && !strings.Contains(errOut, "readable by group or others") {
				t.Errorf("check-config of a 0644 creds file does not warn:\n%s", errOut)
			}

			log := runAgentBinary(t, b.agent, cfgFile, r.ready)
			record("agent "+r.name, log)
			if strings.Contains(r.name, "readable") && !strings.Contains(log, "readable by") {
				t.Errorf("the agent does not warn about a 0644 creds file:\n%s", grepLines(log, "warn"))
			}
		})
	}

	cliRuns := []struct {
		name string
		args []string
		ok   bool
	}{
		{"admin creds", []string{"devices", "-s", e.url(), "--creds", e.boot.AdminCreds}, true},
		{"device creds, refused", []string{"devices", "-s", e.url(), "--creds", e.credsFile["pi-1"], "--timeout", "2s"}, false},
		{"creds readable by others", []string{"devices", "-s", e.url(), "--creds", readableCreds, "--timeout", "2s"}, false},
		{"nkey", []string{"init", "-s", plain, "--nkey", nkeyFile}, true},
		{"password file", []string{"devices", "-s", plain, "--user", "pi-pw", "--password-file", pwFile}, true},
		{"wrong password file", []string{"devices", "-s", plain, "--user", "pi-pw", "--password-file", wrongPwFile}, false},
		{"token file", []string{"init", "-s", tokenURL, "--token-file", tokFile}, true},
		{"wrong token file", []string{"devices", "-s", tokenURL, "--token-file", wrongTokFile}, false},
		{"password in the URL", []string{"devices", "-s", "nats://pi-pw:" + secretPassword + "@127.0.0.1:" + port(plain)}, true},
		{"wrong password in the URL", []string{"devices", "-s", "nats://pi-pw:" + wrongPassword + "@127.0.0.1:" + port(plain)}, false},
		{"password in the URL, no server", []string{"devices", "-s", "nats://pi-pw:" + secretPassword + "@127.0.0.1:1"}, false},
		{"password in a bad URL", []string{"devices", "-s", "http://pi-pw:" + secretPassword + "@127.0.0.1:1"}, false},
		{"password flag", []string{"devices", "-s", plain, "--user", "pi-pw", "--password", wrongPassword}, false},
		{"token flag", []string{"devices", "-s", tokenURL, "--token", wrongToken}, false},
	}
	for _, r := range cliRuns {
		t.Run("harmony-fleet "+r.name, func(t *testing.T) {
			code, out, errOut := run(t, nil, b.fleet, r.args...)
			record("harmony-fleet "+r.name, out+errOut)
			if (code == 0) != r.ok {
				t.Errorf("harmony-fleet %v = %d, want success %v\n%s%s", r.args, code, r.ok, out, errOut)
			}
			if strings.Contains(r.name, "readable") && !strings.Contains(errOut, "warning: --creds") {
				t.Errorf("harmony-fleet with a 0644 creds file does not warn:\n%s", errOut)
			}
		})
	}

	all := strings.Join(printed, "\n")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("a secret (%.6s...) was printed:\n%s", s, grepRuns(printed, s))
		}
	}
	t.Logf("%d runs, %d bytes printed, %d secrets looked for, none found", len(printed), len(all), len(secrets))
}

// credsSecrets returns the secrets of a creds file: the JWT, its
// signature, and the seed.
func credsSecrets(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := jwt.ParseDecoratedNKey(b)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return []string{token, token[strings.LastIndex(token, ".")+1:], string(seed)}
}

// grepRuns returns the runs whose output contains s, the secret masked.
func grepRuns(printed []string, s string) string {
	var out []string
	for _, p := range printed {
		if strings.Contains(p, s) {
			out = append(out, strings.ReplaceAll(p, s, "<SECRET>"))
		}
	}
	return strings.Join(out, "\n")
}

// runAgentBinary runs harmony-agent with cfgFile until its output shows
// ready, then stops it with SIGTERM and returns all it printed.
func runAgentBinary(t *testing.T, bin, cfgFile, ready string) string {
	t.Helper()
	var out testsupport.SyncBuffer
	cmd := exec.Command(bin, "run", "--config", cfgFile)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1) // Wait's result; never blocks
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(waitTimeout):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("harmony-agent did not stop within %s of SIGTERM", waitTimeout)
		}
	}
	testsupport.Poll(t, waitTimeout, func() bool {
		select {
		case <-done:
			return true // exited: reported below
		default:
		}
		return strings.Contains(out.String(), ready)
	}, func() string {
		stop()
		return fmt.Sprintf("harmony-agent to log %s:\n%s", ready, out.String())
	})
	select {
	case err := <-done:
		t.Fatalf("harmony-agent exited: %v\n%s", err, out.String())
	default:
	}
	stop()
	return out.String()
}
