package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/jobs"
	"github.com/strata-ml/strata/internal/store"
)

var customizationTypes = []string{"FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING", "IMPORTED"}

func checkTags(c *awsproto.Checker, field string, tags []wireTag) []store.Tag {
	c.Items(field, len(tags), 0, 200)
	var out []store.Tag
	for i, t := range tags {
		f := fmt.Sprintf("%s.%d.member", field, i+1)
		if c.Required(f+".key", t.Key != nil) {
			c.String(f+".key", *t.Key, 1, 128, "TagKey")
		}
		if c.Required(f+".value", t.Value != nil) {
			c.String(f+".value", *t.Value, 0, 256, "TagValue")
		}
		if t.Key != nil && t.Value != nil {
			out = append(out, store.Tag{Key: *t.Key, Value: *t.Value})
		}
	}
	return out
}

func req(c *awsproto.Checker, field string, p *string, minLen, maxLen int, pattern string) string {
	if !c.Required(field, p != nil) {
		return ""
	}
	c.String(field, *p, minLen, maxLen, pattern)
	return *p
}

func opt(c *awsproto.Checker, field string, p *string, minLen, maxLen int, pattern string) string {
	if p == nil {
		return ""
	}
	c.String(field, *p, minLen, maxLen, pattern)
	return *p
}

// checkUnion validates a union member: a JSON object with exactly one of the
// allowed keys.
func checkUnion(c *awsproto.Checker, field string, raw json.RawMessage, members ...string) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		c.Failf("Value at '%s' failed to satisfy constraint: Member must be a structure", field)
		return
	}
	if len(m) != 1 {
		c.Failf("Value at '%s' failed to satisfy constraint: Member must have exactly one of %v set", field, members)
		return
	}
	for k := range m {
		found := false
		for _, a := range members {
			found = found || a == k
		}
		if !found {
			c.Failf("Value at '%s' failed to satisfy constraint: Member %s is not a member of the union; valid members: %v", field, k, members)
		}
	}
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) error {
	var in createJobRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	out := jobs.CreateJobInput{
		JobName:             req(&c, "jobName", in.JobName, 1, 63, "JobName"),
		CustomModelName:     req(&c, "customModelName", in.CustomModelName, 1, 63, "CustomModelName"),
		RoleARN:             req(&c, "roleArn", in.RoleArn, 0, 2048, "RoleArn"),
		ClientRequestToken:  opt(&c, "clientRequestToken", in.ClientRequestToken, 1, 256, "IdempotencyToken"),
		BaseModelIdentifier: req(&c, "baseModelIdentifier", in.BaseModelIdentifier, 1, 2048, "BaseModelIdentifier"),
		CustomModelKMSKeyID: opt(&c, "customModelKmsKeyId", in.CustomModelKmsKeyId, 1, 2048, "KmsKeyId"),
		JobTags:             checkTags(&c, "jobTags", in.JobTags),
		CustomModelTags:     checkTags(&c, "customModelTags", in.CustomModelTags),
		HyperParameters:     in.HyperParameters,
		CustomizationConfig: in.CustomizationConfig,
	}
	if in.CustomizationType != nil {
		c.Enum("customizationType", *in.CustomizationType, customizationTypes...)
		out.CustomizationType = *in.CustomizationType
		if out.CustomizationType == "IMPORTED" {
			c.Failf("Value 'IMPORTED' at 'customizationType' failed to satisfy constraint: IMPORTED is not a valid type for a customization job")
		}
	}
	if c.Required("trainingDataConfig", in.TrainingDataConfig != nil) {
		out.TrainingS3URI = opt(&c, "trainingDataConfig.s3Uri", in.TrainingDataConfig.S3Uri, 1, 1024, "S3Uri")
		if in.TrainingDataConfig.S3Uri == nil && len(in.TrainingDataConfig.InvocationLogsConfig) == 0 {
			c.Failf("Value at 'trainingDataConfig' failed to satisfy constraint: Member must set s3Uri or invocationLogsConfig")
		}
		b, _ := json.Marshal(in.TrainingDataConfig)
		out.TrainingDataConfig = b
	}
	if in.ValidationDataConfig != nil {
		if c.Required("validationDataConfig.validators", in.ValidationDataConfig.Validators != nil) {
			c.Items("validationDataConfig.validators", len(in.ValidationDataConfig.Validators), 0, 10)
			for i, v := range in.ValidationDataConfig.Validators {
				out.Validators = append(out.Validators, req(&c, fmt.Sprintf("validationDataConfig.validators.%d.member.s3Uri", i+1), v.S3Uri, 1, 1024, "S3Uri"))
			}
		}
	}
	if c.Required("outputDataConfig", in.OutputDataConfig != nil) {
		out.OutputS3URI = req(&c, "outputDataConfig.s3Uri", in.OutputDataConfig.S3Uri, 1, 1024, "S3Uri")
	}
	if in.VpcConfig != nil {
		if c.Required("vpcConfig.subnetIds", in.VpcConfig.SubnetIds != nil) {
			c.Items("vpcConfig.subnetIds", len(in.VpcConfig.SubnetIds), 1, 16)
			for i, sn := range in.VpcConfig.SubnetIds {
				c.String(fmt.Sprintf("vpcConfig.subnetIds.%d.member", i+1), sn, 0, 32, "SubnetId")
			}
		}
		if c.Required("vpcConfig.securityGroupIds", in.VpcConfig.SecurityGroupIds != nil) {
			c.Items("vpcConfig.securityGroupIds", len(in.VpcConfig.SecurityGroupIds), 1, 5)
			for i, sg := range in.VpcConfig.SecurityGroupIds {
				c.String(fmt.Sprintf("vpcConfig.securityGroupIds.%d.member", i+1), sg, 0, 32, "SecurityGroupId")
			}
		}
		b, _ := json.Marshal(in.VpcConfig)
		out.VPCConfig = b
	}
	checkUnion(&c, "customizationConfig", in.CustomizationConfig, "distillationConfig", "rftConfig")
	if err := c.Err(); err != nil {
		return err
	}
	arn, err := s.opts.Jobs.CreateJob(r.Context(), AccountFrom(r.Context()), out)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"jobArn": arn})
}

