package server

import (
	"net/http"
	"slices"
	"strings"

	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/inference/provision"
)

func (s *Server) deploymentRoutes() []Route {
	const base = "/model-customization/custom-model-deployments"
	return []Route{
		{"POST", base, "CreateCustomModelDeployment", true, s.createDeployment},
		{"GET", base, "ListCustomModelDeployments", true, s.listDeployments},
		{"GET", base + "/{customModelDeploymentIdentifier}", "GetCustomModelDeployment", true, s.getDeployment},
		{"PATCH", base + "/{customModelDeploymentIdentifier}", "UpdateCustomModelDeployment", true, s.updateDeployment},
		{"DELETE", base + "/{customModelDeploymentIdentifier}", "DeleteCustomModelDeployment", true, s.deleteDeployment},
	}
}

var deploymentStatuses = []string{provision.DeployCreating, provision.DeployActive, provision.DeployFailed}

type createDeploymentRequest struct {
	ModelDeploymentName *string   `json:"modelDeploymentName"`
	ModelArn            *string   `json:"modelArn"`
	Description         *string   `json:"description"`
	Tags                []wireTag `json:"tags"`
	ClientRequestToken  *string   `json:"clientRequestToken"`
}

type deploymentUpdateOut struct {
	ModelArn     string `json:"modelArn"`
	UpdateStatus string `json:"updateStatus"`
}

type deploymentOut struct {
	CustomModelDeploymentArn string               `json:"customModelDeploymentArn"`
	ModelDeploymentName      string               `json:"modelDeploymentName"`
	ModelArn                 string               `json:"modelArn"`
	CreatedAt                string               `json:"createdAt"`
	Status                   string               `json:"status"`
	Description              string               `json:"description,omitempty"`
	UpdateDetails            *deploymentUpdateOut `json:"updateDetails,omitempty"`
	FailureMessage           string               `json:"failureMessage,omitempty"`
	LastUpdatedAt            string               `json:"lastUpdatedAt,omitempty"`
}

func deploymentWire(d *provision.Deployment) deploymentOut {
	o := deploymentOut{CustomModelDeploymentArn: d.ARN, ModelDeploymentName: d.Name, ModelArn: d.ModelARN,
		CreatedAt: awsproto.FormatTime(d.CreatedAt), Status: d.Status, Description: d.Description, FailureMessage: d.FailureMessage}
	if !d.LastUpdatedAt.IsZero() {
		o.LastUpdatedAt = awsproto.FormatTime(d.LastUpdatedAt)
	}
	if d.UpdateStatus != "" {
		o.UpdateDetails = &deploymentUpdateOut{ModelArn: d.UpdateModelARN, UpdateStatus: d.UpdateStatus}
	}
	return o
}

func (s *Server) createDeployment(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	var in createDeploymentRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	name := req(&c, "modelDeploymentName", in.ModelDeploymentName, 1, 63, "CustomModelName")
	model := req(&c, "modelArn", in.ModelArn, 20, 1011, "ModelArn")
	desc := opt(&c, "description", in.Description, 1, 2048, "")
	token := opt(&c, "clientRequestToken", in.ClientRequestToken, 1, 256, "IdempotencyToken")
	tags := checkTags(&c, "tags", in.Tags)
	if err := c.Err(); err != nil {
		return err
	}
	account := AccountFrom(r.Context())
	d, err := sv.Provision.CreateDeployment(r.Context(), account, provision.CreateDeploymentInput{
		Name: name, ModelARN: model, Description: desc, ClientRequestToken: token, Tags: provisionTags(tags)})
	if err != nil {
		return err
	}
	if len(tags) > 0 {
		if err := s.opts.Store.PutTags(r.Context(), account, d.ARN, tags); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusAccepted, struct {
		CustomModelDeploymentArn string `json:"customModelDeploymentArn"`
	}{d.ARN})
}

