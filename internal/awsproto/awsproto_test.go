package awsproto

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
)

var arnTests = []struct {
	in      string
	wantErr bool
	typ     string
	last    string
}{
	{"arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/abcdefghijkl", false, "custom-model", "abcdefghijkl"},
	{"arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0", false, "foundation-model", "meta.llama3-1-8b-instruct-v1:0"},
	{"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/strata.starter-v1:0/abcdefghijkl", false, "model-customization-job", "abcdefghijkl"},
	{"arn:aws-cn:bedrock:cn-north-1:123456789012:provisioned-model/abcdefghijkl", false, "provisioned-model", "abcdefghijkl"},
	{"arn:aws:bedrock:us-east-1:12345:custom-model/x/y", true, "", ""},
	{"arn:gcp:bedrock:us-east-1:123456789012:custom-model/x/y", true, "", ""},
	{"arn:aws:bedrock", true, "", ""},
	{"not-an-arn", true, "", ""},
	{"arn:aws::us-east-1:123456789012:x", true, "", ""},
	{"arn:aws:bedrock:us-east-1:123456789012:", true, "", ""},
	{"", true, "", ""},
}

func TestParseARN(t *testing.T) {
	for _, tt := range arnTests {
		a, err := ParseARN(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseARN(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if a.String() != tt.in {
			t.Errorf("ParseARN(%q).String() = %q", tt.in, a.String())
		}
		if a.Type() != tt.typ || a.LastSegment() != tt.last {
			t.Errorf("ParseARN(%q) type %q last %q, want %q %q", tt.in, a.Type(), a.LastSegment(), tt.typ, tt.last)
		}
	}
}

func FuzzParseARN(f *testing.F) {
	for _, tt := range arnTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseARN(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("round trip %q -> %q", s, a.String())
		}
		b, err := ParseARN(a.String())
		if err != nil || b != a {
			t.Fatalf("reparse %q: %v %v", s, b, err)
		}
		_, _ = ParseIdent(s, a.Type())
	})
}

func TestBuiltARNsMatchPatterns(t *testing.T) {
	base := "strata.starter-v1:0"
	tests := []struct{ pattern, arn string }{
		{"FoundationModelArn", FoundationModelARN("us-east-1", base)},
		{"ModelArn", CustomModelARN("us-east-1", "123456789012", base, NewID())},
		{"ModelIdentifier", CustomModelARN("us-east-1", "123456789012", base, NewID())},
		{"ModelCustomizationJobIdentifier", JobARN("us-east-1", "123456789012", base, NewID())},
		{"TaggableResourcesArn", JobARN("us-east-1", "123456789012", base, NewID())},
		{"TaggableResourcesArn", CustomModelARN("us-east-1", "123456789012", base, NewID())},
		{"BaseModelIdentifier", base},
		{"BaseModelIdentifier", FoundationModelARN("us-east-1", base)},
		{"GetFoundationModelIdentifier", "meta.llama3-1-8b-instruct-v1:0"},
	}
	for _, tt := range tests {
		if !Match(tt.pattern, tt.arn) {
			t.Errorf("Match(%s, %q) = false", tt.pattern, tt.arn)
		}
	}
	if Match("JobName", "-bad") || Match("S3Uri", "s3://B/x") || !Match("S3Uri", "s3://bucket/train.jsonl") {
		t.Error("JobName/S3Uri patterns not anchored as expected")
	}
}

func TestChecker(t *testing.T) {
	var c Checker
	c.Required("roleArn", false)
	c.String("jobName", "-x", 1, 63, "JobName")
	c.Enum("customizationType", "BOGUS", "FINE_TUNING", "CONTINUED_PRE_TRAINING")
	c.Range("maxResults", 0, 1, 1000)
	err := c.Err()
	if !apierr.Is(err, apierr.Validation) {
		t.Fatalf("Err() = %v", err)
	}
	msg := err.(*apierr.Error).Msg
	for _, want := range []string{
		"4 validation errors detected: ",
		"Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
		"Value '-x' at 'jobName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*",
		"Member must satisfy enum value set: [FINE_TUNING, CONTINUED_PRE_TRAINING]",
		"Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	var ok Checker
	ok.String("jobName", "a", 1, 63, "JobName")
	if ok.Err() != nil {
		t.Errorf("valid input: %v", ok.Err())
	}
}

type decodeTarget struct {
	JobName string            `json:"jobName"`
	Count   *int              `json:"count"`
	Tags    []struct{ K int } `json:"tags"`
	HP      map[string]string `json:"hyperParameters"`
}

var decodeTests = []struct {
	name, in string
	wantErr  string
}{
	{"ok", `{"jobName":"a","count":3,"hyperParameters":{"epochCount":"1"}}`, ""},
	{"empty", ``, ""},
	{"spaces", "  \n", ""},
	{"malformed", `{"jobName":`, "Could not parse request body into json"},
	{"syntax", `{jobName}`, "Could not parse request body into json"},
	{"wrong type", `{"jobName":1}`, "Value at 'jobName' failed to satisfy constraint: Member must be of type string, got number"},
	{"number hyper", `{"hyperParameters":{"epochCount":2}}`, "Member must be of type string"},
	{"unknown", `{"jobNam":"a"}`, `Member "jobNam" is not a member of the input structure`},
	{"trailing", `{"jobName":"a"} {}`, "unexpected data after the top-level value"},
	{"array", `[]`, "Member must be of type structure"},
	{"null", `null`, ""},
}

func TestDecodeJSON(t *testing.T) {
	for _, tt := range decodeTests {
		t.Run(tt.name, func(t *testing.T) {
			var v decodeTarget
			err := DecodeJSON(strings.NewReader(tt.in), MaxBody, &v)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeJSON(%q) = %v", tt.in, err)
				}
				return
			}
			if !apierr.Is(err, apierr.Validation) || !strings.Contains(err.(*apierr.Error).Msg, tt.wantErr) {
				t.Fatalf("DecodeJSON(%q) = %v, want ValidationException containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
	var v decodeTarget
	big := `{"jobName":"` + strings.Repeat("a", 200) + `"}`
	if err := DecodeJSON(strings.NewReader(big), 100, &v); !apierr.Is(err, apierr.Validation) {
		t.Errorf("oversized body: %v", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, tt := range decodeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v decodeTarget
		err := DecodeJSONBytes([]byte(s), &v)
		if err != nil && !apierr.Is(err, apierr.Validation) {
			t.Fatalf("DecodeJSONBytes(%q) = %v, not a ValidationException", s, err)
		}
	})
}

func TestTimesAndTokens(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	if got := FormatTime(ts); got != "2024-01-02T03:04:05.123Z" {
		t.Errorf("FormatTime = %q", got)
	}
	for _, s := range []string{"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.5Z", "1704164645"} {
		if _, err := ParseTime(s); err != nil {
			t.Errorf("ParseTime(%q) = %v", s, err)
		}
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("ParseTime(yesterday) succeeded")
	}
	c, err := DecodeToken(EncodeToken("abc|123"))
	if err != nil || c != "abc|123" {
		t.Errorf("token round trip = %q, %v", c, err)
	}
	if _, err := DecodeToken("!!"); err == nil {
		t.Error("DecodeToken(!!) succeeded")
	}
	id := NewID()
	if !IsID(id) || IsID("ABCDEFGHIJKL") {
		t.Errorf("IsID(%q) wrong", id)
	}
}
