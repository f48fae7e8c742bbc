package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/inference/provision"
	"github.com/strata-ml/strata/internal/store"
)

func (s *Server) provisionedRoutes() []Route {
	return []Route{
		{"POST", "/provisioned-model-throughput", "CreateProvisionedModelThroughput", true, s.createProvisioned},
		{"GET", "/provisioned-model-throughputs", "ListProvisionedModelThroughputs", true, s.listProvisioned},
		{"GET", "/provisioned-model-throughput/{provisionedModelId}", "GetProvisionedModelThroughput", true, s.getProvisioned},
		{"PATCH", "/provisioned-model-throughput/{provisionedModelId}", "UpdateProvisionedModelThroughput", true, s.updateProvisioned},
		{"DELETE", "/provisioned-model-throughput/{provisionedModelId}", "DeleteProvisionedModelThroughput", true, s.deleteProvisioned},
	}
}

var ptStatuses = []string{provision.PTCreating, provision.PTInService, provision.PTUpdating, provision.PTFailed}

type createProvisionedRequest struct {
	ClientRequestToken   *string   `json:"clientRequestToken"`
	ModelUnits           *int64    `json:"modelUnits"`
	ProvisionedModelName *string   `json:"provisionedModelName"`
	ModelID              *string   `json:"modelId"`
	CommitmentDuration   *string   `json:"commitmentDuration"`
	Tags                 []wireTag `json:"tags"`
}

type provisionedOut struct {
	ModelUnits               int    `json:"modelUnits"`
	DesiredModelUnits        int    `json:"desiredModelUnits"`
	ProvisionedModelName     string `json:"provisionedModelName"`
	ProvisionedModelArn      string `json:"provisionedModelArn"`
	ModelArn                 string `json:"modelArn"`
	DesiredModelArn          string `json:"desiredModelArn"`
	FoundationModelArn       string `json:"foundationModelArn"`
	Status                   string `json:"status"`
	CreationTime             string `json:"creationTime"`
	LastModifiedTime         string `json:"lastModifiedTime"`
	FailureMessage           string `json:"failureMessage,omitempty"`
	CommitmentDuration       string `json:"commitmentDuration,omitempty"`
	CommitmentExpirationTime string `json:"commitmentExpirationTime,omitempty"`
}

func provisionedWire(t *provision.Throughput) provisionedOut {
	o := provisionedOut{
		ModelUnits: t.ModelUnits, DesiredModelUnits: t.DesiredModelUnits, ProvisionedModelName: t.Name,
		ProvisionedModelArn: t.ARN, ModelArn: t.ModelARN, DesiredModelArn: t.DesiredModelARN,
		FoundationModelArn: t.FoundationModelARN, Status: t.Status,
		CreationTime: awsproto.FormatTime(t.CreationTime), LastModifiedTime: awsproto.FormatTime(t.LastModifiedTime),
		FailureMessage: t.FailureMessage, CommitmentDuration: t.CommitmentDuration,
	}
	if !t.CommitmentExpirationTime.IsZero() {
		o.CommitmentExpirationTime = awsproto.FormatTime(t.CommitmentExpirationTime)
	}
	return o
}

func (s *Server) createProvisioned(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	var in createProvisionedRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	name := req(&c, "provisionedModelName", in.ProvisionedModelName, 1, 63, "CustomModelName")
	model := req(&c, "modelId", in.ModelID, 1, 2048, "ModelIdentifier")
	token := opt(&c, "clientRequestToken", in.ClientRequestToken, 1, 256, "IdempotencyToken")
	units := 0
	if c.Required("modelUnits", in.ModelUnits != nil) && c.Range("modelUnits", *in.ModelUnits, 1, 1<<31-1) {
		units = int(*in.ModelUnits)
	}
	commit := ""
	if in.CommitmentDuration != nil {
		commit = *in.CommitmentDuration
		c.Enum("commitmentDuration", commit, provision.CommitmentOneMonth, provision.CommitmentSixMonths)
	}
	tags := checkTags(&c, "tags", in.Tags)
	if err := c.Err(); err != nil {
		return err
	}
	account := AccountFrom(r.Context())
	pt, err := sv.Provision.CreateThroughput(r.Context(), account, provision.CreateThroughputInput{
		Name: name, ModelID: model, ModelUnits: units, CommitmentDuration: commit, ClientRequestToken: token, Tags: provisionTags(tags),
	})
	if err != nil {
		return err
	}
	if len(tags) > 0 {
		if err := s.opts.Store.PutTags(r.Context(), account, pt.ARN, tags); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusCreated, struct {
		ProvisionedModelArn string `json:"provisionedModelArn"`
	}{pt.ARN})
}