func deploymentIdent(r *http.Request) (string, error) {
	id := r.PathValue("customModelDeploymentIdentifier")
	var c awsproto.Checker
	c.String("customModelDeploymentIdentifier", id, 1, 93, "")
	return id, c.Err()
}

func (s *Server) getDeployment(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	id, err := deploymentIdent(r)
	if err != nil {
		return err
	}
	d, err := sv.Provision.GetDeployment(r.Context(), AccountFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, deploymentWire(d))
}

type deploymentSummaryOut struct {
	CustomModelDeploymentArn  string `json:"customModelDeploymentArn"`
	CustomModelDeploymentName string `json:"customModelDeploymentName"`
	ModelArn                  string `json:"modelArn"`
	CreatedAt                 string `json:"createdAt"`
	Status                    string `json:"status"`
	LastUpdatedAt             string `json:"lastUpdatedAt,omitempty"`
	FailureMessage            string `json:"failureMessage,omitempty"`
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	var c awsproto.Checker
	q := query{r.URL.Query(), &c}
	before, after := q.time("createdBefore"), q.time("createdAfter")
	nameContains := q.str("nameContains", 1, 63, "CustomModelName")
	maxResults := q.int("maxResults", 1, 1000)
	token := q.str("nextToken", 1, 2048, "PaginationToken")
	q.enum("sortBy", "CreationTime")
	asc := q.enum("sortOrder", "Ascending", "Descending") == "Ascending"
	status := q.enum("statusEquals", deploymentStatuses...)
	modelARN := q.str("modelArnEquals", 20, 1011, "ModelArn")
	if err := c.Err(); err != nil {
		return err
	}
	all, err := sv.Provision.ListDeployments(r.Context(), AccountFrom(r.Context()))
	if err != nil {
		return err
	}
	all = slices.DeleteFunc(all, func(d *provision.Deployment) bool {
		return status != "" && d.Status != status || modelARN != "" && d.ModelARN != modelARN ||
			nameContains != "" && !strings.Contains(d.Name, nameContains) ||
			!after.IsZero() && !d.CreatedAt.After(after) || !before.IsZero() && !d.CreatedAt.Before(before)
	})
	sortByCreation(all, asc, func(d *provision.Deployment) (int64, string) { return d.CreatedAt.UnixNano(), d.ID })
	page, next, err := paginate(all, token, maxResults, func(d *provision.Deployment) string { return d.ID })
	if err != nil {
		return err
	}
	out := struct {
		NextToken string                 `json:"nextToken,omitempty"`
		Summaries []deploymentSummaryOut `json:"modelDeploymentSummaries"`
	}{NextToken: next, Summaries: []deploymentSummaryOut{}}
	for _, d := range page {
		o := deploymentWire(d)
		out.Summaries = append(out.Summaries, deploymentSummaryOut{CustomModelDeploymentArn: o.CustomModelDeploymentArn,
			CustomModelDeploymentName: o.ModelDeploymentName, ModelArn: o.ModelArn, CreatedAt: o.CreatedAt, Status: o.Status,
			LastUpdatedAt: o.LastUpdatedAt, FailureMessage: o.FailureMessage})
	}
	return writeJSON(w, http.StatusOK, out)
}

type updateDeploymentRequest struct {
	ModelArn *string `json:"modelArn"`
}

func (s *Server) updateDeployment(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	id, err := deploymentIdent(r)
	if err != nil {
		return err
	}
	var in updateDeploymentRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	model := req(&c, "modelArn", in.ModelArn, 20, 1011, "ModelArn")
	if err := c.Err(); err != nil {
		return err
	}
	d, err := sv.Provision.UpdateDeployment(r.Context(), AccountFrom(r.Context()), id, model)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, struct {
		CustomModelDeploymentArn string `json:"customModelDeploymentArn"`
	}{d.ARN})
}

func (s *Server) deleteDeployment(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.serving()
	if err != nil {
		return err
	}
	id, err := deploymentIdent(r)
	if err != nil {
		return err
	}
	if err := sv.Provision.DeleteDeployment(r.Context(), AccountFrom(r.Context()), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}
