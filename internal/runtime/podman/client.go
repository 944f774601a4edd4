package podman

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// DefaultSocket is where a rootful podman.socket unit listens.
const DefaultSocket = "/run/podman/podman.sock"

// apiPrefix is the libpod API version every request asks for. Podman 4.x
// and later serve it.
const apiPrefix = "/v4.0.0/libpod"

// MinAPIMajor is the oldest libpod API major version the client accepts.
const MinAPIMajor = 4

// maxErrorBodyBytes bounds how much of an error response is read.
const maxErrorBodyBytes = 64 << 10

var (
	// ErrUnavailable is wrapped by errors that mean the API could not be
	// reached at all (socket missing, refused, not permitted).
	ErrUnavailable = errors.New("podman: API unavailable")
	// ErrAPIVersion is returned when the service speaks a libpod API older
	// than MinAPIMajor.
	ErrAPIVersion = errors.New("podman: unsupported API version")
	// ErrNotFound is wrapped by errors for a 404: no such container or image.
	ErrNotFound = errors.New("podman: not found")
	// ErrConflict is wrapped by errors for a 409: the name is in use, or the
	// container is not in a state that allows the operation.
	ErrConflict = errors.New("podman: conflict")
	// ErrAPI is wrapped by every other error status the API returns.
	ErrAPI = errors.New("podman: API error")
)

// Client speaks the libpod REST API over a unix socket. It is safe for
// concurrent use. Close releases its idle connections.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the API on the unix socket at path. It does
// not connect; Ping does.
func NewClient(socket string) *Client {
	if socket == "" {
		socket = DefaultSocket
	}
	c := &Client{socket: socket}
	var d net.Dialer
	c.http = &http.Client{
		// No Timeout: pulls, stops and event streams last as long as their
		// context allows.
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				conn, err := d.DialContext(ctx, "unix", c.socket)
				if err != nil && ctx.Err() == nil {
					return nil, c.dialError(err)
				}
				if err != nil {
					return nil, err
				}
				return conn, nil
			},
			MaxIdleConnsPerHost: 8,
			DisableCompression:  true,
		},
	}
	return c
}

// Socket returns the path of the socket the client talks to.
func (c *Client) Socket() string { return c.socket }

// Close closes the client's idle connections. In-flight requests end with
// their contexts.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// taggedError is an error with its own complete text that still matches
// sentinels and causes with errors.Is, without repeating their text.
type taggedError struct {
	msg  string
	errs []error
}

func (e *taggedError) Error() string { return e.msg }

func (e *taggedError) Unwrap() []error { return e.errs }

// tagged returns an error reading msg that matches every non-nil err.
func tagged(msg string, errs ...error) error {
	e := &taggedError{msg: msg}
	for _, err := range errs {
		if err != nil {
			e.errs = append(e.errs, err)
		}
	}
	return e
}

// dialError says why the socket could not be used, and what to do; it
// matches ErrUnavailable and the dial error.
func (c *Client) dialError(err error) error {
	var reason string
	switch {
	case errors.Is(err, syscall.ENOENT):
		reason = "no such file (is podman.socket enabled? systemctl enable --now podman.socket)"
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused (is the podman service running? systemctl restart podman.socket)"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		reason = "permission denied (the agent must run as root to use rootful podman)"
	default:
		reason = err.Error()
	}
	return tagged("podman socket "+c.socket+": "+reason, ErrUnavailable, err)
}

// apiError is an error status with the message the API gave.
type apiError struct {
	status int
	// cause is libpod's root cause (the text of its sentinel error, like
	// "no such container"), when it gave one.
	cause   string
	message string
}

func (e *apiError) Error() string { return e.message }

func (e *apiError) Unwrap() error {
	switch {
	case e.status == http.StatusNotFound:
		return ErrNotFound
	case e.status == http.StatusConflict:
		return ErrConflict
	case notFoundCause(e.cause, e.message):
		return ErrNotFound
	}
	return ErrAPI
}

