package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/harmony-edge/harmony-agent/fleet"
)

// maxSpecFileBytes bounds a spec file. YAML with comments may be larger
// than the JSON it becomes, which fleet.DecodeSpec bounds to
// fleet.MaxSpecBytes.
const maxSpecFileBytes = 1 << 20

// maxYAMLNodes bounds the nodes a YAML spec expands to, aliases included.
const maxYAMLNodes = 100_000

// loadSpec reads the DeploymentSpec in file, YAML or JSON, and validates
// it with fleet.DecodeSpec, the agents' own strict rules (YAML is converted
// to JSON first). It returns the spec with its defaults and its canonical
// JSON, the value to store, whose fleet.SpecHash the agents compute.
func loadSpec(file string) (fleet.DeploymentSpec, []byte, error) {
	data, err := readLimited(file, maxSpecFileBytes)
	if err != nil {
		return fleet.DeploymentSpec{}, nil, err
	}
	isYAML := isYAMLFile(file, data)
	if isYAML {
		if data, err = yamlToJSON(data); err != nil {
			return fleet.DeploymentSpec{}, nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	spec, err := fleet.DecodeSpec(data)
	if err != nil {
		msg := err.Error()
		if isYAML && (strings.Contains(msg, "want string, got JSON number") || strings.Contains(msg, "want string, got JSON bool")) {
			msg += ` (quote the value in YAML: "8080", "true")`
		}
		return fleet.DeploymentSpec{}, nil, fmt.Errorf("%s: %s", file, msg)
	}
	canonical, err := json.Marshal(spec)
	if err != nil {
		return fleet.DeploymentSpec{}, nil, fmt.Errorf("%s: encode: %w", file, err)
	}
	if len(canonical) > fleet.MaxSpecBytes {
		return fleet.DeploymentSpec{}, nil, fmt.Errorf("%s: the spec is %d bytes as JSON, over the %d-byte limit", file, len(canonical), fleet.MaxSpecBytes)
	}
	return spec, canonical, nil
}

// readLimited reads file, refusing one over limit bytes.
func readLimited(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: over %d bytes: not a spec", file, limit)
	}
	return data, nil
}

// isYAMLFile reports whether file is YAML: by its extension, else when
// it does not start with '{'.
func isYAMLFile(file string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return false
	case ".yaml", ".yml":
		return true
	}
	return !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
}

// yamlToJSON converts one YAML document to JSON. Keys must be strings and
// appear once; strings stay strings (a YAML timestamp is kept as written);
// numbers, booleans and nulls become JSON's.
func yamlToJSON(data []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: want a spec")
		}
		return nil, syntaxError(data, err)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case err == nil:
		return nil, fmt.Errorf("line %d: a second YAML document: want one spec", more.Line)
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(data, err)
	}
	budget := maxYAMLNodes
	v, err := fromYAML(&doc, &budget)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// fromYAML returns n as a value encoding/json encodes, spending one of
// budget per node visited.
func fromYAML(n *yaml.Node, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("over %d YAML nodes (aliases expanding?): not a spec", maxYAMLNodes)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty file: want a spec")
		}
		return fromYAML(n.Content[0], budget)
	case yaml.AliasNode:
		return fromYAML(n.Alias, budget)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			switch {
			case k.Kind != yaml.ScalarNode:
				return nil, fmt.Errorf("line %d: a key must be a string", k.Line)
			case k.ShortTag() == "!!merge":
				return nil, fmt.Errorf("line %d: merge keys (<<) are not supported", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q given twice", k.Line, k.Value)
			}
			v, err := fromYAML(n.Content[i+1], budget)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromYAML(c, budget)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		return yamlScalar(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// yamlScalar returns the value of scalar n by its resolved tag.
func yamlScalar(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return nil, nil
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %s", n.Line, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fmt.Errorf("line %d: %s is not a JSON number", n.Line, n.Value)
		}
		return v, nil
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, tag)
	}
}

// yamlLine matches the line yaml.v3 puts at the start of a syntax error.
var yamlLine = regexp.MustCompile(`^line \d+: `)

// syntaxError returns the error of data, which does not parse as YAML:
// "not YAML: line N: <yaml's reason>". yaml.v3's own line cannot be
// trusted: it names the line where the enclosing mapping or sequence
// starts when it knows one (line 1 for an indentation error on line 9),
// and counts from 0 for parser errors. N is the line where data stops
// being YAML: one past its longest prefix of whole lines that parses.
func syntaxError(data []byte, err error) error {
	msg := yamlLine.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
	if n := badLine(data); n > 0 {
		return fmt.Errorf("not YAML: line %d: %s", n, msg)
	}
	return fmt.Errorf("not YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// maxBadLineBytes bounds the bytes badLine parses, all prefixes together,
// so that a large file does not take long to report.
const maxBadLineBytes = 32 << 20

// badLine returns the line of data, counted from 1, where data stops
// being YAML: one past its longest prefix of whole lines that parses (the
// lines after an error do not parse however they go on). It returns 0
// when data parses, or when finding it would take over maxBadLineBytes.
func badLine(data []byte) int {
	// ends[i] is the end of line i+1.
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	budget := maxBadLineBytes
	for n := len(ends); n >= 0; n-- {
		end := 0
		if n > 0 {
			end = ends[n-1]
		}
		if budget -= end; budget < 0 {
			return 0
		}
		if parses(data[:end]) {
			if n == len(ends) {
				return 0
			}
			return n + 1
		}
	}
	return 1
}

// parses reports whether every YAML document in data parses.
func parses(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := dec.Decode(&n); {
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			return false
		}
	}
}
