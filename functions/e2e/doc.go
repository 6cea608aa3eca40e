// Package e2e holds the end-to-end tests: the real events and commands
// bootstraps, built as infra ships them, run under the Lambda Runtime
// Interface Emulator with credentials from moto's Secrets Manager, moto's
// DynamoDB for de-duplication, and an HTTP server speaking Slack's Web API.
package e2e
