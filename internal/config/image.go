package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Defaults of the `image:` section; the same as the Python
// cloud-compose-image's.
const (
	DefaultImageInstanceType = "t2.micro"
)

// Tags the image commands set on a bake's instance and image
// (cloud-compose-image's): ImageName=<name>, ImageVersion=<version> and
// Name=<name>:<version>. An `image.aws.tags` entry with one of these keys
// is ignored, with a warning.
var ImageToolTags = []string{"ImageName", "ImageVersion", "Name"}

// Image is the typed view of the `image:` section: how a base image is
// baked (cloud-compose-image's format, plus `local:`).
type Image struct {
	Name string
	// Version is the version as the original printed it (Python's str()):
	// `version: 1.10`, unquoted, is the number 1.1 in YAML 1.1, so "1.1";
	// `version: '1.10'` is "1.10". Templates see the value as written.
	Version    string
	SearchPath []string
	AWS        *ImageAWS   // `image.aws`, nil without one
	Local      *ImageLocal // `image.local`, nil without one

	// Data is the whole `image:` mapping, for templates.
	Data *Mapping
	// File is the config file, for messages.
	File string
	// Warnings are problems that do not stop the command.
	Warnings []Problem

	node *yaml.Node
	doc  *Document
}

// ImageAWS is `image.aws`: where a bake instance runs on EC2.
type ImageAWS struct {
	AMI                string // the base image: an AMI id
	Subnet             string
	KeyPair            string
	InstanceType       string // DefaultImageInstanceType when not given
	SecurityGroups     []string
	DetailedMonitoring bool
	EBSOptimized       bool
	Tags               []KeyValue // values as Python's str() printed them
}

// ImageLocal is `image.local`: a bake on the local provider.
type ImageLocal struct {
	Image string // the base image to start from (a local image name or id)
}

// imageSpec is every key under `image:` that the tool reads. Keys that only
// templates read pass unchecked; a near miss of a known key gets a warning.
var imageSpec = &spec{kind: kMap, required: true, fields: map[string]*spec{
	"name":        {kind: kString, required: true, check: checkSafeName("an image name")},
	"version":     {kind: kString, required: true, check: checkImageVersion},
	"search_path": {kind: kList, required: true, elem: &spec{kind: kString}},
	"aws": {kind: kMap, fields: map[string]*spec{
		"ami":                 {kind: kString},
		"subnet":              {kind: kString},
		"keypair":             {kind: kString},
		"instance_type":       {kind: kString, check: checkInstanceType},
		"security_groups":     {kind: kStrList},
		"detailed_monitoring": {kind: kBool},
		"ebs_optimized":       {kind: kBool},
		"tags":                {kind: kScalarMap},
	}},
	"local": {kind: kMap, fields: map[string]*spec{
		"image": {kind: kString},
	}},
}}

// checkImageVersion checks image.version: it names images (<name>_<version>_<time>
// on EC2) and tags (Name=<name>:<version>), so it is a safe name once
// printed as the original printed it; a plain value that YAML reads as
// something else than what is written (1.10 is the number 1.1) is kept, as
// the original kept it, with a warning.
func checkImageVersion(n *yaml.Node, path string, p *problems) {
	v := scalarValue(n)
	s := pyStrScalar(v)
	switch {
	case s == "":
		p.add(n, path, "is empty: an image version needs a value (letters, digits, -, _ and .)")
	case !SafeNameRE.MatchString(s):
		p.add(n, path, "%q has characters an image version cannot have (%s): use only letters, digits, -, _ and .", s, badChars(s))
	}
	if _, isStr := v.(string); !isStr && s != n.Value {
		p.warn(n, path, "%s is read as %s (YAML 1.1 reads it as a %s, as the Python tool did): templates get %s; write '%s' in quotes to keep %s",
			n.Value, s, yamlTypeName(v), s, n.Value, n.Value)
	}
}

// CheckBake reports, as a *Error with file:line, what a bake needs beyond
// what `image build` needs: a version written as a string. The original's
// `image up` failed on any other (botocore refused a number as a tag
// filter value before any change); baking `version: 1.10` as 1.1 would tag
// images <name>:1.1, which a cluster's `aws.ami: <name>:1.10` never finds.
func (i *Image) CheckBake() error {
	n := mappingValue(i.node, "version")
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, isStr := scalarValue(n).(string); isStr {
		return nil
	}
	pr := i.Problem([]string{"version"}, "%s is a %s in YAML 1.1 (%s), not a string: a bake would name and tag images %s; write '%s' in quotes (the Python tool's image up failed on it too)",
		n.Value, yamlTypeName(scalarValue(n)), i.Version, i.Tag(), n.Value)
	return &Error{Problems: []Problem{pr}}
}

// pyStrScalar is Python's str() of a scalar: PyStr, but a date prints as
// str(date) does (2016-01-02), not as its repr.
func pyStrScalar(v any) string {
	switch t := v.(type) {
	case Date:
		return t.String()
	case Timestamp:
		return t.String()
	}
	return PyStr(v)
}

// yamlTypeName names the type of a scalar value for messages.
func yamlTypeName(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int:
		return "number"
	case float64:
		return "number"
	case Date, Timestamp:
		return "date"
	}
	return "value"
}