// notFoundCauses are the texts of libpod's sentinel errors that mean the
// container is gone. Podman 4.3 answers 404 only when the name or id does
// not resolve; a container removed between that lookup and the operation
// (podman rm -f racing an inspect) gets a 500 whose cause is one of these:
//
//	{"cause":"no such container","message":"container <id> does not exist in database: no such container","response":500}
//	{"cause":"container has already been removed","message":"container has already been removed","response":500}
//
// define.ErrNoSuchCtr and define.ErrCtrRemoved in podman's libpod/define.
var notFoundCauses = []string{"no such container", "container has already been removed"}

// notFoundCause reports whether an error status with this cause and
// message means the container is gone. The message is checked too, for the
// per-container reports of a removal, which carry only a message whose end
// is the cause.
func notFoundCause(cause, message string) bool {
	for _, c := range notFoundCauses {
		if cause == c || message == c || strings.HasSuffix(message, ": "+c) {
			return true
		}
	}
	return false
}

// request sends one request to path (under the libpod prefix) and returns
// the response when its status is below 400 (the caller closes the body),
// else an *apiError with the API's message.
func (c *Client) request(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://podman" + apiPrefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Prefer the dial error, ctx errors and the like over the
		// url.Error wrapper that repeats the made-up URL.
		var te *taggedError
		if errors.Is(err, ErrUnavailable) && errors.As(err, &te) {
			return nil, te
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// call sends a request and decodes a JSON response into out (when non-nil).
// It returns the status, so callers can tell 204 from 304.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	resp, err := c.request(ctx, method, path, query, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s response: %w", path, err)
		}
	}
	// Drain, so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
	return resp.StatusCode, nil
}

// decodeError turns an error response into an *apiError. Libpod answers
// {"cause":"...","message":"...","response":404}.
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	var e struct {
		Message string `json:"message"`
		Cause   string `json:"cause"`
	}
	msg, cause := strings.TrimSpace(string(b)), ""
	if json.Unmarshal(b, &e) == nil && (e.Message != "" || e.Cause != "") {
		msg, cause = e.Message, e.Cause
		if msg == "" {
			msg = e.Cause
		}
	}
	if msg == "" {
		msg = resp.Status
	}
	return &apiError{status: resp.StatusCode, cause: cause, message: msg}
}

// Ping checks that the API answers and returns the libpod API version it
// reports (the Libpod-Api-Version header).
func (c *Client) Ping(ctx context.Context) (string, error) {
	resp, err := c.request(ctx, http.MethodGet, "/_ping", nil, nil)
	if err != nil {
		return "", fmt.Errorf("ping: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
	return resp.Header.Get("Libpod-Api-Version"), nil
}

// VersionInfo is what the version endpoint reports.
type VersionInfo struct {
	// Version is the podman engine's version.
	Version string
	// APIVersion is the libpod API version.
	APIVersion string
}

// Version reports the podman engine and libpod API versions.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v struct {
		Version    string `json:"Version"`
		Components []struct {
			Name    string            `json:"Name"`
			Version string            `json:"Version"`
			Details map[string]string `json:"Details"`
		} `json:"Components"`
	}
	if _, err := c.call(ctx, http.MethodGet, "/version", nil, nil, &v); err != nil {
		return VersionInfo{}, fmt.Errorf("version: %w", err)
	}
	info := VersionInfo{Version: v.Version}
	for _, comp := range v.Components {
		if comp.Name == "Podman Engine" {
			info.Version = comp.Version
			info.APIVersion = comp.Details["APIVersion"]
		}
	}
	if info.APIVersion == "" {
		info.APIVersion = info.Version
	}
	return info, nil
}

// Check pings the API and fails with ErrAPIVersion when it is older than
// MinAPIMajor.
func (c *Client) Check(ctx context.Context) error {
	v, err := c.Ping(ctx)
	if err != nil {
		return err
	}
	if v == "" {
		info, err := c.Version(ctx)
		if err != nil {
			return err
		}
		v = info.APIVersion
	}
	return checkAPIVersion(c.socket, v)
}

// checkAPIVersion reports whether v (like "4.3.1") is at least MinAPIMajor.
func checkAPIVersion(socket, v string) error {
	major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return fmt.Errorf("podman socket %s: API version %q is not a version: %w", socket, v, ErrAPIVersion)
	}
	if n < MinAPIMajor {
		return fmt.Errorf("podman socket %s: libpod API %s, need %d.0 or later (upgrade podman): %w", socket, v, MinAPIMajor, ErrAPIVersion)
	}
	return nil
}
