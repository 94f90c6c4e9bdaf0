package aws

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// paceRunInstances waits for a token of EC2's RunInstances bucket before
// every attempt of RunInstances, retries included, so that concurrent
// launches stay inside the bucket instead of being throttled. It sits
// right after the retry middleware, before signing.
func (p *ec2Provider) paceRunInstances(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("cloudComposeRunInstancesPacer",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetOperationName(ctx) == "RunInstances" {
				if err := p.runPacer.Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
			}
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}

// callCounter counts the HTTP requests (attempts, retries included) each
// operation sends, for call budgets in tests.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int // "ec2:RunInstances" -> count
}

func newCallCounter() *callCounter { return &callCounter{calls: map[string]int{}} }

// apiOption is an SDK API option that installs the counter.
func (c *callCounter) apiOption(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("cloudComposeCallCounter",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			key := strings.ToLower(strings.ReplaceAll(awsmiddleware.GetServiceID(ctx), " ", "")) + ":" + awsmiddleware.GetOperationName(ctx)
			c.mu.Lock()
			c.calls[key]++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// Reset forgets the counts.
func (c *callCounter) Reset() {
	c.mu.Lock()
	c.calls = map[string]int{}
	c.mu.Unlock()
}

// Count returns the count of one operation ("ec2:RunInstances").
func (c *callCounter) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// Total returns the count of all calls.
func (c *callCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

// String lists the counts, sorted, for failure messages.
func (c *callCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.calls))
	for k := range c.calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(strconv.Itoa(c.calls[k]))
		b.WriteString(" ")
	}
	return strings.TrimSpace(b.String())
}