// LoadImage validates the `image:` section of doc against every key the
// tool reads and returns its typed view. All problems come in one *Error;
// the document needs no `cluster:` section.
func LoadImage(doc *Document) (*Image, error) {
	p, n, data, err := loadSection(doc, "image", imageSpec, ": the image commands read it (name, version, search_path, and aws: or local:)")
	if err != nil {
		return nil, err
	}
	img := &Image{Data: data, File: doc.Path, node: n, doc: doc}
	img.Name = str(data, "name")
	img.Version = pyStrScalar(get(data, "version"))
	for _, v := range list(data, "search_path") {
		img.SearchPath = append(img.SearchPath, PyStr(v))
	}
	if am := mapping(data, "aws"); am != nil {
		a := &ImageAWS{
			AMI:                str(am, "ami"),
			Subnet:             str(am, "subnet"),
			KeyPair:            str(am, "keypair"),
			InstanceType:       strDefault(am, "instance_type", DefaultImageInstanceType),
			DetailedMonitoring: boolean(am, "detailed_monitoring", false),
			EBSOptimized:       boolean(am, "ebs_optimized", false),
		}
		if tm := mapping(am, "tags"); tm != nil {
			for _, k := range tm.Keys() {
				v, _ := tm.Get(k)
				a.Tags = append(a.Tags, KeyValue{Key: k, Value: pyStrScalar(v)})
			}
		}
		a.SecurityGroups = securityGroups(am)
		img.AWS = a
	}
	if lm := mapping(data, "local"); lm != nil {
		img.Local = &ImageLocal{Image: str(lm, "image")}
	}
	img.checkNames(p)
	img.checkTags(p)
	img.Warnings = p.warnings
	return img, p.err()
}

// Tag is the image's Name tag, <name>:<version>: what a cluster's
// `aws.ami` (or `local.image`) names to run the newest bake.
func (i *Image) Tag() string { return i.Name + ":" + i.Version }

// Limits of the names derived from the image's name and version.
const (
	maxAMIName = 128 // an EC2 image name: <name>_<version>_<YYYY-mm-dd-HH-MM-SS>
	// imageDateLen is the length of the time in an image name.
	imageDateLen = len("2006-01-02-15-04-05")
)

// checkNames bounds the name and version by the names made of them: the
// image name <name>_<version>_<time> (128 characters on EC2) and the Name
// tag <name>:<version> (256).
func (i *Image) checkNames(p *problems) {
	if i.Name == "" || i.Version == "" || !SafeNameRE.MatchString(i.Name) || !SafeNameRE.MatchString(i.Version) {
		return // reported by the schema
	}
	if l := len(i.Name) + 1 + len(i.Version) + 1 + imageDateLen; l > maxAMIName {
		i.problem(p, []string{"name"}, "with version %q, the images are named <name>_<version>_<time>, %d characters; EC2 takes at most %d: shorten the name or the version", i.Version, l, maxAMIName)
	}
}

// checkTags checks image.aws.tags against what EC2 takes, the tool's own
// tags (ImageToolTags) set aside.
func (i *Image) checkTags(p *problems) {
	if i.AWS == nil {
		return
	}
	user := 0
	for _, kv := range i.AWS.Tags {
		path := []string{"aws", "tags", kv.Key}
		switch {
		case kv.Key == "":
			i.problem(p, path, "a tag needs a key")
		case strings.HasPrefix(strings.ToLower(kv.Key), "aws:"):
			i.problem(p, path, "tag %q: keys starting with aws: are reserved by AWS; rename the tag", kv.Key)
		case len(kv.Key) > maxTagKey:
			i.problem(p, path, "tag key is %d characters; EC2 takes at most %d", len(kv.Key), maxTagKey)
		case contains(ImageToolTags, kv.Key):
			p.warnings = append(p.warnings, i.Problem(path, "tag %s is set by the tool (%s); this value is ignored", kv.Key, strings.Join(ImageToolTags, ", ")))
			continue
		case len(kv.Value) > maxTagValue:
			i.problem(p, path, "tag value is %d characters; EC2 takes at most %d", len(kv.Value), maxTagValue)
		}
		user++
	}
	if max := maxTagsPerResource - len(ImageToolTags); user > max {
		i.problem(p, []string{"aws", "tags"}, "has %d tags; with the tool's own %d, EC2 takes at most %d on an image: keep at most %d", user, len(ImageToolTags), maxTagsPerResource, max)
	}
}

// Problem returns a problem about the key path under `image:` (e.g.
// "aws", "subnet"): named in full, located at the key or, when it is
// missing, at the nearest parent that exists. The image commands use it to
// report what a bake needs (aws.ami, aws.subnet) before any call.
func (i *Image) Problem(path []string, format string, args ...any) Problem {
	return sectionProblem(i.File, i.doc, i.node, "image", path, fmt.Sprintf(format, args...))
}

func (i *Image) problem(p *problems, path []string, format string, args ...any) {
	p.errs = append(p.errs, i.Problem(path, format, args...))
}

// sectionProblem locates the key path under a top-level section whose
// value node is n, key being the section's name; doc (when not nil) says
// which file the node found is in, file is the config file.
func sectionProblem(file string, doc *Document, n *yaml.Node, key string, path []string, msg string) Problem {
	found := true
	for _, part := range path {
		var next *yaml.Node
		if idx, err := strconv.Atoi(part); err == nil && (n.Kind == yaml.SequenceNode || !found) {
			if found && idx < len(n.Content) {
				next = n.Content[idx]
			}
			key = fmt.Sprintf("%s[%d]", key, idx)
		} else {
			if found {
				next = mappingValue(n, part)
			}
			key = joinKey(key, part)
		}
		if next == nil {
			found = false
			continue
		}
		n = next
	}
	if doc != nil {
		file = doc.FileOf(n)
	}
	return Problem{File: file, Line: n.Line, Column: n.Column, Key: key, Msg: msg}
}
