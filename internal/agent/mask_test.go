package agent

import "testing"

func TestMask(t *testing.T) {
	tests := []struct {
		name string
		text string
		env  map[string]string
		want string
	}{
		{"no env", "password hunter22", nil, "password hunter22"},
		{"value masked", "connecting with hunter22 failed", map[string]string{"DB_PASSWORD": "hunter22"}, "connecting with *** failed"},
		{"every occurrence", "a=edge1 b=edge1", map[string]string{"MODE": "edge1"}, "a=*** b=***"},
		{"short value left", "eu region on", map[string]string{"REGION": "eu", "FLAG": "on"}, "eu region on"},
		{"short secret masked", "pin 42 refused", map[string]string{"API_KEY": "42"}, "pin *** refused"},
		{"secret key any case", "tok abc", map[string]string{"github_token": "abc"}, "tok ***"},
		{"longest first", "secret-long and secret", map[string]string{"A_SECRET": "secret", "B_SECRET": "secret-long"}, "*** and ***"},
		{"empty value ignored", "text", map[string]string{"PASSWORD": ""}, "text"},
		{"four bytes masked", "user=edge", map[string]string{"USERNAME": "edge"}, "user=***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mask(tt.text, tt.env); got != tt.want {
				t.Errorf("mask(%q, %v) = %q, want %q", tt.text, tt.env, got, tt.want)
			}
		})
	}
}
