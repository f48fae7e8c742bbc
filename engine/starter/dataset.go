package starter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-ml/strata/engine/safetensors"
)

// The sample dataset: support tickets that mention a product error code
// (ERR_429_API_LIMIT, ...) and describe the impact; the completion is the
// ticket's category, decided by the code, and its priority, decided by the
// impact. 6 categories × 3 priorities make 18 labels, so guessing scores
// about 6% exact match.

// ticketCodes maps each category to its error codes.
var ticketCodes = []struct {
	Category string
	Codes    []string
}{
	{"rate_limit", []string{"ERR_429_API_LIMIT", "ERR_QUOTA_EXCEEDED"}},
	{"auth", []string{"ERR_401_UNAUTHORIZED", "ERR_TOKEN_EXPIRED"}},
	{"billing", []string{"ERR_402_PAYMENT_REQUIRED", "ERR_CARD_DECLINED"}},
	{"outage", []string{"ERR_500_INTERNAL", "ERR_503_UNAVAILABLE"}},
	{"data", []string{"ERR_SYNC_CONFLICT", "ERR_EXPORT_FAILED"}},
	{"network", []string{"ERR_TLS_HANDSHAKE", "ERR_DNS_RESOLUTION"}},
}

// ticketImpact maps each priority to phrases describing the impact.
var ticketImpact = []struct {
	Priority string
	Phrases  []string
}{
	{"high", []string{
		"Production is down and all of our customers are affected.",
		"This is blocking our launch tomorrow, please help urgently.",
		"We are losing revenue every minute this continues.",
		"Every request fails and our whole team is stuck.",
		"This is an emergency for our business.",
	}},
	{"medium", []string{
		"Some of our users are affected but most can still work.",
		"It happens intermittently, a few times per day.",
		"We have a workaround for now but it is painful.",
		"Please look into it this week if you can.",
		"Only one of our regions sees the problem.",
	}},
	{"low", []string{
		"No rush, this is just a minor annoyance.",
		"Just curious whether this is expected.",
		"Whenever you have a moment, nothing is broken.",
		"It only happened once in our test environment.",
		"Low priority, we noticed it while reading the logs.",
	}},
}

var (
	ticketOpeners = []string{"Hello,", "Hi team,", "Good morning,", "Hey support,", "Dear support team,", ""}
	ticketWhere   = []string{
		"when calling the orders endpoint", "while uploading a file", "during the nightly batch job",
		"from our mobile app", "when our checkout service starts", "after the latest deploy",
		"when syncing the customer list", "from the reporting dashboard", "on the payments page",
		"while exporting last month's data", "in our staging cluster", "when the worker restarts",
	}
	ticketSeeFmt = []string{
		"we get %s %s.", "we keep seeing the error %s %s.", "the API returns %s %s.",
		"our logs show %s %s.", "requests fail with %s %s.", "the client reports %s %s.",
	}
	ticketClosers = []string{"Thanks.", "Thank you!", "Regards, Sam", "Best, the ops team", "Cheers.", ""}
)

// Ticket is one labelled sample ticket.
type Ticket struct {
	Text     string
	Category string
	Priority string
}

// GenerateTickets returns n tickets drawn from a stream seeded by seed.
func GenerateTickets(n int, seed uint64) []Ticket {
	r := rand.New(rand.NewPCG(seed, 0x71c4e7))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	out := make([]Ticket, n)
	for i := range out {
		c := ticketCodes[r.IntN(len(ticketCodes))]
		p := ticketImpact[r.IntN(len(ticketImpact))]
		see := fmt.Sprintf(pick(ticketSeeFmt), pick(c.Codes), pick(ticketWhere))
		parts := []string{pick(ticketOpeners), strings.ToUpper(see[:1]) + see[1:], pick(p.Phrases), pick(ticketClosers)}
		if r.IntN(3) == 0 {
			parts[1], parts[2] = parts[2], parts[1]
		}
		var words []string
		for _, s := range parts {
			if s != "" {
				words = append(words, s)
			}
		}
		out[i] = Ticket{Text: strings.Join(words, " "), Category: c.Category, Priority: p.Priority}
	}
	return out
}

// TicketPrompt is the prompt the sample dataset uses for a ticket.
func TicketPrompt(text string) string {
	return "Ticket: " + text + "\nAnswer:"
}

// TicketCompletion is the expected completion for a label.
func TicketCompletion(category, priority string) string {
	return " category=" + category + " priority=" + priority
}

// Sample dataset sizes and seeds.
const (
	SampleTrainRecords      = 600
	SampleValidationRecords = 60
	SampleTestRecords       = 200
)

// SampleDatasetFiles are the names WriteSampleDataset writes.
var SampleDatasetFiles = []string{"tickets-train.jsonl", "tickets-validation.jsonl", "tickets-test.jsonl"}

// WriteSampleDataset writes the sample dataset as prompt/completion JSONL
// (SPEC.md §A.8) into dir: train, validation and test splits drawn from
// independent seeds. It returns the three paths.
func WriteSampleDataset(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("starter: sample dataset: %w", err)
	}
	sizes := []int{SampleTrainRecords, SampleValidationRecords, SampleTestRecords}
	var paths []string
	for i, name := range SampleDatasetFiles {
		var b strings.Builder
		for _, t := range GenerateTickets(sizes[i], uint64(1000+i)) {
			line, err := json.Marshal(map[string]string{"prompt": TicketPrompt(t.Text), "completion": TicketCompletion(t.Category, t.Priority)})
			if err != nil {
				return nil, err
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		p := filepath.Join(dir, name)
		if err := safetensors.WriteAtomic(p, []byte(b.String())); err != nil {
			return nil, fmt.Errorf("starter: sample dataset: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
