package server

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/store"
)

// Wire types of the bedrock control plane (service-2.json shapes). Request
// members are pointers so that "absent" and "empty" differ for validation;
// response members use omitempty so absent members are omitted.

type wireTag struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

type wireTagOut struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type s3Loc struct {
	S3Uri *string `json:"s3Uri"`
}

type trainingDataConfig struct {
	S3Uri                *string         `json:"s3Uri"`
	InvocationLogsConfig json.RawMessage `json:"invocationLogsConfig,omitempty"`
}

type validationDataConfig struct {
	Validators []s3Loc `json:"validators"`
}

type vpcConfig struct {
	SubnetIds        []string `json:"subnetIds"`
	SecurityGroupIds []string `json:"securityGroupIds"`
}

type createJobRequest struct {
	JobName              *string               `json:"jobName"`
	CustomModelName      *string               `json:"customModelName"`
	RoleArn              *string               `json:"roleArn"`
	ClientRequestToken   *string               `json:"clientRequestToken"`
	BaseModelIdentifier  *string               `json:"baseModelIdentifier"`
	CustomizationType    *string               `json:"customizationType"`
	CustomModelKmsKeyId  *string               `json:"customModelKmsKeyId"`
	JobTags              []wireTag             `json:"jobTags"`
	CustomModelTags      []wireTag             `json:"customModelTags"`
	TrainingDataConfig   *trainingDataConfig   `json:"trainingDataConfig"`
	ValidationDataConfig *validationDataConfig `json:"validationDataConfig"`
	OutputDataConfig     *s3Loc                `json:"outputDataConfig"`
	HyperParameters      map[string]string     `json:"hyperParameters"`
	VpcConfig            *vpcConfig            `json:"vpcConfig"`
	CustomizationConfig  json.RawMessage       `json:"customizationConfig"`
}

type phaseOut struct {
	Status           string `json:"status,omitempty"`
	CreationTime     string `json:"creationTime,omitempty"`
	LastModifiedTime string `json:"lastModifiedTime,omitempty"`
}

type statusDetailsOut struct {
	ValidationDetails     phaseOut `json:"validationDetails"`
	DataProcessingDetails phaseOut `json:"dataProcessingDetails"`
	TrainingDetails       phaseOut `json:"trainingDetails"`
}

type trainingMetrics struct {
	TrainingLoss *float64 `json:"trainingLoss,omitempty"`
}

type validatorMetric struct {
	ValidationLoss *float64 `json:"validationLoss,omitempty"`
}

type s3Out struct {
	S3Uri string `json:"s3Uri"`
}

type validationOut struct {
	Validators []s3Out `json:"validators"`
}

type jobOut struct {
	JobArn               string            `json:"jobArn"`
	JobName              string            `json:"jobName"`
	OutputModelName      string            `json:"outputModelName"`
	OutputModelArn       string            `json:"outputModelArn,omitempty"`
	ClientRequestToken   string            `json:"clientRequestToken,omitempty"`
	RoleArn              string            `json:"roleArn"`
	Status               string            `json:"status,omitempty"`
	StatusDetails        *statusDetailsOut `json:"statusDetails,omitempty"`
	FailureMessage       string            `json:"failureMessage,omitempty"`
	CreationTime         string            `json:"creationTime"`
	LastModifiedTime     string            `json:"lastModifiedTime,omitempty"`
	EndTime              string            `json:"endTime,omitempty"`
	BaseModelArn         string            `json:"baseModelArn"`
	HyperParameters      map[string]string `json:"hyperParameters,omitempty"`
	TrainingDataConfig   json.RawMessage   `json:"trainingDataConfig"`
	ValidationDataConfig validationOut     `json:"validationDataConfig"`
	OutputDataConfig     s3Out             `json:"outputDataConfig"`
	CustomizationType    string            `json:"customizationType,omitempty"`
	OutputModelKmsKeyArn string            `json:"outputModelKmsKeyArn,omitempty"`
	TrainingMetrics      *trainingMetrics  `json:"trainingMetrics,omitempty"`
	ValidationMetrics    []validatorMetric `json:"validationMetrics,omitempty"`
	VpcConfig            json.RawMessage   `json:"vpcConfig,omitempty"`
	CustomizationConfig  json.RawMessage   `json:"customizationConfig,omitempty"`
}

type jobSummaryOut struct {
	JobArn            string            `json:"jobArn"`
	BaseModelArn      string            `json:"baseModelArn"`
	JobName           string            `json:"jobName"`
	Status            string            `json:"status"`
	StatusDetails     *statusDetailsOut `json:"statusDetails,omitempty"`
	LastModifiedTime  string            `json:"lastModifiedTime,omitempty"`
	CreationTime      string            `json:"creationTime"`
	EndTime           string            `json:"endTime,omitempty"`
	CustomModelArn    string            `json:"customModelArn,omitempty"`
	CustomModelName   string            `json:"customModelName,omitempty"`
	CustomizationType string            `json:"customizationType,omitempty"`
}

type customModelOut struct {
	ModelArn             string            `json:"modelArn"`
	ModelName            string            `json:"modelName"`
	JobName              string            `json:"jobName,omitempty"`
	JobArn               string            `json:"jobArn,omitempty"`
	BaseModelArn         string            `json:"baseModelArn,omitempty"`
	CustomizationType    string            `json:"customizationType,omitempty"`
	ModelKmsKeyArn       string            `json:"modelKmsKeyArn,omitempty"`
	HyperParameters      map[string]string `json:"hyperParameters,omitempty"`
	TrainingDataConfig   json.RawMessage   `json:"trainingDataConfig,omitempty"`
	ValidationDataConfig *validationOut    `json:"validationDataConfig,omitempty"`
	OutputDataConfig     *s3Out            `json:"outputDataConfig,omitempty"`
	TrainingMetrics      *trainingMetrics  `json:"trainingMetrics,omitempty"`
	ValidationMetrics    []validatorMetric `json:"validationMetrics,omitempty"`
	CreationTime         string            `json:"creationTime"`
	ModelStatus          string            `json:"modelStatus,omitempty"`
	FailureMessage       string            `json:"failureMessage,omitempty"`
}

