package sigv4_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/strata-ml/strata/internal/sigv4"
)

// sdkServer verifies with the real clock and answers Bedrock-style errors,
// recording the verified body.
func sdkServer(t *testing.T, service string, modes *[]string) (*httptest.Server, *[]byte) {
	t.Helper()
	v := sigv4.New(sigv4.Options{Services: []string{service}, Lookup: lookup})
	var got []byte
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(r)
		if err == nil && modes != nil {
			*modes = append(*modes, id.PayloadHash)
		}
		if err == nil {
			got, err = io.ReadAll(r.Body)
		}
		if err != nil {
			e, _ := errors.AsType[*sigv4.Error](err)
			code, status := "InternalServerException", 500
			if e != nil {
				if service == "s3" {
					code, status = e.S3()
				} else {
					code, status = e.Bedrock()
				}
			}
			if service == "s3" {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(status)
				io.WriteString(w, "<Error><Code>"+code+"</Code><Message>m</Message></Error>")
				return
			}
			w.Header().Set("X-Amzn-ErrorType", code)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"m"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if service == "s3" {
			w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
			w.WriteHeader(200)
			return
		}
		io.WriteString(w, `{"modelArn":"arn:aws:bedrock:us-east-1:123456789012:custom-model/x","modelName":"x","creationTime":"2024-01-02T03:04:05Z","baseModelArn":"b","jobArn":"j"}`)
	}))
	if service == "s3" {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &got
}

// TestBedrockSDK drives the verifier with the real Bedrock client.
func TestBedrockSDK(t *testing.T) {
	t.Parallel()
	srv, _ := sdkServer(t, "bedrock", nil)
	newClient := func(secret string) *bedrock.Client {
		return bedrock.New(bedrock.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(srv.URL),
			Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret}, nil
			})),
			RetryMaxAttempts: 1,
		})
	}
	ctx := t.Context()
	arn := "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/abcdefghijkl"
	if _, err := newClient(testSecret).GetCustomModel(ctx, &bedrock.GetCustomModelInput{ModelIdentifier: aws.String(arn)}); err != nil {
		t.Fatalf("GetCustomModel(%s) = %v", arn, err)
	}
	if _, err := newClient(testSecret).ListCustomModels(ctx, &bedrock.ListCustomModelsInput{
		CreationTimeAfter: aws.Time(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), NameContains: aws.String("a b+c"), MaxResults: aws.Int32(5)}); err != nil {
		t.Fatalf("ListCustomModels = %v", err)
	}
	if _, err := newClient(testSecret).TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(arn), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatalf("TagResource = %v", err)
	}
	_, err := newClient("wrong").GetCustomModel(ctx, &bedrock.GetCustomModelInput{ModelIdentifier: aws.String("m")})
	if ae, ok := errors.AsType[smithy.APIError](err); !ok || ae.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("GetCustomModel with a wrong secret = %v, want InvalidSignatureException", err)
	}
}

// TestS3SDKPutObject sends PutObject with the real S3 client, with and
// without a request checksum, and checks the verified body.
func TestS3SDKPutObject(t *testing.T) {
	t.Parallel()
	var modes []string
	srv, got := sdkServer(t, "s3", &modes)
	payload := bytes.Repeat([]byte("strata s3 "), 20000)
	for _, calc := range []aws.RequestChecksumCalculation{aws.RequestChecksumCalculationWhenSupported, aws.RequestChecksumCalculationWhenRequired} {
		for _, seekable := range []bool{true, false} {
			c := s3.New(s3.Options{
				Region:                     "us-east-1",
				BaseEndpoint:               aws.String(srv.URL),
				UsePathStyle:               true,
				HTTPClient:                 srv.Client(),
				Credentials:                aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
				RequestChecksumCalculation: calc,
				RetryMaxAttempts:           1,
			})
			var body io.Reader = bytes.NewReader(payload)
			if !seekable {
				body = io.MultiReader(strings.NewReader(string(payload)))
			}
			_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/a b.txt"),
				Body: body, ContentLength: aws.Int64(int64(len(payload)))})
			if err != nil {
				t.Fatalf("PutObject(calc=%v, seekable=%v) = %v", calc, seekable, err)
			}
			if !bytes.Equal(*got, payload) {
				t.Fatalf("PutObject(calc=%v, seekable=%v): server read %d bytes, want %d", calc, seekable, len(*got), len(payload))
			}
		}
	}
	t.Logf("payload modes the SDK used: %q", modes)
	if !slices.Contains(modes, sigv4.StreamingUnsignedTrailer) {
		t.Errorf("the SDK never sent %s; modes = %q", sigv4.StreamingUnsignedTrailer, modes)
	}
}
