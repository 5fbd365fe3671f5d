// Command predict-client scores one record with leapserve's Predict and prints the outputs, one
// "name = value" line each, sorted by name, as the Java client does (docs/serving.md, "Go"):
//
//	go run . 127.0.0.1:50051 MODEL FIELD=VALUE ...
//
// A VALUE that parses as a number is sent as a double, anything else as a string; the server
// converts both to the pipeline's types. The stubs in gen/ are generated from protos/ first.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	leapservev1 "leapserve.dev/gen/go/leapserve/v1"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: predict-client ADDRESS MODEL [FIELD=VALUE ...]")
		os.Exit(2)
	}
	request := &leapservev1.PredictRequest{Model: os.Args[2], Inputs: map[string]*leapservev1.Value{}}
	for _, arg := range os.Args[3:] {
		field, text, ok := strings.Cut(arg, "=")
		if !ok || field == "" {
			fmt.Fprintln(os.Stderr, "expected FIELD=VALUE, got", arg)
			os.Exit(2)
		}
		request.Inputs[field] = parse(text)
	}

	conn, err := grpc.NewClient(os.Args[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	response, err := leapservev1.NewPredictionServiceClient(conn).Predict(ctx, request)
	if err != nil {
		// The message names the field, the expected and the actual value (docs/serving.md, Errors).
		s := status.Convert(err)
		fmt.Fprintf(os.Stderr, "%s: %s\n", s.Code(), s.Message())
		os.Exit(1)
	}
	fmt.Printf("model = %s, version = %s\n", response.GetModel(), response.GetVersion())
	names := make([]string, 0, len(response.GetOutputs()))
	for name := range response.GetOutputs() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("%s = %s\n", name, show(response.GetOutputs()[name]))
	}
}

func parse(text string) *leapservev1.Value {
	if number, err := strconv.ParseFloat(text, 64); err == nil {
		return &leapservev1.Value{Kind: &leapservev1.Value_DoubleValue{DoubleValue: number}}
	}
	return &leapservev1.Value{Kind: &leapservev1.Value_StringValue{StringValue: text}}
}

func show(value *leapservev1.Value) string {
	switch kind := value.GetKind().(type) {
	case *leapservev1.Value_DoubleValue:
		return number(kind.DoubleValue, 64)
	case *leapservev1.Value_FloatValue:
		return number(float64(kind.FloatValue), 32)
	case *leapservev1.Value_IntValue:
		return strconv.FormatInt(kind.IntValue, 10)
	case *leapservev1.Value_BoolValue:
		return strconv.FormatBool(kind.BoolValue)
	case *leapservev1.Value_StringValue:
		return strconv.Quote(kind.StringValue)
	case *leapservev1.Value_VectorValue:
		v := kind.VectorValue
		// Dense when there are no indices; sparse vectors keep their size, indices and values.
		if len(v.GetIndices()) == 0 {
			return numbers(v.GetValues())
		}
		indices := make([]string, len(v.GetIndices()))
		for i, index := range v.GetIndices() {
			indices[i] = strconv.FormatInt(int64(index), 10)
		}
		return fmt.Sprintf("sparse(size=%d, indices=[%s], values=%s)", v.GetSize(), strings.Join(indices, ", "),
			numbers(v.GetValues()))
	case *leapservev1.Value_ListValue:
		parts := make([]string, len(kind.ListValue.GetValues()))
		for i, item := range kind.ListValue.GetValues() {
			parts[i] = show(item)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		return "null"
	}
}

// number prints a double as the Java client does for everyday values: the shortest text that reads
// back the same, with ".0" on whole numbers (1.0, not Go's 1), so both clients print alike.
func number(x float64, bits int) string {
	text := strconv.FormatFloat(x, 'g', -1, bits)
	if !strings.ContainsAny(text, ".eIN") { // a whole number, not 1e+21, Inf or NaN
		text += ".0"
	}
	return text
}

func numbers(values []float64) string {
	parts := make([]string, len(values))
	for i, x := range values {
		parts[i] = number(x, 64)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