type customModelSummaryOut struct {
	ModelArn          string `json:"modelArn"`
	ModelName         string `json:"modelName"`
	CreationTime      string `json:"creationTime"`
	BaseModelArn      string `json:"baseModelArn"`
	BaseModelName     string `json:"baseModelName"`
	CustomizationType string `json:"customizationType,omitempty"`
	OwnerAccountId    string `json:"ownerAccountId,omitempty"`
	ModelStatus       string `json:"modelStatus,omitempty"`
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return awsproto.FormatTime(t)
}

func phaseWire(p store.Phase) phaseOut {
	return phaseOut{Status: p.Status, CreationTime: ts(p.CreationTime), LastModifiedTime: ts(p.LastModifiedTime)}
}

func statusDetailsWire(sd store.StatusDetails) *statusDetailsOut {
	return &statusDetailsOut{
		ValidationDetails:     phaseWire(sd.Validation),
		DataProcessingDetails: phaseWire(sd.DataProcessing),
		TrainingDetails:       phaseWire(sd.Training),
	}
}

func validatorsWire(v []string) validationOut {
	out := validationOut{Validators: []s3Out{}}
	for _, u := range v {
		out.Validators = append(out.Validators, s3Out{S3Uri: u})
	}
	return out
}

func metricsWire(tl *float64, vls []*float64) (*trainingMetrics, []validatorMetric) {
	var tm *trainingMetrics
	if tl != nil {
		tm = &trainingMetrics{TrainingLoss: tl}
	}
	var vm []validatorMetric
	for _, l := range vls {
		vm = append(vm, validatorMetric{ValidationLoss: l})
	}
	return tm, vm
}

func kmsKeyArn(id string) string {
	if strings.HasPrefix(id, "arn:") && strings.Contains(id, ":key/") {
		return id
	}
	return ""
}

func jobWire(j *store.Job) jobOut {
	tm, vm := metricsWire(j.TrainingLoss, j.ValidationLosses)
	return jobOut{
		JobArn: j.ARN, JobName: j.Name, OutputModelName: j.CustomModelName, OutputModelArn: j.CustomModelARN,
		ClientRequestToken: j.ClientRequestToken, RoleArn: j.RoleARN, Status: j.Status,
		StatusDetails: statusDetailsWire(j.StatusDetails), FailureMessage: j.FailureMessage,
		CreationTime: ts(j.CreationTime), LastModifiedTime: ts(j.LastModifiedTime), EndTime: ts(j.EndTime),
		BaseModelArn: j.BaseModelARN, HyperParameters: j.HyperParameters, TrainingDataConfig: j.TrainingDataConfig,
		ValidationDataConfig: validatorsWire(j.Validators), OutputDataConfig: s3Out{S3Uri: j.OutputS3URI},
		CustomizationType: j.CustomizationType, OutputModelKmsKeyArn: kmsKeyArn(j.CustomModelKMSKeyID),
		TrainingMetrics: tm, ValidationMetrics: vm, VpcConfig: j.VPCConfig, CustomizationConfig: j.CustomizationConfig,
	}
}

func jobSummaryWire(j *store.Job) jobSummaryOut {
	return jobSummaryOut{
		JobArn: j.ARN, BaseModelArn: j.BaseModelARN, JobName: j.Name, Status: j.Status,
		StatusDetails: statusDetailsWire(j.StatusDetails), LastModifiedTime: ts(j.LastModifiedTime),
		CreationTime: ts(j.CreationTime), EndTime: ts(j.EndTime), CustomModelArn: j.CustomModelARN,
		CustomModelName: j.CustomModelName, CustomizationType: j.CustomizationType,
	}
}

func customModelWire(m *store.CustomModel) customModelOut {
	tm, vm := metricsWire(m.TrainingLoss, m.ValidationLosses)
	out := customModelOut{
		ModelArn: m.ARN, ModelName: m.Name, JobName: m.JobName, JobArn: m.JobARN, BaseModelArn: m.BaseModelARN,
		CustomizationType: m.CustomizationType, ModelKmsKeyArn: m.KMSKeyARN, HyperParameters: m.HyperParameters,
		TrainingDataConfig: m.TrainingDataConfig, TrainingMetrics: tm, ValidationMetrics: vm,
		CreationTime: ts(m.CreationTime), ModelStatus: m.Status, FailureMessage: m.FailureMessage,
	}
	if m.JobARN != "" {
		v := validatorsWire(m.Validators)
		out.ValidationDataConfig = &v
	}
	if m.OutputS3URI != "" {
		out.OutputDataConfig = &s3Out{S3Uri: m.OutputS3URI}
	}
	return out
}

// baseModelName is the base model id without its version suffix
// (pattern ([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63})).
func baseModelName(id string) string {
	name, _, _ := strings.Cut(id, ":")
	return name
}

func customModelSummaryWire(m *store.CustomModel) customModelSummaryOut {
	return customModelSummaryOut{
		ModelArn: m.ARN, ModelName: m.Name, CreationTime: ts(m.CreationTime), BaseModelArn: m.BaseModelARN,
		BaseModelName: baseModelName(m.BaseModelID), CustomizationType: m.CustomizationType,
		OwnerAccountId: m.Account, ModelStatus: m.Status,
	}
}
