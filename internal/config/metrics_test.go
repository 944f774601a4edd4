package config

import (
	"strings"
	"testing"
)

func TestMetricsListenAddr(t *testing.T) {
	tests := []struct {
		listen, want, wantErr string
	}{
		{"", "", ""},
		{":9464", "127.0.0.1:9464", ""},
		{"9464", "127.0.0.1:9464", ""},
		{"127.0.0.1:9464", "127.0.0.1:9464", ""},
		{"0.0.0.0:9464", "0.0.0.0:9464", ""},
		{"[::1]:9464", "[::1]:9464", ""},
		{":0", "", "want 1..65535"},
		{"host:http", "", "want 1..65535"},
		{"a:b:c", "", "too many colons"},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			got, err := Metrics{Listen: tt.listen}.ListenAddr()
			if got != tt.want || (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ListenAddr(%q) = %q, %v; want %q, %q", tt.listen, got, err, tt.want, tt.wantErr)
			}
		})
	}
	c := Default()
	c.DeviceID = "pi-1"
	c.Metrics.Listen = "nope:"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("Validate(metrics.listen nope:) = %v, want an error naming metrics.listen", err)
	}
}
