package awsproto

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/strata-ml/strata/internal/apierr"
)

// Patterns of the bedrock service model (botocore strips the anchors; they
// are full-string matches).
var Patterns = map[string]string{
	"JobName":                         `[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*`,
	"CustomModelName":                 `([0-9a-zA-Z][_-]?){1,63}`,
	"RoleArn":                         `arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+`,
	"IdempotencyToken":                `[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?`,
	"BaseModelIdentifier":             `(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})/[a-z0-9]{12})|(:foundation-model/[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)`,
	"KmsKeyId":                        `(arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)))|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)`,
	"S3Uri":                           `s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?`,
	"ModelCustomizationJobIdentifier": `(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-customization-job/[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2}/[a-z0-9]{12})|([a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*)`,
	"ModelIdentifier":                 `arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/((imported)|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}))(([:][a-z0-9-]{1,63}){0,2})?/[a-z0-9]{12})|(:foundation-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})))|(([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2}))|(([0-9a-zA-Z][_-]?)+)`,
	"GetFoundationModelIdentifier":    `(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/[a-z0-9-]{1,63}[.]{1}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2})|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})`,
	"FoundationModelArn":              `arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/[a-z0-9-]{1,63}[.]{1}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2}`,
	"ModelArn":                        `arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model/((imported)|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}))(([:][a-z0-9-]{1,63}){0,2})?/[a-z0-9]{12})|(:foundation-model/[a-z0-9-]{1,63}[.]{1}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2}))`,
	"TaggableResourcesArn":            `.*(^[a-zA-Z0-9][a-zA-Z0-9\-]*$)|(^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:custom-model/(imported)/[a-z0-9]{12}$)|(^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:([0-9]{12}|)((:(fine-tuning-job|model-customization-job|custom-model)/[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([a-z0-9-]{1,63}[.]){0,2}[a-z0-9-]{1,63}([:][a-z0-9-]{1,63}){0,2}(/[a-z0-9]{12})$)|(:guardrail/[a-z0-9]+$)|(:automated-reasoning-policy/[a-zA-Z0-9]+(:[a-zA-Z0-9]+)?$)|(:(inference-profile|application-inference-profile)/[a-zA-Z0-9-:.]+$)|(:(provisioned-model|model-invocation-job|model-evaluation-job|evaluation-job|model-import-job|imported-model|async-invoke|provisioned-model-v2|provisioned-model-reservation|prompt-router|custom-model-deployment)/[a-z0-9]{12}$))).*`,
	"TeacherModelIdentifier":          `(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:((:foundation-model/([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+)$)|([0-9]{12}:inference-profile/[a-zA-Z0-9-:.]+$)))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})`,
	"TagKey":                          `[a-zA-Z0-9\s._:/=+@-]*`,
	"TagValue":                        `[a-zA-Z0-9\s._:/=+@-]*`,
	"Provider":                        `[A-Za-z0-9- ]{1,63}`,
	"PaginationToken":                 `\S*`,
	"SubnetId":                        `subnet-[0-9a-z]*`,
	"SecurityGroupId":                 `[-0-9a-zA-Z]+`,
}

var compiled = func() map[string]*regexp.Regexp {
	m := make(map[string]*regexp.Regexp, len(Patterns))
	for name, p := range Patterns {
		m[name] = regexp.MustCompile(`^(?:` + p + `)$`)
	}
	return m
}()

// Match reports whether s fully matches the named service-model pattern. It
// panics on an unknown name (a programming error).
func Match(name, s string) bool {
	re, ok := compiled[name]
	if !ok {
		panic("awsproto: unknown pattern " + name)
	}
	return re.MatchString(s)
}

// Checker collects input-validation failures and renders them the way AWS
// (Coral) services word them:
//
//	2 validation errors detected: Value 'x' at 'jobName' failed to satisfy constraint: Member must ...; Value ...
type Checker struct {
	msgs []string
}

func quote(v string) string {
	if utf8.RuneCountInString(v) > 256 {
		v = string([]rune(v)[:256]) + "..."
	}
	return v
}

func (c *Checker) fail(field, value, rule string) {
	c.msgs = append(c.msgs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", quote(value), field, rule))
}

// Failf records a free-form failure.
func (c *Checker) Failf(format string, args ...any) {
	c.msgs = append(c.msgs, fmt.Sprintf(format, args...))
}

// Required records a failure when the member is absent.
func (c *Checker) Required(field string, present bool) bool {
	if !present {
		c.msgs = append(c.msgs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", field))
	}
	return present
}

// String checks length bounds (in characters) and, when pattern is non-empty,
// the named pattern. It returns whether s passed.
func (c *Checker) String(field, s string, minLen, maxLen int, pattern string) bool {
	n := utf8.RuneCountInString(s)
	ok := true
	if n < minLen {
		c.fail(field, s, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
		ok = false
	}
	if maxLen > 0 && n > maxLen {
		c.fail(field, s, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
		ok = false
	}
	if ok && pattern != "" && !Match(pattern, s) {
		c.fail(field, s, "Member must satisfy regular expression pattern: "+Patterns[pattern])
		ok = false
	}
	return ok
}

// OptString checks s like String when it is non-nil.
func (c *Checker) OptString(field string, s *string, minLen, maxLen int, pattern string) {
	if s != nil {
		c.String(field, *s, minLen, maxLen, pattern)
	}
}

// Enum checks that s is one of values.
func (c *Checker) Enum(field, s string, values ...string) bool {
	if !slices.Contains(values, s) {
		c.fail(field, s, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
		return false
	}
	return true
}

// Range checks lo <= n <= hi.
func (c *Checker) Range(field string, n, lo, hi int64) bool {
	switch {
	case n < lo:
		c.fail(field, fmt.Sprint(n), fmt.Sprintf("Member must have value greater than or equal to %d", lo))
		return false
	case n > hi:
		c.fail(field, fmt.Sprint(n), fmt.Sprintf("Member must have value less than or equal to %d", hi))
		return false
	}
	return true
}

// Items checks the number of list items.
func (c *Checker) Items(field string, n, lo, hi int) bool {
	if n < lo {
		c.msgs = append(c.msgs, fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", field, lo))
		return false
	}
	if n > hi {
		c.msgs = append(c.msgs, fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", field, hi))
		return false
	}
	return true
}

// Tags checks a list of tags ({key,value}) at field.
func (c *Checker) Tags(field string, keys, values []string) {
	c.Items(field, len(keys), 0, 200)
	for i := range keys {
		c.String(fmt.Sprintf("%s.%d.member.key", field, i+1), keys[i], 1, 128, "TagKey")
		c.String(fmt.Sprintf("%s.%d.member.value", field, i+1), values[i], 0, 256, "TagValue")
	}
}

// OK reports whether nothing failed.
func (c *Checker) OK() bool { return len(c.msgs) == 0 }

// Err returns nil or a ValidationException listing every failure.
func (c *Checker) Err() error {
	switch len(c.msgs) {
	case 0:
		return nil
	case 1:
		return apierr.Validationf("1 validation error detected: %s", c.msgs[0])
	}
	return apierr.Validationf("%d validation errors detected: %s", len(c.msgs), strings.Join(c.msgs, "; "))
}
