package server

import (
	"net/http"

	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/store"
)

func modelIdent(r *http.Request) (string, error) {
	id := r.PathValue("modelIdentifier")
	var c awsproto.Checker
	c.String("modelIdentifier", id, 1, 2048, "ModelIdentifier")
	return id, c.Err()
}

func (s *Server) getCustomModel(w http.ResponseWriter, r *http.Request) error {
	id, err := modelIdent(r)
	if err != nil {
		return err
	}
	m, err := s.opts.Jobs.GetCustomModel(r.Context(), AccountFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, customModelWire(m))
}

func (s *Server) deleteCustomModel(w http.ResponseWriter, r *http.Request) error {
	id, err := modelIdent(r)
	if err != nil {
		return err
	}
	if err := s.opts.Jobs.DeleteCustomModel(r.Context(), AccountFrom(r.Context()), id, s.opts.DeleteGuard); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

var modelStatuses = []string{store.ModelActive, store.ModelCreating, store.ModelFailed}

func (s *Server) listCustomModels(w http.ResponseWriter, r *http.Request) error {
	var c awsproto.Checker
	q := query{r.URL.Query(), &c}
	in := listInput(q)
	in.NameContains = q.str("nameContains", 1, 63, "CustomModelName")
	in.Status = q.enum("modelStatus", modelStatuses...)
	base := q.str("baseModelArnEquals", 20, 1011, "ModelArn")
	fm := q.str("foundationModelArnEquals", 0, 0, "FoundationModelArn")
	owned := q.bool("isOwned")
	if err := c.Err(); err != nil {
		return err
	}
	in.BaseModelARN = base
	if fm != "" {
		in.BaseModelARN = fm
		if base != "" && base != fm {
			in.BaseModelARN = "\x00" // contradictory filters match nothing
		}
	}
	out := struct {
		NextToken string                  `json:"nextToken,omitempty"`
		Summaries []customModelSummaryOut `json:"modelSummaries"`
	}{Summaries: []customModelSummaryOut{}}
	if owned != nil && !*owned {
		return writeJSON(w, http.StatusOK, out) // nothing is shared with an account here
	}
	list, next, err := s.opts.Jobs.ListCustomModels(r.Context(), AccountFrom(r.Context()), in)
	if err != nil {
		return err
	}
	out.NextToken = next
	for _, m := range list {
		out.Summaries = append(out.Summaries, customModelSummaryWire(m))
	}
	return writeJSON(w, http.StatusOK, out)
}