func (s *Server) jobIdent(r *http.Request) (string, error) {
	id := r.PathValue("jobIdentifier")
	var c awsproto.Checker
	c.String("jobIdentifier", id, 0, 1011, "ModelCustomizationJobIdentifier")
	return id, c.Err()
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	id, err := s.jobIdent(r)
	if err != nil {
		return err
	}
	j, err := s.opts.Jobs.GetJob(r.Context(), AccountFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, jobWire(j))
}

func (s *Server) stopJob(w http.ResponseWriter, r *http.Request) error {
	id, err := s.jobIdent(r)
	if err != nil {
		return err
	}
	if err := s.opts.Jobs.StopJob(r.Context(), AccountFrom(r.Context()), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

var jobStatuses = []string{store.JobInProgress, store.JobCompleted, store.JobFailed, store.JobStopping, store.JobStopped}

func listInput(q query) jobs.ListInput {
	in := jobs.ListInput{
		CreatedAfter:  q.time("creationTimeAfter"),
		CreatedBefore: q.time("creationTimeBefore"),
		MaxResults:    q.int("maxResults", 1, 1000),
		NextToken:     q.str("nextToken", 1, 2048, "PaginationToken"),
	}
	q.enum("sortBy", "CreationTime")
	in.Ascending = q.enum("sortOrder", "Ascending", "Descending") == "Ascending"
	return in
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	var c awsproto.Checker
	q := query{r.URL.Query(), &c}
	in := listInput(q)
	in.Status = q.enum("statusEquals", jobStatuses...)
	in.NameContains = q.str("nameContains", 1, 63, "JobName")
	if err := c.Err(); err != nil {
		return err
	}
	list, next, err := s.opts.Jobs.ListJobs(r.Context(), AccountFrom(r.Context()), in)
	if err != nil {
		return err
	}
	out := struct {
		NextToken string          `json:"nextToken,omitempty"`
		Summaries []jobSummaryOut `json:"modelCustomizationJobSummaries"`
	}{NextToken: next, Summaries: []jobSummaryOut{}}
	for _, j := range list {
		out.Summaries = append(out.Summaries, jobSummaryWire(j))
	}
	return writeJSON(w, http.StatusOK, out)
}

// errNotImplemented reports an operation this server does not provide.
func errNotImplemented(op string) error {
	return apierr.New(apierr.UnknownOperation, "%s is not supported by this server.", op)
}
