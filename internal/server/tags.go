package server

import (
	"fmt"
	"net/http"

	"github.com/strata-ml/strata/internal/awsproto"
)

func (s *Server) tagResource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResourceARN *string   `json:"resourceARN"`
		Tags        []wireTag `json:"tags"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	arn := req(&c, "resourceARN", in.ResourceARN, 20, 1011, "TaggableResourcesArn")
	c.Required("tags", in.Tags != nil)
	tags := checkTags(&c, "tags", in.Tags)
	if err := c.Err(); err != nil {
		return err
	}
	if err := s.opts.Jobs.TagResource(r.Context(), AccountFrom(r.Context()), arn, tags); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) untagResource(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResourceARN *string  `json:"resourceARN"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	arn := req(&c, "resourceARN", in.ResourceARN, 20, 1011, "TaggableResourcesArn")
	if c.Required("tagKeys", in.TagKeys != nil) {
		c.Items("tagKeys", len(in.TagKeys), 0, 200)
		for i, k := range in.TagKeys {
			c.String(fmt.Sprintf("tagKeys.%d.member", i+1), k, 1, 128, "TagKey")
		}
	}
	if err := c.Err(); err != nil {
		return err
	}
	if err := s.opts.Jobs.UntagResource(r.Context(), AccountFrom(r.Context()), arn, in.TagKeys); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		ResourceARN *string `json:"resourceARN"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	var c awsproto.Checker
	arn := req(&c, "resourceARN", in.ResourceARN, 20, 1011, "TaggableResourcesArn")
	if err := c.Err(); err != nil {
		return err
	}
	tags, err := s.opts.Jobs.ListTags(r.Context(), AccountFrom(r.Context()), arn)
	if err != nil {
		return err
	}
	out := []wireTagOut{}
	for _, t := range tags {
		out = append(out, wireTagOut(t))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tags": out})
}
