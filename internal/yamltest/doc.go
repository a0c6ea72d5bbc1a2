// Package yamltest is a module of its own so that the YAML decoders it
// tests Config against (gopkg.in/yaml.v2 and sigs.k8s.io/yaml) are never
// requirements of github.com/zapsls/zapsls: a user who decodes a Config
// with them chooses them, zapsls does not. It has no code, only tests.
package yamltest
