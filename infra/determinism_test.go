package main

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestInputsAreDeterministic runs the program several times on one
// configuration and wants every resource's inputs identical each time: a
// policy, manifest or trigger hash built by iterating a map, or holding a
// clock reading, would make `pulumi preview` show a change on every pull
// request. A code archive is compared by its hash, not by where the build
// left it.
func TestInputsAreDeterministic(t *testing.T) {
	inputs := func() map[string]string {
		r := mustRun(t, baseConfig())
		out := map[string]string{}
		for _, res := range r.resources {
			b, err := json.Marshal(stable(resource.NewObjectProperty(res.Inputs)))
			if err != nil {
				t.Fatalf("%s %s: %v", res.Type, res.Name, err)
			}
			out[res.Type+" "+res.Name] = string(b)
		}
		return out
	}
	first := inputs()
	for range 4 {
		next := inputs()
		if len(next) != len(first) {
			t.Fatalf("%d resources, then %d", len(first), len(next))
		}
		for k, v := range first {
			if next[k] != v {
				t.Errorf("%s: inputs differ between runs:\n %s\n %s", k, v, next[k])
			}
		}
	}
}

// stable is v as plain JSON-able values, with archives reduced to their hash.
func stable(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return stable(v.SecretValue().Element)
	case v.IsOutput():
		return stable(v.OutputValue().Element)
	case v.IsArchive():
		return "archive " + v.ArchiveValue().Hash
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = stable(e)
		}
		return m
	case v.IsArray():
		var a []any
		for _, e := range v.ArrayValue() {
			a = append(a, stable(e))
		}
		return a
	}
	return plain(v)
}
