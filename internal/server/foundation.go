package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/catalog"
)

type lifecycleOut struct {
	Status string `json:"status"`
}

type foundationModelOut struct {
	ModelArn                   string       `json:"modelArn"`
	ModelId                    string       `json:"modelId"`
	ModelName                  string       `json:"modelName,omitempty"`
	ProviderName               string       `json:"providerName,omitempty"`
	InputModalities            []string     `json:"inputModalities"`
	OutputModalities           []string     `json:"outputModalities"`
	ResponseStreamingSupported bool         `json:"responseStreamingSupported"`
	CustomizationsSupported    []string     `json:"customizationsSupported"`
	InferenceTypesSupported    []string     `json:"inferenceTypesSupported"`
	ModelLifecycle             lifecycleOut `json:"modelLifecycle"`
}

func (s *Server) foundationWire(m *catalog.Model) foundationModelOut {
	return foundationModelOut{
		ModelArn: m.ARN(s.opts.Region), ModelId: m.ID, ModelName: m.Name, ProviderName: m.Provider,
		InputModalities: []string{"TEXT"}, OutputModalities: []string{"TEXT"}, ResponseStreamingSupported: true,
		CustomizationsSupported: m.Family.Customizations(), InferenceTypesSupported: []string{"ON_DEMAND", "PROVISIONED"},
		ModelLifecycle: lifecycleOut{Status: "ACTIVE"},
	}
}

func (s *Server) getFoundationModel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("modelIdentifier")
	var c awsproto.Checker
	c.String("modelIdentifier", id, 1, 2048, "GetFoundationModelIdentifier")
	if err := c.Err(); err != nil {
		return err
	}
	m, err := s.opts.Catalog.Get(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return apierr.Wrap(apierr.NotFound, fmt.Sprintf("The model %s was not found.", id), err)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"modelDetails": s.foundationWire(m)})
}

func (s *Server) listFoundationModels(w http.ResponseWriter, r *http.Request) error {
	var c awsproto.Checker
	q := query{r.URL.Query(), &c}
	provider := q.str("byProvider", 0, 0, "Provider")
	ctype := q.enum("byCustomizationType", "FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION")
	modality := q.enum("byOutputModality", "TEXT", "IMAGE", "EMBEDDING")
	inference := q.enum("byInferenceType", "ON_DEMAND", "PROVISIONED")
	if err := c.Err(); err != nil {
		return err
	}
	models, err := s.opts.Catalog.List(r.Context())
	if err != nil {
		return err
	}
	out := []foundationModelOut{}
	for _, m := range models {
		fw := s.foundationWire(m)
		switch {
		case provider != "" && !strings.EqualFold(provider, m.Provider):
		case ctype != "" && !slices.Contains(fw.CustomizationsSupported, ctype):
		case modality != "" && !slices.Contains(fw.OutputModalities, modality):
		case inference != "" && !slices.Contains(fw.InferenceTypesSupported, inference):
		default:
			out = append(out, fw)
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"modelSummaries": out})
}
