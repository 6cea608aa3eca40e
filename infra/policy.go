package main

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// policyDocument is an IAM policy document. Policies are built from Go values and
// marshalled, so a test can parse every document back and check it.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal map[string]string            `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// grant allows Actions on Resources, whose ARNs are mostly known only after the
// resources are created.
type grant struct {
	Sid       string
	Actions   []string
	Resources []pulumi.StringInput
}

// policyJSON renders grants as one policy document.
func policyJSON(grants []grant) pulumi.StringOutput {
	var arns []any
	for _, g := range grants {
		for _, r := range g.Resources {
			arns = append(arns, r)
		}
	}
	return pulumi.All(arns...).ApplyT(func(vals []any) (string, error) {
		doc := policyDocument{Version: "2012-10-17"}
		i := 0
		for _, g := range grants {
			st := policyStatement{Sid: g.Sid, Effect: "Allow", Action: g.Actions}
			for range g.Resources {
				arn, ok := vals[i].(string)
				if !ok || arn == "" {
					return "", fmt.Errorf("policy statement %s: resource %d has no ARN", g.Sid, i)
				}
				st.Resource = append(st.Resource, arn)
				i++
			}
			doc.Statement = append(doc.Statement, st)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return "", fmt.Errorf("policy statement: %w", err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
}

// assumeRolePolicy lets one AWS service assume a role, on behalf of this
// account only: without aws:SourceAccount, the service acting for another
// account could be led to assume it (the confused deputy).
func assumeRolePolicy(service, account string) string {
	b, err := json.Marshal(policyDocument{
		Version: "2012-10-17",
		Statement: []policyStatement{{
			Effect:    "Allow",
			Principal: map[string]string{"Service": service},
			Action:    []string{"sts:AssumeRole"},
			Condition: map[string]map[string]string{"StringEquals": {"aws:SourceAccount": account}},
		}},
	})
	if err != nil {
		panic(err) // a fixed document of strings always marshals
	}
	return string(b)
}

// serviceResourcePolicyJSON is a resource policy letting one AWS service take
// actions on resource, and only on behalf of sourceArn: without the condition,
// any account's use of the service could reach the resource (the confused deputy).
func serviceResourcePolicyJSON(sid, service string, actions []string, resource, sourceArn pulumi.StringInput) pulumi.StringOutput {
	return pulumi.All(resource, sourceArn).ApplyT(func(v []any) (string, error) {
		b, err := json.Marshal(policyDocument{
			Version: "2012-10-17",
			Statement: []policyStatement{{
				Sid:       sid,
				Effect:    "Allow",
				Principal: map[string]string{"Service": service},
				Action:    actions,
				Resource:  []string{v[0].(string)},
				Condition: map[string]map[string]string{"ArnEquals": {"aws:SourceArn": v[1].(string)}},
			}},
		})
		if err != nil {
			return "", fmt.Errorf("resource policy %s: %w", sid, err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
}
