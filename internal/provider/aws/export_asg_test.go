package aws

// ASGYAML is asgYAML for the end-to-end tests in package aws_test.
var ASGYAML = asgYAML