func provisionTags(ts []store.Tag) []provision.Tag {
	out := make([]provision.Tag, 0, len(ts))
	for _, t := range ts {
		out = append(out, provision.Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

func provisionedIdent(r *http.Request) (string, error) {
	id := r.PathValue("provisionedModelId")
	var c awsproto.Checker
	c.String("provisionedModelId", id, 1, 2048, "")
	return id, c.Err()
}

func (s *Server) getProvisioned(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	id, err := provisionedIdent(r)
	if err != nil {
		return err
	}
	pt, err := sv.Provision.GetThroughput(r.Context(), AccountFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, provisionedWire(pt))
}

type provisionedSummaryOut struct {
	ProvisionedModelName     string `json:"provisionedModelName"`
	ProvisionedModelArn      string `json:"provisionedModelArn"`
	ModelArn                 string `json:"modelArn"`
	DesiredModelArn          string `json:"desiredModelArn"`
	FoundationModelArn       string `json:"foundationModelArn"`
	ModelUnits               int    `json:"modelUnits"`
	DesiredModelUnits        int    `json:"desiredModelUnits"`
	Status                   string `json:"status"`
	CommitmentDuration       string `json:"commitmentDuration,omitempty"`
	CommitmentExpirationTime string `json:"commitmentExpirationTime,omitempty"`
	CreationTime             string `json:"creationTime"`
	LastModifiedTime         string `json:"lastModifiedTime"`
}

func (s *Server) listProvisioned(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	var c awsproto.Checker
	q := query{r.URL.Query(), &c}
	after, before := q.time("creationTimeAfter"), q.time("creationTimeBefore")
	status := q.enum("statusEquals", ptStatuses...)
	modelARN := q.str("modelArnEquals", 20, 1011, "ModelArn")
	nameContains := q.str("nameContains", 1, 63, "CustomModelName")
	maxResults := q.int("maxResults", 1, 1000)
	token := q.str("nextToken", 1, 2048, "PaginationToken")
	q.enum("sortBy", "CreationTime")
	asc := q.enum("sortOrder", "Ascending", "Descending") == "Ascending"
	if err := c.Err(); err != nil {
		return err
	}
	all, err := sv.Provision.ListThroughputs(r.Context(), AccountFrom(r.Context()))
	if err != nil {
		return err
	}
	all = slices.DeleteFunc(all, func(t *provision.Throughput) bool {
		return status != "" && t.Status != status || modelARN != "" && t.ModelARN != modelARN ||
			nameContains != "" && !strings.Contains(t.Name, nameContains) ||
			!after.IsZero() && !t.CreationTime.After(after) || !before.IsZero() && !t.CreationTime.Before(before)
	})
	sortByCreation(all, asc, func(t *provision.Throughput) (int64, string) { return t.CreationTime.UnixNano(), t.ID })
	page, next, err := paginate(all, token, maxResults, func(t *provision.Throughput) string { return t.ID })
	if err != nil {
		return err
	}
	out := struct {
		NextToken string                  `json:"nextToken,omitempty"`
		Summaries []provisionedSummaryOut `json:"provisionedModelSummaries"`
	}{NextToken: next, Summaries: []provisionedSummaryOut{}}
	for _, t := range page {
		p := provisionedWire(t)
		out.Summaries = append(out.Summaries, provisionedSummaryOut{
			ProvisionedModelName: p.ProvisionedModelName, ProvisionedModelArn: p.ProvisionedModelArn, ModelArn: p.ModelArn,
			DesiredModelArn: p.DesiredModelArn, FoundationModelArn: p.FoundationModelArn, ModelUnits: p.ModelUnits,
			DesiredModelUnits: p.DesiredModelUnits, Status: p.Status, CommitmentDuration: p.CommitmentDuration,
			CommitmentExpirationTime: p.CommitmentExpirationTime, CreationTime: p.CreationTime, LastModifiedTime: p.LastModifiedTime,
		})
	}
	return writeJSON(w, http.StatusOK, out)
}

// sortByCreation orders items by creation time (then id), newest first
// unless asc.
func sortByCreation[T any](items []T, asc bool, key func(T) (int64, string)) {
	slices.SortStableFunc(items, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		c := 0
		switch {
		case ta < tb:
			c = -1
		case ta > tb:
			c = 1
		default:
			c = strings.Compare(ia, ib)
		}
		if !asc {
			c = -c
		}
		return c
	})
}

// paginate returns the page after the item whose id the token encodes.
func paginate[T any](items []T, token string, max int, id func(T) string) ([]T, string, error) {
	if max <= 0 {
		max = 100
	}
	start := 0
	if token != "" {
		after, err := awsproto.DecodeToken(token)
		if err != nil {
			return nil, "", apierr.Validationf("The provided nextToken is invalid.")
		}
		start = len(items)
		for i, it := range items {
			if id(it) == after {
				start = i + 1
				break
			}
		}
	}
	end := min(start+max, len(items))
	next := ""
	if end < len(items) {
		next = awsproto.EncodeToken(id(items[end-1]))
	}
	return items[start:end], next, nil
}

type updateProvisionedRequest struct {
	DesiredProvisionedModelName *string `json:"desiredProvisionedModelName"`
	DesiredModelID              *string `json:"desiredModelId"`
}

func (s *Server) updateProvisioned(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	id, err := provisionedIdent(r)
	if err != nil {
		return err
	}
	var in updateProvisionedRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	c.OptString("desiredProvisionedModelName", in.DesiredProvisionedModelName, 1, 63, "CustomModelName")
	c.OptString("desiredModelId", in.DesiredModelID, 1, 2048, "ModelIdentifier")
	if err := c.Err(); err != nil {
		return err
	}
	if err := sv.Provision.UpdateThroughput(r.Context(), AccountFrom(r.Context()), id, in.DesiredProvisionedModelName, in.DesiredModelID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) deleteProvisioned(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	id, err := provisionedIdent(r)
	if err != nil {
		return err
	}
	account := AccountFrom(r.Context())
	pt, err := sv.Provision.GetThroughput(r.Context(), account, id)
	if err != nil {
		return err
	}
	if err := sv.Provision.DeleteThroughput(r.Context(), account, id); err != nil {
		return err
	}
	if tags, err := s.opts.Store.ListTags(r.Context(), account, pt.ARN); err == nil && len(tags) > 0 {
		keys := make([]string, 0, len(tags))
		for _, t := range tags {
			keys = append(keys, t.Key)
		}
		_ = s.opts.Store.DeleteTags(r.Context(), account, pt.ARN, keys)
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}
