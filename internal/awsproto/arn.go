package awsproto

import (
	"fmt"
	"strings"
)

// ARN is a parsed Amazon Resource Name:
//
//	arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE
//
// PARTITION is "aws" or "aws-*"; RESOURCE may itself contain ':' and '/'.
// Account is empty for foundation models.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string // e.g. "custom-model/meta.llama3-1-8b-instruct-v1:0/abcdefghijkl"
}

// ParseARN splits s into its parts. It checks the shape only; resource
// patterns are checked by the callers that know the resource type.
func ParseARN(s string) (ARN, error) {
	if len(s) > 2048 {
		return ARN{}, fmt.Errorf("awsproto: arn too long")
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ARN{}, fmt.Errorf("awsproto: malformed arn %q", s)
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}
	if a.Partition != "aws" && !strings.HasPrefix(a.Partition, "aws-") {
		return ARN{}, fmt.Errorf("awsproto: arn %q: bad partition", s)
	}
	if a.Service == "" || a.Resource == "" {
		return ARN{}, fmt.Errorf("awsproto: arn %q: empty service or resource", s)
	}
	if a.Account != "" && !isDigits(a.Account, 12) {
		return ARN{}, fmt.Errorf("awsproto: arn %q: account must be 12 digits", s)
	}
	return a, nil
}

// String formats a back to its textual form.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// Type returns the resource type: the part of Resource before the first '/'.
func (a ARN) Type() string {
	t, _, _ := strings.Cut(a.Resource, "/")
	return t
}

// LastSegment returns the part of Resource after the last '/'.
func (a ARN) LastSegment() string {
	i := strings.LastIndexByte(a.Resource, '/')
	return a.Resource[i+1:]
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FoundationModelARN returns arn:aws:bedrock:{region}::foundation-model/{modelID}.
func FoundationModelARN(region, modelID string) string {
	return ARN{"aws", "bedrock", region, "", "foundation-model/" + modelID}.String()
}

// JobARN returns the ARN of a model customization job.
func JobARN(region, account, baseModelID, id string) string {
	return ARN{"aws", "bedrock", region, account, "model-customization-job/" + baseModelID + "/" + id}.String()
}

// CustomModelARN returns the ARN of a custom model made by a customization job.
func CustomModelARN(region, account, baseModelID, id string) string {
	return ARN{"aws", "bedrock", region, account, "custom-model/" + baseModelID + "/" + id}.String()
}

// ResourceARN returns arn:aws:bedrock:{region}:{account}:{typ}/{id} for
// resources addressed by a bare id (provisioned-model, custom-model-deployment, ...).
func ResourceARN(region, account, typ, id string) string {
	return ARN{"aws", "bedrock", region, account, typ + "/" + id}.String()
}

// Ident is a parsed resource identifier from a path or body member: either a
// name (Name set) or an ARN of the expected type (ARN set, ID = last segment).
type Ident struct {
	Name string
	ARN  *ARN
	ID   string
}

// ParseIdent interprets ident as an ARN when it starts with "arn:", else as a
// name. An ARN must have the given resource type.
func ParseIdent(ident, typ string) (Ident, error) {
	if !strings.HasPrefix(ident, "arn:") {
		return Ident{Name: ident}, nil
	}
	a, err := ParseARN(ident)
	if err != nil {
		return Ident{}, err
	}
	if a.Service != "bedrock" || a.Type() != typ {
		return Ident{}, fmt.Errorf("awsproto: arn %q is not a %s", ident, typ)
	}
	return Ident{ARN: &a, ID: a.LastSegment()}, nil
}
