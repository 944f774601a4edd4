package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harmony-edge/harmony-agent/internal/testsupport"
)

const testToken = "s3cret-token-0123456789"

func writeToken(t *testing.T, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(testToken+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewAccess(t *testing.T) {
	v := smallFleet()
	good := writeToken(t, 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, addr, tokenFile string
		wantErr               string // "" for success
	}{
		{"default loopback", "", "", ""},
		{"ipv4 loopback", "127.0.0.1:0", "", ""},
		{"ipv6 loopback", "[::1]:9090", "", ""},
		{"localhost", "localhost:8080", "", ""},
		{"all interfaces without token", ":8080", "", "requires a token file"},
		{"0.0.0.0 without token", "0.0.0.0:8080", "", "requires a token file"},
		{"lan address without token", "192.168.1.10:8080", "", "requires a token file"},
		{"hostname without token", "fleet.example:8080", "", "requires a token file"},
		{"all interfaces with token", "0.0.0.0:8080", good, ""},
		{"token readable by others", "0.0.0.0:8080", writeToken(t, 0o644), "chmod 600"},
		{"token readable by group", "127.0.0.1:8080", writeToken(t, 0o640), "chmod 600"},
		{"empty token", "0.0.0.0:8080", empty, "empty"},
		{"missing token file", "0.0.0.0:8080", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"bad address", "8080", "", "address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Addr: tc.addr, TokenFile: tc.tokenFile, View: v})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New(%q, %q) = %v, want success", tc.addr, tc.tokenFile, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("New(%q, %q) = %v, want an error with %q", tc.addr, tc.tokenFile, err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "token file") && !errors.Is(err, ErrTokenRequired) {
				t.Errorf("New(%q) = %v, want ErrTokenRequired", tc.addr, err)
			}
		})
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a View succeeded")
	}
}

// TestToken: with a token every request needs it, the POSTs included;
// the dashboard's cookie works for GETs and, with its header, POSTs.
func TestToken(t *testing.T) {
	v := smallFleet()
	r := &memRollouts{view: v}
	_, hs := newTestServer(t, Options{View: v, Rollouts: r, TokenFile: writeToken(t, 0o600), Addr: "0.0.0.0:0"})
	bearer := map[string]string{"Authorization": "Bearer " + testToken}
	cv := cookieValue([]byte(testToken))
	cookie := map[string]string{"Cookie": TokenCookie + "=" + cv}
	cookiePost := map[string]string{"Cookie": TokenCookie + "=" + cv, "X-Harmony-Dashboard": "1"}
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		code               int
	}{
		{"no token", "GET", "/api/v1/deployments", nil, 401},
		{"no token healthz", "GET", "/healthz", nil, 401},
		{"no token metrics", "GET", "/metrics", nil, 401},
		{"no token dashboard", "GET", "/", nil, 401},
		{"no token events", "GET", "/api/v1/events", nil, 401},
		{"no token post", "POST", "/api/v1/deployments/web/pause", nil, 401},
		{"bad token", "GET", "/api/v1/deployments", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"token prefix", "GET", "/api/v1/deployments", map[string]string{"Authorization": "Bearer " + testToken[:5]}, 401},
		{"basic auth", "GET", "/api/v1/deployments", map[string]string{"Authorization": "Basic " + testToken}, 401},
		{"bad cookie", "GET", "/api/v1/deployments", map[string]string{"Cookie": TokenCookie + "=nope"}, 401},
		{"raw token as cookie", "GET", "/api/v1/deployments", map[string]string{"Cookie": TokenCookie + "=" + testToken}, 401},
		{"token in query of api", "GET", "/api/v1/deployments?token=" + testToken, nil, 401},
		{"cookie post without header", "POST", "/api/v1/deployments/web/pause", cookie, 401},
		{"bearer", "GET", "/api/v1/deployments", bearer, 200},
		{"bearer healthz", "GET", "/healthz", bearer, 200},
		{"bearer metrics", "GET", "/metrics", bearer, 200},
		{"bearer post", "POST", "/api/v1/deployments/web/pause", bearer, 200},
		{"cookie get", "GET", "/api/v1/devices", cookie, 200},
		{"cookie dashboard", "GET", "/app.js", cookie, 200},
		{"cookie post with header", "POST", "/api/v1/deployments/web/resume", cookiePost, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, b := do(t, tc.method, hs.URL+tc.path, tc.header)
			if code != tc.code {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, code, b, tc.code)
			}
			if code == 401 && (h.Get("WWW-Authenticate") == "" || !strings.Contains(string(b), `"error"`)) {
				t.Errorf("401 without WWW-Authenticate or error body: %v %s", h, b)
			}
		})
	}
	if got := len(r.Calls()); got != 2 {
		t.Errorf("rollout calls = %v, want the two authorized ones", r.Calls())
	}

	// GET /?token= sets the cookie and redirects to /, without the token.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(hs.URL + "/?token=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("GET /?token= = %d Location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == TokenCookie {
			c = k
		}
	}
	if c == nil || c.Value != cv || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("GET /?token= cookie = %+v, want %s HttpOnly SameSite=Strict Path=/", c, TokenCookie)
	}
	if code, _, _ := do(t, "GET", hs.URL+"/?token=nope", nil); code != 401 {
		t.Errorf("GET /?token=nope = %d, want 401", code)
	}
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestListenAndServe(t *testing.T) {
	v := smallFleet()
	addr := freePort(t)
	s, err := New(Options{Addr: addr, View: v})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe(ctx) }()
	testsupport.WaitFor(t, "the server to answer /healthz", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// A second replica on the same address gets the bind error.
	s2, err := New(Options{Addr: addr, View: v})
	if err != nil {
		t.Fatal(err)
	}
	err = s2.ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), addr) {
		t.Errorf("second ListenAndServe on %s = %v, want address already in use naming it", addr, err)
	}

	// An open event stream does not hold the shutdown up.
	resp, err := http.Get("http://" + addr + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("ListenAndServe after cancel = %v, want nil", err)
		}
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}
