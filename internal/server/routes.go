package server

// Route is one entry of the route table.
type Route struct {
	Method  string // GET, POST, DELETE, ...
	Path    string // http.ServeMux path pattern; {x} labels match one escaped segment
	Op      string // operation name (logs, metrics)
	Auth    bool   // requires SigV4 or Bearer authentication
	Handler HandlerFunc
}

// routes is THE route table. Each group is its own block; to add a group,
// add one line below that appends a method returning []Route (defined in the
// group's own file), so edits never touch another group's lines.
func (s *Server) routes() []Route {
	var rs []Route
	rs = append(rs, s.healthRoutes()...)
	rs = append(rs, s.customizationRoutes()...)
	rs = append(rs, s.customModelRoutes()...)
	rs = append(rs, s.foundationModelRoutes()...)
	rs = append(rs, s.tagRoutes()...)
	rs = append(rs, s.strataRoutes()...)
	// Serving side (runtime*.go, provisioned*.go, deployments*.go).
	rs = append(rs, s.runtimeRoutes()...)
	rs = append(rs, s.provisionedRoutes()...)
	rs = append(rs, s.deploymentRoutes()...)
	return rs
}

func (s *Server) healthRoutes() []Route {
	return []Route{
		{"GET", "/healthz", "Healthz", false, s.healthz},
		{"GET", "/metrics", "Metrics", false, s.metricsHandler},
	}
}

func (s *Server) customizationRoutes() []Route {
	return []Route{
		{"POST", "/model-customization-jobs", "CreateModelCustomizationJob", true, s.createJob},
		{"GET", "/model-customization-jobs", "ListModelCustomizationJobs", true, s.listJobs},
		{"GET", "/model-customization-jobs/{jobIdentifier}", "GetModelCustomizationJob", true, s.getJob},
		{"POST", "/model-customization-jobs/{jobIdentifier}/stop", "StopModelCustomizationJob", true, s.stopJob},
	}
}

func (s *Server) customModelRoutes() []Route {
	return []Route{
		{"GET", "/custom-models", "ListCustomModels", true, s.listCustomModels},
		{"GET", "/custom-models/{modelIdentifier}", "GetCustomModel", true, s.getCustomModel},
		{"DELETE", "/custom-models/{modelIdentifier}", "DeleteCustomModel", true, s.deleteCustomModel},
	}
}

func (s *Server) foundationModelRoutes() []Route {
	return []Route{
		{"GET", "/foundation-models", "ListFoundationModels", true, s.listFoundationModels},
		{"GET", "/foundation-models/{modelIdentifier}", "GetFoundationModel", true, s.getFoundationModel},
	}
}

func (s *Server) tagRoutes() []Route {
	return []Route{
		{"POST", "/tagResource", "TagResource", true, s.tagResource},
		{"POST", "/untagResource", "UntagResource", true, s.untagResource},
		{"POST", "/listTagsForResource", "ListTagsForResource", true, s.listTags},
	}
}

func (s *Server) strataRoutes() []Route {
	return []Route{
		{"GET", "/strata/v1/jobs/{jobIdentifier}/events", "StrataJobEvents", true, s.jobEvents},
		{"GET", "/strata/v1/jobs/{jobIdentifier}/metrics", "StrataJobMetrics", true, s.jobMetrics},
		{"GET", "/strata/v1/jobs/{jobIdentifier}/dataset-report", "StrataDatasetReport", true, s.datasetReport},
	}
}
